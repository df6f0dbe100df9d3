"""Plots of the unbiased-by-design comparison (matplotlib imported lazily, through :mod:`apcfair.plots`)."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_curve

from apcfair.plots import _percent_axis, _plt

#: One colour and line style per model, the same in every plot (models beyond these cycle).
_STYLES = {"credit": ("#222222", "-"), "restricted": ("#aaaaaa", ":"),
           "credit_with_restricted_offset": ("#0072B2", "--"), "credit_restricted_zero": ("#D55E00", "-"),
           "credit_restricted_mean": ("#CC79A7", "-."), "gbm_credit": ("#555555", "-"),
           "gbm_credit_with_restricted_offset": ("#56B4E9", "--"), "gbm_credit_restricted_zero": ("#E69F00", "-")}


def _style(model: str, k: int) -> tuple[str, str]:
    return _STYLES.get(model, (f"C{k % 10}", "-"))


def plot_roc_curves(result, ax=None, sample: str | None = None):
    """ROC curves of each model's cumulative forecast, and their differences.

    The curves of models with nearly equal AUCs lie on top of each other, so a new figure
    also shows, under each ROC panel, each model's true positive rate minus the traditional
    credit model's at the same false positive rate.

    Parameters
    ----------
    result : UnbiasedResult
    ax : matplotlib Axes or pair of Axes, optional
        One Axes when ``sample`` is given, else two (in, out); new ones (with the difference
        panels) by default.
    sample : {"in", "out"}, optional
        Draw only this sample (default both, side by side).

    Returns
    -------
    matplotlib Axes, or the pair of Axes when both samples are drawn
    """
    plt = _plt()
    if sample is not None and sample not in ("in", "out"):
        raise ValueError(f"sample={sample!r} is not allowed; use 'in', 'out' or None (both).")
    samples = ("in", "out") if sample is None else (sample,)
    if ax is None:
        fig, grid = plt.subplots(2, len(samples), figsize=(5.5 * len(samples), 7), squeeze=False,
                                 gridspec_kw={"height_ratios": [3, 1.6]}, sharex="col")
        for j, s in enumerate(samples):
            _roc_panel(result, grid[0, j], s)
            _roc_delta_panel(result, grid[1, j], s)
        fig.tight_layout()
        return grid[0, 0] if sample is not None else grid[0]
    if sample is not None:
        _roc_panel(result, ax, sample)
        return ax
    for panel, s in zip(ax, samples, strict=True):
        _roc_panel(result, panel, s)
    return ax


def _roc_points(result, sample: str):
    fc = result.forecasts
    for k, (model, rows) in enumerate(fc[fc["sample"] == sample].groupby("model", sort=False, observed=True)):
        fpr, tpr, _ = roc_curve(rows["defaulted_within_horizon"], rows["cum_pd_observed_window"])
        yield k, model, fpr, tpr


def _roc_panel(result, ax, sample: str) -> None:
    for k, model, fpr, tpr in _roc_points(result, sample):
        row = next(r for r in result.rows if r["model"] == model and r["sample"] == sample)
        col, ls = _style(model, k)
        ax.plot(fpr, tpr, lw=1.2, color=col, ls=ls, label=f"{model} (AUC {row['auc']:.4f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_title(f"{'In' if sample == 'in' else 'Out-of'}-sample ROC, {result.settings['horizon']}-month cumulative")
    ax.set_xlabel("false positive rate (non-defaulters flagged)")
    ax.set_ylabel("true positive rate (defaulters flagged)")
    ax.legend(fontsize=6, loc="lower right")


def _roc_delta_panel(result, ax, sample: str, baseline: str = "credit") -> None:
    """TPR of each model minus the baseline's, on a common FPR grid."""
    grid = np.linspace(0, 1, 201)
    curves = {model: (k, np.interp(grid, fpr, tpr)) for k, model, fpr, tpr in _roc_points(result, sample)}
    if baseline not in curves:
        ax.set_visible(False)
        return
    base = curves[baseline][1]
    for model, (k, tpr) in curves.items():
        if model == baseline:
            continue
        col, ls = _style(model, k)
        ax.plot(grid, 100 * (tpr - base), lw=1.2, color=col, ls=ls, label=model)
    ax.axhline(0, color=_style(baseline, 0)[0], lw=1)
    ax.set_xlabel("false positive rate (non-defaulters flagged)")
    ax.set_ylabel(f"TPR − TPR({baseline}), pp")
    ax.set_title("Difference from the traditional credit model", fontsize=9)


def plot_dependence_bars(result, ax=None, metric: str = "corr"):
    """Grouped bars: dependence metric of each model's forecast on each attribute (signed).

    Correlations keep their sign (a forecast higher for the group coded 1, or for older
    applicants, is positive), so a change of direction is visible.
    """
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
        ax.bar(x + k * width - 0.4 + width / 2, vals, width, label=m, color=_style(m, k)[0], edgecolor="white",
               linewidth=0.3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels(attrs, rotation=20, fontsize=8)
    ax.set_ylabel(f"{metric} of forecast with attribute (signed)")
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
    _percent_axis(ax)
    ax.set_title(f"Calibration by vintage year: {model}")
    ax.legend(fontsize=7)
    return ax
