"""Post-processing what-ifs: deterministic group thresholds, group calibration, review routing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from apcfair.audit import (
    WHAT_IF_NOTE,
    EqualOpportunityThresholds,
    GroupCalibrator,
    ReviewRouter,
    audit,
)
from apcfair.errors import NotFittedError


def test_equal_opportunity_thresholds_close_the_gap(scored):
    v = scored["val"]
    c = scored["cutoff"]
    eo = EqualOpportunityThresholds(cutoff=c).fit(v["pd"], v["default"], v["group"])
    rep = eo.report(v["pd"], v["default"], v["group"])
    ov = rep.overall.set_index("variant")
    assert ov.loc["before", "eod"] > 0.15            # the seed-000 disparity
    assert ov.loc["after", "eod"] < 0.02             # closed on the data it was fitted on
    assert rep.accuracy_cost == pytest.approx(ov.loc["before", "accuracy"] - ov.loc["after", "accuracy"])
    assert 0 < rep.accuracy_cost < 0.05
    assert set(eo.thresholds_) == {"protected", "reference"}
    assert eo.thresholds_["protected"] > c > eo.thresholds_["reference"]  # PD cut-off raised for the protected group
    assert abs(eo.fitted_["approval_rate"] - eo.baseline_["approval_rate"]) <= 0.02 + 1e-9
    assert rep.what_if_note == WHAT_IF_NOTE and "unlawful" in rep.summary()
    # deterministic: same decisions every time, and decisions are the group cut-off rule
    d1, d2 = eo.predict(v["pd"], v["group"]), eo.predict(v["pd"], v["group"])
    assert np.array_equal(d1, d2)
    thr = v["group"].map(eo.thresholds_).to_numpy()
    assert np.array_equal(d1, v["pd"].to_numpy() < thr)
    # audit of the after-decisions agrees with the report
    a = audit(v["pd"], v["default"], v["group"], decision=d1, n_boot=0)
    assert a.gap("group", "eod")["value"] == pytest.approx(ov.loc["after", "eod"])
    # out of sample the gap stays small
    t = scored["test"]
    rt = eo.report(t["pd"], t["default"], t["group"]).overall.set_index("variant")
    assert rt.loc["after", "eod"] < 0.05 < rt.loc["before", "eod"]


def test_thresholds_polarity_and_constraints(scored):
    v = scored["val"]
    c = scored["cutoff"]
    a = EqualOpportunityThresholds(cutoff=c).fit(v["pd"], v["default"], v["group"])
    b = EqualOpportunityThresholds(cutoff=1 - c, polarity="approval").fit(1 - v["pd"], v["default"], v["group"])
    assert np.array_equal(a.predict(v["pd"], v["group"]), b.predict(1 - v["pd"], v["group"]))
    free = EqualOpportunityThresholds(cutoff=c, max_approval_change=None, max_default_rate=None,
                                      objective="approval_rate").fit(v["pd"], v["default"], v["group"])
    assert free.feasible_ and free.status_ == "all constraints met"
    assert free.fitted_["approval_rate"] >= a.fitted_["approval_rate"]
    assert free.fitted_["eod"] <= 0.02
    with pytest.raises(NotFittedError):
        EqualOpportunityThresholds().predict(v["pd"], v["group"])
    with pytest.raises(ValueError, match=r"group has label\(s\) \['other'\] not seen in fit"):
        a.predict(v["pd"][:3], ["other", "protected", "reference"])
    with pytest.raises(ValueError, match="objective='gini' is not allowed"):
        EqualOpportunityThresholds(objective="gini").fit(v["pd"], v["default"], v["group"])


def _miscalibrated(d):
    """Seed 002's situation: the model over-predicts the protected group's risk."""
    lg = np.log(d["pd"] / (1 - d["pd"])) + np.where(d["group"] == "protected", 0.6, 0.0)
    return 1 / (1 + np.exp(-lg))


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_group_calibration_reduces_ece(scored, method):
    v, t = scored["val"], scored["test"]
    sv, st = _miscalibrated(v), _miscalibrated(t)
    cal = GroupCalibrator(method, cutoff=scored["cutoff"]).fit(sv, v["default"], v["group"])
    p = cal.transform(st, t["group"])
    assert ((p >= 0) & (p <= 1)).all()
    rep = cal.report(st, t["default"], t["group"], compare={"unbiased": t["pd"]})
    bg = rep.by_group.set_index(["variant", "group"])
    assert bg.loc[("after", "protected"), "ece"] < bg.loc[("before", "protected"), "ece"] / 2
    assert set(rep.overall["variant"]) == {"before", "after", "unbiased"}
    assert np.isfinite(rep.accuracy_cost)


def test_review_router_capacity_and_scenarios(scored):
    v, t = scored["val"], scored["test"]
    c = scored["cutoff"]
    rr = ReviewRouter(0.15, cutoff=c, sensitive_groups=["protected"], reviewer_accuracy=0.8).fit(v["pd"], v["group"])
    assert rr.routed_share_ == pytest.approx(0.15, abs=0.002)
    routed = rr.route(t["pd"], t["group"])
    assert not routed[t["group"].to_numpy() == "reference"].any()
    assert np.array_equal(routed, rr.route(t["pd"], t["group"]))
    dist = np.abs(t["pd"].to_numpy() - c)
    prot = t["group"].to_numpy() == "protected"
    assert dist[routed].max() <= dist[prot & ~routed].min()  # the closest cases are routed
    rep = rr.report(t["pd"], t["default"], t["group"])
    ov = rep.overall.set_index("variant")
    assert ov.loc["review: model", "accuracy"] == pytest.approx(ov.loc["before", "accuracy"])
    assert ov.loc["review: oracle", "accuracy"] > ov.loc["review: reviewer@0.8", "accuracy"] > ov.loc["before",
                                                                                                       "accuracy"]
    assert ov.loc["review: oracle", "eod"] < ov.loc["before", "eod"]
    assert rep.details["after_variant"] == "review: reviewer@0.8"
    auto = ReviewRouter(0.1, cutoff=c, sensitive_groups="auto").fit(v["pd"], v["group"], v["default"])
    assert auto.eligible_groups_ == ["protected"]
    with pytest.raises(ValueError, match="capacity must be a share"):
        ReviewRouter(15, cutoff=c).fit(v["pd"], v["group"])


POST_PROCESSORS = [
    EqualOpportunityThresholds(0.3, tolerance=0.05, max_approval_change=None, max_default_rate=0.2,
                               objective="approval_rate", min_group_size=10),
    GroupCalibrator("isotonic", polarity="approval", cutoff=0.7, calibrated_cutoff=0.3, min_group_size=40),
    ReviewRouter(0.1, cutoff=0.3, sensitive_groups=["protected"], scenarios=("oracle", "decline"),
                 reviewer_accuracy=0.9),
]


@pytest.mark.parametrize("est", POST_PROCESSORS, ids=lambda e: type(e).__name__)
def test_post_processors_clone_and_settings(est, scored):
    params = est.get_params(deep=False)
    twin = clone(est)
    assert type(twin) is type(est) and twin is not est
    assert twin.get_params(deep=False) == params
    assert est.get_params(deep=True) == params
    assert clone(twin).set_params(min_group_size=5).min_group_size == 5
    with pytest.raises(ValueError, match="no setting"):
        twin.set_params(no_such_setting=1)
    assert repr(est).startswith(type(est).__name__ + "(")
    # a clone is unfitted and fits like the original
    v = scored["val"]
    score = 1 - v["pd"] if est.get_params()["polarity"] == "approval" else v["pd"]
    args = (score, v["group"], v["default"]) if isinstance(est, ReviewRouter) else (score, v["default"], v["group"])
    fitted = clone(est).fit(*args)
    assert not hasattr(twin, "groups_") and fitted.groups_ == ["protected", "reference"]


def test_invalid_settings_are_stored_and_refused_in_fit(scored):
    v = scored["val"]
    bad = EqualOpportunityThresholds(tolerance=-1.0)
    assert bad.tolerance == -1.0                                      # no validation in __init__
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        bad.fit(v["pd"], v["default"], v["group"])
    with pytest.raises(ValueError, match="method='beta' is not allowed"):
        GroupCalibrator("beta").fit(v["pd"], v["default"], v["group"])
    with pytest.raises(ValueError, match="sensitive_groups must be a list"):
        ReviewRouter(0.1, cutoff=0.3, sensitive_groups="protected").fit(v["pd"], v["group"])
