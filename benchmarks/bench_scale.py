"""Validate + cells at paper scale and 10x: in-memory (one file) vs partitioned (memory, Dask).

Usage::

    python benchmarks/bench_scale.py                       # 1x and 10x, all backends
    python benchmarks/bench_scale.py --scales 1 --parts 8 --workers 2
    python benchmarks/bench_scale.py --cli /work/runs/s10x/loans --backend dask --workers 2 \\
        --commands validate vintage apc unbiased --out benchmarks/results/issue18_unbiased.jsonl

Data: ``data_synth.partitioned.write_partitioned`` at 146,500 x scale accounts
(2005-01..2019-12, seed 0) as ``--parts`` parts, written once per scale under
``--data-dir`` (kept for reuse), plus the same rows as one Parquet file for the in-memory path.

Each (scale, backend) runs in a fresh child process; stages and what is measured:

* ``memory``: today's path on one file -- ``load_portfolio`` (read + validate), then
  ``Portfolio.cells()``.
* ``parts-memory``: the partitioned path in one process -- the scan pass (global context),
  then validate + cells part by part (``load_partitioned``, no client).
* ``dask``: the same two passes as tasks on a ``LocalCluster`` of ``--workers`` worker
  processes (one thread each) started in the child (cluster start-up and the workers' import of
  apcfair timed separately, ``cluster_start``, and left out of ``total_seconds``).

Wall time per stage (``time.perf_counter``), the driver's peak resident memory per stage
(``VmHWM`` reset before each stage, :mod:`benchmarks._memory`) and, for Dask, each worker's
peak resident memory and CPU seconds over the run (``getrusage``, including start-up). The machine's load average is recorded:
on a shared machine wall times include waiting for the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import peak_mib, reset_peak  # noqa: E402

PAPER = 146_500


def _ensure_data(scale: float, parts: int, base: Path) -> Path:
    from data_synth import SynthConfig
    from data_synth.partitioned import write_partitioned

    folder = base / f"scale_{scale:g}x_{parts}parts"
    if not (folder / "one.parquet").exists():
        t = time.perf_counter()
        write_partitioned(folder, SynthConfig(n_accounts=int(round(PAPER * scale)), seed=0), partitions=parts)
        import pandas as pd

        pd.read_parquet(folder / "loans").to_parquet(folder / "one.parquet", index=False)
        print(f"  wrote {folder} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return folder


def _stage(name, func, out):
    reset_peak()
    t = time.perf_counter()
    result = func()
    out[name] = {"seconds": round(time.perf_counter() - t, 3), "driver_peak_mib": round(peak_mib(), 1)}
    return result


def _child(backend: str, folder: Path, workers: int) -> dict:
    import resource

    import pandas as pd  # noqa: F401 - imported before timing

    from apcfair.portfolio import load_portfolio
    from apcfair.portfolio import partitioned as pt

    stages: dict = {}
    info: dict = {"backend": backend}
    if backend == "memory":
        p = _stage("read_validate", lambda: load_portfolio(folder / "one.parquet"), stages)
        cells = _stage("cells", p.cells, stages)
        info.update(accounts=p.n_accounts, account_months=int(cells.table["at_risk"].sum()), cells=cells.n_cells)
        ref = cells.table
    else:
        client = cluster = None
        if backend == "dask":
            from dask.distributed import Client, LocalCluster

            def start():
                c = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
                cl = Client(c)
                cl.run(lambda: __import__("apcfair.portfolio.partitioned"))  # workers import apcfair once
                return c, cl

            cluster, client = _stage("cluster_start", start, stages)
        paths = [str(f) for f in pt.dataset_files(folder / "loans")]
        run = pt._runner(client)
        scans = _stage("scan", lambda: run(pt._Call(pt.scan_part, kind="loans"), paths), stages)
        ctx = _stage("context", lambda: pt.build_context(scans, kind="loans"), stages)
        opts = {"columns": {}, "freq": "M", "on_invalid": "raise", "exit_column": None, "exit_codes": None}
        results = _stage("validate_cells_per_part", lambda: run(pt._Call(pt.validate_part, ctx, opts), paths),
                         stages)
        merged = _stage("reduce", lambda: pt._combine(str(folder / "loans"), paths, "loans", "M", ctx, results),
                        stages)
        info.update(accounts=merged.n_accounts, parts=len(paths), cells=merged.cells().n_cells)
        ref = merged.cells().table
        if client is not None:
            usage = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF)).values()
            info["worker_peak_mib"] = sorted(round(u.ru_maxrss / 1024, 1) for u in usage)
            info["worker_cpu_seconds"] = sorted(round(u.ru_utime + u.ru_stime, 2) for u in usage)
            client.close()
            cluster.close()
    info["driver_cpu_seconds"] = round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 2)
    info["total_seconds"] = round(sum(s["seconds"] for k, s in stages.items() if k != "cluster_start"), 3)
    info["stages"] = stages
    info["cells_checksum"] = int((ref["defaults"] * 7 + ref["at_risk"] * 3 + ref["attrition"]).sum())
    return info


UNBIASED_ARGS = ["--restricted", "minority,sex,age", "--credit", "bureau_score,interest_rate,total_deposits",
                 "--seed", "0"]


def _sample_tree(proc, every: float = 0.25) -> dict:
    """Peak resident memory of a command's process (the driver) and of its descendants (Dask workers).

    Sampled with psutil every ``every`` seconds until it exits; the driver's own CPU seconds
    from its last sample (children excluded).
    """
    import psutil

    root = psutil.Process(proc.pid)
    driver_peak, worker_peak, driver_cpu, workers = 0, 0, 0.0, set()
    while proc.poll() is None:
        try:
            driver_peak = max(driver_peak, root.memory_info().rss)
            t = root.cpu_times()
            driver_cpu = t.user + t.system
            for c in root.children(recursive=True):
                try:
                    rss = c.memory_info().rss
                except psutil.Error:
                    continue
                if rss > 50 * 2**20:  # a Python worker, not a helper (resource tracker)
                    workers.add(c.pid)
                    worker_peak = max(worker_peak, rss)
        except psutil.Error:
            pass
        time.sleep(every)
    return {"driver_peak_mib": round(driver_peak / 2**20, 1), "worker_peak_mib": round(worker_peak / 2**20, 1),
            "driver_cpu_seconds": round(driver_cpu, 2), "n_worker_processes": len(workers)}


def run_cli(data: str, commands: list[str], backend: str, workers: int, out_dir: Path, extra: list[str]) -> list[dict]:
    """``apcfair <command> --data DATA --backend ...`` in a child process each: wall, CPU, peak memory.

    CPU seconds of the whole run (driver and workers) from ``RUSAGE_CHILDREN``; the
    largest resident set of any process of it (``ru_maxrss``), and the driver's and the
    workers' peaks sampled separately (:func:`_sample_tree`).
    """
    import resource

    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg"}
    for cmd in commands:
        argv = ["apcfair", cmd, "--data", data, "-q", "--backend", backend]
        if backend == "dask":
            argv += ["--workers", str(workers)]
        if cmd != "validate":
            argv += ["--out", str(out_dir / f"{cmd}_{backend}"), "--force"]
        if cmd == "unbiased":
            argv += UNBIASED_ARGS + extra
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load = os.getloadavg()[0]
        t = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sampled = _sample_tree(proc)
        err = proc.stderr.read()
        proc.wait()
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        row = {"command": " ".join(argv[1:]), "returncode": proc.returncode, "wall_seconds": round(wall, 1),
               "cpu_seconds_all_processes": round(after.ru_utime + after.ru_stime - before.ru_utime
                                                  - before.ru_stime, 1),
               "max_rss_any_process_mib": round(after.ru_maxrss / 1024, 1), **sampled,
               "load_average_1min_before_after": [round(load, 2), round(os.getloadavg()[0], 2)]}
        if proc.returncode:
            row["stderr_tail"] = err[-2000:]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=float, nargs="+", default=[1, 10])
    ap.add_argument("--parts", type=int, nargs="+", default=None, help="parts per scale (default 8 at 1x, 16 at 10x)")
    ap.add_argument("--backends", nargs="+", default=["memory", "parts-memory", "dask"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data-dir", default="/tmp/apcfair_bench_scale")
    ap.add_argument("--out", default=None, help="append results as JSON lines to this file")
    ap.add_argument("--child", nargs=2, metavar=("BACKEND", "FOLDER"), help=argparse.SUPPRESS)
    ap.add_argument("--cli", default=None, metavar="DATA",
                    help="instead: run the CLI commands on this data set (folder of Parquet parts)")
    ap.add_argument("--commands", nargs="+", default=["validate", "vintage", "apc", "unbiased"])
    ap.add_argument("--backend", default="dask", choices=["memory", "dask"])
    ap.add_argument("--extra", default="", help="more options for unbiased, one string")
    args = ap.parse_args()
    if args.cli:
        rows = run_cli(args.cli, args.commands, args.backend, args.workers, Path(args.data_dir),
                       args.extra.split())
        if args.out:
            with open(args.out, "a") as fh:
                fh.writelines(json.dumps({"data": args.cli, **r}) + "\n" for r in rows)
        return
    if args.child:
        print(json.dumps(_child(args.child[0], Path(args.child[1]), args.workers)))
        return
    base = Path(args.data_dir)
    base.mkdir(parents=True, exist_ok=True)
    parts = args.parts or [8 if s <= 1 else 16 for s in args.scales]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for scale, n_parts in zip(args.scales, parts, strict=True):
        folder = _ensure_data(scale, n_parts, base)
        for backend in args.backends:
            load_before = os.getloadavg()
            proc = subprocess.run([sys.executable, __file__, "--child", backend, str(folder),
                                   "--workers", str(args.workers)], capture_output=True, text=True, env=env)
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                continue
            row = {"scale": scale, "parts": n_parts, "load_average_1min_before_after": [
                round(load_before[0], 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count(),
                **json.loads(proc.stdout.strip().splitlines()[-1])}
            print(json.dumps(row))
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
