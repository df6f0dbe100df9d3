"""Tests, effect size, power and the cell bootstrap against scipy and row resampling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from apcfair.audit import audit, contingency_test, cramers_v, min_detectable_gap
from apcfair.audit.groups import _range
from apcfair.audit.metrics import impact_ratio, rates
from apcfair.audit.stats import BOOTSTRAP_METHOD, bca_interval, bootstrap_counts


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


# -- BCa intervals -------------------------------------------------------------------------------
BCA_COUNTS = np.array([[30.0, 6, 12, 7], [22, 9, 15, 14], [8, 2, 3, 5]])
BCA_STATISTICS = {
    "tpr difference": lambda c: rates(c)["tpr"][..., 0] - rates(c)["tpr"][..., 1],
    "impact ratio": lambda c: impact_ratio(rates(c)["approval_rate"][..., 1], rates(c)["approval_rate"][..., 0]),
    "one group's approval rate": lambda c: rates(c)["approval_rate"][..., 2],
    "equalized odds (range)": lambda c: np.fmax(_range(rates(c)["tpr"], np.ones(3, bool)),
                                                 _range(rates(c)["fpr"], np.ones(3, bool))),
}


def _cells_of(*samples, axis=-1):
    """Confusion cells (..., n_groups, 4) from per-group arrays of cell labels 0..3 (scipy's data)."""
    return np.stack([np.stack([(x == k).sum(axis=axis) for k in range(4)], -1) for x in samples], -2).astype(float)


def _rows(counts):
    return [np.repeat(np.arange(4), c.astype(int)) for c in counts]


@pytest.mark.parametrize("name", list(BCA_STATISTICS))
def test_bca_equals_scipy_bca_on_the_same_replicates(name):
    """Same replicates given to scipy.stats.bootstrap(method="BCa"): identical interval (tolerance 1e-12).

    scipy resamples each group (one sample per group, as the audit's within-group bootstrap) and
    computes the acceleration by its row jackknife; ours takes one jackknife value per cell.
    """
    import types

    f = BCA_STATISTICS[name]
    draws = f(bootstrap_counts(BCA_COUNTS, 3000, np.random.default_rng(1)))
    ours = bca_interval(f, BCA_COUNTS, draws, ci=0.95)
    ref = stats.bootstrap(_rows(BCA_COUNTS), lambda *xs, axis=-1: f(_cells_of(*xs, axis=axis)), n_resamples=0,
                          bootstrap_result=types.SimpleNamespace(bootstrap_distribution=draws), method="BCa",
                          confidence_level=0.95, vectorized=True).confidence_interval
    assert ours == pytest.approx(tuple(ref), abs=1e-12)


def test_audit_gap_interval_matches_a_brute_force_row_bootstrap():
    """The audit's SPD interval (cells, 20,000 replicates) against scipy's own BCa row bootstrap (20,000
    resamples of the rows within each group): interval ends agree within 0.01 (Monte-Carlo error of
    the 2.5% / 97.5% quantiles at this size is about 0.003)."""
    rng = np.random.default_rng(5)
    n = 300
    group = np.repeat(["a", "b"], [n, n // 2])
    y = (rng.random(group.size) < np.where(group == "a", 0.2, 0.3)).astype(int)
    score = np.clip(0.25 + 0.3 * (y - 0.25) + rng.normal(0, 0.2, group.size), 0, 1)
    res = audit(score, y, {"g": group}, cutoff=0.3, n_boot=20_000, random_state=0, intersections=False)
    gap = res.gaps.set_index("gap").loc["spd"]
    approved = score < 0.3
    cell = np.where(approved, np.where(y == 0, 0, 1), np.where(y == 0, 2, 3))
    high, low = gap["high_group"], gap["low_group"]

    def spd(x_high, x_low, axis=-1):
        return np.mean(x_high <= 1, axis=axis) - np.mean(x_low <= 1, axis=axis)  # cells 0, 1 = approved

    ref = stats.bootstrap((cell[group == high], cell[group == low]), spd, n_resamples=20_000, method="BCa",
                          random_state=1, vectorized=True).confidence_interval
    assert gap["value"] == pytest.approx(spd(cell[group == high], cell[group == low]))
    assert (gap["ci_low"], gap["ci_high"]) == pytest.approx(tuple(ref), abs=0.01)
    assert res.settings["bootstrap"] == BOOTSTRAP_METHOD and "BCa" in BOOTSTRAP_METHOD


def test_bca_falls_back_to_percentile_when_the_estimate_is_outside_every_replicate():
    counts = np.array([[10.0, 0, 0, 0], [5, 0, 5, 0]])
    f = BCA_STATISTICS["tpr difference"]  # 0.5 here; every replicate given above it
    draws = np.linspace(0.6, 0.9, 101)
    lo, hi = bca_interval(f, counts, draws)
    assert lo == pytest.approx(np.quantile(draws, 0.025)) and hi == pytest.approx(np.quantile(draws, 0.975))
    assert np.isnan(bca_interval(f, counts, np.full(10, np.nan))).all()
