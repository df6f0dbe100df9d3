"""The boosting pass (gradient and Hessian only) equals the full likelihood pass exactly (issue 19)."""

import numpy as np

from apcfair.offsets import OffsetTable
from apcfair.scoring._engine import MonthPass, collapse_units


def _pass(offset_level=-6.0, chunk_rows=1 << 10):
    rng = np.random.default_rng(0)
    n = 3_000
    v = 24_000 + rng.integers(0, 60, n)
    a0 = rng.integers(1, 4, n)
    a1 = a0 + rng.integers(0, 50, n)
    d = rng.binomial(1, 0.1, n)
    units = collapse_units(rng.integers(0, 40, n), v, a0, a1, d, rng.normal(0, 0.3, n))
    ages = np.arange(1, 60)
    off = OffsetTable(1, offset_level + 0.5 * np.sin(ages / 7), 24_000, np.linspace(-0.4, 0.4, 120))
    return MonthPass(units, off, chunk_rows=chunk_rows), rng


def test_gradient_equals_evaluate_bit_for_bit():
    mp, rng = _pass()
    assert len(mp.bounds) > 3                        # several chunks
    for scale in (0.1, 1.0, 5.0):
        s = rng.normal(0, scale, mp.units.n_units)
        _, sum_p, sum_w = mp.evaluate(s)
        gp, gw = mp.gradient(s)
        np.testing.assert_array_equal(gp, sum_p)
        np.testing.assert_array_equal(gw, sum_w)


def test_gradient_clamps_like_evaluate_near_overflow():
    mp, rng = _pass(offset_level=650.0)
    s = rng.normal(60, 5, mp.units.n_units)          # log-odds above 700: the clamp is needed
    _, sum_p, sum_w = mp.evaluate(s)
    gp, gw = mp.gradient(s)
    assert np.isfinite(gp).all() and np.isfinite(gw).all()
    np.testing.assert_array_equal(gp, sum_p)
    np.testing.assert_array_equal(gw, sum_w)
