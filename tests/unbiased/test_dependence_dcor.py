"""Distance correlation without a JIT: equal to ``dcor`` (the reference implementation) to 1e-10."""

import importlib

import numpy as np
import pytest

dep = importlib.import_module("apcfair.unbiased.dependence")


def _naive(x, y):
    """The O(n^2) definition: double-centred distance matrices (Szekely et al. 2007)."""
    def centred(v):
        v = np.asarray(v, float).reshape(len(v), -1)
        a = np.sqrt(((v[:, None, :] - v[None, :, :]) ** 2).sum(axis=2))
        return a - a.mean(axis=0) - a.mean(axis=1)[:, None] + a.mean()
    a, b = centred(x), centred(y)
    den = np.sqrt((a * a).mean() * (b * b).mean())
    return np.sqrt(max((a * b).mean(), 0.0) / den) if den > 0 else 0.0


def _samples(n, rng):
    x = rng.normal(size=n)
    pd_like = 0.05 / (1 + np.exp(-x - rng.normal(size=n)))       # a PD-like forecast
    return {
        "continuous": (pd_like, x),
        "binary": (pd_like, (x > 1).astype(float)),
        "independent binary": (pd_like, (rng.uniform(size=n) > 0.7).astype(float)),
        "age in years (many levels)": (pd_like, np.round(40 + 10 * x).clip(18, 80)),
        "few levels": (pd_like, np.round(40 + 3 * x).clip(30, 50)),
        "ties in both": (np.round(x * 2), np.round(x ** 2 + rng.normal(size=n))),
        "constant": (pd_like, np.ones(n)),
    }


@pytest.mark.parametrize("n", [2, 3, 5, 8, 9, 100, 1025])
def test_equals_the_definition_small(n):
    rng = np.random.default_rng(n)
    for name, (y, x) in _samples(n, rng).items():
        assert dep.distance_correlation(y, x) == pytest.approx(_naive(y, x), abs=1e-12), name


def test_equals_dcor_mergesort_to_1e10():
    dcor = pytest.importorskip("dcor")
    rng = np.random.default_rng(19)
    for n in (4, 1000, 20_000):
        for name, (y, x) in _samples(n, rng).items():
            ours = dep.distance_correlation(y, x)
            ref = dcor.distance_correlation(y, x, method="mergesort" if n > 3 else "naive")
            assert abs(ours - float(ref)) < 1e-10, (n, name, ours, ref)


def test_multicolumn_equals_dcor_naive():
    dcor = pytest.importorskip("dcor")
    rng = np.random.default_rng(3)
    y = rng.uniform(size=800)
    codes = rng.integers(0, 4, 800)
    onehot = np.eye(4)[codes]
    assert abs(dep.distance_correlation(y, onehot) - float(dcor.distance_correlation(y, onehot))) < 1e-10
    assert dep.distance_correlation(onehot, y) == pytest.approx(dep.distance_correlation(y, onehot), abs=1e-14)


def test_dominance_sums_against_a_loop():
    rng = np.random.default_rng(0)
    n = 37
    ry = rng.permutation(n)
    c = rng.normal(size=(n, 2))
    want = np.array([c[:q][ry[:q] < ry[q]].sum(axis=0) for q in range(n)])
    np.testing.assert_allclose(dep._dominance_sums(ry, c), want, rtol=1e-13, atol=1e-13)


def test_large_binary_more_accurate_than_1e10():
    """An 80-bit reference for a small distance correlation at paper-scale test size."""
    rng = np.random.default_rng(1)
    n = 73_000
    y = 0.05 / (1 + np.exp(-rng.normal(size=n)))
    x = (rng.uniform(size=n) > 0.7).astype(float)
    L = np.longdouble
    yl, g = y.astype(L), x == 1

    def rows(v):
        o = np.argsort(v, kind="stable")
        vs = v[o]
        r = np.empty(len(v), dtype=L)
        r[o] = (2 * np.arange(len(v)).astype(L) - len(v)) * vs + vs.sum() - 2 * (np.cumsum(vs) - vs)
        return r

    o = np.argsort(yl, kind="stable")
    ys, gs = yl[o], g[o]
    cnt0, s0 = np.cumsum(~gs).astype(L), np.cumsum(np.where(~gs, ys, L(0)))
    mean_prod = 2 * np.sum(np.where(gs, ys * (2 * cnt0 - cnt0[-1]) + s0[-1] - 2 * s0, L(0)))
    a, b = rows(x.astype(L)), rows(yl)

    def dcov(mp, a, b):
        return mp / n / n - 2 * (a @ b) / L(n) ** 3 + a.sum() * b.sum() / L(n) ** 4

    xc, yc = x.astype(L) - x.mean(dtype=L), yl - yl.mean()
    ref = np.sqrt(dcov(mean_prod, a, b) / np.sqrt(dcov(2 * n * (xc @ xc), a, a) * dcov(2 * n * (yc @ yc), b, b)))
    assert abs(dep.distance_correlation(y, x) - float(ref)) < 1e-11
