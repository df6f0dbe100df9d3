"""A PD score and the equivalent approval score give the same audit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.audit import audit


def test_pd_and_approval_score_give_same_audit(scored):
    d = scored["test"]
    c = scored["cutoff"]
    groups = d[["group", "age_band"]]
    a = audit(d["pd"], d["default"], groups, cutoff=c, n_boot=200, random_state=5)
    b = audit(1 - d["pd"], d["default"], groups, cutoff=1 - c, polarity="approval", n_boot=200, random_state=5)
    cols = ["attribute", "group", "n", "base_rate", "approval_rate", "approval_rate_ci_low", "tpr", "tpr_ci_high",
            "fpr", "precision", "accuracy", "auc", "small"]
    pd.testing.assert_frame_equal(a.by_group[cols], b.by_group[cols], atol=1e-12)
    np.testing.assert_allclose(a.by_group["ece"], b.by_group["ece"], atol=1e-9)
    pd.testing.assert_frame_equal(a.gaps, b.gaps, atol=1e-12)
    pd.testing.assert_frame_equal(a.tests, b.tests, atol=1e-9)
    for k in ("auc", "gini", "ks", "brier", "ece"):
        assert a.performance[k] == pytest.approx(b.performance[k], abs=1e-9)
    assert a.conventions["decision_rule"] != b.conventions["decision_rule"]


def test_decision_rule_at_the_cutoff():
    y = np.array([0, 1, 0, 1, 0, 1])
    g = np.array(["a", "a", "a", "b", "b", "b"])
    pd_ = np.array([0.2, 0.5, 0.8, 0.2, 0.5, 0.8])
    res = audit(pd_, y, g, cutoff=0.5, min_group_size=1, n_boot=0)
    # PD below the cut-off is approved, PD at the cut-off is not
    assert res.overall["approval_rate"].iloc[0] == pytest.approx(2 / 6)
    res2 = audit(1 - pd_, y, g, cutoff=0.5, polarity="approval", min_group_size=1, n_boot=0)
    # an approval score at the cut-off is approved (score >= cutoff)
    assert res2.overall["approval_rate"].iloc[0] == pytest.approx(4 / 6)
