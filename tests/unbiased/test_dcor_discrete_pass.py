"""The discrete distance-product pass (issue 19: each pair of levels counted once, the
arrays shrinking level by level) against the O(n^2) double sum, to 1e-13 relative."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

dep = importlib.import_module("apcfair.unbiased.dependence")


@pytest.mark.parametrize(("n", "k", "seed"), [(1, 1, 0), (50, 1, 1), (200, 2, 2), (500, 7, 3), (1500, 70, 4)])
def test_discrete_pass_equals_the_double_sum(n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, k, n) * 1.5 + 18.0                    # k levels (or fewer), skewed below
    x[: n // 3] = x[0]
    y = np.round(rng.normal(size=n) + 0.01 * x, 2)             # ties in y
    levels, codes = np.unique(x, return_inverse=True)
    brute = float((np.abs(x[:, None] - x[None, :]) * np.abs(y[:, None] - y[None, :])).sum())
    got = dep._sum_distance_products_discrete(x, y, levels, codes)
    assert got == pytest.approx(brute, rel=1e-13, abs=1e-9)
