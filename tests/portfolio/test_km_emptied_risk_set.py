"""Kaplan–Meier when the risk set empties before later entrants (found by hypothesis).

lifelines refuses such a curve (StatError); the product-limit estimate is defined and stays
at 1 - S = 1 from there on. The fallback equals lifelines wherever lifelines answers.
"""

import numpy as np

from apcfair.portfolio import survival
from apcfair.portfolio.spells import Spells
from apcfair.portfolio.survival import aalen_johansen, kaplan_meier


def test_curve_reaching_one_before_a_late_entrant():
    sp = Spells(np.array([0, 0]), np.array([3, 1]), np.array([3, 1]), np.array([True, True]))
    km = kaplan_meier(sp).set_index("age")
    assert km.loc[1, "cum_default"] == 1.0 and km.loc[3, "cum_default"] == 1.0
    aj = aalen_johansen(sp).set_index("age")
    np.testing.assert_allclose(aj.loc[km.index, "cif_default"], km["cum_default"], atol=1e-12)


def test_fallback_equals_lifelines_where_lifelines_answers():
    rng = np.random.default_rng(1)
    n = 300
    first = rng.integers(1, 5, n)
    sp = Spells(np.zeros(n, int), first, first + rng.integers(0, 20, n), rng.random(n) < 0.3)
    a = kaplan_meier(sp).set_index("age")
    b = survival._product_limit("all", sp.last_age, sp.entry_age, sp.defaulted, 0.05).set_index("age")
    cols = ["cum_default", "lower", "upper", "at_risk"]
    common = a.index.intersection(b.index)
    assert len(common) == len(a)
    np.testing.assert_allclose(b.loc[common, cols].to_numpy(float), a.loc[common, cols].to_numpy(float),
                               atol=1e-12, rtol=0)
