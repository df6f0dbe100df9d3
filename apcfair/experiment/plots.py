"""The frontier heat maps over the grid and the Pareto plot across models.

matplotlib is imported lazily; every function takes ``ax``/``fig`` or makes its own and
never shows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from apcfair import layout
from apcfair.experiment.summary import cell_means

#: The frontier panels: (title with definition and unit, model, metric, transform).
FRONTIER = (
    ("cost of zeroing, out of sample\nAUC(credit) - AUC(zeroed) [AUC units]", "credit_restricted_zero",
     "cost_traditional_vs_zero_out", 1.0),
    ("dependence removed by zeroing\ncorr(PD, minority): credit - zeroed", "credit_restricted_zero",
     "corr_change_vs_credit_minority", -1.0),
    ("coefficient bias, traditional model\nmean |estimated - true| credit coef. [logit/unit]", "credit",
     "coef_abs_bias", 1.0),
    ("coefficient bias, restricted-offset model\nmean |estimated - true| credit coef. [logit/unit]",
     "credit_with_restricted_offset", "coef_abs_bias", 1.0),
)


def frontier_table(table: pd.DataFrame, knobs: list[str]) -> pd.DataFrame:
    """Per cell, the across-seed means of the frontier quantities (one column each).

    ``coef_abs_bias`` is the mean over credit terms of |across-seed mean bias| (systematic
    bias, not noise).
    """
    means = cell_means(table, knobs)
    bias = means[means["metric"].str.startswith("coef_bias_")].copy()
    bias["value"] = bias["value"].abs()
    bias = bias.groupby(knobs + ["model"], sort=False, as_index=False)["value"].mean().assign(metric="coef_abs_bias")
    means = pd.concat([means, bias], ignore_index=True)
    out = None
    for _title, model, metric, sign in FRONTIER:
        sel = means[(means["model"] == model) & (means["metric"] == metric)]
        col = sel.groupby(knobs, sort=False)["value"].mean().mul(sign).rename(f"{model}:{metric}")
        out = col.to_frame() if out is None else out.join(col, how="outer")
    return out.reset_index()


def plot_frontier(table: pd.DataFrame, knobs: list[str], fig=None):
    """Heat maps of the frontier quantities over the first two knobs (others averaged)."""
    import matplotlib.pyplot as plt

    front = frontier_table(table, knobs)
    rows = knobs[0]
    cols = knobs[1] if len(knobs) > 1 else None
    fig = fig or plt.figure(figsize=(4.2 * len(FRONTIER), 3.8))
    axes = fig.subplots(1, len(FRONTIER))
    # panels of one metric (the two models' coefficient bias) share a colour scale, so colours compare across them
    shared = {}
    for _, model, metric, _ in FRONTIER:
        if f"{model}:{metric}" in front:
            v = front[f"{model}:{metric}"].to_numpy(float)
            lo, hi = shared.get(metric, (np.inf, -np.inf))
            shared[metric] = (min(lo, np.nanmin(v)), max(hi, np.nanmax(v)))
    for ax, (title, model, metric, _) in zip(np.atleast_1d(axes), FRONTIER, strict=True):
        col = f"{model}:{metric}"
        if col not in front:
            ax.set_axis_off()
            continue
        grid = front.pivot_table(index=rows, columns=cols, values=col) if cols else \
            front.groupby(rows)[col].mean().to_frame()
        vmin, vmax = shared[metric]
        im = ax.imshow(grid.to_numpy(float), cmap="viridis", aspect="auto", origin="lower", vmin=vmin, vmax=vmax)
        for (i, j), v in np.ndenumerate(grid.to_numpy(float)):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_yticks(range(len(grid.index)), [str(v) for v in grid.index])
        ax.set_ylabel(rows)
        ax.set_xticks(range(len(grid.columns)), [str(v) for v in grid.columns] if cols else [""])
        ax.set_xlabel(cols or "")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    extra = knobs[2:]
    fig.suptitle("Frontier: means over seeds" + (f" (averaged over {extra})" if extra else ""), fontsize=10)
    fig.tight_layout()
    return fig


def plot_pareto(table: pd.DataFrame, knobs: list[str], ax=None, attribute: str = "minority"):
    """AUC out of sample vs |corr(PD, attribute)| per model and cell, with each model's means."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    means = cell_means(table, knobs)
    wide = means.pivot_table(index=knobs + ["model"], columns="metric", values="value").reset_index()
    corr = f"corr_{attribute}"
    if corr not in wide or "auc_out" not in wide:
        return ax
    for model, g in wide.groupby("model", sort=True):
        ax.scatter(g[corr].abs(), g["auc_out"], label=model, s=22, alpha=0.8)
    pts = wide[[corr, "auc_out"]].abs().to_numpy()
    order = np.argsort(pts[:, 0])
    front, best = [], -np.inf
    for i in order:  # lower dependence and higher AUC are better
        if pts[i, 1] > best:
            front.append(pts[i])
            best = pts[i, 1]
    if front:
        f = np.array(front)
        ax.plot(f[:, 0], f[:, 1], "k--", lw=1, label="Pareto front")
    ax.set_xlabel(f"|corr(cumulative PD, {attribute})|, out of sample (lower = less dependence)")
    ax.set_ylabel("AUC out of sample (complete-horizon accounts)")
    ax.set_title("Accuracy vs dependence per model and grid cell (means over seeds)", fontsize=9)
    ax.legend(fontsize=7)
    return ax


