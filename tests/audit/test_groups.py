"""Group metrics, gaps, intersections and strata; reference values from Fairlearn on the raw rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score, precision_score

from apcfair.audit import audit

TOL = 1e-12


def test_group_metrics_equal_fairlearn_on_raw_rows(scored):
    d = scored["test"]
    c = scored["cutoff"]
    res = audit(d["pd"], d["default"], {"age_band": d["age_band"]}, cutoff=c, min_group_size=1, n_boot=0)
    approved = (d["pd"] < c).astype(int).to_numpy()
    creditworthy = 1 - d["default"].to_numpy()
    mf = MetricFrame(
        metrics={"n": count, "approval_rate": selection_rate, "tpr": true_positive_rate, "fpr": false_positive_rate,
                 "precision": lambda a, b: precision_score(a, b, zero_division=np.nan), "accuracy": accuracy_score},
        y_true=creditworthy, y_pred=approved, sensitive_features=d["age_band"],
    )
    ours = res.by_group.set_index("group")
    ref = mf.by_group
    for col in ref.columns:
        np.testing.assert_allclose(ours.loc[ref.index, col].to_numpy(float), ref[col].to_numpy(float), atol=TOL)
    gaps = res.gaps.set_index("gap")["value"]
    kw = {"sensitive_features": d["age_band"]}
    assert gaps["spd"] == pytest.approx(demographic_parity_difference(creditworthy, approved, **kw), abs=TOL)
    assert gaps["dir"] == pytest.approx(demographic_parity_ratio(creditworthy, approved, **kw), abs=TOL)
    assert gaps["eod"] == pytest.approx(equal_opportunity_difference(creditworthy, approved, **kw), abs=TOL)
    assert gaps["eo"] == pytest.approx(equalized_odds_difference(creditworthy, approved, **kw), abs=TOL)
    # overall rates as Fairlearn's overall
    for col in ("approval_rate", "tpr", "fpr", "accuracy"):
        assert res.overall[col].iloc[0] == pytest.approx(mf.overall[col], abs=TOL)


def test_favourable_outcome_explicit_hand_counts():
    # group a: 10 creditworthy (8 approved), 5 defaulters (1 approved); group b: 10 creditworthy (5), 10 defaulters (5)
    y = np.r_[np.zeros(10), np.ones(5), np.zeros(10), np.ones(10)].astype(int)
    approved = np.r_[np.ones(8), np.zeros(2), np.ones(1), np.zeros(4), np.ones(5), np.zeros(5), np.ones(5), np.zeros(5)]
    pd_ = np.where(approved == 1, 0.1, 0.9)
    g = np.r_[["a"] * 15, ["b"] * 20]
    res = audit(pd_, y, g, cutoff=0.5, min_group_size=1, n_boot=0)
    a = res.by_group.set_index("group").loc["a"]
    assert a["tpr"] == pytest.approx(0.8)          # P(approved | creditworthy)
    assert a["fpr"] == pytest.approx(0.2)          # P(approved | default)
    assert a["precision"] == pytest.approx(8 / 9)  # P(creditworthy | approved)
    assert a["base_rate"] == pytest.approx(5 / 15)  # default rate
    assert a["approval_rate"] == pytest.approx(9 / 15)
    assert a["accuracy"] == pytest.approx((8 + 4) / 15)
    assert res.gap("group", "eod")["value"] == pytest.approx(0.8 - 0.5)
    assert res.gap("group", "eod")["low_group"] == "b"
    assert "creditworthy" in res.conventions["positive_class"]


def test_decisions_instead_of_scores():
    rng = np.random.default_rng(1)
    y, d, g = rng.integers(0, 2, 300), rng.integers(0, 2, 300), rng.choice(["x", "y"], 300)
    res = audit(None, y, g, decision=d, n_boot=0)
    assert np.isnan(res.performance["auc"])
    assert res.overall["approval_rate"].iloc[0] == pytest.approx(d.mean())


def test_intersections_small_groups_and_thresholds(scored):
    d = scored["test"].iloc[:600]
    res = audit(d["pd"], d["default"], d[["group", "age_band"]], cutoff=scored["cutoff"], n_boot=50,
                thresholds={"spd": 0.05})
    assert res.attributes == ["group", "age_band", "group & age_band"]
    inter = res.by_group[res.by_group["attribute"] == "group & age_band"]
    assert inter["n"].sum() == len(d)
    assert set(inter["group"]) <= {f"{a} & {b}" for a in ("protected", "reference")
                                   for b in ("18-25", "26-40", "41-60", "61+")}
    small = inter[inter["small"]]
    assert (small["n"] < 30).all() and len(small) >= 1
    gi = res.gaps[res.gaps["attribute"] == "group & age_band"].set_index("gap")
    assert not set(small["group"]) & {gi.loc["spd", "low_group"], gi.loc["spd", "high_group"]}
    assert res.gap("group", "spd")["threshold"] == 0.05
    assert res.gap("group", "dir")["threshold"] == 0.80
    # the pass/fail rule: ratio < threshold or |difference| > threshold fails
    for _, r in res.gaps.dropna(subset=["value"]).iterrows():
        fail = r["value"] < r["threshold"] if r["kind"] == "ratio" else abs(r["value"]) > r["threshold"]
        assert r["status"] == ("FAIL" if fail else "PASS")


def test_no_eligible_pair_gives_na():
    rng = np.random.default_rng(2)
    y, s = rng.integers(0, 2, 60), rng.random(60)
    g = np.r_[["a"] * 50, ["b"] * 10]
    res = audit(s, y, g, min_group_size=30, n_boot=0)
    assert (res.gaps["status"] == "N/A").all()
    assert "fewer than two groups" in res.gap("group", "spd")["note"]


def test_strata_match_subset_audits(scored):
    d = scored["test"]
    c = scored["cutoff"]
    res = audit(d["pd"], d["default"], {"group": d["group"]}, cutoff=c, control=d["vintage"], n_boot=0)
    assert set(res.by_stratum["stratum"]) == {"2019", "2020", "2021"}
    sub = d[d["vintage"] == 2020]
    ref = audit(sub["pd"], sub["default"], {"group": sub["group"]}, cutoff=c, n_boot=0)
    ours = res.by_stratum[res.by_stratum["stratum"] == "2020"].set_index("group")
    theirs = ref.by_group.set_index("group")
    for col in ("n", "approval_rate", "tpr", "fpr", "precision", "auc"):
        np.testing.assert_allclose(ours[col].to_numpy(float), theirs.loc[ours.index, col].to_numpy(float))
    g20 = res.gaps_by_stratum[res.gaps_by_stratum["stratum"] == "2020"].set_index("gap")["value"]
    pd.testing.assert_series_equal(g20, ref.gaps.set_index("gap")["value"], check_names=False)


def test_difference_and_ratio_methods(scored):
    d = scored["test"]
    res = audit(d["pd"], d["default"], {"group": d["group"]}, cutoff=scored["cutoff"], n_boot=0)
    between = res.difference("approval_rate")
    assert between["value"].iloc[0] == pytest.approx(res.gap("group", "spd")["value"])
    assert res.ratio()["value"].iloc[0] == pytest.approx(res.gap("group", "dir")["value"])
    signed = res.difference("tpr", method="to_reference", reference="reference").set_index("group")["value"]
    bg = res.by_group.set_index("group")["tpr"]
    assert signed["protected"] == pytest.approx(bg["protected"] - bg["reference"])
    assert signed["reference"] == 0
    to_all = res.difference(method="to_overall").set_index("group")["value"]
    assert to_all["protected"] == pytest.approx(bg.pipe(lambda _: res.by_group.set_index("group")["approval_rate"])
                                                ["protected"] - res.overall["approval_rate"].iloc[0])
    with pytest.raises(ValueError, match="reference group 'nope' not found"):
        res.difference(method="to_reference", reference="nope", attribute="group")
    with pytest.raises(ValueError, match="method='wrong' is not allowed"):
        res.difference(method="wrong")


def test_bootstrap_intervals_seeded_and_cover_estimate(scored):
    d = scored["test"]
    kw = {"cutoff": scored["cutoff"], "n_boot": 300}
    r1 = audit(d["pd"], d["default"], {"group": d["group"]}, random_state=3, **kw)
    r2 = audit(d["pd"], d["default"], {"group": d["group"]}, random_state=3, **kw)
    r3 = audit(d["pd"], d["default"], {"group": d["group"]}, random_state=4, **kw)
    pd.testing.assert_frame_equal(r1.gaps, r2.gaps)
    assert not r1.gaps["ci_low"].equals(r3.gaps["ci_low"])
    g = r1.gaps.dropna(subset=["ci_low"])
    assert ((g["ci_low"] <= g["value"] + 1e-9) & (g["value"] <= g["ci_high"] + 1e-9)).all()
    assert set(r1.gaps["gap"]) == {"dir", "spd", "eod", "eo", "ppd", "accuracy_gap"}
    bg = r1.by_group
    assert ((bg["approval_rate_ci_low"] <= bg["approval_rate"]) & (bg["approval_rate"] <= bg["approval_rate_ci_high"])).all()


def test_rates_from_cells_equal_the_fairlearn_metric_frame_bit_for_bit(scored):
    """The audit takes its rates from the confusion cells (no MetricFrame per attribute and
    stratum); they equal Fairlearn's MetricFrame on the cells (``metric_frame``, which the
    audit used before) exactly, overall groups and within each stratum."""
    from apcfair.audit.groups import metric_frame

    d = scored["test"]
    rng = np.random.default_rng(3)
    stratum = rng.integers(0, 3, len(d))
    res = audit(d["pd"], d["default"], {"age_band": d["age_band"]}, cutoff=scored["cutoff"], min_group_size=1,
                n_boot=0, control=stratum)

    class Inp:
        creditworthy = 1 - d["default"].to_numpy()
        approved = (d["pd"].to_numpy() < scored["cutoff"]).astype(int)

    labels = pd.Categorical(d["age_band"].astype(str))
    cols = ["base_rate", "approval_rate", "tpr", "fpr", "precision", "accuracy"]
    ref = metric_frame(Inp, labels).by_group
    ours = res.by_group.set_index("group")
    np.testing.assert_array_equal(ours.loc[ref.index, cols].to_numpy(float), ref[cols].to_numpy(float))
    ref_s = metric_frame(Inp, labels, control=pd.Categorical(stratum.astype(str))).by_group
    for (st, g), row in res.by_stratum.set_index(["stratum", "group"])[cols].iterrows():
        np.testing.assert_array_equal(row.to_numpy(float), ref_s.loc[(str(st), g), cols].to_numpy(float))


def test_intervals_from_shared_replicate_rates_equal_the_former_per_statistic_pass():
    """Gaps and group rows take every replicate's rates once (``rates(boot)``) and slice them;
    the intervals equal the former code, which recomputed the rates of all replicates for
    each statistic (kept here), exactly."""
    from apcfair.audit.groups import DEFAULT_THRESHOLDS, GAP_SPECS, _range, compute_gaps, group_rows
    from apcfair.audit.metrics import highest_and_lowest, impact_ratio, rates
    from apcfair.audit.stats import bca_interval, bootstrap_counts

    rng = np.random.default_rng(5)
    counts = rng.integers(5, 400, size=(6, 4)).astype(float)
    counts[5, 1] = counts[5, 3] = 0.0                 # a group with no defaulters: FPR undefined
    boot = bootstrap_counts(counts, 300, np.random.default_rng(1))
    groups = [f"g{i}" for i in range(6)]
    eligible = np.ones(6, bool)
    rows = compute_gaps(counts, groups, eligible, DEFAULT_THRESHOLDS, boot)
    r = rates(counts)
    for row, (name, (metric, kind)) in zip(rows, GAP_SPECS.items(), strict=True):
        assert row["gap"] == name
        if kind == "max_difference":
            def stat(c):
                rc = rates(c)
                return np.fmax(_range(rc["tpr"], eligible), _range(rc["fpr"], eligible))
        else:
            ok = eligible & np.isfinite(r[metric])
            hi, lo = highest_and_lowest(r[metric], ok)

            def stat(c, metric=metric, kind=kind, hi=hi, lo=lo):
                v = rates(c)[metric]
                return impact_ratio(v[..., lo], v[..., hi]) if kind == "ratio" else v[..., hi] - v[..., lo]
        assert (row["ci_low"], row["ci_high"]) == bca_interval(stat, counts, stat(boot), 0.95)
    table = group_rows(counts, groups, boot, 0.95, 1)
    for m in ("approval_rate", "tpr"):
        for g in range(6):
            def one(c, m=m, g=g):
                return rates(c)[m][..., g]
            assert (table[f"{m}_ci_low"][g], table[f"{m}_ci_high"][g]) == bca_interval(one, counts, one(boot), 0.95)
