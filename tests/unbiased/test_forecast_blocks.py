"""The forecast stage over blocks of accounts (issue 19) equals the one-grid forecasts.

Two references: the same forecasts in one block (every account on one grid, as before
blocking, commit c6302cf), equal to the last bit; and the per-window masked passes of
``test_forecast_one_pass`` (the implementation before the one-pass change), to 1e-12
absolute on every forecast (probabilities, expected defaults) and on the constant
(logits), as is the constant on one grid against that file's root search over masked
passes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from apcfair import load_portfolio
from apcfair.forecast.cumulative import HorizonGrid
from apcfair.offsets import OffsetTable
from apcfair.unbiased.stages import (
    MODELS,
    calibrating_constant,
    fit_apc,
    fit_attrition_apc,
    forecast,
    split_accounts,
)
from data_synth import SynthConfig, generate_portfolio
from tests.unbiased.test_forecast_one_pass import _old_calibrating_constant, _old_forecast

TOL = 1e-12  # absolute, on probabilities, expected defaults and the constant (logits)
KINDS = ("window", "expected", "full", "exposure", "unconditional", "unconditional_window")


@pytest.fixture(scope="module")
def inputs():
    loans = generate_portfolio(SynthConfig(n_accounts=5000, seed=5, payoff_rate=0.03)).loans.copy()
    # a few accounts enter late (left truncation): their windows start after age 1
    origination, last = pd.PeriodIndex(loans["origination"], freq="M"), pd.PeriodIndex(loans["last_month"], freq="M")
    first = origination + 1
    late = np.arange(7, len(loans), 251)
    first = first.where(~np.isin(np.arange(len(loans)), late), np.minimum(origination + 5, last))
    loans["first_month"] = first.astype(str)
    portfolio = load_portfolio(loans)
    in_sample = split_accounts(portfolio.loans["account_id"].to_numpy(), 0.5, 0)
    zero, restricted, noise = np.random.default_rng(0).normal(0, [[1.0], [0.4], [0.1]], (3, len(portfolio.loans)))
    scores = {"credit_restricted_zero": zero, "restricted": restricted, "credit_with_restricted_offset": zero + restricted,
              "credit": zero + restricted + noise, "gbm_credit": zero + 2 * noise}
    offsets = fit_apc(portfolio, in_sample, horizon=36, random_state=0)[1]
    q_offsets = fit_attrition_apc(portfolio, in_sample, horizon=36, random_state=0)[1]
    return portfolio, offsets, scores, restricted, in_sample, q_offsets


@pytest.mark.parametrize("block_size", [1000, 1237, 4999])  # dividing n, not dividing it, a block of one
def test_blocked_forecasts_equal_the_one_grid_forecasts(inputs, block_size):
    portfolio, offsets, scores, restricted, in_sample, q_offsets = inputs
    start = portfolio.spells().first_age
    n = len(in_sample)
    assert (start > 1).sum() >= 15 and n == 5000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_ref, ref = _old_forecast(portfolio, offsets, scores, restricted, in_sample, 36, q_offsets)
        one = forecast(portfolio, offsets, scores, restricted, in_sample, horizon=36, attrition_offsets=q_offsets,
                       block_size=n)
        new = forecast(portfolio, offsets, scores, restricted, in_sample, horizon=36, attrition_offsets=q_offsets,
                       block_size=block_size)
    assert k_ref != 0.0
    assert new.calibrating_constant == one.calibrating_constant == pytest.approx(k_ref, abs=TOL)
    assert set(ref) == set(KINDS)
    assert new.models == one.models == [m for m in MODELS if m in ref["full"]]
    for kind, by_model in ref.items():
        for m, values in by_model.items():
            np.testing.assert_array_equal(getattr(new, kind)[m], getattr(one, kind)[m], err_msg=f"{kind} {m}")
            np.testing.assert_allclose(getattr(new, kind)[m], values, rtol=0, atol=TOL, err_msg=f"{kind} {m}")
    # the late starters' windows are shorter than the full horizon
    late = start > 1
    assert (new.window["credit"][late] < new.full["credit"][late]).all()


def test_blocked_forecasts_without_attrition_and_an_empty_in_sample_block(inputs):
    portfolio, offsets, scores, restricted, in_sample, _ = inputs
    in_sample = in_sample.copy()
    in_sample[:1000] = False  # the first block has no estimation account
    one = forecast(portfolio, offsets, scores, restricted, in_sample, horizon=36, block_size=len(in_sample))
    new = forecast(portfolio, offsets, scores, restricted, in_sample, horizon=36, block_size=1000)
    assert new.calibrating_constant == one.calibrating_constant != 0.0
    assert not new.unconditional and not new.unconditional_window
    for kind in KINDS[:4]:
        for m in one.models:
            np.testing.assert_array_equal(getattr(new, kind)[m], getattr(one, kind)[m], err_msg=f"{kind} {m}")


def test_calibrating_constant_on_one_grid_equals_the_masked_root_search():
    rng = np.random.default_rng(2)
    n, h = 3000, 24
    grid = HorizonGrid(rng.integers(0, 10, n), OffsetTable.constant(-4.0), h)
    c, r = rng.normal(0, 1, n), rng.normal(0.3, 0.5, n)
    in_sample = rng.random(n) < 0.5
    window = grid.age_range(rng.integers(1, 6, n), rng.integers(0, h + 3, n))
    k = calibrating_constant(grid, window, c, r, in_sample)
    mask = (grid.ages >= window[0][:, None]) & (grid.ages <= window[1][:, None])
    assert k != 0.0
    assert k == pytest.approx(_old_calibrating_constant(grid, mask, c, r, in_sample), abs=TOL)
    assert calibrating_constant(grid, mask, c, r, in_sample) == k  # a boolean mask gives the same cells


def test_excess_months_are_warned_once_per_model_with_the_counts_of_all_blocks(inputs):
    """Attrition so high that default + attrition exceeds 1: one warning per model, whose
    count is the whole portfolio's (not one warning per block)."""
    portfolio, offsets, scores, restricted, in_sample, _ = inputs
    huge = OffsetTable.constant(12.0)  # attrition ~ 1 - 6e-6 a month
    two = {m: scores[m] for m in ("credit", "credit_restricted_zero", "credit_with_restricted_offset")}
    with pytest.warns(RuntimeWarning, match="default \\+ attrition probability above 1") as caught:
        forecast(portfolio, offsets, two, restricted, in_sample, horizon=36, attrition_offsets=huge, block_size=1237)
    with warnings.catch_warnings(record=True) as one_grid:
        warnings.simplefilter("always")
        forecast(portfolio, offsets, two, restricted, in_sample, horizon=36, attrition_offsets=huge,
                 block_size=len(in_sample))
    new = [str(w.message) for w in caught if "above 1" in str(w.message)]
    ref = [str(w.message) for w in one_grid if "above 1" in str(w.message)]
    assert len(new) == 4 and min(int(msg.split()[0]) for msg in new) > 1000  # three models + credit_restricted_mean
    assert new == ref  # the same counts and largest sums as one grid's warnings
