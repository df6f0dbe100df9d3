"""The one-pass forecasts (issue 19) equal the former per-window passes to 1e-12.

The reference below is the implementation before the one-pass change (commit a446fbe):
one masked pass over the (accounts x horizon) grid per model and window, and the
calibrating constant's root search over the whole grid.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize

from apcfair import load_portfolio
from apcfair.forecast.cumulative import HorizonGrid, attrition_path, observed_default_within
from apcfair.unbiased.stages import (
    censoring_end_age,
    fit_apc,
    fit_attrition_apc,
    forecast,
    split_accounts,
)
from data_synth import SynthConfig, generate_portfolio

TOL = 1e-12  # absolute, on probabilities and on the constant (logits)


def _old_calibrating_constant(grid, mask, c, r, in_sample):
    def expected_in_sample(score):
        return float(grid.expected(score, mask)[in_sample].sum())

    target = expected_in_sample(c + r)

    def gap(k):
        return expected_in_sample(c + k) - target

    lo, hi = -2.0, 2.0
    for _ in range(6):
        if gap(lo) <= 0 <= gap(hi):
            return float(optimize.brentq(gap, lo, hi, xtol=1e-6))
        lo, hi = 2 * lo, 2 * hi
    return 0.0


def _old_forecast(portfolio, offsets, scores, restricted_score, in_sample, horizon, attrition_offsets):
    obs = observed_default_within(portfolio.loans, horizon, window_end=portfolio.window[1])
    start = obs["start_age"].to_numpy()
    grid = HorizonGrid(portfolio.spells().vintage, offsets, horizon)
    eval_mask, expo_mask = grid.mask(start, obs["eval_end_age"].to_numpy()), grid.mask(start, obs["exposure_end_age"])
    censor_mask = grid.mask(start, censoring_end_age(obs))
    c = scores["credit_restricted_zero"]
    k = _old_calibrating_constant(grid, expo_mask, c, restricted_score, in_sample)
    scores = {**scores, "credit_restricted_mean": c + k}
    q = attrition_path(portfolio.spells().vintage, attrition_offsets, horizon)
    return k, {
        "window": {m: grid.cumulative(s, eval_mask) for m, s in scores.items()},
        "expected": {m: grid.expected(s, expo_mask) for m, s in scores.items()},
        "full": {m: grid.cumulative(s) for m, s in scores.items()},
        "exposure": {m: grid.cumulative(s, censor_mask) for m, s in scores.items()},
        "unconditional": {m: grid.unconditional(s, q) for m, s in scores.items()},
        "unconditional_window": {m: grid.unconditional(s, q, eval_mask) for m, s in scores.items()},
    }


@pytest.fixture(scope="module")
def inputs():
    portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=3, payoff_rate=0.03)).loans)
    in_sample = split_accounts(portfolio.loans["account_id"].to_numpy(), 0.5, 0)
    _, offsets = fit_apc(portfolio, in_sample, horizon=36, random_state=0)
    _, q_offsets, _ = fit_attrition_apc(portfolio, in_sample, horizon=36, random_state=0)
    rng = np.random.default_rng(0)
    n = len(portfolio.loans)
    restricted = rng.normal(0, 0.4, n)
    zero = rng.normal(0, 1, n)
    scores = {"credit": zero + restricted + rng.normal(0, 0.1, n), "credit_restricted_zero": zero,
              "credit_with_restricted_offset": zero + restricted, "restricted": restricted}
    return portfolio, offsets, scores, restricted, in_sample, q_offsets


def test_one_pass_forecasts_equal_the_per_window_passes(inputs):
    portfolio, offsets, scores, restricted, in_sample, q_offsets = inputs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k_old, old = _old_forecast(portfolio, offsets, scores, restricted, in_sample, 36, q_offsets)
        new = forecast(portfolio, offsets, scores, restricted, in_sample, horizon=36, attrition_offsets=q_offsets)
    assert new.calibrating_constant == pytest.approx(k_old, abs=TOL)
    assert k_old != 0.0
    # synthetic accounts are observed from age 1; later starts are tested on the grid below
    for kind, by_model in old.items():
        for m, ref in by_model.items():
            np.testing.assert_allclose(getattr(new, kind)[m], ref, rtol=0, atol=TOL, err_msg=f"{kind} {m}")


def test_summaries_equal_the_separate_methods_on_windows_with_empty_and_late_starts():
    from apcfair.offsets import OffsetTable

    rng = np.random.default_rng(1)
    n, h = 400, 12
    grid = HorizonGrid(rng.integers(0, 5, n), OffsetTable.constant(-3.0), h)
    score = rng.normal(0, 2, n)
    first, last = rng.integers(-1, h + 3, n), rng.integers(-2, h + 3, n)
    q = rng.uniform(0, 0.3, (n, h))
    window = grid.age_range(first, last)
    out = grid.summaries(score, cumulative={"c": window, "cf": None}, expected={"e": window, "ef": None},
                         unconditional={"u": window, "uf": None}, attrition=q)
    mask = grid.mask(first, last)
    assert (~mask.any(axis=1)).any()  # some windows are empty
    for name, ref in {"c": grid.cumulative(score, mask), "cf": grid.cumulative(score),
                      "e": grid.expected(score, mask), "ef": grid.expected(score),
                      "u": grid.unconditional(score, q, mask), "uf": grid.unconditional(score, q)}.items():
        np.testing.assert_allclose(out[name], ref, rtol=0, atol=TOL, err_msg=name)


def test_summaries_clip_excess_attrition_as_unconditional_does():
    from apcfair.offsets import OffsetTable

    grid = HorizonGrid(np.zeros(3, dtype=int), OffsetTable.constant(0.0), 4)  # PD 0.5 a month
    q = np.full((3, 4), 0.7)
    with pytest.warns(RuntimeWarning, match="above 1"):
        out = grid.summaries(np.zeros(3), unconditional={"u": None}, attrition=q)
    with pytest.warns(RuntimeWarning, match="above 1"):
        ref = grid.unconditional(np.zeros(3), q)
    np.testing.assert_allclose(out["u"], ref, rtol=0, atol=TOL)
