"""Plots of the unbiased-by-design comparison (matplotlib imported lazily, through :mod:`apcfair.plots`)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from apcfair.plots import _plt


def plot_roc_curves(result, ax=None, sample: str | None = None):
    """ROC curves of each model's cumulative forecast.

    Parameters
    ----------
    result : UnbiasedResult
    ax : matplotlib Axes or pair of Axes, optional
        One Axes when ``sample`` is given, else two (in, out); new ones by default.
    sample : {"in", "out"}, optional
        Draw only this sample (default both, side by side).

    Returns
    -------
    matplotlib Axes, or the pair of Axes when both samples are drawn
    """
    plt = _plt()
    if sample is not None:
        if sample not in ("in", "out"):
            raise ValueError(f"sample={sample!r} is not allowed; use 'in', 'out' or None (both).")
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4.5))
        _roc_panel(result, ax, sample)
        return ax
    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    for panel, s in zip(ax, ("in", "out"), strict=True):
        _roc_panel(result, panel, s)
    return ax


def _roc_panel(result, ax, sample: str) -> None:
    fc = result.forecasts
    for k, (model, rows) in enumerate(fc[fc["sample"] == sample].groupby("model", sort=False)):
        fpr, tpr, _ = roc_curve(rows["defaulted_within_horizon"], rows["cum_pd_observed_window"])
        row = next(r for r in result.rows if r["model"] == model and r["sample"] == sample)
        ax.plot(fpr, tpr, lw=1, color=f"C{k}", label=f"{model} (AUC {row['auc']:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_title(f"{'In' if sample == 'in' else 'Out-of'}-sample ROC, {result.settings['horizon']}-month cumulative")
    ax.set_xlabel("false positive rate (non-defaulters flagged)")
    ax.set_ylabel("true positive rate (defaulters flagged)")
    ax.legend(fontsize=6, loc="lower right")


def plot_dependence_bars(result, ax=None, metric: str = "corr"):
    """Grouped bars: dependence metric of each model's forecast on each attribute."""
    plt = _plt()
    dep = result.dependence_table
    dep = dep[dep["sample"] == "out"]
    attrs = list(dict.fromkeys(dep["attribute"]))
    models = list(dict.fromkeys(dep["model"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(attrs)), 4))
    width = 0.8 / max(len(models), 1)
    x = np.arange(len(attrs))
    for k, m in enumerate(models):
        vals = [dep[(dep["model"] == m) & (dep["attribute"] == a)][metric].astype(float).mean() for a in attrs]
        ax.bar(x + k * width - 0.4 + width / 2, vals, width, label=m, color=f"C{k}")
    ax.set_xticks(x)
    ax.set_xticklabels(attrs, rotation=20, fontsize=8)
    ax.set_ylabel(f"{metric} of forecast with attribute (signed)" if metric == "corr"
                  else f"{metric} of forecast with attribute")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_title("Dependence of forecasts on restricted attributes (out of sample)")
    ax.legend(fontsize=6)
    return ax


def plot_calibration_by_year(result, ax=None, model: str = "credit_restricted_mean"):
    """Mean predicted cumulative PD vs Kaplan–Meier observed, by vintage year."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for sample, mk in (("in", "o"), ("out", "s")):
        row = next(r for r in result.rows if r["model"] == model and r["sample"] == sample)
        by = [b for b in row["calibration"]["by_vintage_year"] if "km_cum_default" in b]
        yrs = [b["vintage_year"] for b in by]
        ax.plot(yrs, [b["mean_cum_pd"] for b in by], mk + "-", label=f"predicted ({sample})")
        if sample == "in":
            ax.errorbar(yrs, [b["km_cum_default"] for b in by],
                        yerr=[[b["km_cum_default"] - b["km_lower"] for b in by], [b["km_upper"] - b["km_cum_default"] for b in by]],
                        fmt="k.", label="observed (Kaplan–Meier, all accounts)")
    ax.set_xlabel("vintage year")
    ax.set_ylabel(f"{result.settings['horizon']}-month cumulative default")
    ax.set_title(f"Calibration by vintage year: {model}")
    ax.legend(fontsize=7)
    return ax
