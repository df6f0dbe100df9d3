"""HorizonGrid.summaries with factored odds equals the logit path (issue 19).

The factored path computes ``exp(o) exp(s)`` (``exp(o)`` once per grid) and ``log1p`` of it;
the logit path ``log_expit`` of ``-(o + s)``. Tolerance: relative 1e-13 on cumulative PDs and
expected counts (the two differ by the rounding of ``exp(o + s)`` vs ``exp(o) exp(s)``, a few
units in the last place per month, summed over 36 months).
"""

import numpy as np
import pytest

import apcfair.forecast.cumulative as cum
from apcfair.forecast.cumulative import HorizonGrid
from apcfair.offsets import OffsetTable


def _grid(level=-5.0):
    rng = np.random.default_rng(0)
    ages = np.arange(0, 60)
    off = OffsetTable(0, level + 0.7 * np.exp(-ages / 10), 100, 0.4 * np.sin(np.arange(300) / 11))
    v = 100 + rng.integers(0, 120, 4_000)
    return HorizonGrid(v, off, 36), rng


def _windows(grid, rng):
    n = grid.eta0.shape[0]
    first = rng.integers(1, 10, n)
    last = first + rng.integers(-2, 40, n)
    return {"cumulative": {"full": None, "w": grid.age_range(first, last)},
            "expected": {"e": grid.age_range(first, last)},
            "unconditional": {"u": None}}


@pytest.mark.parametrize("scale", [0.1, 2.0, 8.0])
def test_factored_equals_logit_path(scale, monkeypatch):
    grid, rng = _grid()
    s = rng.normal(0, scale, grid.eta0.shape[0])
    q = np.full((grid.eta0.shape[0], 36), 0.01)
    w = _windows(grid, rng)
    fast = grid.summaries(s, attrition=q, **w)
    assert grid._exp_eta0_t is not False and grid._exp_eta0_t is not None   # the factored path ran
    monkeypatch.setattr(cum, "_LOG_ODDS_SAFE", -1.0)                       # force the logit path
    grid2, _ = _grid()
    slow = grid2.summaries(s, attrition=q, **w)
    assert grid2._exp_eta0_t is False
    for k in fast:
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-13, atol=1e-300)


def test_extreme_scores_take_the_logit_path():
    """Scores beyond the factored range (|s| > 350) still give finite, exact-path results."""
    grid, rng = _grid()
    s = rng.normal(0, 1, grid.eta0.shape[0])
    s[:10] = 600.0                                                        # PD = 1 from the first month
    s[10:20] = -800.0                                                     # PD = 0
    out = grid.summaries(s, cumulative={"full": None}, expected={"e": None})
    assert np.all(np.isfinite(out["full"])) and np.all(out["full"][:10] == 1.0)
    assert np.all(out["full"][10:20] == 0.0) and np.all(out["e"][10:20] == 0.0)
    np.testing.assert_allclose(out["full"], grid.cumulative(s), rtol=1e-13)
