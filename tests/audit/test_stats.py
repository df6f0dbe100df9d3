"""Tests, effect size, power and the cell bootstrap against scipy and row resampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from apcfair.audit import audit, contingency_test, cramers_v, min_detectable_gap
from apcfair.audit.metrics import rates
from apcfair.audit.stats import bootstrap_counts


def test_chi2_matches_scipy_without_correction():
    t = np.array([[120, 80], [60, 90], [30, 40]])
    res = contingency_test(t)
    chi2, p, dof, _ = stats.chi2_contingency(t, correction=False)
    assert res["test"] == "chi2"
    assert res["statistic"] == pytest.approx(chi2)
    assert res["p_value"] == pytest.approx(p)
    assert res["dof"] == dof
    assert res["cramers_v"] == pytest.approx(np.sqrt(chi2 / (t.sum() * 1)))


def test_fisher_for_sparse_2x2_and_monte_carlo_for_sparse_rxc():
    t = np.array([[8, 2], [1, 5]])
    res = contingency_test(t)
    assert res["test"] == "fisher"
    assert res["p_value"] == pytest.approx(stats.fisher_exact(t).pvalue)
    t3 = np.array([[8, 2], [1, 5], [3, 3]])
    r1 = contingency_test(t3, random_state=1)
    r2 = contingency_test(t3, random_state=1)
    assert r1["test"] == "chi2_monte_carlo" and r1["p_value"] == r2["p_value"]
    # the Monte-Carlo chi-square p-value is close to the exact conditional (Fisher r x c) one
    if tuple(int(v) for v in __import__("scipy").__version__.split(".")[:2]) >= (1, 15):
        assert r1["p_value"] == pytest.approx(stats.fisher_exact(t3).pvalue, abs=0.02)


def test_cramers_v_and_no_variation():
    assert cramers_v(10.0, 100, (2, 2)) == pytest.approx(np.sqrt(0.1))
    assert cramers_v(10.0, 100, (3, 4)) == pytest.approx(np.sqrt(10 / (100 * 2)))
    res = contingency_test(np.array([[10, 0], [20, 0]]))
    assert res["p_value"] == 1.0 and "no variation" in res["note"]


def test_min_detectable_gap_formula():
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert min_detectable_gap(60, 140, 0.75) == pytest.approx(z * np.sqrt(0.75 * 0.25 * (1 / 60 + 1 / 140)))
    assert np.isnan(min_detectable_gap(0, 10, 0.5))


def test_cell_bootstrap_matches_row_resampling():
    rng = np.random.default_rng(0)
    counts = np.array([[300.0, 40, 60, 100]])
    b = rates(bootstrap_counts(counts, 4000, rng))["tpr"][:, 0]
    rows = np.repeat(np.arange(4), counts[0].astype(int))
    draws = []
    for _ in range(2000):
        s = rng.choice(rows, size=rows.size, replace=True)
        c = np.bincount(s, minlength=4)
        draws.append(c[0] / (c[0] + c[2]))
    assert b.mean() == pytest.approx(np.mean(draws), abs=0.003)
    assert b.std() == pytest.approx(np.std(draws), rel=0.08)


def test_audit_tests_and_power_tables(scored):
    d = scored["test"].iloc[:800]
    res = audit(d["pd"], d["default"], {"group": d["group"], "age_band": d["age_band"]}, cutoff=scored["cutoff"],
                n_boot=0, intersections=False)
    t = res.tests.set_index(["attribute", "outcome"])
    assert t.loc[("group", "approval"), "p_value"] < 1e-6
    assert {"approval", "approval_among_creditworthy"} == set(res.tests["outcome"])
    pw = res.power[res.power["attribute"] == "age_band"].set_index("group")
    assert pw.loc["61+", "mde_approval_rate"] > pw.loc["26-40", "mde_approval_rate"]
    assert "not reliably detectable" in pw.loc["61+", "note"]
