"""Running the grid: cells × seeds in parallel processes, resumable, then the summary.

Each finished cell × seed is written to its own small Parquet part under ``DIR/parts/``
(atomically, so an interrupted run leaves no half part) and skipped on a rerun. The
tidy table ``experiment.parquet`` is the parts concatenated in grid order (cell, seed,
model, metric), so a rerun that finds every part rewrites the identical table.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from apcfair import layout
from apcfair.experiment.grid import ExperimentGrid, cell_key, seed_for

PARTS = "parts"

#: Procedure settings of the experiment (any :class:`~apcfair.unbiased.UnbiasedByDesign`
#: setting may be overridden). Numeric credit inputs enter linearly (``bins=None``) so that
#: each credit coefficient has a true value.
PROCEDURE_DEFAULTS: dict[str, Any] = {"bins": None, "gbm": False, "horizon": 36}


def part_path(out: Path, cell: Mapping, seed: int) -> Path:
    """Where the part of one cell × seed lives."""
    return Path(out) / PARTS / f"cell-{cell_key(cell)}_seed-{int(seed)}.parquet"


def run_task(grid: ExperimentGrid, cell: dict, seed: int, procedure: Mapping[str, Any], out: str) -> float:
    """Generate one cell × seed portfolio, run the procedure, write its metrics part.

    Returns the seconds it took.
    """
    from apcfair import load_portfolio
    from apcfair.experiment.metrics import (
        PROTECTED,
        RESTRICTED,
        add_design_columns,
        credit_inputs,
        run_metrics,
    )
    from apcfair.unbiased import UnbiasedByDesign
    from data_synth import generate_portfolio

    t0 = time.perf_counter()
    cfg = grid.config(cell, seed)
    synth = generate_portfolio(cfg)
    loans = add_design_columns(synth.loans)
    portfolio = load_portfolio(loans)
    settings = {**PROCEDURE_DEFAULTS, **dict(procedure)}
    ubd = UnbiasedByDesign(restricted=RESTRICTED, credit=credit_inputs(), protected=PROTECTED,
                           random_state=seed_for(seed, cell), **settings).fit(portfolio)
    metrics = run_metrics(ubd.result_, portfolio.loans, synth.truth, horizon=settings["horizon"],
                          window_end=portfolio.window[1], protected=PROTECTED)
    frame = pd.DataFrame({k: [v] * len(metrics) for k, v in cell.items()})
    frame["seed"] = int(seed)
    frame = pd.concat([frame, metrics], axis=1)
    write_part(frame, part_path(Path(out), cell, seed))
    return time.perf_counter() - t0


def write_part(frame: pd.DataFrame, path: Path) -> None:
    """Write one part atomically (an interrupted run leaves no half part)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def run_tasks(calls: list, *, jobs: int, progress: bool, desc: str) -> list:
    """Run ``calls`` (``(function, args)`` pairs) in this process or ``jobs`` joblib
    processes, with a progress bar (tqdm) and time left; return their results."""
    if not calls:
        return []
    from tqdm.auto import tqdm

    results = []
    bar = tqdm(total=len(calls), desc=desc, unit="run", disable=not progress)
    if jobs == 1:
        for fn, args in calls:
            results.append(fn(*args))
            bar.update()
    else:
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=jobs, return_as="generator_unordered")
        for r in par(delayed(fn)(*args) for fn, args in calls):
            results.append(r)
            bar.update()
    bar.close()
    return results


def run_experiment(grid: ExperimentGrid, out: str | Path, *, jobs: int = 1, procedure: Mapping[str, Any] | None = None,
                   progress: bool = True) -> dict:
    """Run every missing cell × seed, then write ``experiment.parquet`` and ``experiment.json``.

    Parameters
    ----------
    grid : ExperimentGrid
    out : str or Path
        Output folder (parts in ``out/parts``).
    jobs : int
        Parallel processes (joblib; 1 runs in this process).
    procedure : mapping, optional
        Overrides of :data:`PROCEDURE_DEFAULTS` (UnbiasedByDesign settings).
    progress : bool
        Progress bar with time left (tqdm).

    Returns
    -------
    dict
        ``ran`` (tasks run now), ``skipped`` (parts found), ``seconds`` per task run,
        ``wall_seconds``, and the paths written.
    """
    from apcfair.experiment.summary import summarise

    out = Path(out)
    procedure = dict(procedure or {})
    tasks = grid.tasks()
    todo = [(c, s) for c, s in tasks if not part_path(out, c, s).exists()]
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    seconds = run_tasks([(run_task, (grid, c, s, procedure, str(out))) for c, s in todo], jobs=jobs,
                        progress=progress, desc="experiment (cell x seed)")
    table = collect(grid, out)
    path = out / layout.EXPERIMENT_PARQUET
    table.to_parquet(path, index=False)
    summary = summarise(table, grid, procedure={**PROCEDURE_DEFAULTS, **procedure})
    from apcfair._io import write_json

    write_json(out / layout.EXPERIMENT_JSON, summary)
    return {"ran": len(todo), "skipped": len(tasks) - len(todo), "seconds": seconds,
            "wall_seconds": time.perf_counter() - t0, "parquet": str(path), "json": str(out / layout.EXPERIMENT_JSON),
            "table": table, "summary": summary}


def collect(grid: ExperimentGrid, out: Path) -> pd.DataFrame:
    """The parts of every cell × seed in grid order (refuses when one is missing)."""
    frames = []
    for order, (c, s) in enumerate(grid.tasks()):
        p = part_path(out, c, s)
        if not p.exists():
            raise FileNotFoundError(f"part {p} is missing: rerun the experiment to finish it")
        f = pd.read_parquet(p)
        f["_order"] = order
        frames.append(f)
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values(["_order", "model", "metric"], kind="stable").drop(columns="_order")
    cols = grid.knobs + ["seed", "model", "metric", "value"]
    return table[cols].reset_index(drop=True)


def seed_interval(values: np.ndarray) -> tuple[float, float]:
    """2.5% and 97.5% quantiles across seeds (the spread of single runs)."""
    return float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))
