"""Time and peak memory of each stage of the demo pipeline at several portfolio scales.

Stages (as ``apcfair demo`` runs them, without writing outputs): ``synth`` (generate the
synthetic portfolio with data_synth and write its files), ``validate`` (read the loans file
and validate it: ``Portfolio.from_loans``), ``cells`` (vintage x age cells), ``apc`` (the
Laplace APC fit), ``unbiased`` (the unbiased-by-design procedure), ``audit`` (the fairness
audit of its forecasts), ``stress`` (macro model, scenarios and the stress test).

Each (scale, repeat) runs in a fresh Python process, so that import and first-call costs
count as they do for a user, with BLAS pinned to ``--threads`` threads. Per stage it records
wall seconds, CPU seconds (user + system of the process) and the peak resident memory during
the stage (MiB; Linux ``VmHWM`` reset at the start of each stage through
``/proc/self/clear_refs``). Scale 1 is the paper's 146,500 accounts. Not a test: run by hand,
best on a quiet machine, and compare runs made in the same window.

    python benchmarks/bench_stages.py --scales 0.25,1,3 --repeats 2 --out benchmarks/results/stages
    python benchmarks/bench_stages.py --scales 0.25 --repeats 2 --label after   # a quick check

Writes ``<out>/stages.json`` (every run, plus the unbiased procedure's own sub-stage timings)
and ``<out>/stages.md`` (a table: per scale and stage the min and max over repeats).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import reset_peak as _reset_peak
from _memory import status_kib as _status_kib

PAPER_ACCOUNTS = 146_500
STAGES = ("synth", "validate", "cells", "apc", "unbiased", "audit", "stress")
#: a realistic floor of the unbiased procedure at paper scale (shared/PERF_NOTES.md: one fused
#: pass per Newton or boosting step, the dependence measures, the trees), seconds
PROCEDURE_FLOOR_S_AT_1X = 11.0


# ---------------------------------------------------------------------- child side
def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def run_child(accounts: int, seed: int, stages: list[str]) -> dict:
    """Run the stages once in this process; return timings and memory per stage."""
    t_import = time.perf_counter()
    from apcfair.apc import APCModel
    from apcfair.portfolio import Portfolio, read_table
    from apcfair.report.demo import (
        DEMO_CREDIT,
        DEMO_HORIZON,
        DEMO_PROTECTED,
        DEMO_RESTRICTED,
        demo_audit,
        demo_stress,
    )
    from apcfair.unbiased import UnbiasedByDesign
    from data_synth import SynthConfig, write_portfolio

    import_s = time.perf_counter() - t_import
    out: dict = {"accounts": accounts, "seed": seed, "import_seconds": round(import_s, 3), "stages": {}}
    state: dict = {}

    def timed(name, fn):
        rss0 = _reset_peak()
        w, c = time.perf_counter(), _cpu()
        value = fn()
        out["stages"][name] = {"wall_seconds": round(time.perf_counter() - w, 3),
                               "cpu_seconds": round(_cpu() - c, 3),
                               "peak_rss_mib": round(_status_kib("VmHWM") / 1024, 1),
                               "rss_at_start_mib": round(rss0, 1)}
        return value

    with tempfile.TemporaryDirectory(prefix="apcfair_bench_stages_") as tmp:
        data = timed("synth", lambda: write_portfolio(Path(tmp) / "data", SynthConfig(n_accounts=accounts, seed=seed)))
        portfolio = timed("validate", lambda: Portfolio.from_loans(read_table(Path(data["loans"]))))
        out["account_months"] = int(portfolio.n_account_months)
        cells = timed("cells", portfolio.cells)
        if "apc" in stages or "stress" in stages:
            state["apc"] = timed("apc", lambda: APCModel(random_state=seed).fit(cells).result_)
        if {"unbiased", "audit", "stress"} & set(stages):
            result = timed("unbiased", lambda: UnbiasedByDesign(
                restricted=DEMO_RESTRICTED, credit=DEMO_CREDIT, protected=DEMO_PROTECTED,
                horizon=DEMO_HORIZON, random_state=seed).fit(portfolio).result_)
            out["unbiased_substages_seconds"] = result.timings
            if "audit" in stages:
                timed("audit", lambda: demo_audit(result, portfolio, seed))
            if "stress" in stages:
                timed("stress", lambda: demo_stress(result, portfolio, state["apc"], data["macro_history"],
                                                    data["scenarios"], DEMO_HORIZON, seed))
    out["peak_rss_mib"] = max(s["peak_rss_mib"] for s in out["stages"].values())
    out["peak_kib_per_account"] = round(out["peak_rss_mib"] * 1024 / accounts, 2)
    return out


# ---------------------------------------------------------------------- parent side
def spawn(accounts: int, seed: int, stages: list[str], threads: int, timeout: float) -> dict:
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("MPLBACKEND", "Agg")
    cmd = [sys.executable, __file__, "--child", str(accounts), "--seed", str(seed), "--stages", ",".join(stages)]
    w = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        return {"accounts": accounts, "error": proc.stderr[-2000:]}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall_seconds"] = round(time.perf_counter() - w, 2)
    return res


def markdown(runs: list[dict], label: str) -> str:
    lines = [f"# apcfair stage benchmark{f' ({label})' if label else ''}", "",
             "Wall and CPU seconds per stage, and the peak resident memory during the stage (MiB); "
             "min-max over the repeats, each repeat a fresh process (imports not in any stage; the peaks "
             "include the imported libraries, ~0.2 GiB). "
             f"Scale 1 = {PAPER_ACCOUNTS:,} accounts. Procedure floor at 1x: ~{PROCEDURE_FLOOR_S_AT_1X:g} s "
             "(shared/PERF_NOTES.md).", "",
             "| scale | accounts | account-months | stage | wall s | CPU s | peak RSS MiB |",
             "|---:|---:|---:|---|---:|---:|---:|"]
    by_acc: dict[int, list[dict]] = {}
    for r in runs:
        if "error" not in r:
            by_acc.setdefault(r["accounts"], []).append(r)

    def rng(vals, fmt):
        lo, hi = min(vals), max(vals)
        return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}-{fmt.format(hi)}"

    for acc, rs in sorted(by_acc.items()):
        scale = acc / PAPER_ACCOUNTS
        for stage in STAGES:
            got = [r["stages"][stage] for r in rs if stage in r["stages"]]
            if not got:
                continue
            lines.append(f"| {scale:g} | {acc:,} | {rs[0]['account_months']:,} | {stage} | "
                         f"{rng([g['wall_seconds'] for g in got], '{:.2f}')} | "
                         f"{rng([g['cpu_seconds'] for g in got], '{:.2f}')} | "
                         f"{rng([g['peak_rss_mib'] for g in got], '{:.0f}')} |")
        lines.append(f"| {scale:g} | {acc:,} | | **whole process** (incl. imports) | "
                     f"{rng([r['process_wall_seconds'] for r in rs], '{:.1f}')} | | "
                     f"{rng([r['peak_rss_mib'] for r in rs], '{:.0f}')} "
                     f"({rng([r['peak_kib_per_account'] for r in rs], '{:.2f}')} KiB/account) |")
    errors = [r for r in runs if "error" in r]
    if errors:
        lines += ["", f"{len(errors)} run(s) failed; see stages.json."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scales", default="0.25,1,3", help="comma-separated multiples of 146,500 accounts")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stages", default=",".join(STAGES), help="subset of " + ",".join(STAGES))
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads of the child processes")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per child process")
    ap.add_argument("--out", default="benchmarks/results/stages")
    ap.add_argument("--label", default="", help="a name for this run (e.g. before/after)")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s]
    unknown = set(stages) - set(STAGES)
    if unknown:
        ap.error(f"unknown stages {sorted(unknown)}; choose from {', '.join(STAGES)}")
    if args.child is not None:
        print(json.dumps(run_child(args.child, args.seed, stages)))
        return 0
    runs = []
    for scale in (float(s) for s in args.scales.split(",")):
        accounts = int(round(scale * PAPER_ACCOUNTS))
        for rep in range(args.repeats):
            r = spawn(accounts, args.seed, stages, args.threads, args.timeout)
            r.update(scale=scale, repeat=rep)
            runs.append(r)
            brief = {k: v["wall_seconds"] for k, v in r.get("stages", {}).items()}
            print(f"scale {scale:g} repeat {rep}: {brief or r.get('error', '')[-300:]}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"label": args.label, "python": sys.version.split()[0], "cpus": os.cpu_count(),
            "threads": args.threads, "load_average_at_end": os.getloadavg(),
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "stages.json").write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    (out / "stages.md").write_text(markdown(runs, args.label))
    print((out / "stages.md").read_text())
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
