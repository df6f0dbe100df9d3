"""The whole unbiased-by-design procedure on the default synthetic portfolio.

Reports wall time per stage and peak memory (resident set) of one run, at 146,500
accounts (~6.1 M account-months) by default. Not a test: run it by hand.

    python benchmarks/bench_procedure.py [--accounts 146500] [--no-gbm]
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from apcfair import load_portfolio
from apcfair.report.demo import DEMO_CREDIT, DEMO_PROTECTED, DEMO_RESTRICTED
from apcfair.unbiased import UnbiasedByDesign
from data_synth import SynthConfig, generate_portfolio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=146_500)
    ap.add_argument("--no-gbm", action="store_true")
    args = ap.parse_args()
    sp = generate_portfolio(SynthConfig(n_accounts=args.accounts, seed=0))
    t = time.perf_counter()
    portfolio = load_portfolio(sp.loans)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    res = UnbiasedByDesign(restricted=DEMO_RESTRICTED, credit=DEMO_CREDIT, protected=DEMO_PROTECTED,
                           gbm=not args.no_gbm, random_state=0).fit(portfolio).result_
    total = time.perf_counter() - t
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    out = {"accounts": portfolio.n_accounts, "account_months": portfolio.n_account_months,
           "validate_seconds": round(load_s, 2), "procedure_seconds": round(total, 2),
           "stages": res.timings, "peak_rss_gb": round(peak_gb, 2)}
    print(json.dumps(out, indent=1))
    print(res.comparison.to_string(index=False))


if __name__ == "__main__":
    main()
