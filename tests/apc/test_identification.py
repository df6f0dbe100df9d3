"""The identification module: wording, trend algebra, invariant offsets, the one hold rule."""

import numpy as np
import pytest

from apcfair.apc import APCModel, identification_text
from apcfair.apc.basis import split_linear
from apcfair.apc.identification import (
    HOLD_WINDOW,
    allocate_trend,
    environment_slope,
    hold_level,
    invariant_offset_draws,
    period_trend,
)
from apcfair.forecast._extrapolate import function_draws

ASSUMPTIONS = ("no_period_trend", "no_vintage_trend", "fixed_period_slope")


@pytest.fixture(scope="module")
def small_cells(apc_cells):
    cells, _ = apc_cells
    return cells[cells["vintage"] < cells["vintage"].min() + 30]


@pytest.fixture(scope="module")
def fits(small_cells):
    """One small fit per identification choice, same seed (so the same latent draws)."""
    return {
        ident: APCModel(random_state=4, n_draws=150, hyper="eb", identification=ident, period_slope=0.02,
                        seasonal=False).fit(small_cells).result_
        for ident in ASSUMPTIONS
    }


def test_text_states_each_assumption():
    assert "H(t) has no linear trend" in identification_text("no_period_trend")
    assert "G(v) has no linear trend" in identification_text("no_vintage_trend")
    assert "+0.02000 logit per period" in identification_text("fixed_period_slope", 0.02)
    for ident in ASSUMPTIONS:
        assert identification_text(ident).startswith("Linear trends are not identified by data")


def test_period_trend_per_assumption():
    slopes = np.array([0.1, -0.2, 0.3])
    np.testing.assert_array_equal(period_trend("no_period_trend", 0.5, slopes), 0.0)
    np.testing.assert_array_equal(period_trend("no_vintage_trend", 0.5, slopes), slopes)
    np.testing.assert_array_equal(period_trend("fixed_period_slope", 0.5, slopes), 0.5)


def test_allocate_trend_leaves_every_cell_predictor_unchanged(rng):
    n_draws, n_age, n_vintage = 4, 7, 5
    n_period = n_age + n_vintage - 1
    funcs = {"intercept": rng.normal(size=n_draws), "lifecycle": rng.normal(size=(n_draws, n_age)),
             "vintage": rng.normal(size=(n_draws, n_vintage)), "environment": rng.normal(size=(n_draws, n_period))}
    moved = allocate_trend(funcs, rng.normal(size=n_draws), grid_offset=0)
    age, vintage = (x.ravel() for x in np.meshgrid(np.arange(n_age), np.arange(n_vintage)))
    period = age + vintage  # t_index = a_index + v_index + grid_offset

    def eta(f):
        return (f["intercept"][:, None] + f["lifecycle"][:, age] + f["vintage"][:, vintage]
                + f["environment"][:, period])

    np.testing.assert_allclose(eta(moved), eta(funcs), atol=1e-12)
    for name in ("lifecycle", "vintage", "environment"):
        np.testing.assert_allclose(np.diff(moved[name], 2), np.diff(funcs[name], 2), atol=1e-12)


def test_each_assumption_holds_and_environment_slope_reads_it(fits):
    np.testing.assert_allclose(environment_slope(fits["no_period_trend"]), 0.0, atol=1e-10)
    np.testing.assert_allclose(environment_slope(fits["fixed_period_slope"]), 0.02, atol=1e-10)
    _, vintage_slope, _ = split_linear(fits["no_vintage_trend"].draws["vintage"])
    np.testing.assert_allclose(vintage_slope, 0.0, atol=1e-10)
    # environment_slope is the least-squares slope of H over its grid
    _, env_slope, _ = split_linear(fits["no_vintage_trend"].draws["environment"])
    np.testing.assert_allclose(environment_slope(fits["no_vintage_trend"]), env_slope, atol=1e-12)


