"""Rates resting on too few applicants get no verdict: ``min_rate_denominator``.

The defect: equalized odds compared an FPR on 2 defaulters (1.0) with one on 1 defaulter (0.0)
and reported eo = 1.000, FAIL. Each conditional rate now enters a gap only when its own
denominator (defaulters for FPR, creditworthy applicants for TPR, approved applicants for
precision) reaches the minimum. References: Fairlearn's ``MetricFrame`` and
``equalized_odds_difference`` on the raw rows of the groups that qualify (tolerance 1e-12).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    true_positive_rate,
)

from apcfair.audit import AuditResult, audit

TOL = 1e-12


def _block(sex, race, n_good, good_approved, n_bad, bad_approved):
    """Rows of one (sex, race) cell: creditworthy and defaulters, with how many are approved."""
    y = np.r_[np.zeros(n_good, int), np.ones(n_bad, int)]
    approved = np.r_[np.arange(n_good) < good_approved, np.arange(n_bad) < bad_approved]
    return pd.DataFrame({"sex": sex, "race": race, "y": y, "approved": approved.astype(int)})


@pytest.fixture(scope="module")
def demo_like():
    """The demo's failure: F & Black has 2 defaulters (both approved, FPR 1.0), F & Other 1 (rejected,
    FPR 0.0); the White cells have 60 defaulters each and close rates."""
    return pd.concat([
        _block("F", "White", 800, 660, 60, 24),   # TPR 0.825, FPR 0.400
        _block("M", "White", 800, 650, 60, 27),   # TPR 0.8125, FPR 0.450
        _block("F", "Black", 130, 100, 2, 2),     # FPR 1.0 on 2 defaulters
        _block("F", "Other", 44, 37, 1, 0),       # FPR 0.0 on 1 defaulter
        _block("M", "Black", 110, 90, 10, 5),
        _block("M", "Other", 40, 34, 4, 1),
    ], ignore_index=True)


def _audit(df, **kw):
    kw.setdefault("n_boot", 0)
    return audit(None, df["y"], {"sex": df["sex"], "race": df["race"]}, decision=df["approved"], cutoff=None, **kw)


def test_demo_case_gives_no_fail_from_a_two_default_group(demo_like):
    before = _audit(demo_like, min_rate_denominator=1)   # the former behaviour
    eo_before = before.gap("sex & race", "eo")
    assert eo_before["value"] == pytest.approx(1.0) and eo_before["status"] == "FAIL"
    assert {eo_before["low_group"], eo_before["high_group"]} == {"F & Other", "F & Black"}

    res = _audit(demo_like)                            # default: min_group_size = 30
    assert res.settings["min_rate_denominator"] == 30
    eo = res.gap("sex & race", "eo")
    # only the White cells have >= 30 defaulters: eo is their gap, 0.05 (FPR 0.45 vs 0.40), PASS
    assert eo["value"] == pytest.approx(0.05, abs=TOL) and eo["status"] == "PASS"
    assert {eo["low_group"], eo["high_group"]} == {"F & White", "M & White"}
    left_out = {(e["group"], e["rate"]): e for e in eo["excluded"]}
    assert left_out[("F & Black", "fpr")] == {"group": "F & Black", "rate": "fpr", "value": 1.0, "denominator": 2,
                                              "denominator_is": "defaulters", "reason": "insufficient"}
    assert left_out[("F & Other", "fpr")]["denominator"] == 1
    assert eo["n_excluded"] == len(eo["excluded"])
    # no FAIL anywhere rests on a group whose compared rate has < 30 in its denominator
    for _, g in res.gaps[res.gaps["status"] == "FAIL"].iterrows():
        rows = res.by_group[res.by_group["attribute"] == g["attribute"]].set_index("group")
        for grp in (g["low_group"], g["high_group"]):
            assert not rows.loc[grp, "small"]
            for m in ("tpr", "fpr", "precision"):
                if g["gap"] in {"tpr": ("eod", "eo"), "fpr": ("eo",), "precision": ("ppd",)}[m]:
                    assert rows.loc[grp, f"{m}_status"] == "ok"


def test_no_two_groups_with_enough_data_is_insufficient_not_a_verdict(demo_like):
    res = _audit(demo_like, min_rate_denominator=61)   # no cell has 61 defaulters
    eo = res.gap("sex & race", "eo")
    assert eo["status"] == "INSUFFICIENT" and eo["passed"] is None and np.isnan(eo["value"])
    assert "no verdict" in eo["note"] and "FPR on >= 61 defaulters" in eo["note"]
    assert {e["group"] for e in eo["excluded"]} >= {"F & Black", "F & Other", "F & White", "M & White"}
    # the group rows show the rate with its denominator and say it is insufficient
    rows = res.by_group[res.by_group["attribute"] == "sex & race"].set_index("group")
    assert rows.loc["F & Black", "fpr"] == 1.0 and rows.loc["F & Black", "n_default"] == 2
    assert rows.loc["F & Black", "fpr_status"] == "insufficient" and rows.loc["F & Black", "tpr_status"] == "ok"
    assert rows.loc["F & Black", "n_approved"] == 102
    # the CLI's and --fail-on-gap's count of failures does not include it
    assert eo["status"] != "FAIL"


def test_outputs_say_so_json_summary_html(demo_like, tmp_path):
    res = _audit(demo_like, min_rate_denominator=61)
    d = json.loads(res.save(tmp_path / "audit.json").read_text())
    eo = d["gaps"]["sex & race"]["eo"]
    assert eo["status"] == "INSUFFICIENT" and eo["value"] is None and eo["passed"] is None
    fb = next(e for e in eo["excluded"] if e["group"] == "F & Black" and e["rate"] == "fpr")
    assert fb == {"group": "F & Black", "rate": "fpr", "value": 1.0, "denominator": 2, "denominator_is": "defaulters",
                  "reason": "insufficient"}
    row = next(r for r in d["groups"]["sex & race"] if r["group"] == "F & Black")
    assert (row["fpr"], row["n_default"], row["fpr_status"]) == (1.0, 2, "insufficient")
    assert d["settings"]["min_rate_denominator"] == 61
    assert "min_rate_denominator" in d["conventions"]["insufficient_data"]
    # existing keys stay
    assert {"value", "ci", "ci_level", "threshold", "passed", "status", "low_group", "high_group", "note"} <= set(eo)
    back = AuditResult.load(tmp_path / "audit.json")
    assert back.gap("sex & race", "eo")["excluded"] == eo["excluded"]
    text = str(res.summary())
    assert "INSUFFICIENT" in text and "F & Black: FPR 1.000 on 2 defaulters" in text
    assert "fpr (2 defaulters)" in text
    html = res.to_html()
    assert "INSUFFICIENT" in html and "F &amp; Black: FPR 1.000 on 2 defaulters" in html
    assert "no pass/fail verdict" in html


def test_group_with_enough_data_still_fails_as_before():
    """Two groups with 100 defaulters each, FPR 0.20 vs 0.50: eo FAILs with the same value and interval."""
    df = pd.concat([_block("F", "A", 400, 320, 100, 20), _block("M", "A", 400, 330, 100, 50)], ignore_index=True)
    kw = {"n_boot": 300, "random_state": 1}
    old = audit(None, df["y"], df["sex"], decision=df["approved"], cutoff=None, min_rate_denominator=1, **kw)
    new = audit(None, df["y"], df["sex"], decision=df["approved"], cutoff=None, **kw)
    pd.testing.assert_frame_equal(old.gaps.drop(columns=["excluded"]), new.gaps.drop(columns=["excluded"]))
    eo = new.gap("sex", "eo")
    assert eo["status"] == "FAIL" and eo["value"] == pytest.approx(0.30, abs=TOL) and eo["n_excluded"] == 0
    creditworthy, approved = 1 - df["y"].to_numpy(), df["approved"].to_numpy()
    assert eo["value"] == pytest.approx(equalized_odds_difference(creditworthy, approved,
                                                                  sensitive_features=df["sex"]), abs=TOL)


def test_sufficient_groups_values_equal_fairlearn_on_the_qualifying_rows():
    """Random groups, some with few defaulters: every gap equals Fairlearn's on the groups that qualify,
    and gaps that leave nothing out are unchanged (value and interval) from the former behaviour."""
    rng = np.random.default_rng(11)
    n = 6000
    g = rng.choice(["a", "b", "c", "d", "e"], n, p=[0.4, 0.3, 0.2, 0.07, 0.03])
    pd_ = np.clip(rng.beta(1.5, 20, n) + 0.05 * (g == "a") - 0.03 * (g == "d"), 0, 1)
    y = (rng.random(n) < pd_).astype(int)
    cut = float(np.quantile(pd_, 0.8))
    kw = {"cutoff": cut, "n_boot": 200, "random_state": 3, "intersections": False}
    new = audit(pd_, y, {"g": g}, **kw)
    old = audit(pd_, y, {"g": g}, min_rate_denominator=1, **kw)
    pd.testing.assert_frame_equal(new.by_group.drop(columns=["tpr_status", "fpr_status", "precision_status"]),
                                  old.by_group.drop(columns=["tpr_status", "fpr_status", "precision_status"]))
    rows = new.by_group.set_index("group")
    assert (rows["fpr_status"] == "insufficient").any() and (rows["fpr_status"] == "ok").sum() >= 2
    creditworthy, approved = 1 - y, (pd_ < cut).astype(int)
    fpr_ok = rows.index[(rows["fpr_status"] == "ok") & (rows["tpr_status"] == "ok") & ~rows["small"]]
    tpr_ok = rows.index[(rows["tpr_status"] == "ok") & ~rows["small"]]
    m_eo, m_tpr = np.isin(g, fpr_ok), np.isin(g, tpr_ok)
    assert new.gap("g", "eo")["value"] == pytest.approx(
        equalized_odds_difference(creditworthy[m_eo], approved[m_eo], sensitive_features=g[m_eo]), abs=TOL)
    assert new.gap("g", "eod")["value"] == pytest.approx(
        equal_opportunity_difference(creditworthy[m_tpr], approved[m_tpr], sensitive_features=g[m_tpr]), abs=TOL)
    mf = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate}, y_true=creditworthy,
                     y_pred=approved, sensitive_features=g)
    np.testing.assert_allclose(rows.loc[mf.by_group.index, ["tpr", "fpr"]].to_numpy(float),
                               mf.by_group.to_numpy(float), atol=TOL)
    same = new.gaps["n_excluded"] == 0
    assert same.sum() >= 3
    cols = ["gap", "value", "ci_low", "ci_high", "status", "low_group", "high_group"]
    pd.testing.assert_frame_equal(new.gaps.loc[same, cols], old.gaps.loc[same, cols])


def test_strata_difference_and_settings(demo_like):
    ctrl = np.where(np.arange(len(demo_like)) % 3 == 0, "2019", "2020")  # a third / two thirds of each cell
    res = audit(None, demo_like["y"], {"sex": demo_like["sex"], "race": demo_like["race"]},
                decision=demo_like["approved"], cutoff=None, control=ctrl, n_boot=0)
    # in 2019 no (sex, race) cell has 30 defaulters (the White cells 20 each): no eo verdict there;
    # in 2020 the White cells have 40 each
    gs = res.gaps_by_stratum
    eo = gs[(gs["gap"] == "eo") & (gs["attribute"] == "sex & race")].set_index("stratum")
    assert eo.loc["2019", "status"] == "INSUFFICIENT" and eo.loc["2020", "status"] in ("PASS", "FAIL")
    assert {e["group"] for e in eo.loc["2020", "excluded"]} >= {"F & Black", "F & Other"}
    # difference() leaves insufficient rates out unless asked
    d = res.difference("fpr", attribute="sex & race")
    assert {d["high_group"].iloc[0], d["low_group"].iloc[0]} == {"F & White", "M & White"}
    d_all = res.difference("fpr", attribute="sex & race", include_small=True)
    assert d_all["value"].iloc[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="min_rate_denominator must be a positive integer"):
        _audit(demo_like, min_rate_denominator=0)


def test_what_if_report_gaps_leave_out_rates_on_few_applicants(demo_like):
    """The post-processing reports' gaps follow the same floor (min_group_size on each rate's denominator)."""
    from apcfair.audit._validate import check_groups
    from apcfair.audit.postprocess import _variant

    labels = check_groups({"g": demo_like["sex"] + " & " + demo_like["race"]}, len(demo_like))["g"]
    p, y = demo_like["approved"].to_numpy(float), demo_like["y"].to_numpy()
    row, _ = _variant("before", p, y, labels, 30)
    assert row["eo"] == pytest.approx(0.05, abs=TOL)          # the White cells only
    row_all, _ = _variant("before", p, y, labels, 1)
    assert row_all["eo"] == pytest.approx(1.0)                # FPR 1.0 on 2 vs 0.0 on 1 defaulter
