"""Plots of the forecast subpackage: environment scenarios, macro fit, fan charts, backtest.

matplotlib is imported lazily; functions take ``ax=None`` and return the Axes.
"""

from __future__ import annotations

import numpy as np

from apcfair.plots import _plt

#: Sequential severity colours (light to dark red) for scenarios ordered by severity, and the
#: colours of the usual names: baseline blue, adverse orange, severely adverse dark red.
_SEVERITY = {"baseline": "#2c7fb8", "random_walk": "#2c7fb8", "adverse": "#f28e2b", "severely_adverse": "#b2182b"}
_FALLBACK = ("#2c7fb8", "#fdae61", "#f46d43", "#d73027", "#a50026", "#67001f")


def scenario_colours(names) -> dict:
    """Colour per scenario in a severity order that reads: baseline blue, then orange to dark red
    (never green for a severe scenario). Unknown names take the next colour of that ramp in the
    order given.

    Examples
    --------
    >>> scenario_colours(["baseline", "adverse", "severely_adverse"])["severely_adverse"]
    '#b2182b'
    >>> list(scenario_colours(["a", "b"]).values())
    ['#2c7fb8', '#fdae61']
    """
    out, k = {}, 0
    for name in names:
        if name in _SEVERITY:
            out[name] = _SEVERITY[name]
        else:
            out[name] = _FALLBACK[k % len(_FALLBACK)]
            k += 1
    return out


def _ts(codes, freq):
    from apcfair.portfolio.periods import period_to_timestamp

    return period_to_timestamp(np.asarray(codes, dtype=np.int64), freq)


def _pct(ax):
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=2))


