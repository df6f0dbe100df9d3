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


def _percent_axis(ax, axis: str = "y"):
    """Label an axis of rates (fractions) as percentages."""
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=None))
    return ax


def vintage_colors(n: int) -> list:
    """``n`` colours of one sequential map (dark = early vintages, light = recent), so that many
    vintages never share a colour and their order reads from the colour.

    >>> cols = vintage_colors(15)
    >>> len(cols), len({tuple(c) for c in cols})
    (15, 15)
    """
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(x) for x in np.linspace(0.0, 0.88, max(n, 1))][:n]


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
    if scale != "logit":
        _percent_axis(ax)
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
    colors = vintage_colors(len(pick))
    for v, lab, col in zip(pick, labels, colors, strict=True):
        c = cells[cells["vintage"] == v].sort_values("age")
        ax.plot(c["age"], c["observed_rate"], ".", color=col, ms=3, alpha=0.6)
        ax.plot(c["age"], c["fitted_rate"], "-", color=col, lw=1.2, label=lab)
        ax.fill_between(c["age"], c["fitted_lower"], c["fitted_upper"], color=col, alpha=0.15)
    ax.set_xlabel("months on book")
    ax.set_ylabel("monthly default rate")
    _percent_axis(ax)
    ax.set_title("Observed (dots) vs fitted (lines) vintage curves")
    ax.legend(fontsize=7, ncol=2, title="vintage", title_fontsize=7)
    return ax


def plot_residual_heatmap(result, ax=None, min_expected: float = 5.0):
    """Pearson residuals of the posterior-mean fit over age x vintage.

    A cell's residual is only informative when defaults are expected there: cells are faded
    in proportion to their expected defaults (fully opaque from ``min_expected`` up), so a
    single default in a sparse cell does not read as misfit.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    from matplotlib.colors import Normalize

    c = result.cells
    n, d, p = c["at_risk"].to_numpy(float), c["defaults"].to_numpy(float), c["fitted_rate"].to_numpy()
    var = n * p * (1 - p) if result.settings["likelihood"] == "binomial" else n * p
    r = (d - n * p) / np.sqrt(np.maximum(var, 1e-12))
    cells = c.assign(r=r, expected=n * p)
    grid = cells.pivot_table(index="age", columns="vintage", values="r")
    expected = cells.pivot_table(index="age", columns="vintage", values="expected").reindex_like(grid)
    values = grid.to_numpy()
    lim = np.nanpercentile(np.abs(values), 99) if grid.size and np.isfinite(values).any() else 1
    cmap = plt.get_cmap("RdBu_r")
    norm = Normalize(-lim, lim)
    rgba = cmap(norm(np.nan_to_num(values)))
    rgba[..., 3] = np.clip(np.nan_to_num(expected.to_numpy()) / min_expected, 0.08, 1.0)
    rgba[~np.isfinite(values)] = (1, 1, 1, 0)
    ax.imshow(rgba, aspect="auto", origin="lower", interpolation="nearest",
              extent=[0, grid.shape[1], grid.index.min() - 0.5, grid.index.max() + 0.5])
    ticks = np.linspace(0, grid.shape[1] - 1, min(8, grid.shape[1])).round().astype(int)
    ax.set_xticks(ticks + 0.5)
    ax.set_xticklabels(result.format_labels("vintage", grid.columns.to_numpy()[ticks]), rotation=45, fontsize=7)
    ax.set_xlabel("vintage")
    ax.set_ylabel("months on book")
    ax.set_title(f"Pearson residuals (age x vintage); faded: fewer than {min_expected:g} expected defaults",
                 fontsize=9)
    from matplotlib.cm import ScalarMappable

    ax.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.8, label="Pearson residual")
    return ax


def plot_monthly_pd_curves(curves, ax=None):
    """Observed monthly default rate by age per vintage group (from ``monthly_pd_curves``)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    groups = list(curves.groupby("group", sort=True))
    for (g, c), col in zip(groups, vintage_colors(len(groups)), strict=True):
        roll = (c["defaults"].rolling(3, center=True, min_periods=1).sum()
                / c["at_risk"].rolling(3, center=True, min_periods=1).sum())
        ax.plot(c["age"], roll, lw=1, color=col, label=str(g))
    ax.set_xlabel("months on book")
    ax.set_ylabel("monthly default rate (3-month smoothed)")
    _percent_axis(ax)
    ax.set_title("Monthly default rate by age, per vintage")
    ax.legend(fontsize=6, ncol=3)
    return ax


def plot_cumulative_default_curves(curves, ax=None):
    """Kaplan–Meier cumulative default (``1 - KM``, payoff censored) by age per vintage group, with bands."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    groups = list(curves.groupby("group", sort=True))
    for (g, c), col in zip(groups, vintage_colors(len(groups)), strict=True):
        ax.step(c["age"], c["cum_default"], where="post", lw=1, color=col, label=str(g))
        ax.fill_between(c["age"], c["lower"], c["upper"], step="post", color=col, alpha=0.1)
    ax.set_xlabel("months on book")
    ax.set_ylabel("cumulative default, 1 − KM (payoff censored)")
    _percent_axis(ax)
    ax.set_title("Cumulative default by vintage, net of payoff (Kaplan–Meier)")
    ax.legend(fontsize=6, ncol=3)
    return ax


def plot_cumulative_incidence_curves(curves, axes=None):
    """Aalen–Johansen cumulative incidence of default beside 1 − KM, and of payoff, per vintage group.

    Left: cumulative incidence of default with payoff competing (solid, with band) and
    ``1 - KM`` with payoff censored (dashed, same colour); right: cumulative incidence of
    payoff/closure with default competing. ``curves`` comes from
    :func:`apcfair.portfolio.cumulative_incidence_curves`. Returns the two Axes.
    """
    plt = _plt()
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    else:
        fig = axes[0].figure
    ax_d, ax_x = axes
    groups = list(curves.groupby("group", sort=True))
    for (g, c), col in zip(groups, vintage_colors(len(groups)), strict=True):
        ax_d.step(c["age"], c["cif_default"], where="post", lw=1.2, color=col, label=str(g))
        ax_d.fill_between(c["age"], c["cif_default_lower"], c["cif_default_upper"], step="post", color=col,
                          alpha=0.1)
        ax_d.step(c["age"], c["km_cum_default"], where="post", lw=0.9, ls="--", color=col)
        ax_x.step(c["age"], c["cif_attrition"], where="post", lw=1.2, color=col, label=str(g))
        ax_x.fill_between(c["age"], c["cif_attrition_lower"], c["cif_attrition_upper"], step="post", color=col,
                          alpha=0.1)
    ax_d.set_ylabel("cumulative default: incidence, payoff competing (solid)\n"
                    "or 1 − KM, payoff censored (dashed)", fontsize=8)
    ax_d.set_title("Default: Aalen–Johansen (solid, band) vs 1 − KM, payoff censored (dashed)", fontsize=9)
    ax_x.set_ylabel("cumulative incidence of payoff/closure, default competing")
    ax_x.set_title("Payoff or closure: Aalen–Johansen, with band", fontsize=9)
    for ax in axes:
        ax.set_xlabel("months on book")
        _percent_axis(ax)
    ax_d.legend(fontsize=6, ncol=3, title="vintage", title_fontsize=6)
    fig.tight_layout()
    return axes
