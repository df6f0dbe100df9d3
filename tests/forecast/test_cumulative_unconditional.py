"""Unconditional cumulative default with attrition as a competing exit (issue 12 §3)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from apcfair.forecast.cumulative import (
    HorizonGrid,
    competing_risk_paths,
    cumulative_pd,
    lifetime_expected_defaults,
    lifetime_pd,
    net_cumulative_pd,
    unconditional_cumulative_pd,
)
from apcfair.offsets import OffsetTable


def _grid(rng, n=200, horizon=36):
    tab = OffsetTable(1, rng.normal(-5, 0.5, horizon + 10), 24_000, rng.normal(0, 0.3, 200))
    vintage = rng.integers(24_000, 24_100, n)
    return vintage, tab


def test_no_attrition_equals_net_to_1e12():
    rng = np.random.default_rng(0)
    vintage, tab = _grid(rng)
    score = rng.normal(0, 1, len(vintage))
    grid = HorizonGrid(vintage, tab, 36)
    net = cumulative_pd(vintage, score, tab, 36)
    unc = grid.unconditional(score, 0.0)
    assert np.max(np.abs(unc - net)) < 1e-12
    # high PDs too (telescoping sum against the product)
    d = rng.uniform(0, 0.9, (50, 120))
    assert np.max(np.abs(unconditional_cumulative_pd(d, np.zeros_like(d)) - net_cumulative_pd(d))) < 1e-12


def test_hand_computed_three_months():
    # d = 0.1, 0.2, 0.05; q = 0.3, 0.1, 0.5
    # S0 = 1, S1 = 1 - 0.1 - 0.3 = 0.6, S2 = 0.6 * (1 - 0.2 - 0.1) = 0.42
    # CIF_d = 0.1 + 0.6 * 0.2 + 0.42 * 0.05 = 0.241; CIF_q = 0.3 + 0.06 + 0.21 = 0.57
    # S3 = 0.42 * 0.45 = 0.189; 0.241 + 0.57 + 0.189 = 1
    d, q = np.array([0.1, 0.2, 0.05]), np.array([0.3, 0.1, 0.5])
    assert unconditional_cumulative_pd(d, q) == pytest.approx(0.241, abs=1e-15)
    paths = competing_risk_paths(d, q)
    np.testing.assert_allclose(paths.default, [0.1, 0.22, 0.241], atol=1e-15)
    np.testing.assert_allclose(paths.attrition, [0.3, 0.36, 0.57], atol=1e-15)
    np.testing.assert_allclose(paths.survival, [0.6, 0.42, 0.189], atol=1e-15)
    assert net_cumulative_pd(d) == pytest.approx(1 - 0.9 * 0.8 * 0.95, abs=1e-15)
    # a mask: months outside count neither exit (start at month 2)
    assert unconditional_cumulative_pd(d, q, mask=[False, True, True]) == pytest.approx(0.2 + 0.7 * 0.05)


def test_brute_force_simulation_matches():
    rng = np.random.default_rng(1)
    d, q = rng.uniform(0, 0.05, 24), rng.uniform(0, 0.08, 24)
    n = 400_000
    alive = np.ones(n, bool)
    defaulted = np.zeros(n, bool)
    for a in range(24):
        u = rng.random(n)
        dft = alive & (u < d[a])
        out = alive & (u < d[a] + q[a])
        defaulted |= dft
        alive &= ~out
    se = np.sqrt(0.25 / n)
    assert abs(defaulted.mean() - unconditional_cumulative_pd(d, q)) < 4 * se


def test_excess_clipped_with_warning_or_refused():
    d, q = np.array([0.6, 0.1]), np.array([0.7, 0.1])
    with pytest.warns(RuntimeWarning, match="above 1"):
        out = unconditional_cumulative_pd(d, q)
    assert out == pytest.approx(0.6)  # attrition clipped to 0.4: nobody left after month 1
    with pytest.raises(ValueError, match="above 1"):
        unconditional_cumulative_pd(d, q, on_excess="error")
    with pytest.raises(ValueError, match="on_excess"):
        unconditional_cumulative_pd(d, q, on_excess="ignore")
    with pytest.raises(ValueError, match="not probabilities"):
        unconditional_cumulative_pd([0.1, np.nan], [0.0, 0.0])


@settings(max_examples=60, deadline=None)
@given(d=arrays(float, 12, elements=st.floats(0, 0.3)), q=arrays(float, 12, elements=st.floats(0, 0.3)),
       extra=arrays(float, 12, elements=st.floats(0, 0.3)))
def test_monotone_in_attrition_and_below_net(d, q, extra):
    lo = unconditional_cumulative_pd(d, q)
    hi_q = unconditional_cumulative_pd(d, q + extra)
    assert hi_q <= lo + 1e-12  # more payoff, fewer defaults before payoff
    assert lo <= net_cumulative_pd(d) + 1e-12
    paths = competing_risk_paths(d, q)
    np.testing.assert_allclose(paths.default + paths.attrition + paths.survival, 1.0, atol=1e-12)


def test_leading_dimensions_broadcast():
    rng = np.random.default_rng(2)
    d = rng.uniform(0, 0.05, (5, 7, 36))  # draws x accounts x months
    q = rng.uniform(0, 0.05, (7, 36))
    out = unconditional_cumulative_pd(d, q)
    assert out.shape == (5, 7)
    assert out[3, 4] == pytest.approx(unconditional_cumulative_pd(d[3, 4], q[4]), abs=1e-15)


def test_lifetime_pd_ifrs9_and_open_book():
    d, q = OffsetTable.constant(-4.0), OffsetTable.constant(-3.0)
    pd_m, q_m = 1 / (1 + np.exp(4.0)), 1 / (1 + np.exp(3.0))
    out = lifetime_pd([0, 0, 5], 0.0, d, q, age_now=[0, 30, 10], maturity_age=36, cutoff=60)
    assert out["lifetime_months"].tolist() == [36, 6, 26]
    for i, months in enumerate([36, 6, 26]):
        dm, qm = np.full(months, pd_m), np.full(months, q_m)
        assert out["pd_lifetime_unconditional"][i] == pytest.approx(unconditional_cumulative_pd(dm, qm), abs=1e-14)
        assert out["pd_lifetime_net"][i] == pytest.approx(1 - (1 - pd_m) ** months, abs=1e-14)
        k = min(months, 12)
        assert out["pd_12m_unconditional"][i] == pytest.approx(
            unconditional_cumulative_pd(dm[:k], qm[:k]), abs=1e-14)
        assert out["pd_12m_net"][i] == pytest.approx(1 - (1 - pd_m) ** k, abs=1e-14)
        assert out["attrition_lifetime"][i] == pytest.approx(competing_risk_paths(dm, qm).attrition[-1], abs=1e-14)
    # a stated cut-off shorter than maturity
    short = lifetime_pd([0], 0.0, d, q, age_now=0, maturity_age=36, cutoff=24)
    assert short["lifetime_months"].tolist() == [24]
    totals = lifetime_expected_defaults(out)
    assert totals["expected_defaults_lifetime_unconditional"] == pytest.approx(out["pd_lifetime_unconditional"].sum())
    assert totals["expected_defaults_lifetime_unconditional"] < totals["expected_defaults_lifetime_net"]
    with pytest.raises(ValueError, match="maturity_age"):
        lifetime_pd([0], 0.0, d, q, age_now=0)


def test_recipe_from_the_two_apc_fits_per_account():
    """The recipe for forecasts.parquet's cum_pd_unconditional: default offsets + the attrition path."""
    import warnings

    from apcfair import load_portfolio
    from apcfair.apc import APCModel
    from apcfair.apc.attrition import attrition_offsets, fit_attrition
    from apcfair.forecast.cumulative import attrition_path
    from data_synth import SynthConfig, generate_portfolio

    portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=4, start="2016-01")).loans)
    cells = portfolio.cells()
    model = APCModel(n_draws=100, random_state=0)
    default = model.fit(cells).result_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the last month's payoffs look like censoring
        attrition = fit_attrition(model, cells)
    vintage = portfolio.spells().vintage
    last = int(cells.table["period"].max()) + 36
    grid = HorizonGrid(vintage, default.offset_table(max_age=36, last_period=last), 36)
    q = attrition_path(vintage, attrition_offsets(attrition, max_age=36, last_period=last), 36)
    assert q.shape == (len(vintage), 36) and 0.005 < q.mean() < 0.03  # payoff_rate 1.5% a month
    score = np.zeros(len(vintage))
    unc, net = grid.unconditional(score, q), grid.cumulative(score)
    assert np.all(unc < net) and np.all(unc > 0.5 * net)
