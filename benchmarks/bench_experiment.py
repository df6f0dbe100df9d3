"""Benchmark (not a test): the issue-16 grid, 3 x 3 cells x 5 seeds at 50,000 accounts, 2 processes.

    python benchmarks/bench_experiment.py [--accounts 50000] [--seeds 5] [--jobs 2] [--out DIR]
    python benchmarks/bench_experiment.py --one [--accounts 50000] [--repeat 1]

The full run prints the wall time, seconds per cell x seed run, and the frontier numbers
(means over seeds). ``--one`` times one cell x one seed (the heaviest cell: strong proxy,
direct effect 0.8) in this process, with CPU time and the load average before and after,
and extrapolates to the grid: ``9 cells x seeds x per-run seconds / jobs`` (assumes the
jobs get a core each; on a shared machine the wall time is longer by the contention).

Measurements, 2026-11-29, the shared 2-core development machine (x86-64, Python 3.11,
OMP/OpenBLAS/MKL threads 1, procedure defaults: logit models, no GBM, 36-month horizon):

* ``--one --accounts 50000`` (cell protected_effect.minority=0.8, proxy_strength=1.0, one
  seed, one process): at load average 0.65 (machine nearly idle) 29.5 s wall, 21.9 s CPU,
  peak RSS 582 MiB; at load average ~10 (other sessions' tests) 38.5 / 55.1 / 41.5 s wall,
  10.6 / 10.2 / 9.9 s CPU, RSS 418-442 MiB; at the end of the session (load ~14, all of
  the day's procedure changes in) 58.1 / 47.5 s wall, 14.6 / 11.9 s CPU. (The idle run's CPU time includes first-import
  work; the later runs' CPU time is the better measure of the work itself.)
* Extrapolated 3 x 3 x 5 grid at 50,000 accounts (45 runs) on 2 processes with a core each:
  45 x 29.5 s / 2 = 11.1 min (idle-machine wall per run); from CPU time alone 45 x ~10 s / 2
  = ~4 min. The issue's target is < 30 min. The full grid at 50,000 accounts was not run
  (the machine was shared by ~6 sessions, load average 10-16).
* Full grid run at smaller size: 3 x 3 x 3 seeds at 10,000 accounts, 1 process, load
  average ~13: 27 runs in 928 s wall (34 s per run; CPU/wall about 0.25 at that load).

Earlier (before the procedure's speed-ups): 20 s at 5,000 accounts, 81 s at 20,000 per run.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

from apcfair.experiment import ExperimentGrid, run_experiment
from apcfair.experiment.plots import frontier_table

GRID = {"protected_effect.minority": [0.0, 0.3, 0.8], "proxy_strength": [0.0, 0.5, 1.0]}


def one(accounts: int, seeds: int, jobs: int, repeat: int) -> None:
    """Time one cell x seed and extrapolate to the 3 x 3 x ``seeds`` grid on ``jobs`` processes."""
    grid = ExperimentGrid({"protected_effect.minority": [0.8], "proxy_strength": [1.0]}, seeds=1, accounts=accounts)
    times = []
    for r in range(repeat):
        load0 = os.getloadavg()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        run_experiment(grid, tempfile.mkdtemp(prefix="bench_experiment_one_"), jobs=1, progress=False)
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        times.append(wall)
        print(f"run {r}: {accounts} accounts, 1 cell x 1 seed: wall {wall:.1f} s, CPU {cpu:.1f} s "
              f"(CPU/wall {cpu / wall:.2f}); load average 1 min before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
              f"peak RSS {cpu1.ru_maxrss / 1024:.0f} MiB")
    best = min(times)
    runs = 9 * seeds
    print(f"extrapolated 3 x 3 x {seeds} grid ({runs} runs) on {jobs} processes: "
          f"{runs * best / jobs / 60:.1f} min (best of {repeat} single-run wall times, {best:.1f} s; "
          "one core per process assumed)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=50_000)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--one", action="store_true", help="time one cell x seed and extrapolate")
    ap.add_argument("--repeat", type=int, default=1, help="repeats of the --one timing")
    a = ap.parse_args()
    if a.one:
        one(a.accounts, a.seeds, a.jobs, a.repeat)
        return
    grid = ExperimentGrid(GRID, seeds=a.seeds, accounts=a.accounts)
    out = a.out or tempfile.mkdtemp(prefix="bench_experiment_")
    t0 = time.perf_counter()
    res = run_experiment(grid, out, jobs=a.jobs)
    wall = time.perf_counter() - t0
    print(f"{res['ran']} runs in {wall:.0f} s wall ({a.jobs} jobs); per run mean "
          f"{sum(res['seconds']) / max(len(res['seconds']), 1):.0f} s; output {out}")
    print(frontier_table(res["table"], grid.knobs).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
