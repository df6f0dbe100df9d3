"""APC engine benchmark on the default synthetic portfolio's cells.

Times the fast Laplace engine (fixed hyperparameters, empirical Bayes, INLA-like grid)
and PyMC NUTS on the same cells, compares their posteriors, and reports the time
ratio measured in this one run. Not a test: run it by hand.

    python benchmarks/bench_apc.py [--accounts 146500] [--chains 4] [--draws 1000] [--skip-nuts]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from apcfair import load_portfolio
from apcfair.apc import APCModel
from apcfair.apc.basis import split_linear
from data_synth import SynthConfig, generate_portfolio


def rmse_vs_truth(result, truth) -> dict:
    out = {}
    true = {"lifecycle": np.array(truth["lifecycle"]["value"]), "vintage": np.array(truth["vintage"]["value"]),
            "environment": np.array(truth["environment"]["value"])}
    for name in ("lifecycle", "vintage", "environment"):
        est = result.component(name)["mean"].to_numpy()
        n = min(len(est), len(true[name]))
        _, _, t = split_linear(true[name][:n])
        _, _, e = split_linear(est[:n])
        out[name] = {"rmse_identified": float(np.sqrt(np.mean((e - t) ** 2))), "truth_sd": float(t.std())}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=146_500)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--skip-nuts", action="store_true")
    ap.add_argument("--pure-apc", action="store_true", help="credit_effect_scale=0: cells follow the APC model exactly")
    args = ap.parse_args()
    cfg = SynthConfig(n_accounts=args.accounts, seed=0, credit_effect_scale=0.0 if args.pure_apc else 1.0)
    sp = generate_portfolio(cfg)
    cells = load_portfolio(sp.loans).cells()
    print(f"{cells.n_cells:,} cells, {int(cells.table['defaults'].sum()):,} defaults")
    report = {"cells": cells.n_cells, "accounts": args.accounts}
    fits = {}
    for label, kw in (("laplace_grid", {"hyper": "grid"}), ("laplace_eb", {"hyper": "eb"})):
        times = []
        for _ in range(3):  # the first fit in a process also pays first-touch memory and BLAS start-up
            t = time.perf_counter()
            fits[label] = APCModel(random_state=0, **kw).fit(cells).result_
            times.append(round(time.perf_counter() - t, 3))
        report[label] = {"seconds": float(np.median(times)), "seconds_first_fit": times[0], "all_seconds": times,
                         "rmse": rmse_vs_truth(fits[label], sp.truth)}
        print(label, report[label])
    prec = fits["laplace_eb"].scalars().set_index("parameter")["mean"]
    t = time.perf_counter()
    APCModel(random_state=0, hyper="fixed", precisions={c: prec[f"precision_{c}"] for c in
                                                         ("lifecycle", "vintage", "environment")}).fit(cells)
    report["laplace_fixed_seconds"] = round(time.perf_counter() - t, 3)
    print("laplace fixed", report["laplace_fixed_seconds"])
    if not args.skip_nuts:
        t = time.perf_counter()
        nuts = APCModel(engine="nuts", random_state=0, n_draws=args.draws, nuts_tune=args.draws,
                        nuts_chains=args.chains).fit(cells).result_
        secs = time.perf_counter() - t
        d = nuts.diagnostics
        comp = {}
        for name in ("lifecycle", "vintage", "environment"):
            a, b = fits["laplace_grid"].component(name), nuts.component(name)
            z = np.abs(a["mean"] - b["mean"]) / b["sd"]
            comp[name] = {"mean_abs_diff_in_sd": float(z.mean()), "max_abs_diff_in_sd": float(z.max()),
                          "median_sd_ratio": float(np.median(a["sd"] / b["sd"]))}
        report["nuts"] = {"seconds": round(secs, 1), "min_ess_bulk": d["min_ess_bulk"], "max_rhat": d["max_rhat"],
                          "divergences": d["divergences"], "ess_per_second": d["ess_per_second"],
                          "rmse": rmse_vs_truth(nuts, sp.truth), "laplace_vs_nuts": comp}
        report["speed_ratio_nuts_over_laplace_grid"] = round(secs / report["laplace_grid"]["seconds"], 1)
        report["speed_ratio_nuts_over_first_laplace_grid_fit"] = round(secs / report["laplace_grid"]["seconds_first_fit"], 1)
        print(json.dumps(report["nuts"], indent=1))
        print("ratio NUTS / Laplace grid:", report["speed_ratio_nuts_over_laplace_grid"])
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
