"""``kaplan_meier`` computes the product-limit in numpy exactly as lifelines' ``KaplanMeierFitter``
does (issue 19: 32 lifelines fits were ~1/3 of the unbiased procedure's evaluation).

Reference: lifelines itself, called as ``kaplan_meier`` called it before (the frozen copy
below), on synthetic spells with ties, left truncation, gaps where nobody is at risk, curves
reaching 0, and the case lifelines refuses (``StatError``), which keeps its product-limit
fallback. Tolerance 1e-12 (absolute, on probabilities); at the time of writing the two were
bit-identical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.portfolio.spells import Spells
from apcfair.portfolio.survival import _product_limit, kaplan_meier

TOL = 1e-12


def _lifelines_kaplan_meier(spells: Spells, groups=None, alpha: float = 0.05) -> pd.DataFrame:
    """``kaplan_meier`` as it was before (lifelines per group, sort=False)."""
    from lifelines import KaplanMeierFitter
    from lifelines.exceptions import StatError

    g = np.full(len(spells), "all", dtype=object) if groups is None else np.asarray(groups)
    dur, entry, event = spells.last_age, spells.entry_age, spells.defaulted
    frames = []
    for key in pd.unique(g):
        m = g == key
        try:
            kmf = KaplanMeierFitter(alpha=alpha).fit(dur[m], event_observed=event[m], entry=entry[m])
        except StatError:
            frames.append(_product_limit(key, dur[m], entry[m], event[m], alpha))
            continue
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        ages = sf.index.to_numpy()
        et = kmf.event_table.reindex(ages)
        frames.append(pd.DataFrame({
            "group": key, "n": int(m.sum()), "age": ages.astype(np.int64), "cum_default": 1 - sf.to_numpy(),
            "lower": 1 - ci.iloc[:, 1].to_numpy(), "upper": 1 - ci.iloc[:, 0].to_numpy(),
            "at_risk": (et["at_risk"] - np.where(ages > 0, et["entrance"], 0)).to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def _spells(rng, n, max_age=40, late_share=0.3, default_rate=0.1) -> Spells:
    first = np.where(rng.random(n) < late_share, rng.integers(1, 20, n), 1)
    last = first + rng.integers(0, max_age, n)
    defaulted = rng.random(n) < default_rate
    return Spells(np.zeros(n, dtype=np.int64), first.astype(np.int64), last.astype(np.int64), defaulted,
                  ~defaulted & (rng.random(n) < 0.3))


def _assert_equal(new: pd.DataFrame, old: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, old, check_exact=False, rtol=0, atol=TOL)


@pytest.mark.parametrize("seed", range(6))
def test_equal_to_lifelines_with_ties_truncation_and_groups(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 400))
    spells = _spells(rng, n, late_share=rng.uniform(0, 0.8), default_rate=rng.uniform(0.02, 0.6))
    groups = rng.integers(0, 4, n)
    _assert_equal(kaplan_meier(spells, groups, sort=False), _lifelines_kaplan_meier(spells, groups))
    _assert_equal(kaplan_meier(spells, sort=False), _lifelines_kaplan_meier(spells))


def test_equal_to_lifelines_on_the_synthetic_portfolio_by_vintage_year():
    from apcfair import load_portfolio
    from data_synth import SynthConfig, generate_portfolio

    spells = load_portfolio(generate_portfolio(SynthConfig(n_accounts=4000, seed=3)).loans).spells()
    for groups in (None, spells.vintage // 12, spells.vintage):
        _assert_equal(kaplan_meier(spells, groups, sort=False), _lifelines_kaplan_meier(spells, groups))


def test_curve_reaching_zero_and_gaps_without_accounts():
    # every account at risk at age 3 defaults there (S = 0 from then on); ages 5-7 have
    # nobody at risk until a late entrant; one account alone
    spells = Spells(np.zeros(6, dtype=np.int64), np.array([1, 1, 1, 9, 9, 1]), np.array([3, 3, 2, 12, 10, 1]),
                    np.array([True, True, False, False, True, False]), np.zeros(6, dtype=bool))
    for groups in (None, np.array([0, 0, 0, 1, 1, 2])):
        _assert_equal(kaplan_meier(spells, groups, sort=False), _lifelines_kaplan_meier(spells, groups))


def test_lifelines_refusal_keeps_the_product_limit_fallback():
    # everyone at risk early defaults while later entrants are still to come: lifelines
    # raises StatError and both paths fall back to the discrete product-limit
    spells = Spells(np.zeros(4, dtype=np.int64), np.array([1, 1, 6, 6]), np.array([2, 2, 9, 9]),
                    np.array([True, True, False, True]), np.zeros(4, dtype=bool))
    new = kaplan_meier(spells, sort=False)
    _assert_equal(new, _lifelines_kaplan_meier(spells))
    assert new["cum_default"].iloc[-1] == 1.0
