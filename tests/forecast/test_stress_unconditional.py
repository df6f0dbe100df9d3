"""stress.json: cumulative PD of the existing book on both definitions (issue 12 §3).

``cumulative_pd`` is net of attrition (``1 - prod(1 - PD)``); ``cumulative_pd_unconditional`` is
the probability of default before any other exit on the book's own dynamics
``n(t+1) = n(t) (1 - PD) (1 - q)``, so without new vintages the expected defaults of the
horizon divided by the accounts open equal it exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from apcfair.forecast import StressTest, random_walk_projection
from apcfair.forecast.cumulative import competing_risk_paths
from apcfair.forecast.stress import book_paths


@pytest.fixture(scope="module")
def runs(synth):
    proj = random_walk_projection(synth.apc, 12, random_state=0)
    # the identities are exact in float64 (the default float32 paths hold them to ~1e-7: see below)
    attr = StressTest(horizon=12, new_vintages=False, precision="float64", random_state=0).run(
        synth.portfolio, synth.apc, proj)
    none = StressTest(horizon=12, new_vintages=False, attrition="none", precision="float64", random_state=0).run(
        synth.portfolio, synth.apc, proj)
    return attr, none


def test_unconditional_is_the_books_expected_defaults_per_account(runs):
    attr, _ = runs
    c = attr.cumulative["random_walk"]
    n_book = attr.tables["random_walk"]["at_risk"].iloc[0]  # every existing account is at risk in month 1
    assert c["expected_defaults_total"] / n_book == pytest.approx(c["cumulative_pd_unconditional"], rel=1e-10)
    assert c["cumulative_pd_unconditional_lower"] < c["cumulative_pd_unconditional"] < c[
        "cumulative_pd_unconditional_upper"]
    assert c["cumulative_pd_unconditional"] < c["cumulative_pd"]  # payoff competes


def test_float32_paths_hold_the_identities_to_1e6(synth):
    """The default float32 arrays: expected defaults per account and the unconditional PD agree
    to 1e-6 relative, net and unconditional without attrition to 1e-6."""
    proj = random_walk_projection(synth.apc, 12, random_state=0)
    attr = StressTest(horizon=12, new_vintages=False, random_state=0).run(synth.portfolio, synth.apc, proj)
    none = StressTest(horizon=12, new_vintages=False, attrition="none", random_state=0).run(
        synth.portfolio, synth.apc, proj)
    c = attr.cumulative["random_walk"]
    n_book = attr.tables["random_walk"]["at_risk"].iloc[0]
    assert c["expected_defaults_total"] / n_book == pytest.approx(c["cumulative_pd_unconditional"], rel=1e-6)
    c = none.cumulative["random_walk"]
    assert c["cumulative_pd_unconditional"] == pytest.approx(c["cumulative_pd"], rel=1e-6)


def test_without_attrition_unconditional_equals_net_to_1e12(runs):
    _, none = runs
    c = none.cumulative["random_walk"]
    for suffix in ("", "_lower", "_upper"):
        assert abs(c[f"cumulative_pd_unconditional{suffix}"] - c[f"cumulative_pd{suffix}"]) < 1e-12


def test_book_paths_match_competing_risk_paths_by_hand():
    """One group, two draws, three months: the unconditional PD is sum_t S(t-1) PD(t) with
    S(t) = S(t-1) (1 - PD) (1 - q)."""
    rng = np.random.default_rng(0)
    mu, lifecycle = np.array([-4.0, -3.5]), rng.normal(0, 0.3, (2, 3))
    term, env = np.zeros((1, 1)), rng.normal(0, 0.2, (2, 3))
    age_idx, active = np.array([[0, 1, 2]]), np.ones((1, 3), bool)
    q = np.array([[0.05, 0.10, 0.02]])
    paths = book_paths(mu, lifecycle, term, env, age_idx=age_idx, active=active, attrition=q,
                       count=np.array([100.0]), n_existing=1)
    from scipy.special import expit

    p = expit(mu[:, None] + lifecycle + env)  # (draws, months)
    s = np.cumprod(np.concatenate([np.ones((2, 1)), ((1 - p) * (1 - q))[:, :-1]], axis=1), axis=1)
    np.testing.assert_allclose(paths.unconditional[:, 0], (s * p).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(paths.unconditional[:, 0], competing_risk_paths(p, q * (1 - p)).default[:, -1],
                               rtol=1e-12)
    np.testing.assert_allclose(paths.cumulative[:, 0], 1 - np.prod(1 - p, axis=1), rtol=1e-12)


def test_json_and_definitions(runs):
    attr, _ = runs
    d = attr.to_json_dict()
    rec = d["scenarios"]["random_walk"]
    assert {"cumulative_pd_unconditional", "cumulative_pd_unconditional_lower",
            "cumulative_pd_unconditional_upper"} <= set(rec)
    text = str(d)
    assert "before any other exit" in text and "NET of attrition" in text
    assert "before any other exit" in attr.summary()
