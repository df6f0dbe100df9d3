"""SHAP contributions, reason codes (never a protected attribute), counterfactuals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.audit import (
    Contributions,
    borderline_rejections,
    counterfactuals,
    decrease,
    feature_groups,
    reason_codes,
    shap_contributions,
    shift,
)


@pytest.fixture(scope="module")
def fitted(scored):
    from sklearn.ensemble import GradientBoostingClassifier

    v = scored["val"].iloc[:1500]
    X = v[scored["features"]].assign(age=np.random.default_rng(0).integers(18, 70, len(v)))
    gb = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0).fit(X, v["default"])
    return X, v["default"].to_numpy(), gb


def test_tree_shap_is_additive_in_log_odds_of_default(fitted):
    X, y, gb = fitted
    c = shap_contributions(gb, X.iloc[:100])
    np.testing.assert_allclose(c.values.sum(1) + c.base_value, gb.decision_function(X.iloc[:100]), atol=1e-8)
    assert c.feature_names == list(X.columns) and c.output == "log-odds of default"
    # a model of "good" (class 1 = creditworthy) gives the same contributions after orientation
    from sklearn.ensemble import GradientBoostingClassifier

    gb_good = GradientBoostingClassifier(n_estimators=30, max_depth=2, random_state=0).fit(X, 1 - y)
    c2 = shap_contributions(gb_good, X.iloc[:100], polarity="approval")
    np.testing.assert_allclose(c2.values, c.values, atol=1e-6)
    imp = c.global_importance()
    assert list(imp.columns) == ["feature", "mean_abs_contribution"]


def test_linear_shap(scored):
    model = scored["model"]
    v = scored["val"].iloc[:300]
    Xs = model[:-1].transform(v[scored["features"]])
    c = shap_contributions(model[-1], Xs, feature_names=scored["features"], background=Xs)
    np.testing.assert_allclose(c.values.sum(1) + c.base_value, model[-1].decision_function(Xs), atol=1e-8)


def test_feature_groups_for_one_hot_names():
    m = feature_groups(["num__age", "cat__purpose_car (new)", "cat__purpose_business", "status_account_none",
                        "other"], ["age", "purpose", "status_account", "status"])
    assert m == {"num__age": "age", "cat__purpose_car (new)": "purpose", "cat__purpose_business": "purpose",
                 "status_account_none": "status_account", "other": "other"}


def test_reason_codes_never_name_protected_attributes():
    names = ["age", "amount", "duration", "purpose_car", "purpose_tv", "sex_female"]
    vals = np.array([[0.9, 0.5, 0.2, 0.3, 0.0, 0.4],    # age and sex would rank 1st and 3rd
                     [-0.1, -0.2, 0.05, -0.3, 0.0, 0.0]])
    c = Contributions.from_array(vals, names)
    groups = feature_groups(names, ["age", "amount", "duration", "purpose", "sex"])
    data = pd.DataFrame({"age": [22, 40], "amount": [9000, 1000], "duration": [48, 12],
                         "purpose": ["car", "tv"], "sex": ["f", "m"]})
    rc = reason_codes(c, k=3, protected=["age", "sex", "foreign_worker"], groups=groups, data=data)
    assert rc.for_applicant(0) == ["amount (value: 9000)", "purpose (value: car)", "duration (value: 48)"]
    assert rc.for_applicant(1) == ["duration (value: 12)"]  # only factors that lowered the decision
    assert not set(rc.table["feature"]) & {"age", "sex"}
    ex = rc.excluded.set_index("feature")
    assert ex.loc["age", "applicants_where_top_k"] == 1 and ex.loc["sex", "mean_abs_contribution"] > 0
    assert any("protected attribute 'age'" in n for n in rc.notes)
    assert any("foreign_worker" in n for n in rc.notes)


def test_counterfactuals_flip_borderline_rejections():
    def predict(df):  # PD rises with amount and duration
        z = -2 + 0.0003 * df["amount"].to_numpy() + 0.03 * df["duration"].to_numpy()
        return 1 / (1 + np.exp(-z))

    X = pd.DataFrame({"amount": [5000.0, 6000, 1000], "duration": [24.0, 36, 12], "age": [30, 50, 40]})
    s = predict(X)
    rows = borderline_rejections(s, 0.5, band=0.25)
    assert list(rows) == [0, 1]
    cf = counterfactuals(predict, X, rows, actions={"amount": decrease(0.1, 0.2, 0.4, 0.6),
                                                     "duration": [24.0, 12.0]}, cutoff=0.5)
    assert set(cf.columns) >= {"applicant", "feature", "current", "suggested", "score_after", "flips"}
    row = cf[(cf["applicant"] == 0) & (cf["feature"] == "amount")].iloc[0]
    assert row["flips"] and row["score_after"] < 0.5 and row["suggested"] < 5000
    assert (cf.loc[cf["flips"], "score_after"] < 0.5).all()
    assert shift(-6, -12, -18, lower=6)(18.0) == [12.0, 6.0]
    with pytest.raises(ValueError, match=r"never change protected attributes: remove \['age'\]"):
        counterfactuals(predict, X, rows, actions={"age": [25]}, cutoff=0.5, protected=["age"])
