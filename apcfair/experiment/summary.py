"""Across-seed summary of the experiment's tidy table (``experiment.json``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

#: What each summary field means (written into ``experiment.json``).
DEFINITIONS = {
    "mean": "mean over seeds of the single-run values",
    "spread_lower/spread_upper": "2.5% and 97.5% quantiles of the single-run values across seeds "
                                 "(model-estimation and sampling variance that one run's DeLong interval ignores)",
    "mean_lower/mean_upper": "95% t-interval of the across-seed mean",
    "n_seeds": "seeds with a value",
    "delong_covered_mean": "share of seeds whose single-run 95% DeLong interval of the cost contains the "
                           "across-seed mean cost",
    "cost_*": "AUC difference (AUC units): AUC(first model) - AUC(zeroed model); positive = zeroing loses accuracy",
    "corr_*": "Pearson correlation of the model's cumulative PD over the horizon with the attribute, out of sample",
    "coef_bias_*": "estimated - true credit coefficient (logit per unit of the generator's design column)",
    "calibration_*": "expected / actual defaults within the horizon, out of sample",
    "dep_*": "corr(logit account score, attribute) split into covariance shares: legit (true credit effects), "
             "proxy (coefficient bias), other (restricted term, vintage effects); out of sample",
}


def summarise(table: pd.DataFrame, grid, *, procedure: dict) -> dict:
    """Settings, per-cell means with across-seed intervals, DeLong coverage and provenance."""
    from apcfair._provenance import provenance

    knobs = grid.knobs
    cells = []
    for key, sub in table.groupby(knobs, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        cell = dict(zip(knobs, key, strict=True))
        models: dict = {}
        for (model, metric), g in sub.groupby(["model", "metric"], sort=True):
            models.setdefault(model, {})[metric] = _stats(g["value"].to_numpy(float))
        for model, metrics in models.items():
            for name in [m for m in metrics if m.startswith("cost_") and m.endswith(("_in", "_out"))]:
                lo = sub[(sub["model"] == model) & (sub["metric"] == f"{name}_lower")].set_index("seed")["value"]
                hi = sub[(sub["model"] == model) & (sub["metric"] == f"{name}_upper")].set_index("seed")["value"]
                mean = metrics[name]["mean"]
                if len(lo):
                    metrics[name]["delong_covered_mean"] = float(((lo <= mean) & (mean <= hi)).mean())
        cells.append({"cell": _plain(cell), "models": models})
    settings = {**grid.to_dict(), "procedure": procedure}
    return {"settings": settings, "definitions": DEFINITIONS, "cells": cells,
            "provenance": provenance(settings)}


def _stats(v: np.ndarray) -> dict:
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return {"n_seeds": 0}
    mean = float(v.mean())
    out = {"mean": mean, "n_seeds": n, "spread_lower": float(np.quantile(v, 0.025)),
           "spread_upper": float(np.quantile(v, 0.975))}
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1) * v.std(ddof=1) / np.sqrt(n))
        out.update({"sd": float(v.std(ddof=1)), "mean_lower": mean - half, "mean_upper": mean + half})
    return out


def _plain(cell: dict) -> dict:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in cell.items()}


def cell_means(table: pd.DataFrame, knobs: list[str]) -> pd.DataFrame:
    """Mean over seeds per cell, model and metric (a wide helper for plots and notebooks).

    Examples
    --------
    >>> t = pd.DataFrame({"k": [0, 0], "seed": [0, 1], "model": ["m", "m"], "metric": ["a", "a"],
    ...                   "value": [1.0, 3.0]})
    >>> cell_means(t, ["k"])["value"].tolist()
    [2.0]
    """
    return table.groupby(knobs + ["model", "metric"], sort=False, as_index=False)["value"].mean()
