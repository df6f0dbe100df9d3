"""Result objects: summary, JSON round trip, self-contained HTML, plots."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from apcfair._summary import Summary
from apcfair.audit import (
    AuditResult,
    Contributions,
    EqualOpportunityThresholds,
    InterventionReport,
    ReasonCodes,
    RevenueForegone,
    ReviewRouter,
    ROIResult,
    audit,
    intervention_roi,
    reason_codes,
    revenue_foregone,
)


def test_json_html_summary_and_plots(scored, tmp_path):
    d = scored["test"].iloc[:1500]
    res = audit(d["pd"], d["default"], d[["group", "age_band"]], cutoff=scored["cutoff"], n_boot=100,
                caveats=["sex is not cleanly derivable"], compare={"other": np.clip(d["pd"] * 0.9, 0, 1)})
    s = res.summary()
    assert "CAVEAT: sex is not cleanly derivable" in s and "== group & age_band ==" in s
    blob = json.dumps(res.to_json_dict(), allow_nan=False)
    path = res.save(tmp_path / "a.json")
    back = AuditResult.load(path)
    pd.testing.assert_frame_equal(back.gaps[["attribute", "gap", "value", "ci_low", "ci_high", "status"]],
                                  res.gaps[["attribute", "gap", "value", "ci_low", "ci_high", "status"]])
    np.testing.assert_allclose(back.by_group["tpr"], res.by_group["tpr"])
    assert json.loads(blob)["comparison"][0]["score"] == "score"
    html = res.to_html()
    assert html.count("data:image/png;base64,") >= 8
    assert not re.search(r"(src|href)=['\"]https?://", html)
    assert "sex is not cleanly derivable" in html and "P(approved | creditworthy)" in html
    for fn in (res.plot_fairness, res.plot_gaps, res.plot_roc, res.plot_calibration):
        ax = fn(attribute="group")
        assert ax.__class__.__name__.endswith("Axes")
    assert back.plot_roc().__class__.__name__.endswith("Axes")


def _assert_same_frames(a: pd.DataFrame, b: pd.DataFrame):
    """Equal up to the dtypes JSON cannot carry (object columns of numbers and None come back as float)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x):
            np.testing.assert_allclose(x.to_numpy(float), y.to_numpy(float), rtol=0, atol=0, equal_nan=True)
        else:
            assert [None if v is None or v is np.nan else v for v in x] == \
                   [None if v is None or v is np.nan else v for v in y], c


def test_audit_result_save_load_round_trip(scored, tmp_path):
    d = scored["test"].iloc[:2000]
    res = audit(d["pd"], d["default"], d[["group", "age_band"]], cutoff=scored["cutoff"], n_boot=50,
                control=d["vintage"], compare={"other": np.clip(d["pd"] * 0.9, 0, 1)}, caveats=["a caveat"])
    back = AuditResult.load(res.save(tmp_path / "audit.json"))
    assert back.to_json_dict() == res.to_json_dict()          # the file holds everything the result says
    for name in ("overall", "by_group", "gaps", "tests", "power", "calibration", "roc", "by_stratum",
                 "gaps_by_stratum", "comparison"):
        _assert_same_frames(getattr(res, name), getattr(back, name))
    assert back.performance == pytest.approx(res.performance)
    assert (back.caveats, back.settings, back.conventions) == (res.caveats, json.loads(json.dumps(res.settings)),
                                                               res.conventions)
    assert str(back.summary()) == str(res.summary())
    assert res.to_dict() == res.to_json_dict()                # the former name, kept for callers


def test_summaries_are_summary_objects(scored):
    d = scored["test"].iloc[:1500]
    res = audit(d["pd"], d["default"], d["group"], cutoff=scored["cutoff"], n_boot=0)
    eo = EqualOpportunityThresholds(cutoff=scored["cutoff"]).fit(d["pd"], d["default"], d["group"])
    rf = revenue_foregone(d["pd"] < scored["cutoff"], d["default"], 10_000, 36, groups=d["group"])
    roi = intervention_roi(extra_approvals=10, default_rate=0.05, loan_amount=1000, term_months=12, rate=0.1)
    contrib = Contributions.from_array(np.arange(6.0).reshape(3, 2), ["a", "b"])
    for s in (res.summary(), eo.report(d["pd"], d["default"], d["group"]).summary(), rf.summary(),
              roi.summary(), contrib.summary(), reason_codes(contrib, k=1).summary()):
        assert isinstance(s, Summary) and isinstance(s, str) and "<" in s._repr_html_()
    html = res.summary()._repr_html_()
    assert "<table" in html and "== group ==" in html


@pytest.mark.parametrize("kind", ["thresholds", "router", "revenue", "roi", "contributions", "reasons"])
def test_other_results_save_load_round_trip(scored, tmp_path, kind):
    d = scored["test"].iloc[:2000]
    c = scored["cutoff"]
    if kind == "thresholds":
        est = EqualOpportunityThresholds(cutoff=c).fit(d["pd"], d["default"], d["group"])
        res, cls = est.report(d["pd"], d["default"], d["group"], compare={"x": d["pd"] * 0.8}), InterventionReport
    elif kind == "router":
        est = ReviewRouter(0.1, cutoff=c, reviewer_accuracy=0.8).fit(d["pd"], d["group"])
        res, cls = est.report(d["pd"], d["default"], d["group"]), InterventionReport
    elif kind == "revenue":
        res = revenue_foregone(d["pd"] < c, d["default"], 10_000, 36, groups=d["group"], applications_per_year=1e4)
        cls = RevenueForegone
    elif kind == "roi":
        res, cls = intervention_roi(extra_approvals=200, default_rate=0.05, loan_amount=10_000, term_months=36,
                                    rate=0.08, one_time_cost=50_000, years=2), ROIResult
    elif kind == "contributions":
        rng = np.random.default_rng(0)
        res, cls = Contributions.from_array(rng.normal(size=(20, 3)), ["a", "b", "c"], base_value=-1.5), Contributions
    else:
        rng = np.random.default_rng(1)
        contrib = Contributions.from_array(rng.normal(size=(20, 3)), ["a", "b", "age"])
        res, cls = reason_codes(contrib, k=2, protected=["age"]), ReasonCodes
    back = cls.load(res.save(tmp_path / f"{kind}.json"))
    assert type(back) is cls
    assert back.to_json_dict() == res.to_json_dict()
    assert str(back.summary()) == str(res.summary())


def test_audit_html_states_the_interval_method():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.4, 400)
    y = (rng.random(400) < p).astype(int)
    g = rng.choice(["A", "B"], 400)
    page = audit(p, y, g, cutoff=0.2, n_boot=1000).to_html()
    assert "Intervals: 95% from 1,000 bootstrap replicates (" in page and "BCa" in page
    assert "Intervals:" not in audit(p, y, g, cutoff=0.2, n_boot=0).to_html()  # no intervals, no claim
