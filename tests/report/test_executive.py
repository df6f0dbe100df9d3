"""The report's executive summary and sections on small hand-made results: the keys newer
result files carry are shown when present, older files give the same report without them,
and vintages are ranked only where their bands support it."""

from __future__ import annotations

import json

import pytest

from apcfair import layout
from apcfair.report import write_report
from apcfair.report.html import rank_by_band

MODELS = ("credit", "credit_with_restricted_offset", "credit_restricted_zero", "credit_restricted_mean")


def _rows(new_keys: bool) -> list[dict]:
    rows = []
    for s in ("in", "out"):
        for k, m in enumerate(MODELS):
            dep = {"corr": 0.08 - 0.01 * (m == "credit_restricted_zero"), "dcor": 0.09, "auc_group": 0.55,
                   "air": {"air": 0.93}}
            cal = {"expected_defaults": 300.0 + k, "actual_defaults": 310, "expected_over_actual": (300.0 + k) / 310}
            if new_keys:
                dep["change_vs_credit"] = {"value": -0.01, "lower": -0.02, "upper": 0.004}
                cal["by_group"] = {"minority": [{"group": "0", "n": 900, "expected_over_actual": 1.02, "lower": 0.95, "upper": 1.1},
                                                {"group": "1", "n": 300, "expected_over_actual": 0.82, "lower": 0.7, "upper": 0.95}]}
            rows.append({"model": m, "sample": s, "auc": 0.74 + 0.001 * k, "gini": 0.48, "auc_lower": 0.71,
                         "auc_upper": 0.77, "calibration": cal, "dependence": {"minority": dep}})
    return rows


def _folder(tmp_path, new_keys: bool):
    (tmp_path / layout.COMPARISON).write_text(json.dumps(_rows(new_keys)))
    cost = {s: {"auc_a": 0.742, "auc_b": 0.741, "difference": 0.001, "lower": -0.0012, "upper": 0.0031,
                "p_value": 0.4, "method": "DeLong (paired)"} for s in ("in", "out")}
    meta = {"cost_of_fairness": cost, "settings": {"horizon": 36, "approval_rate": 0.8}}
    if new_keys:
        meta["costs"] = {"traditional_vs_zero": cost,
                         "offset_vs_zero": {s: {**cost[s], "difference": 0.0061, "lower": 0.002, "upper": 0.0102,
                                                "p_value": 0.003} for s in ("in", "out")}}
    (tmp_path / layout.COST_OF_FAIRNESS).write_text(json.dumps(meta))
    sc = {"month": ["2020-01", "2020-02"], "pd": [0.001, 0.002], "pd_lower": [0.0008, 0.0015],
          "pd_upper": [0.0012, 0.0026], "cumulative_pd": 0.05, "cumulative_pd_lower": 0.04, "cumulative_pd_upper": 0.061,
          "expected_defaults": [10.0, 20.0]}
    stress = {"scenarios": {"baseline": sc}, "horizon": 2, "credible_level": 0.95}
    if new_keys:
        sc |= {"cumulative_pd_median": 0.049, "cumulative_pd_quantiles": {"0.05": 0.041, "0.25": 0.045,
                                                                          "0.75": 0.054, "0.95": 0.06}}
        stress["drivers"] = [{"name": "unemployment_change", "transform": "level", "coefficient": 0.2052,
                              "lower": 0.17, "upper": 0.24, "p_value": 1e-30, "expected_sign": "+", "warning": ""},
                             {"name": "gdp_growth", "transform": "level", "coefficient": 0.02, "lower": -0.01,
                              "upper": 0.05, "p_value": 0.2, "expected_sign": "-", "warning": "wrong sign"}]
    (tmp_path / layout.STRESS_JSON).write_text(json.dumps(stress))
    return tmp_path


def _text(path) -> str:
    return path.read_text()


def test_older_results_give_the_report_without_the_new_keys(tmp_path):
    html = _text(write_report(_folder(tmp_path, new_keys=False)))
    assert "Cost against today&#39;s model (out of sample): AUC 0.7420 → 0.7410, cost +0.0010 [-0.0012, +0.0031]" in html
    assert "No interval for the change" in html
    assert "baseline: 5.00% [4.00%, 6.10%]" in html
    assert "What the restricted term carried" not in html and "Calibration by protected group" not in html


