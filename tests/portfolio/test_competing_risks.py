"""Aalen–Johansen cumulative incidence: brute force, lifelines, and 1 - KM without payoff."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apcfair.portfolio import Portfolio, kaplan_meier
from apcfair.portfolio.periods import format_period
from apcfair.portfolio.spells import Spells
from apcfair.portfolio.survival import aalen_johansen, competing_risks_table

V0 = 24228  # 2019-01


@st.composite
def uncensored_spells(draw):
    """Every account leaves by default or payoff; no censoring, no delayed entry."""
    n = draw(st.integers(1, 30))
    last = np.array(draw(st.lists(st.integers(1, 8), min_size=n, max_size=n)))
    kind = np.array(draw(st.lists(st.sampled_from(["d", "x"]), min_size=n, max_size=n)))
    return Spells(np.full(n, V0), np.ones(n, int), last, kind == "d", kind == "x")


@settings(max_examples=40, deadline=None)
@given(uncensored_spells())
def test_without_censoring_cif_is_the_empirical_fraction(sp):
    aj = aalen_johansen(sp)
    for r in aj.itertuples():
        by_now = sp.last_age <= r.age
        assert r.cif_default == pytest.approx(np.mean(by_now & sp.defaulted), abs=1e-12)
        assert r.cif_attrition == pytest.approx(np.mean(by_now & sp.exited), abs=1e-12)
        assert r.survival == pytest.approx(np.mean(~by_now), abs=1e-12)


@st.composite
def censored_spells(draw):
    """Defaults at odd ages, payoffs at even ages (no ties between the two kinds, so lifelines
    does not jitter), censoring anywhere, delayed entry for some accounts."""
    n = draw(st.integers(2, 40))
    rows = []
    for _ in range(n):
        last = draw(st.integers(1, 12))
        kind = draw(st.sampled_from(["d", "x", "c"]))
        if kind == "d" and last % 2 == 0 or kind == "x" and last % 2 == 1:
            kind = "c"
        first = draw(st.integers(1, last)) if draw(st.booleans()) else 1
        rows.append((first, last, kind))
    first, last, kind = (np.array(c) for c in zip(*rows, strict=True))
    return Spells(np.full(n, V0), first, last, kind == "d", kind == "x")


@pytest.mark.parametrize("seed", range(8))
def test_with_censoring_equals_lifelines(seed):
    """lifelines' AalenJohansenFitter as reference (values and bands), on data without ties
    between defaults and payoffs (lifelines would jitter them) and without delayed entry
    (lifelines 0.30's AJ counts an entrant at risk at its entry time; see the next test)."""
    from lifelines import AalenJohansenFitter

    rng = np.random.default_rng(seed)
    n = 60
    last = rng.integers(1, 16, n)
    kind = rng.choice(["d", "x", "c"], n, p=[0.2, 0.4, 0.4])
    kind[(kind == "d") & (last % 2 == 0)] = "c"
    kind[(kind == "x") & (last % 2 == 1)] = "c"
    sp = Spells(np.full(n, V0), np.ones(n, int), last, kind == "d", kind == "x")
    event = np.where(sp.defaulted, 1, np.where(sp.exited, 2, 0))
    ours = aalen_johansen(sp).set_index("age")
    for k, col in ((1, "cif_default"), (2, "cif_attrition")):
        ajf = AalenJohansenFitter(calculate_variance=True).fit(sp.last_age, event, event_of_interest=k)
        ref = ajf.cumulative_density_.iloc[:, 0]
        ci = ajf.confidence_interval_
        for t, val in ref.items():
            assert ours.loc[t, col] == pytest.approx(val, abs=1e-12)
            lo, hi = sorted(ci.loc[t])  # lifelines 0.30 names its two columns the other way round
            if ours.loc[t, col] > 0 and np.isfinite(lo):
                assert ours.loc[t, f"{col}_lower"] == pytest.approx(lo, abs=1e-9)
                assert ours.loc[t, f"{col}_upper"] == pytest.approx(hi, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(censored_spells())
def test_with_delayed_entry_equals_a_brute_force_risk_set_count(sp):
    aj = aalen_johansen(sp).set_index("age")
    km = kaplan_meier(sp).set_index("age")
    s, fd, fx = 1.0, 0.0, 0.0
    for a in range(1, int(sp.last_age.max()) + 1):
        at_risk = (sp.first_age <= a) & (sp.last_age >= a)
        n = int(at_risk.sum())
        if n == 0:
            assert a not in aj.index
            continue
        d = int((at_risk & (sp.last_age == a) & sp.defaulted).sum())
        x = int((at_risk & (sp.last_age == a) & sp.exited).sum())
        fd, fx, s = fd + s * d / n, fx + s * x / n, s * (1 - (d + x) / n)
        assert aj.loc[a, "at_risk"] == n
        if a in km.index:  # delayed entrants count from their first age, as in the cells
            assert km.loc[a, "at_risk"] == n
        assert aj.loc[a, "cif_default"] == pytest.approx(fd, abs=1e-12)
        assert aj.loc[a, "cif_attrition"] == pytest.approx(fx, abs=1e-12)
        assert aj.loc[a, "survival"] == pytest.approx(s, abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(censored_spells())
def test_without_payoff_aalen_johansen_is_one_minus_kaplan_meier(sp):
    sp = Spells(sp.vintage, sp.first_age, sp.last_age, sp.defaulted)  # payoffs become censoring
    aj = aalen_johansen(sp).set_index("age")
    km = kaplan_meier(sp).set_index("age")
    common = km.index.intersection(aj.index)
    np.testing.assert_allclose(aj.loc[common, "cif_default"], km.loc[common, "cum_default"], atol=1e-12, rtol=0)
    assert (aj["cif_attrition"] == 0).all()


@settings(max_examples=25, deadline=None)
@given(censored_spells())
def test_competing_cif_never_exceeds_one_minus_km(sp):
    aj = aalen_johansen(sp).set_index("age")
    km = kaplan_meier(sp).set_index("age")
    common = km.index.intersection(aj.index)
    assert (aj.loc[common, "cif_default"] <= km.loc[common, "cum_default"] + 1e-12).all()
    total = aj["cif_default"] + aj["cif_attrition"] + aj["survival"]
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_hand_computed_counts():
    t = competing_risks_table([10, 8, 4], [1, 0, 1], [1, 4, 0])
    # S: 0.8, 0.4, 0.3; CIF_d: 0.1, 0.1, 0.1 + 0.4/4; CIF_x: 0.1, 0.1 + 0.8*4/8, same
    np.testing.assert_allclose(t["cif_default"], [0.1, 0.1, 0.2], atol=1e-15)
    np.testing.assert_allclose(t["cif_attrition"], [0.1, 0.5, 0.5], atol=1e-15)
    with pytest.raises(ValueError, match="at_risk"):
        competing_risks_table([2], [2], [1])


def test_by_group_from_a_portfolio_with_inferred_payoff():
    df = pd.DataFrame({"account_id": range(6), "origination": format_period([V0] * 3 + [V0 + 12] * 3),
                       "last_month": format_period([V0 + 2, V0 + 3, V0 + 20, V0 + 13, V0 + 14, V0 + 20]),
                       "default": [1, 0, 0, 0, 1, 0]})
    p = Portfolio.from_loans(df)
    assert p.loans["exit"].tolist() == ["default", "payoff", "censored", "payoff", "default", "censored"]
    aj = aalen_johansen(p.spells(), p.loans["vintage"] // 12)
    first = aj[aj["group"] == 2019].set_index("age")
    assert first.loc[2, "cif_default"] == pytest.approx(1 / 3)
    assert first.loc[3, "cif_attrition"] == pytest.approx(1 / 3)
    assert first.loc[20, "cif_default"] == pytest.approx(1 / 3)  # the censored account never defaults