def write_plots(table: pd.DataFrame, grid, out: str | Path) -> list[str]:
    """Write the frontier and Pareto plots into ``out``; return their paths."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out)
    fig = plot_frontier(table, grid.knobs)
    p1 = out / layout.EXPERIMENT_FRONTIER_PLOT
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    ax = plot_pareto(table, grid.knobs)
    p2 = out / layout.EXPERIMENT_PARETO_PLOT
    ax.figure.tight_layout()
    ax.figure.savefig(p2, dpi=110)
    plt.close(ax.figure)
    return [str(p1), str(p2)]


def plot_bootstrap(table: pd.DataFrame, protected: list[str], fig=None):
    """Spread across bootstrap replicates of a real book: the cost of zeroing against the
    traditional model and the change in corr(PD, attribute), out of sample, as histograms
    with the mean and the 2.5% / 97.5% quantiles (the percentile interval)."""
    import matplotlib.pyplot as plt

    panels = [("cost_traditional_vs_zero_out", "cost of zeroing, out of sample\nAUC(credit) - AUC(zeroed) "
               "[AUC units]")]
    panels += [(f"corr_change_vs_credit_{a}", f"change in corr(PD, {a}), out of sample\nzeroed - credit "
                "[correlation units]") for a in protected]
    if fig is None:
        fig = plt.figure(figsize=(3.6 * len(panels), 3.2))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    zero = table[table["model"] == "credit_restricted_zero"]
    for ax, (metric, label) in zip(axes, panels, strict=True):
        v = zero.loc[zero["metric"] == metric, "value"].to_numpy(float)
        v = v[np.isfinite(v)]
        if not len(v):
            ax.set_axis_off()
            continue
        ax.hist(v, bins=min(30, max(5, len(v) // 5)), color="0.7")
        lo, hi = np.quantile(v, [0.025, 0.975])
        ax.axvline(v.mean(), color="k", lw=1.2, label=f"mean {v.mean():+.4f}")
        for q in (lo, hi):
            ax.axvline(q, color="k", ls="--", lw=0.8)
        ax.axvline(0, color="tab:red", lw=0.8)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("bootstrap replicates (count)", fontsize=8)
        ax.set_title(f"95% of replicates: {lo:+.4f} to {hi:+.4f}", fontsize=8)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_bootstrap_plot(table: pd.DataFrame, protected: list[str], out: str | Path) -> list[str]:
    """Write :func:`plot_bootstrap` into ``out``; return its path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig = plot_bootstrap(table, protected)
    path = Path(out) / layout.EXPERIMENT_BOOTSTRAP_PLOT
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [str(path)]
