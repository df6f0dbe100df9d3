"""The boosting pass (gradient and Hessian only) equals the full likelihood pass (issue 19).

The boosting pass factors the odds, ``exp(s + o) = exp(s) exp(o)`` (one ``exp`` per unit,
``exp(o)`` cached) and adds the months by month index: its sums equal the likelihood pass's
to a relative 1e-13 (a few units in the last place); where the clamp at 700 or an under/overflow of a
factor could matter it takes the likelihood pass's arithmetic and is equal bit for bit.
"""

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


def test_gradient_equals_evaluate_to_last_places():
    mp, rng = _pass()
    assert len(mp.bounds) > 3                        # several chunks
    for scale in (0.1, 1.0, 5.0):
        s = rng.normal(0, scale, mp.units.n_units)
        _, sum_p, sum_w = mp.evaluate(s)
        gp, gw = mp.gradient(s)
        np.testing.assert_allclose(gp, sum_p, rtol=1e-13, atol=0)
        np.testing.assert_allclose(gw, sum_w, rtol=1e-13, atol=0)


def test_gradient_is_evaluate_bit_for_bit_where_a_factor_underflows():
    mp, rng = _pass(offset_level=-650.0)
    s = rng.normal(-60, 5, mp.units.n_units)         # log-odds below -700: exp(s) exp(o) would underflow
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


def _gradient_before_issue_19(mp, s):
    """The boosting pass as it was before the odds were factored (a copy): ``exp(s + o)`` per month."""
    u = mp.units
    sum_p, sum_w = np.empty(u.n_units), np.empty(u.n_units)
    for k, (u0, u1) in enumerate(zip(mp.bounds[:-1], mp.bounds[1:], strict=True)):
        r0, r1 = mp.row_bounds[k], mp.row_bounds[k + 1]
        st = mp.starts_local[k]
        e = np.exp(np.minimum(np.repeat(s[u0:u1], mp.n_months[u0:u1]) + mp.offsets[r0:r1], 700.0))
        t = np.reciprocal(e + 1.0)
        e = e * t
        sum_p[u0:u1] = np.add.reduceat(e, st)
        sum_w[u0:u1] = np.add.reduceat(e * t, st)
    return sum_p, sum_w


def test_boosted_trees_equal_those_of_the_unfactored_pass(monkeypatch):
    """Boosters from the factored pass and from the pass before it: predictions equal to 1e-10.

    LightGBM takes the gradients as float32, so last-place differences in the float64 sums
    almost never reach the trees; measured on 36,625 and 146,500 synthetic accounts (200
    rounds, the procedure's settings) the boosters were identical, model text bit for bit.
    """
    from apcfair import load_portfolio
    from apcfair.scoring import OffsetGBM
    from data_synth import SynthConfig, generate_portfolio

    portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=6_000, seed=3)).loans)
    ages = np.arange(0, 200)
    off = OffsetTable(0, -5.5 + 0.8 * np.exp(-ages / 12), int(portfolio.loans["vintage"].min()) - 5,
                      0.3 * np.sin(np.arange(400) / 9))
    r = np.random.default_rng(0).normal(0, 0.3, len(portfolio.loans))
    attrs = ["bureau_score", "interest_rate", "subcategory", "credit_limit", "total_deposits"]

    def fit():
        gbm = OffsetGBM(n_estimators=60, learning_rate=0.1, num_leaves=7, min_child_samples=50,
                        random_state=0).fit(portfolio, attrs, offset=off, account_offset=r)
        return gbm.predict_account_score(portfolio)

    now = fit()
    monkeypatch.setattr(MonthPass, "gradient", _gradient_before_issue_19)
    before = fit()
    np.testing.assert_allclose(now, before, rtol=0, atol=1e-10)


def _evaluate_unfactored(mp, s):
    """The likelihood pass before issue 19's factoring (kept as ``MonthPass._sums``)."""
    u = mp.units
    sum_l, sum_p, sum_w = mp._sums(np.asarray(s, float), loglik=True)
    eta_last = np.minimum(mp.offset_last + s, 700.0)
    return float(u.count @ (u.default * eta_last - sum_l)), sum_p, sum_w


def test_factored_likelihood_pass_equals_the_unfactored_one():
    """Log-likelihood to a relative 1e-13 (the product's rounding is absolute, ~1e-16 a month),
    sums to 1e-13, across scales of the score; and the factored pass was taken."""
    mp, rng = _pass()
    for scale in (0.1, 1.0, 5.0):
        s = rng.normal(0, scale, mp.units.n_units)
        assert mp._factored_is_safe(s, loglik=True)
        ll, sum_p, sum_w = mp.evaluate(s)
        ll0, p0, w0 = _evaluate_unfactored(mp, s)
        assert abs(ll - ll0) <= 1e-13 * abs(ll0)
        np.testing.assert_allclose(sum_p, p0, rtol=1e-13, atol=0)
        np.testing.assert_allclose(sum_w, w0, rtol=1e-13, atol=0)
        gp, gw = mp.gradient(s)                      # the boosting pass is the same arithmetic
        np.testing.assert_array_equal(gp, sum_p)
        np.testing.assert_array_equal(gw, sum_w)


def test_likelihood_pass_falls_back_where_the_product_could_overflow():
    """Large odds over long accounts: the product of (1 + odds) would overflow float64, so
    the unfactored pass is taken and the likelihood is finite and equal bit for bit."""
    mp, rng = _pass(offset_level=20.0)
    s = rng.normal(5, 1, mp.units.n_units)           # odds ~ e^25 over up to 52 months: product > 1e308
    assert not mp._factored_is_safe(s, loglik=True)
    assert mp._factored_is_safe(s, loglik=False)     # the boosting pass needs no product
    ll, sum_p, sum_w = mp.evaluate(s)
    ll0, p0, w0 = _evaluate_unfactored(mp, s)
    assert np.isfinite(ll) and ll == ll0
    np.testing.assert_array_equal(sum_p, p0)
    np.testing.assert_array_equal(sum_w, w0)