def plot_environment_scenarios(projection, ax=None, history_months: int | None = 96):
    """H over the end of the APC window (band) and its projection per scenario (bands)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    freq = projection.freq
    hist = projection.history
    if hist is not None and len(hist):
        h = hist if history_months is None else hist.tail(history_months)
        x = _ts(h["code"], freq)
        ax.fill_between(x, h["lower"], h["upper"], color="grey", alpha=0.25)
        ax.plot(x, h["mean"], color="black", lw=1.2, label="H(t), APC posterior")
        if "fitted" in h:
            ax.plot(x, h["fitted"], color="black", lw=1, ls="--", label="macro model fit")
    x = _ts(projection.codes, freq)
    a = (1 - projection.credible_level) / 2
    colours = scenario_colours(projection.draws)
    for name, d in projection.draws.items():
        col = colours[name]
        ax.fill_between(x, np.quantile(d, a, axis=0), np.quantile(d, 1 - a, axis=0), color=col, alpha=0.18)
        ax.plot(x, d.mean(axis=0), color=col, lw=1.6, label=name)
    ax.axhline(0, color="grey", lw=0.7)
    ax.set_ylabel("H(t), log-odds")
    ax.set_xlabel("calendar month")
    ax.set_title(f"Environment by scenario ({projection.source}; "
                 f"{int(round(projection.credible_level * 100))}% bands)")
    ax.legend(fontsize=8, loc="best")
    return ax


def plot_macro_fit(result, ax=None):
    """H posterior mean and band over the fit window with the macro model's fitted values.

    ``result`` is a :class:`~apcfair.forecast.MacroResult`.
    """
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    f = result.fitted
    x = _ts(f["code"], result.freq)
    ax.fill_between(x, f["lower"], f["upper"], color="grey", alpha=0.3, label="H(t) band (APC)")
    ax.plot(x, f["mean"], color="black", lw=1.2, label="H(t) posterior mean")
    ax.fill_between(x, f["fitted_lower"], f["fitted_upper"], color="C1", alpha=0.2)
    ax.plot(x, f["fitted"], color="C1", lw=1.4, label="macro model")
    d = result.diagnostics
    ax.set_title(f"Macro model of H(t): R2 {d['r2']:.2f}, DW {d['durbin_watson']:.2f}")
    ax.set_ylabel("log-odds")
    ax.set_xlabel("calendar month")
    ax.legend(fontsize=8)
    return ax


def _fan(ax, x, t, col, label, cl):
    pairs = [(k, t[k], t[k.replace("lower", "upper")]) for k in ("pd_lower_50", "pd_lower_80", "pd_lower")
             if k in t]
    alphas = {"pd_lower_50": 0.35, "pd_lower_80": 0.22, "pd_lower": 0.12}
    for k, lo, hi in pairs:
        ax.fill_between(x, lo, hi, color=col, alpha=alphas[k], lw=0)
    ax.plot(x, t["pd"], color=col, lw=1.8, label=label)


def _history(ax, result, history_months):
    h = result.history
    if h is None or not len(h):
        return
    h = h if history_months is None else h.tail(history_months)
    ax.plot(_ts(h["code"], result.freq), h["observed_rate"], color="black", lw=1, label="observed")


def plot_fan_chart(result, ax=None, scenarios=None, history_months: int | None = 48):
    """Monthly portfolio PD by scenario: mean path with 50%, 80% and credible bands."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    names = result.scenarios if scenarios is None else list(scenarios)
    _history(ax, result, history_months)
    x = _ts(result.codes, result.freq)
    colours = scenario_colours(names)
    for name in names:
        _fan(ax, x, result.tables[name], colours[name], name, result.credible_level)
    _pct(ax)
    ax.set_ylabel(f"{'monthly' if result.freq == 'M' else 'quarterly'} PD of the book at risk")
    ax.set_xlabel("calendar month")
    ax.set_title(f"Portfolio PD by scenario (bands 50/80/{int(round(result.credible_level * 100))}%)")
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_fan_charts(result, axes=None, history_months: int | None = 48):
    """One fan chart per scenario, shared y axis; returns the array of Axes."""
    plt = _plt()
    n = len(result.scenarios)
    if axes is None:
        _, axes = plt.subplots(1, n, figsize=(4.5 * n, 3.8), sharey=True, squeeze=False)
        axes = axes[0]
    x = _ts(result.codes, result.freq)
    colours = scenario_colours(result.scenarios)
    for ax, name in zip(axes, result.scenarios, strict=True):
        _history(ax, result, history_months)
        _fan(ax, x, result.tables[name], colours[name], name, result.credible_level)
        c = result.cumulative[name]
        ax.set_title(f"{name}: {len(result.codes)}-month cum. PD {c['cumulative_pd']:.2%}", fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        _pct(ax)
    axes[0].set_ylabel(f"{'monthly' if result.freq == 'M' else 'quarterly'} PD of the book at risk")
    axes[0].figure.tight_layout()
    return axes


def plot_backtest(bt, ax=None):
    """Observed monthly default rate vs the macro and random-walk projections (bands)."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    t = bt.table
    x = _ts(t["code"], bt.freq)
    for col, key, label in (("C0", "macro", "macro model"), ("C3", "random_walk", "random walk")):
        ax.fill_between(x, t[f"{key}_lower"], t[f"{key}_upper"], color=col, alpha=0.15)
        mae = bt.scores[key]["mae_rate"]
        ax.plot(x, t[key], color=col, lw=1.5, label=f"{label} (MAE {mae:.2e})")
    ax.plot(x, t["observed_rate"], "k.-", lw=0.8, ms=3, label="observed")
    ax.set_yscale("log")
    _pct(ax)
    ax.set_ylabel("monthly default rate (log scale)")
    ax.set_xlabel("calendar month")
    ax.set_title("Backtest: projected vs observed default rate")
    ax.legend(fontsize=8)
    return ax


def plot_errors_by_horizon(rb, ax=None):
    """Mean absolute error of the monthly default rate by horizon: macro model vs random walk."""
    plt = _plt()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    b = rb.by_horizon
    for col, key, label in (("C0", "macro", "macro model (realised drivers)"), ("C3", "random_walk", "random walk")):
        ax.plot(b["horizon"], b[f"{key}_mae"], "o-", color=col, lw=1.5, ms=3, label=label)
    _pct(ax)
    unit = "months" if rb.freq == "M" else "quarters"
    ax.set_xlabel(f"horizon ({unit} after the origin)")
    ax.set_ylabel("mean absolute error of the monthly default rate")
    ax.set_title(f"Rolling-origin backtest over {len(rb.origins)} origins")
    ax.legend(fontsize=8)
    return ax
