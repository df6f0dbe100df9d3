"""Bad input gets one clear ValueError naming the problem and the fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.audit import audit, performance


def test_length_mismatch(small):
    with pytest.raises(ValueError, match=r"length mismatch: score has 400, y has 399 rows"):
        audit(small["score"], small["y"][:-1], small["g"])
    with pytest.raises(ValueError, match=r"length mismatch: .*groups\['group'\] has 399"):
        audit(small["score"], small["y"], small["g"][:-1])


def test_nan_groups(small):
    g = pd.Series(small["g"], name="sex").where(np.arange(400) % 50 != 0)
    with pytest.raises(ValueError, match=r"group column 'sex' has 8 missing or empty labels \(rows 0, 50, 100"):
        audit(small["score"], small["y"], g)
    g2 = small["g"].astype(object)
    g2[3] = ""
    with pytest.raises(ValueError, match="missing or empty labels"):
        audit(small["score"], small["y"], {"g": g2})


def test_single_group(small):
    with pytest.raises(ValueError, match=r"group column 'region' has a single group \('north'\): a fairness audit "
                                         "compares at least two groups"):
        audit(small["score"], small["y"], {"region": np.full(400, "north")})


def test_empty_group(small):
    g = pd.Series(pd.Categorical(small["g"], categories=["a", "b", "c", "d"]), name="band")
    with pytest.raises(ValueError, match=r"group column 'band' has 1 empty group\(s\) with no applicants: \['d'\]"):
        audit(small["score"], small["y"], g)


def test_pd_scores_outside_unit_interval(small):
    s = small["score"].copy()
    s[:3] = [1.2, -0.1, 650]
    with pytest.raises(ValueError, match=r"score has 3 values outside \[0, 1\] .* polarity='pd' expects "
                                         "probabilities of default"):
        audit(s, small["y"], small["g"])
    # an approval (points) score may be outside [0, 1]
    res = audit(s * 100, small["y"], small["g"], polarity="approval", cutoff=50, n_boot=0)
    assert np.isnan(res.performance["brier"]) and np.isfinite(res.performance["auc"])


def test_outcome_and_score_problems(small):
    y = small["y"].copy()
    y[5] = 2
    with pytest.raises(ValueError, match=r"y must hold 0/1 outcomes with 1 = default .* 1 rows have other values"):
        audit(small["score"], y, small["g"])
    yf = small["y"].astype(float)
    yf[7] = np.nan
    with pytest.raises(ValueError, match=r"y has 1 missing outcomes \(rows 7\)"):
        audit(small["score"], yf, small["g"])
    s = small["score"].copy()
    s[9] = np.nan
    with pytest.raises(ValueError, match=r"score has 1 missing or infinite values \(rows 9\)"):
        audit(s, small["y"], small["g"])
    with pytest.raises(ValueError, match="y has only non-defaults"):
        audit(small["score"], np.zeros(400, int), small["g"])
    with pytest.raises(ValueError, match="give score \\(with cutoff\\) or decision"):
        audit(None, small["y"], small["g"])


def test_options_and_settings(small):
    with pytest.raises(ValueError, match=r"polarity='PD' is not allowed; choose one of 'pd', 'approval'"):
        audit(small["score"], small["y"], small["g"], polarity="PD")
    with pytest.raises(ValueError, match="min_group_size must be a positive integer"):
        audit(small["score"], small["y"], small["g"], min_group_size=0)
    with pytest.raises(ValueError, match=r"thresholds has unknown gap name\(s\) \['di'\]"):
        audit(small["score"], small["y"], small["g"], thresholds={"di": 0.9})
    with pytest.raises(ValueError, match=r"cutoff=1.5 is outside \[0, 1\]"):
        audit(small["score"], small["y"], small["g"], cutoff=1.5)
    with pytest.raises(ValueError, match="intersection names unknown attribute"):
        audit(small["score"], small["y"], {"a": small["g"], "b": small["g"]}, intersections=[("a", "c")])
    with pytest.raises(ValueError, match="length mismatch"):
        performance([0, 1, 0], [0.1, 0.2])