def test_new_keys_are_rendered_when_present(tmp_path):
    html = _text(write_report(_folder(tmp_path, new_keys=True)))
    assert "What the restricted term carried (out of sample): AUC 0.7420 → 0.7410, cost +0.0061 [+0.0020, +0.0102]" in html
    assert "change -0.010 [-0.020, +0.004] (not significant: interval includes 0)" in html
    assert "by minority: from 0.82 [0.70, 0.95] (1) to 1.02 [0.95, 1.10] (0)" in html
    assert "Calibration by protected group" in html
    assert "Macro drivers of the environment" in html and "wrong sign" in html
    assert "5%–95% of draws" in html and "4.10% to 6.00%" in html


def test_vintages_are_ranked_only_where_bands_support_it():
    recs = [{"index": "2019-09", "mean": 0.10, "lower": -0.2, "upper": 0.4},
            {"index": "2019-10", "mean": 0.20, "lower": 0.05, "upper": 0.35},
            {"index": "2019-11", "mean": 0.36, "lower": -0.02, "upper": 0.77},
            {"index": "2019-12", "mean": 0.90, "lower": 0.10, "upper": 1.90}]
    months = {"2019-09": 30, "2019-10": 14, "2019-11": 13, "2019-12": 1}
    r = rank_by_band(recs, months)
    assert [x["index"] for x in r["above"]] == ["2019-10"]  # 2019-11's band crosses 0, 2019-12 has one month
    assert r["unranked"] == ["2019-12"] and r["n"] == 3
    assert rank_by_band(recs)["above"][0]["index"] == "2019-12"  # without data counts, the band alone decides


@pytest.mark.parametrize("band_crosses_zero", [True, False])
def test_apc_prose_names_a_riskiest_vintage_only_with_support(tmp_path, band_crosses_zero):
    comp = [{"index": f"2019-{m:02d}", "mean": 0.1 * m - 0.6, "lower": 0.1 * m - 0.6 - (2 if band_crosses_zero else 0.05),
             "upper": 0.1 * m - 0.6 + 2} for m in range(1, 13)]
    apc = {"lifecycle": [{"index": 1, "mean": 0.2, "lower": 0.1, "upper": 0.3}], "vintage": comp, "environment": comp,
           "intercept": {"mean": -7.0, "lower": -7.2, "upper": -6.8}, "identification": "Assumption: none.",
           "settings": {"engine": "laplace", "likelihood": "binomial", "rw_orders": [2, 2, 2]}, "diagnostics": {}}
    (tmp_path / layout.APC_JSON).write_text(json.dumps(apc))
    html = _text(write_report(tmp_path))
    if band_crosses_zero:
        assert "no vintage can be called the riskiest" in html
    else:
        assert "the highest point estimate among\nthem is 2019-12 (+0.60 [+0.55, +2.60])" in html


def test_audit_gap_without_verdict_names_the_groups_left_out(tmp_path):
    """An INSUFFICIENT gap (too few defaulters in a group) is named with its left-out groups in the
    summary card and in the audit section, instead of only saying INSUFFICIENT."""
    import numpy as np

    from apcfair.audit import audit

    rng = np.random.default_rng(3)
    n = 3000
    group = np.where(rng.random(n) < 0.02, "tiny", np.where(rng.random(n) < 0.5, "A", "B"))
    y = rng.random(n) < 0.1
    y[group == "tiny"] = False
    y[np.flatnonzero(group == "tiny")[:2]] = True  # two defaulters: the TPR/FNR of "tiny" rests on 2 accounts
    pd_ = np.clip(0.1 + 0.2 * y + rng.normal(0, 0.05, n), 0.001, 0.999)
    res = audit(pd_, y, group, cutoff=0.2, n_boot=50, min_rate_denominator=30)
    res.save(tmp_path / layout.AUDIT_JSON)
    gaps = json.loads((tmp_path / layout.AUDIT_JSON).read_text())["gaps"]
    left = [g for by in gaps.values() for g in by.values() if isinstance(g, dict) and g.get("excluded")]
    assert left, "the fixture must leave a group out of some gap"
    text = write_report(tmp_path).read_text()
    assert "tiny:" in text  # the left-out group is named with its rate and denominator
    assert "groups left out" in text
