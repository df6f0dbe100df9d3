"""All of apcfair's matplotlib plots for vintage curves and APC results.

matplotlib is imported lazily; functions take ``ax=None`` and return the Axes.
"""

from __future__ import annotations

import numpy as np

_TITLES = {"lifecycle": "Lifecycle F(a)", "vintage": "Vintage G(v)", "environment": "Environment H(t)"}


def _plt():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # pragma: no cover
            pass
    import matplotlib.pyplot as plt

    return plt


def _x(result, name, comp):
    if "cell_table" in result.settings:  # events/exposure tables: labels in the table's units
        return np.asarray(comp["index"]), {"lifecycle": "age", "vintage": "cohort (period - age)"}.get(name, "period")
    if name == "lifecycle":
        return comp["code"].to_numpy(), "months on book"
    from apcfair.portfolio.periods import period_to_timestamp

    return period_to_timestamp(comp["code"].to_numpy(), result.freq), "vintage" if name == "vintage" else "calendar month"


def plot_apc_component(result, name: str, ax=None, scale: str = "logit"):
    """Posterior mean and credible band of one APC function."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    comp = result.component(name, scale=scale)
    x, xlabel = _x(result, name, comp)
    ax.fill_between(x, comp["lower"], comp["upper"], alpha=0.3, color="C0",
                    label=f"{int(result.credible_level * 100)}% band")
    ax.plot(x, comp["mean"], color="C0", lw=1.5, label="posterior mean")
    if scale == "logit" and name != "lifecycle":
        ax.axhline(0, color="grey", lw=0.8)
    ax.set_title(_TITLES[name])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("log-odds" if scale == "logit" else "monthly PD")
    return ax


def plot_apc_components(result, axes=None, scale: str = "logit"):
    """Three panels with bands and the identification assumption as a footnote."""
    plt = _plt()
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    else:
        fig = axes[0].figure
    for ax, name in zip(axes, ("lifecycle", "vintage", "environment"), strict=True):
        plot_apc_component(result, name, ax=ax, scale=scale)
    axes[0].legend(loc="best", fontsize=8)
    text = "Identification: " + result.identification["text"]
    fig.text(0.01, -0.02, "\n".join(_wrap(text, 180)), fontsize=7, ha="left", va="top")
    fig.tight_layout()
    return axes


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width)


def plot_fitted_vintage_curves(result, ax=None, n_vintages: int = 6):
    """Observed (points) vs fitted (lines, band) default rate by age for a few vintages."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    cells = result.cells
    vints = np.unique(cells["vintage"])
    pick = vints[np.linspace(0, len(vints) - 1, min(n_vintages, len(vints))).round().astype(int)]
    labels = result.format_labels("vintage", pick)
    for k, (v, lab) in enumerate(zip(pick, labels, strict=True)):
        c = cells[cells["vintage"] == v].sort_values("age")
        col = f"C{k % 10}"
        ax.plot(c["age"], c["observed_rate"], ".", color=col, ms=3, alpha=0.6)
        ax.plot(c["age"], c["fitted_rate"], "-", color=col, lw=1.2, label=lab)
        ax.fill_between(c["age"], c["fitted_lower"], c["fitted_upper"], color=col, alpha=0.15)
    ax.set_xlabel("months on book")
    ax.set_ylabel("monthly default rate")
    ax.set_title("Observed (dots) vs fitted (lines) vintage curves")
    ax.legend(fontsize=7, ncol=2)
    return ax


def plot_residual_heatmap(result, ax=None):
    """Pearson residuals of the posterior-mean fit over age x vintage."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    c = result.cells
    n, d, p = c["at_risk"].to_numpy(float), c["defaults"].to_numpy(float), c["fitted_rate"].to_numpy()
    var = n * p * (1 - p) if result.settings["likelihood"] == "binomial" else n * p
    r = (d - n * p) / np.sqrt(np.maximum(var, 1e-12))
    grid = c.assign(r=r).pivot_table(index="age", columns="vintage", values="r")
    lim = np.nanpercentile(np.abs(grid.to_numpy()), 99) if grid.size else 1
    im = ax.imshow(grid.to_numpy(), aspect="auto", origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                   extent=[0, grid.shape[1], grid.index.min() - 0.5, grid.index.max() + 0.5])
    ticks = np.linspace(0, grid.shape[1] - 1, min(8, grid.shape[1])).round().astype(int)
    ax.set_xticks(ticks + 0.5)
    ax.set_xticklabels(result.format_labels("vintage", grid.columns.to_numpy()[ticks]), rotation=45, fontsize=7)
    ax.set_xlabel("vintage")
    ax.set_ylabel("months on book")
    ax.set_title("Pearson residuals (age x vintage)")
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    return ax


def plot_monthly_pd_curves(curves, ax=None):
    """Observed monthly default rate by age per vintage group (from ``monthly_pd_curves``)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for k, (g, c) in enumerate(curves.groupby("group", sort=True)):
        roll = (c["defaults"].rolling(3, center=True, min_periods=1).sum()
                / c["at_risk"].rolling(3, center=True, min_periods=1).sum())
        ax.plot(c["age"], roll, lw=1, color=f"C{k % 10}", label=str(g))
    ax.set_xlabel("months on book")
    ax.set_ylabel("monthly default rate (3-month smoothed)")
    ax.set_title("Monthly default rate by age, per vintage")
    ax.legend(fontsize=6, ncol=3)
    return ax


def plot_cumulative_default_curves(curves, ax=None):
    """Kaplan–Meier cumulative default by age per vintage group, with bands."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for k, (g, c) in enumerate(curves.groupby("group", sort=True)):
        col = f"C{k % 10}"
        ax.step(c["age"], c["cum_default"], where="post", lw=1, color=col, label=str(g))
        ax.fill_between(c["age"], c["lower"], c["upper"], step="post", color=col, alpha=0.1)
    ax.set_xlabel("months on book")
    ax.set_ylabel("cumulative default (Kaplan–Meier)")
    ax.set_title("Cumulative default by vintage, censoring handled")
    ax.legend(fontsize=6, ncol=3)
    return ax
