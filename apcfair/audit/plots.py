"""All audit plots. Matplotlib is imported lazily; nothing calls ``plt.show()``."""

from __future__ import annotations

import numpy as np


def new_axes(figsize=(6.0, 4.0), standalone: bool = False):
    """New axes: pyplot's if the caller already uses pyplot, else a standalone Agg figure."""
    import sys

    if not standalone and "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
        return ax
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _ax(ax, figsize=(6.0, 4.0)):
    return ax if ax is not None else new_axes(figsize)


def _pick_attribute(result, attribute):
    attrs = result.attributes
    if attribute is None:
        return attrs[0]
    if attribute not in attrs:
        raise ValueError(f"unknown attribute {attribute!r}; audited: {attrs}.")
    return attribute


_METRIC_LABELS = {
    "approval_rate": "approval rate P(approved)",
    "tpr": "TPR = P(approved | creditworthy)",
    "fpr": "FPR = P(approved | default)",
    "precision": "precision = P(creditworthy | approved)",
    "accuracy": "accuracy",
    "base_rate": "default rate",
}


def plot_group_metric(result, metric: str = "approval_rate", attribute: str | None = None, ax=None):
    """Bar chart of one group rate with bootstrap intervals (where computed).

    Groups below ``min_group_size`` are hatched, and for TPR, FPR and precision the rates whose
    denominator is below ``min_rate_denominator`` (left out of the gaps). For the approval rate a dashed line marks
    four fifths of the highest eligible group's rate.

    Parameters
    ----------
    result : AuditResult
        The audit.
    metric : str, default "approval_rate"
        Column of ``by_group``.
    attribute : str, optional
        Attribute to show (default: the first).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    attribute = _pick_attribute(result, attribute)
    if metric not in result.by_group.columns:
        raise ValueError(f"metric={metric!r} is not a column of by_group.")
    ax = _ax(ax)
    sub = result.by_group[result.by_group["attribute"] == attribute]
    x = np.arange(len(sub))
    vals = sub[metric].astype(float).to_numpy()
    small = sub["small"].to_numpy(dtype=bool)
    if f"{metric}_status" in sub.columns:  # a conditional rate on fewer than min_rate_denominator applicants
        small = small | (sub[f"{metric}_status"] == "insufficient").to_numpy()
    bars = ax.bar(x, vals, color=np.where(small, "#bbbbbb", "#4477aa"), edgecolor="black", linewidth=0.5)
    for b, s in zip(bars, small, strict=True):
        if s:
            b.set_hatch("//")
    lo_c, hi_c = f"{metric}_ci_low", f"{metric}_ci_high"
    if lo_c in sub.columns:
        lo, hi = sub[lo_c].astype(float).to_numpy(), sub[hi_c].astype(float).to_numpy()
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.errorbar(x[ok], vals[ok], yerr=[np.maximum(vals[ok] - lo[ok], 0), np.maximum(hi[ok] - vals[ok], 0)], fmt="none", ecolor="black",
                    capsize=3, linewidth=1)
    if metric == "approval_rate":
        elig = vals[~small & np.isfinite(vals)]
        if elig.size:
            thr = result.settings.get("thresholds", {}).get("dir", 0.8)
            ax.axhline(thr * elig.max(), ls="--", color="#cc3311", lw=1,
                       label=f"{thr:.2f} x highest approval rate")
            ax.legend(fontsize=8, loc="lower right")
    ax.set_xticks(x)
    ax.set_xticklabels(sub["group"], rotation=30 if len(sub) > 4 else 0, ha="right" if len(sub) > 4 else "center",
                       fontsize=8)
    ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
    ax.set_ylim(0, 1.05 if np.nanmax(np.append(vals, 0)) <= 1 else None)
    hatched = f"n < {result.settings.get('min_group_size')}"
    if f"{metric}_status" in sub.columns and result.settings.get("min_rate_denominator") is not None:
        hatched += f" or denominator < {result.settings['min_rate_denominator']}"
    ax.set_title(f"{metric} by {attribute} (hatched: {hatched}; not in the gaps)", fontsize=9)
    return ax


def plot_gaps(result, attribute: str | None = None, ax=None):
    """Gaps with bootstrap intervals; red where the gap fails its threshold.

    Differences are plotted as they are; the disparate impact ratio as ``1 - ratio`` so that
    every bar reads "larger = less fair" against its own threshold tick.

    Returns
    -------
    matplotlib.axes.Axes
    """
    attribute = _pick_attribute(result, attribute)
    ax = _ax(ax)
    g = result.gaps[result.gaps["attribute"] == attribute].reset_index(drop=True)
    y = np.arange(len(g))
    isr = (g["kind"] == "ratio").to_numpy()
    val = np.where(isr, 1 - g["value"].astype(float), g["value"].astype(float))
    lo = np.where(isr, 1 - g["ci_high"].astype(float), g["ci_low"].astype(float))
    hi = np.where(isr, 1 - g["ci_low"].astype(float), g["ci_high"].astype(float))
    thr = np.where(isr, 1 - g["threshold"].astype(float), g["threshold"].astype(float))
    colors = np.where(g["status"] == "FAIL", "#cc3311", np.where(g["status"] == "PASS", "#228833", "#999999"))
    ax.barh(y, np.nan_to_num(val), color=colors, alpha=0.8)
    ok = np.isfinite(lo) & np.isfinite(hi) & np.isfinite(val)
    ax.errorbar(val[ok], y[ok], xerr=[np.maximum(val[ok] - lo[ok], 0), np.maximum(hi[ok] - val[ok], 0)], fmt="none", ecolor="black", capsize=3)
    ax.scatter(thr, y, marker="|", s=300, color="black", zorder=3, label="threshold")
    for k in np.flatnonzero((g["status"] == "INSUFFICIENT").to_numpy()):
        ax.text(0.005, y[k], "insufficient data: no verdict", va="center", fontsize=7, color="#555555")
    ax.axvline(0, color="black", lw=0.5)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{n}" + (" (1 - ratio)" if r else "") for n, r in zip(g["gap"], isr, strict=True)],
                       fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("gap (highest - lowest group)")
    ax.set_title(f"Fairness gaps by {attribute} ({result.settings.get('ci', 0.95):.0%} bootstrap intervals)",
                 fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_roc(result, attribute: str | None = None, ax=None):
    """ROC curve of the score (as rejection shares), overall and per group of ``attribute``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _ax(ax, figsize=(5.0, 5.0))
    roc = result.roc
    if roc is None or roc.empty:
        ax.text(0.5, 0.5, "no score given", ha="center")
        return ax
    ov = roc[roc["attribute"] == "overall"]
    auc = result.performance.get("auc")
    ax.plot(ov["rejected_creditworthy"], ov["rejected_defaulters"], color="black", lw=2,
            label=f"all (AUC {auc:.3f})" if auc is not None and np.isfinite(auc) else "all")
    if attribute is not None:
        attribute = _pick_attribute(result, attribute)
        sub = roc[roc["attribute"] == attribute]
        aucs = result.by_group[result.by_group["attribute"] == attribute].set_index("group").get("auc")
        for g, d in sub.groupby("group", sort=False):
            lab = f"{g}" + (f" (AUC {aucs[g]:.3f})" if aucs is not None and g in aucs and np.isfinite(aucs[g]) else "")
            ax.plot(d["rejected_creditworthy"], d["rejected_defaulters"], lw=1, label=lab)
    ax.plot([0, 1], [0, 1], ls=":", color="grey")
    ax.set_xlabel("share of creditworthy rejected (1 - TPR)")
    ax.set_ylabel("share of defaulters rejected (1 - FPR)")
    ax.set_title("ROC", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    return ax


def plot_calibration(result, attribute: str | None = None, ax=None, min_bin_size: int = 10):
    """Reliability diagram: observed default rate against mean predicted PD per bin.

    Bins with fewer than ``min_bin_size`` applicants are not drawn (they still count in the ECE).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _ax(ax, figsize=(5.0, 5.0))
    cal = result.calibration
    if cal is None or cal.empty:
        ax.text(0.5, 0.5, "score is not a probability: no calibration", ha="center")
        return ax
    cal = cal[cal["n"] >= min_bin_size]
    ov = cal[cal["attribute"] == "overall"]
    ax.plot(ov["mean_predicted"], ov["observed"], "o-", color="black", lw=2, label="all")
    if attribute is not None:
        attribute = _pick_attribute(result, attribute)
        eces = result.by_group[result.by_group["attribute"] == attribute].set_index("group").get("ece")
        for g, d in cal[cal["attribute"] == attribute].groupby("group", sort=False):
            lab = f"{g}" + (f" (ECE {eces[g]:.3f})" if eces is not None and g in eces else "")
            ax.plot(d["mean_predicted"], d["observed"], "s--", lw=1, ms=4, label=lab)
    ax.plot([0, 1], [0, 1], ls=":", color="grey", label="perfect")
    ax.set_xlabel("mean predicted PD")
    ax.set_ylabel("observed default rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Calibration", fontsize=9)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_intervention(report, metric: str = "tpr", ax=None):
    """Grouped bars of a group rate for each variant of an intervention report.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _ax(ax, figsize=(7.0, 4.0))
    bg = report.by_group
    if metric not in bg.columns:
        raise ValueError(f"metric={metric!r} is not a column of the report's by_group.")
    variants = list(dict.fromkeys(bg["variant"]))
    groups = list(dict.fromkeys(bg["group"]))
    w = 0.8 / max(len(variants), 1)
    x = np.arange(len(groups))
    for i, v in enumerate(variants):
        d = bg[bg["variant"] == v].set_index("group").reindex(groups)
        ax.bar(x + (i - (len(variants) - 1) / 2) * w, d[metric].astype(float), width=w, label=v)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, fontsize=8)
    ax.set_ylabel(_METRIC_LABELS.get(metric, metric))
    ax.set_title(f"{report.name}: {metric} by group (what-if)", fontsize=9)
    ax.legend(fontsize=8)
    return ax
