"""The adverse impact ratio exists once: the audit's ``dir`` and the unbiased procedure's ``air``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.audit import audit
from apcfair.audit.metrics import adverse_impact_ratio, impact_ratio

TOL = 1e-12


def _reference_air(forecast, groups, approval_rate: float = 0.8) -> dict:
    """The unbiased procedure's own implementation before it moved here (frozen copy)."""
    f = np.asarray(forecast, float)
    g = pd.Series(groups).astype("string").fillna("NA").to_numpy()
    cut = float(np.quantile(f, approval_rate))
    approved = f <= cut
    rates = {str(k): float(approved[g == k].mean()) for k in pd.unique(g)}
    hi = max(rates.values())
    lo_group = min(rates, key=rates.get)
    ratio = rates[lo_group] / hi if hi > 0 else float("nan")
    return {"cutoff_pd": cut, "approval_rate": approval_rate, "group_approval_rates": rates,
            "air": ratio, "lowest_group": lo_group, "four_fifths_pass": bool(ratio >= 0.8)}


@pytest.mark.parametrize("seed", range(6))
def test_adverse_impact_ratio_equals_the_former_unbiased_function(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3000))
    k = int(rng.integers(1, 6))
    groups = pd.Series(rng.choice([f"g{j}" for j in range(k)], n), dtype="object")
    groups[rng.random(n) < 0.05] = None                       # missing labels form "NA"
    forecast = rng.beta(1 + rng.random(), 8, n) + 0.03 * (groups == "g0").to_numpy()
    share = float(rng.uniform(0.05, 1.0))
    ours, ref = adverse_impact_ratio(forecast, groups, share), _reference_air(forecast, groups, share)
    assert ours.keys() == ref.keys()
    assert list(ours["group_approval_rates"]) == list(ref["group_approval_rates"])
    for g, r in ref["group_approval_rates"].items():
        assert ours["group_approval_rates"][g] == pytest.approx(r, abs=TOL)
    for key in ("cutoff_pd", "approval_rate", "air"):
        assert ours[key] == pytest.approx(ref[key], abs=TOL, nan_ok=True)
    assert (ours["lowest_group"], ours["four_fifths_pass"]) == (ref["lowest_group"], ref["four_fifths_pass"])


def test_adverse_impact_ratio_ties_and_nobody_approved():
    same = adverse_impact_ratio(np.r_[0.1, 0.1, 0.1, 0.1], ["a", "b", "a", "b"], approval_rate=1.0)
    assert same["air"] == 1.0 and same["lowest_group"] == "a" and same["four_fifths_pass"]
    assert np.isnan(impact_ratio(0.0, 0.0)) and impact_ratio(0.3, 0.6) == pytest.approx(0.5)
    np.testing.assert_array_equal(impact_ratio(np.r_[0.2, 0.1], np.r_[0.4, 0.0]), np.r_[0.5, np.nan])


def test_audit_dir_is_the_adverse_impact_ratio_of_its_decisions():
    rng = np.random.default_rng(3)
    n = 4000
    group = rng.choice(["x", "y", "z"], n, p=[0.5, 0.3, 0.2])
    pd_ = np.clip(rng.beta(2, 10, n) + 0.04 * (group == "z"), 0, 1)
    y = (rng.random(n) < pd_).astype(int)
    share = 0.7
    air = adverse_impact_ratio(pd_, group, share)
    # the same decisions given to the audit: approved iff PD <= the share's quantile
    res = audit(None, y, group, decision=pd_ <= air["cutoff_pd"], min_group_size=1, n_boot=0)
    gap = res.gap("group", "dir")
    assert gap["value"] == pytest.approx(air["air"], abs=TOL)
    assert gap["low_group"] == air["lowest_group"]
    assert res.ratio("approval_rate")["value"].iloc[0] == pytest.approx(air["air"], abs=TOL)


def test_roc_auc_equals_scikit_learn_with_ties():
    """Mann-Whitney AUC on mid-ranks against sklearn.metrics.roc_auc_score (tolerance 1e-12)."""
    from sklearn.metrics import roc_auc_score

    from apcfair.audit.metrics import roc_auc

    rng = np.random.default_rng(3)
    for n, levels in ((50, 5), (2000, 0), (300, 40)):
        y = (rng.random(n) < 0.3).astype(int)
        risk = rng.normal(size=n) + y
        if levels:
            risk = np.round(risk * levels / 4) / levels  # many ties
        assert roc_auc(y, risk) == pytest.approx(roc_auc_score(y, risk), abs=1e-12)
    assert np.isnan(roc_auc(np.zeros(4, dtype=int), np.arange(4.0)))
