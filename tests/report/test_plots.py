"""Plot style: sequential vintage colours, percent axes for rates, signed dependence, ROC
differences, residual cells faded by expected defaults."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from apcfair.plots import plot_monthly_pd_curves, plot_residual_heatmap, vintage_colors
from apcfair.unbiased.plots import plot_dependence_bars, plot_roc_curves


def _ax():
    return Figure(figsize=(5, 3)).add_subplot()


def test_fifteen_vintages_get_fifteen_ordered_colours():
    cols = vintage_colors(15)
    assert len({tuple(c) for c in cols}) == 15
    lum = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b, _ in cols]
    assert all(np.diff(lum) > 0)  # dark (early) to light (recent): the order reads from the colour


def test_vintage_curves_use_distinct_colours_and_a_percent_axis():
    curves = pd.DataFrame([{"group": str(2005 + g), "age": a, "defaults": 1, "at_risk": 100 + g}
                           for g in range(15) for a in range(1, 6)])
    ax = plot_monthly_pd_curves(curves, ax=_ax())
    assert len({tuple(line.get_color()) for line in ax.get_lines()}) == 15
    assert isinstance(ax.yaxis.get_major_formatter(), PercentFormatter)


def test_residual_cells_are_faded_by_expected_defaults():
    cells = pd.DataFrame({"vintage": [1, 1, 2, 2], "age": [1, 2, 1, 2], "at_risk": [10000, 10000, 50, 50],
                          "defaults": [100, 130, 1, 0], "fitted_rate": [0.01, 0.01, 0.002, 0.002]})
    result = SimpleNamespace(cells=cells, settings={"likelihood": "binomial"},
                             format_labels=lambda comp, v: [str(x) for x in v])
    ax = plot_residual_heatmap(result, ax=_ax())
    alpha = ax.get_images()[0].get_array()[..., 3]
    assert alpha[:, 0].min() == 1.0 and alpha[:, 1].max() < 0.1  # 100 vs 0.1 expected defaults
    assert "faded" in ax.get_title()


def _fake_unbiased(rng):
    models = ["credit", "credit_with_restricted_offset", "credit_restricted_zero"]
    y = (rng.random(400) < 0.2).astype(int)
    rows, fc = [], []
    for k, m in enumerate(models):
        score = y * 0.5 + rng.random(400) + 0.02 * k
        fc.append(pd.DataFrame({"model": m, "sample": "out", "defaulted_within_horizon": y,
                                "cum_pd_observed_window": score}))
        rows.append({"model": m, "sample": "out", "auc": 0.7 + 0.001 * k})
    dep = pd.DataFrame([{"model": m, "sample": "out", "attribute": a, "corr": c}
                        for m, c in zip(models, (-0.05, 0.2, -0.04), strict=True) for a in ("minority", "age")])
    return SimpleNamespace(forecasts=pd.concat(fc), rows=rows, settings={"horizon": 36}, dependence_table=dep)


def test_dependence_bars_keep_the_sign():
    res = _fake_unbiased(np.random.default_rng(0))
    ax = plot_dependence_bars(res, ax=_ax())
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights[0] == -0.05 and heights[-1] == 0.2 and "signed" in ax.get_ylabel()


def test_roc_figure_shows_differences_from_the_traditional_model():
    res = _fake_unbiased(np.random.default_rng(1))
    ax = plot_roc_curves(res, sample="out")
    fig = ax.figure
    assert len(fig.axes) == 2
    delta = [a for a in fig.axes if a is not ax][0]
    assert "TPR" in delta.get_ylabel() and len(delta.get_lines()) == 2 + 1  # two models and the zero line
    styles = {(line.get_color(), line.get_linestyle()) for line in ax.get_lines()[:3]}
    assert len(styles) == 3  # distinguishable curves
    import matplotlib.pyplot as plt

    plt.close(fig)