def test_invariant_offset_draws_are_the_same_under_every_assumption(fits):
    base = invariant_offset_draws(fits["no_period_trend"])
    for ident in ASSUMPTIONS[1:]:
        other = invariant_offset_draws(fits[ident])
        for key in ("intercept", "lifecycle", "vintage", "environment", "trend_per_period"):
            np.testing.assert_allclose(other[key], base[key], atol=1e-8, err_msg=f"{ident}: {key}")
        # the method on the result delegates to the module
        method = fits[ident].invariant_offset_draws()
        np.testing.assert_array_equal(method["environment"], other["environment"])
    # after the move G has no linear trend
    _, vintage_slope, _ = split_linear(base["vintage"])
    np.testing.assert_allclose(vintage_slope, 0.0, atol=1e-10)


def test_offsets_and_predictions_do_not_depend_on_the_trend_assumption(apc_cells):
    cells, _ = apc_cells
    tabs = []
    for ident in ASSUMPTIONS:
        res = APCModel(random_state=4, n_draws=200, hyper="eb", identification=ident, period_slope=0.02).fit(cells).result_
        last = int(res.labels["environment"][-1])
        tab = res.offset_table(max_age=60, last_period=last + 36)
        a = np.arange(1, 61)
        tabs.append(np.concatenate([tab(a, np.full(60, last - 5)), tab(np.full(36, 12), last + np.arange(1, 37))]))
    np.testing.assert_allclose(tabs[1], tabs[0], atol=1e-8)
    np.testing.assert_allclose(tabs[2], tabs[0], atol=1e-8)


def test_hold_level_holds_the_detrended_mean_of_the_last_window():
    grid = np.arange(500, 530)
    values = np.sin(grid / 3.0) + 0.05 * grid
    after = np.arange(530, 540)
    flat = hold_level(values, grid, after)
    np.testing.assert_allclose(flat, values[-HOLD_WINDOW:].mean())
    trended = hold_level(values, grid, after, trend=0.05)
    np.testing.assert_allclose(trended - 0.05 * after, (values - 0.05 * grid)[-HOLD_WINDOW:].mean())
    # one trend per draw; a window longer than the grid uses the whole grid
    draws = np.vstack([values, 2 * values])
    out = hold_level(draws, grid, after, trend=np.array([0.0, 0.1]), window=100)
    np.testing.assert_allclose(out[0], values.mean())
    np.testing.assert_allclose(out[1] - 0.1 * after, (2 * values - 0.1 * grid).mean())


@pytest.mark.parametrize("ident", ["no_vintage_trend", "fixed_period_slope"])
def test_forecast_and_offset_tails_follow_the_one_hold_rule(fits, ident):
    """function_draws (forecasts) and offset_table (score offsets) continue by hold_level:
    in the frame where the trend is taken out, the tail is the mean of the last 12 values."""
    res = fits[ident]
    # forecasts: F and G hold in the frame where H has no linear trend (F + b * a)
    slope = environment_slope(res)[:, None]
    for name in ("lifecycle", "vintage"):
        grid = res.labels[name]
        after = np.arange(grid[-1] + 1, grid[-1] + 25)
        tail = function_draws(res, name, after)
        np.testing.assert_allclose(tail, hold_level(res.draws[name], grid, after, trend=-slope[:, 0]), atol=1e-12)
        in_frame = res.draws[name] + slope * grid
        np.testing.assert_allclose(tail + slope * after, in_frame[:, -HOLD_WINDOW:].mean(axis=1, keepdims=True)
                                   * np.ones(len(after)), atol=1e-9)
    # offsets: H (no seasonal part here) holds its level with the moved trend taken out;
    # F holds its last 12 values
    assert "seasonal" not in res.draws
    moved = res.invariant_offset_draws()
    periods, ages = res.labels["environment"], res.labels["lifecycle"]
    tab = res.offset_table(include_intercept=False, max_age=int(ages[-1]) + 10, last_period=int(periods[-1]) + 24)
    env = moved["environment"].mean(axis=0)
    trend = float(np.mean(moved["trend_per_period"]))
    after = np.arange(periods[-1] + 1, periods[-1] + 25)
    env_tail = tab.environment[len(periods):]
    np.testing.assert_allclose(env_tail, hold_level(env, periods, after, trend=trend), atol=1e-12)
    np.testing.assert_allclose(env_tail - trend * after, (env - trend * periods)[-HOLD_WINDOW:].mean(), atol=1e-9)
    life = moved["lifecycle"].mean(axis=0)
    np.testing.assert_allclose(tab.lifecycle[len(ages):], life[-HOLD_WINDOW:].mean(), atol=1e-12)
