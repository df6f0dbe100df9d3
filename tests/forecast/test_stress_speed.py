"""The fast ``book_paths`` (issue 19) equals the implementation it replaced.

``reference_book_paths`` is the code of ``book_paths`` before issue 19 (commit a446fbe): the
eta broadcast in ``(draws, groups, horizon)`` layout, a concatenate-cumprod for the book at
risk, and the unconditional cumulative PD from
:func:`apcfair.forecast.cumulative.unconditional_cumulative_pd` with attrition
``q (1 - PD)``. The fast version reads the unconditional figure off the book's own survival
(``1 - PD - q (1 - PD) = (1 - PD)(1 - q)``). Every output must agree to 1e-10 (relative) in
float64, over chunk boundaries, new vintages entering mid-horizon, fixed and drawn score terms.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from apcfair.forecast import StressTest, stress
from apcfair.forecast.cumulative import unconditional_cumulative_pd
from apcfair.forecast.stress import book_paths

RTOL = 1e-10


def reference_book_paths(mu, lifecycle, term, environment, *, age_idx, active, attrition, count, n_existing,
                         chunk_elements=2_000_000):
    """``book_paths`` as of commit a446fbe (the old code path, kept verbatim in its arithmetic)."""
    n_draws, horizon = environment.shape
    exp_def = np.empty((n_draws, horizon))
    at_risk = np.empty((n_draws, horizon))
    cum_ex = np.empty((n_draws, n_existing))
    cum_unc = np.empty((n_draws, n_existing))
    chunk = max(1, chunk_elements // max(len(count) * horizon, 1))
    for c0 in range(0, n_draws, chunk):
        c = slice(c0, min(c0 + chunk, n_draws))
        tc = term[c] if term.shape[0] > 1 else term
        eta = mu[c, None, None] + lifecycle[c][:, age_idx] + tc[:, :, None] + environment[c][:, None, :]
        p = expit(eta) * active
        step = (1 - p) * (1 - attrition)
        alive = np.cumprod(np.concatenate([np.ones(step.shape[:2] + (1,)), step[..., :-1]], axis=2), axis=2)
        alive *= count[None, :, None]
        exp_def[c] = (alive * p).sum(axis=1)
        at_risk[c] = (alive * active).sum(axis=1)
        cum_ex[c] = 1 - np.prod(1 - p[:, :n_existing, :], axis=2)
        pe = p[:, :n_existing, :]
        cum_unc[c] = unconditional_cumulative_pd(pe, attrition[:n_existing] * (1 - pe))
    return exp_def, at_risk, cum_ex, cum_unc


def _book(seed: int, n_draws: int, n_existing: int, n_new: int, horizon: int, drawn_term: bool):
    """Inputs shaped as :meth:`StressTest.fit` builds them (existing groups first, then new
    vintages entering one per month)."""
    rng = np.random.default_rng(seed)
    t_end = 100
    vint = np.concatenate([rng.integers(40, t_end + 1, n_existing), t_end + np.arange(n_new) % horizon])
    ages = t_end + np.arange(1, horizon + 1)[None, :] - vint[:, None]
    active = ages >= 1
    max_age = int(ages.max())
    q_age = np.clip(rng.gamma(2.0, 0.01, max_age + 2), 0, 0.5)
    q_age[0] = 0.0
    attrition = np.where(active, q_age[np.clip(ages, 0, max_age + 1)], 0.0)
    n_groups = n_existing + n_new
    mu = rng.normal(-4.5, 0.2, n_draws)
    lifecycle = np.cumsum(rng.normal(0, 0.05, (n_draws, max_age)), axis=1)
    term = rng.normal(0, 0.8, (n_draws if drawn_term else 1, n_groups))
    env = np.cumsum(rng.normal(0, 0.1, (n_draws, horizon)), axis=1)
    count = rng.integers(1, 500, n_groups).astype(float)
    return (mu, lifecycle, term, env), {"age_idx": np.clip(ages, 1, max_age) - 1, "active": active,
                                        "attrition": attrition, "count": count, "n_existing": n_existing}


@pytest.mark.parametrize(("seed", "n_existing", "n_new", "drawn_term", "chunk"), [
    (0, 30, 12, True, 2_000_000),     # one chunk, G(v) draws
    (1, 25, 24, False, 2_000),        # many chunks (a few draws each), fixed score term
    (2, 7, 0, True, 500),             # no new vintages, chunks of one draw
])
def test_book_paths_equal_the_old_code_path_to_1e10(monkeypatch, seed, n_existing, n_new, drawn_term, chunk):
    args, kw = _book(seed, n_draws=37, n_existing=n_existing, n_new=n_new, horizon=18, drawn_term=drawn_term)
    monkeypatch.setattr(stress, "_CHUNK_ELEMENTS", chunk)
    new = book_paths(*args, **kw)
    old = reference_book_paths(*args, **kw, chunk_elements=chunk)
    for got, want in zip((new.expected_defaults, new.at_risk, new.cumulative, new.unconditional), old, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=0)


def test_unconditional_identity_with_extreme_hazards():
    """PD near 1 and attrition up to the 0.5 clip: ``(1 - p)(1 - q) = 1 - p - q (1 - p)`` still
    gives the competing-risk figure (no clipping of ``p + q (1 - p)``, which never exceeds 1)."""
    args, kw = _book(3, n_draws=9, n_existing=6, n_new=3, horizon=10, drawn_term=True)
    mu = args[0] + 6.0  # monthly PDs up to ~0.9
    kw["attrition"] = np.where(kw["active"], 0.5, 0.0)
    new = book_paths(mu, *args[1:], **kw)
    old = reference_book_paths(mu, *args[1:], **kw)
    for got, want in zip((new.expected_defaults, new.at_risk, new.cumulative, new.unconditional), old, strict=True):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-300)


def test_predictor_beyond_the_factored_range_is_summed_first():
    """A score term of +-690 (the factored odds could overflow): the predictor is summed
    before the exponential; PD 1 and 0 there as in the old code path (counts to 1e-12
    accounts, where the old 1 - PD is exactly 0 and the new 1 / (1 + odds) about 1e-300)."""
    args, kw = _book(4, n_draws=11, n_existing=8, n_new=4, horizon=12, drawn_term=True)
    term = args[2].copy()
    term[:, 0], term[:, 1] = 690.0, -690.0
    new = book_paths(args[0], args[1], term, args[3], **kw)
    old = reference_book_paths(args[0], args[1], term, args[3], **kw)
    assert np.all(new.cumulative[:, 0] == 1.0) and np.all(new.cumulative[:, 1] < 1e-290)
    for got, want in zip((new.expected_defaults, new.at_risk, new.cumulative, new.unconditional), old, strict=True):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 5])
def test_float32_book_paths_within_1e5_of_the_old_code_path(seed):
    """``precision="float32"``: every output within 1e-5 relative of the float64 old code path
    (float32 rounding is 6e-8 per operation; sums over months are float64)."""
    args, kw = _book(seed, n_draws=23, n_existing=40, n_new=12, horizon=24, drawn_term=True)
    new = book_paths(*args, **kw, precision="float32")
    old = reference_book_paths(*args, **kw)
    for got, want in zip((new.expected_defaults, new.at_risk, new.cumulative, new.unconditional), old, strict=True):
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=0)


def test_float32_moves_reported_quantiles_far_less_than_their_monte_carlo_error(synth, synth_macro):
    """Three macro scenarios with new vintages: float32 against float64, every reported PD
    quantile per month and every cumulative-PD quantile moves by less than 1e-3 of its Monte
    Carlo standard error (measured at paper scale: 1.4e-4 of it at most)."""
    _, proj = synth_macro
    fit = {p: StressTest(horizon=36, precision=p, random_state=0).fit(synth.portfolio, synth.apc, proj).result_
           for p in ("float32", "float64")}
    r32, r64 = fit["float32"], fit["float64"]
    cols = {"pd_q05": 0.05, "pd_q25": 0.25, "pd_median": 0.5, "pd_q75": 0.75, "pd_q95": 0.95,
            "pd_lower": 0.025, "pd_upper": 0.975}
    for name in r64.scenarios:
        draws = r64.pd_draws[name]
        for col, q in cols.items():
            se = np.array([stress.quantile_mc_error(draws[:, t], q) for t in range(draws.shape[1])])
            change = np.abs(r32.tables[name][col].to_numpy() - r64.tables[name][col].to_numpy())
            assert np.all(change < 1e-3 * se), (name, col, float((change / se).max()))
        c32, c64 = r32.cumulative[name], r64.cumulative[name]
        for k, se in c64["cumulative_pd_quantiles_mc_error"].items():
            v32 = c32["cumulative_pd_median"] if k == "0.5" else c32["cumulative_pd_quantiles"][k]
            v64 = c64["cumulative_pd_median"] if k == "0.5" else c64["cumulative_pd_quantiles"][k]
            assert abs(v32 - v64) < 1e-3 * se
        assert c32["cumulative_pd"] == pytest.approx(c64["cumulative_pd"], rel=1e-6)
        assert c32["expected_defaults_total"] == pytest.approx(c64["expected_defaults_total"], rel=1e-6)
    np.testing.assert_allclose(r32.account_pd["cumulative_pd"], r64.account_pd["cumulative_pd"], rtol=1e-5)
