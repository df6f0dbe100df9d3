"""Benchmark (not a test): the issue-16 grid, 3 x 3 cells x 5 seeds at 50,000 accounts, 2 processes.

    python benchmarks/bench_experiment.py [--accounts 50000] [--seeds 5] [--jobs 2] [--out DIR]

Prints the wall time, seconds per cell x seed run, and the frontier numbers (means over seeds).
Measured one cell x seed single-process (shared 2-core machine): 20 s at 5,000 accounts,
81 s at 20,000; the full grid was not run (estimate: 45 runs x ~200 s / 2 jobs = ~75 min).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from apcfair.experiment import ExperimentGrid, run_experiment
from apcfair.experiment.plots import frontier_table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    grid = ExperimentGrid({"protected_effect.minority": [0.0, 0.3, 0.8], "proxy_strength": [0.0, 0.5, 1.0]},
                          seeds=a.seeds, accounts=a.accounts)
    out = a.out or tempfile.mkdtemp(prefix="bench_experiment_")
    t0 = time.perf_counter()
    res = run_experiment(grid, out, jobs=a.jobs)
    wall = time.perf_counter() - t0
    print(f"{res['ran']} runs in {wall:.0f} s wall ({a.jobs} jobs); per run mean "
          f"{sum(res['seconds']) / max(len(res['seconds']), 1):.0f} s; output {out}")
    print(frontier_table(res["table"], grid.knobs).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
