"""Where the unbiased procedure's memory goes: resident memory per sub-stage and what the result holds.

Runs the demo's unbiased-by-design procedure once on a loans file (or a synthetic portfolio
of ``--accounts`` accounts generated in memory) and prints, per sub-stage of the procedure's
stage timer (APC, attrition APC, restricted, credit, ..., forecasts, evaluation), the peak
resident memory during the sub-stage and the resident memory at its end (MiB, Linux
``VmHWM`` reset at the start of each sub-stage), then the in-memory size of the result's
per-account tables (``memory_usage(deep=True)``, MiB) and the demo audit's peak. The fixed
part is the resident memory after the imports; the portfolio's own size is the resident
memory after reading it minus that.

    python benchmarks/memory_stages.py /work/runs/one1x            # the paper-scale demo data
    python benchmarks/memory_stages.py --accounts 36625             # synthetic, in memory

Not a test: run by hand; prints one JSON line at the end (``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _memory import reset_peak, status_kib  # noqa: E402


def _mib(field: str) -> float:
    return round(status_kib(field) / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", nargs="?", help="a folder with loans.parquet (else --accounts)")
    ap.add_argument("--accounts", type=int, default=36_625)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-audit", action="store_true")
    ap.add_argument("--json", default=None, help="write the record here too")
    args = ap.parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    rec: dict = {"rss_start_mib": _mib("VmRSS")}
    import pandas as pd

    from apcfair.portfolio import Portfolio, read_table
    from apcfair.report.demo import (
        DEMO_CREDIT,
        DEMO_HORIZON,
        DEMO_PROTECTED,
        DEMO_RESTRICTED,
        demo_audit,
    )
    from apcfair.unbiased import UnbiasedByDesign, stages

    rec["rss_after_imports_mib"] = _mib("VmRSS")
    if args.data:
        portfolio = Portfolio.from_loans(read_table(Path(args.data) / "loans.parquet"))
    else:
        from data_synth import SynthConfig, generate_portfolio

        portfolio = Portfolio.from_loans(generate_portfolio(SynthConfig(n_accounts=args.accounts,
                                                                        seed=args.seed)).loans)
    rec["accounts"] = int(len(portfolio.loans))
    rec["account_months"] = int(portfolio.n_account_months)
    rec["rss_after_portfolio_mib"] = _mib("VmRSS")
    rec["loans_deep_mib"] = round(portfolio.loans.memory_usage(deep=True).sum() / 2**20, 1)
    sub: dict = {}

    original = stages.StageTimer.stage

    @contextmanager
    def probed(self, name):
        reset_peak()
        start = _mib("VmRSS")
        with original(self, name):
            yield
        sub[name] = {"rss_start_mib": start, "peak_mib": _mib("VmHWM"), "rss_end_mib": _mib("VmRSS")}

    stages.StageTimer.stage = probed
    reset_peak()
    c0 = time.process_time()
    result = UnbiasedByDesign(restricted=DEMO_RESTRICTED, credit=DEMO_CREDIT, protected=DEMO_PROTECTED,
                              horizon=DEMO_HORIZON, random_state=args.seed).fit(portfolio).result_
    rec["procedure_cpu_s"] = round(time.process_time() - c0, 2)
    rec["procedure_peak_mib"] = _mib("VmHWM")
    rec["rss_after_procedure_mib"] = _mib("VmRSS")
    rec["substages"] = sub
    held = {}
    for name in ("forecasts", "account_scores"):
        frame = getattr(result, name)
        if isinstance(frame, pd.DataFrame):
            held[name] = round(frame.memory_usage(deep=True).sum() / 2**20, 1)
    rec["result_tables_deep_mib"] = held
    if not args.no_audit:
        reset_peak()
        demo_audit(result, portfolio, args.seed)
        rec["audit_peak_mib"] = _mib("VmHWM")
        rec["rss_after_audit_mib"] = _mib("VmRSS")
    acc = rec["accounts"]
    rec["procedure_peak_kib_per_account"] = round(rec["procedure_peak_mib"] * 1024 / acc, 2)
    for k, v in sub.items():
        print(f"{k:28s} start {v['rss_start_mib']:8.1f}  peak {v['peak_mib']:8.1f}  end {v['rss_end_mib']:8.1f} MiB")
    print(json.dumps(rec))
    if args.json:
        Path(args.json).write_text(json.dumps(rec, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
