"""Time and peak memory of ``data_synth.generate_portfolio`` at the default size and 10x.

Usage::

    python benchmarks/bench_synth.py            # default size and 10x, one child process each
    python benchmarks/bench_synth.py --sizes 146500 --repeat 3

Each size runs in a fresh child process so that the peak resident set size
(``resource.getrusage``) belongs to that size alone; the baseline RSS after importing
the libraries is reported too, and peak traced allocations come from ``tracemalloc``
in a second, separate run (tracing slows numpy down, so it is not timed).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

DEFAULT_N = 146_500


def _rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(n: int, repeat: int, trace: bool) -> dict:
    from data_synth import SynthConfig, generate_portfolio

    base_rss = _rss_mib()
    cfg = SynthConfig(n_accounts=n, seed=0)
    if trace:
        import tracemalloc

        tracemalloc.start()
        generate_portfolio(cfg)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"n_accounts": n, "tracemalloc_peak_mib": peak / 2**20}
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        sp = generate_portfolio(cfg)
        times.append(time.perf_counter() - t)
    return {
        "n_accounts": n,
        "seconds_min": min(times),
        "seconds_all": times,
        "peak_rss_mib": _rss_mib(),
        "rss_after_import_mib": base_rss,
        "loans_mib": sp.loans.memory_usage(deep=False).sum() / 2**20,
        "defaults": sp.truth["counts"]["defaults"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[DEFAULT_N, 10 * DEFAULT_N])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_child(args.child, args.repeat, args.trace)))
        return 0
    print(f"{'accounts':>10} {'seconds':>8} {'peak RSS MiB':>13} {'RSS after import':>17} "
          f"{'traced peak MiB':>16} {'defaults':>9}")
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--child", str(n), "--repeat", str(args.repeat)]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        tr = json.loads(subprocess.run(cmd + ["--trace"], check=True, capture_output=True,
                                       text=True).stdout)
        print(f"{n:>10,} {r['seconds_min']:>8.2f} {r['peak_rss_mib']:>13.0f} "
              f"{r['rss_after_import_mib']:>17.0f} {tr['tracemalloc_peak_mib']:>16.0f} "
              f"{r['defaults']:>9,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
