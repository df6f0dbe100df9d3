"""OffsetGBM: exactness of the per-account objective, lift over the offset, io, errors."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from apcfair.errors import DataValidationError, NotFittedError
from apcfair.portfolio import Portfolio
from apcfair.scoring import OffsetGBM, expand_account_months

FAST = dict(n_estimators=40, learning_rate=0.1, num_leaves=7, num_threads=1)


@pytest.fixture(scope="module")
def data(sim_large):
    loans, s, off = sim_large
    # a coarsened numeric attribute: few distinct values, so feature histograms are
    # identical whether rows are accounts or account-months
    loans = loans.assign(xq=np.round(loans["x"] * 4) / 4)
    return loans, s, off


def test_accounts_objective_equals_account_month_rows(data):
    loans, _, off = data
    sub = loans.iloc[:8000].reset_index(drop=True)
    r = np.random.default_rng(0).normal(scale=0.2, size=len(sub))
    kw = dict(FAST, subsample=1.0, min_child_samples=1, min_sum_hessian_in_leaf=2.0)
    ga = OffsetGBM(method="accounts", **kw).fit(sub, ["g", "xq", "k"], offset=off, account_offset=r)
    gr = OffsetGBM(method="rows", **kw).fit(sub, ["g", "xq", "k"], offset=off, account_offset=r)
    assert ga.method_ == "accounts" and gr.method_ == "rows"
    assert ga.n_account_months_ == gr.n_account_months_
    np.testing.assert_allclose(ga.predict_account_score(sub), gr.predict_account_score(sub),
                               atol=1e-6)


def test_beats_offset_only_out_of_sample(data):
    loans, s, off = data
    train = np.arange(len(loans)) % 4 != 0
    g = OffsetGBM(**FAST, random_state=1).fit(loans, ["g", "x", "k"], offset=off, accounts=train)
    test = loans[~train].reset_index(drop=True)
    rows = expand_account_months(test)
    y = rows["default"].to_numpy()
    base = off(rows["age"].to_numpy(), rows["period"].to_numpy())
    auc_offset = roc_auc_score(y, base)
    auc_gbm = roc_auc_score(y, g.predict_logit(test))
    auc_true = roc_auc_score(y, base + s[~train][rows["account"].to_numpy()])
    assert auc_gbm > auc_offset + 0.04
    assert auc_gbm > auc_true - 0.01
    # calibration-in-the-large: predicted and observed defaults agree
    assert abs(g.predict_pd(test).sum() / y.sum() - 1) < 0.1


def test_predict_adds_offsets_back(data):
    loans, _, off = data
    sub = loans.iloc[:3000].reset_index(drop=True)
    g = OffsetGBM(**FAST).fit(sub, ["g", "x"], offset=off)
    rows = expand_account_months(sub, attributes=["g", "x"])
    lp = g.predict_logit(rows, rows["age"], rows["period"])
    f = g.predict_account_score(sub)[rows["account"].to_numpy()]
    np.testing.assert_allclose(lp - f, off(rows["age"], rows["period"]), atol=1e-12)
    np.testing.assert_allclose(g.predict_logit(sub), lp, atol=1e-12)


def test_deterministic_with_seed(data):
    loans, _, off = data
    sub = loans.iloc[:4000].reset_index(drop=True)
    a = OffsetGBM(**FAST, random_state=3).fit(sub, ["g", "x"], offset=off)
    b = OffsetGBM(**FAST, random_state=3).fit(sub, ["g", "x"], offset=off)
    np.testing.assert_array_equal(a.predict_account_score(sub), b.predict_account_score(sub))


def test_panel_with_time_varying_attribute_uses_rows(data):
    loans, _, off = data
    sub = loans.iloc[:1500].reset_index(drop=True)
    rows = expand_account_months(sub, attributes=["g"])
    panel = pd.DataFrame({"account_id": rows["account_id"], "origination": rows["vintage"],
                          "month": rows["period"], "default": rows["default"], "g": rows["g"],
                          "util": np.random.default_rng(0).random(len(rows))})
    port = Portfolio.from_panel(panel)
    g = OffsetGBM(n_estimators=5).fit(port, ["g", "util"], offset=off)
    assert g.method_ == "rows"
    assert g.predict_pd(port).shape == (len(panel),)
    assert OffsetGBM(n_estimators=5).fit(port, ["g"], offset=off).method_ == "accounts"


def test_save_load_roundtrip(data, tmp_path):
    loans, _, off = data
    sub = loans.iloc[:3000].reset_index(drop=True)
    g = OffsetGBM(**FAST, extra_trees=False).fit(sub, ["g", "x", "k"], offset=off)
    back = OffsetGBM.load(g.save(tmp_path / "gbm.json"))
    np.testing.assert_array_equal(back.predict_logit(sub), g.predict_logit(sub))
    assert back.get_params()["extra_trees"] is False
    assert "g" in back.summary()
    assert set(g.feature_importance_["feature"]) == {"g", "x", "k"}



def test_clone_keeps_lightgbm_extras_and_refits_the_same_trees(data):
    from sklearn.base import clone

    loans, _, off = data
    sub = loans.iloc[:2000].reset_index(drop=True)
    g = OffsetGBM(**FAST, extra_trees=False).fit(sub, ["g", "x"], offset=off)
    twin = clone(g)
    assert twin.get_params() == g.get_params() and twin.get_params()["extra_trees"] is False
    assert not hasattr(twin, "booster_")
    np.testing.assert_array_equal(twin.fit(sub, ["g", "x"], offset=off).predict_account_score(sub),
                                  g.predict_account_score(sub))

def test_bad_inputs(data):
    loans, _, off = data
    sub = loans.iloc[:500].reset_index(drop=True)
    with pytest.raises(NotFittedError):
        OffsetGBM().predict_account_score(sub)
    with pytest.raises(DataValidationError, match=r"\['nope'\] not found"):
        OffsetGBM().fit(sub, ["g", "nope"], offset=off)
    with pytest.raises(DataValidationError, match="column 'e': all 500 training rows"):
        OffsetGBM().fit(sub.assign(e=np.nan), ["g", "e"], offset=off)
    with pytest.raises(DataValidationError, match="account_offset has 3 values"):
        OffsetGBM().fit(sub, ["g"], offset=off, account_offset=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="method='trees' is not allowed"):
        OffsetGBM(method="trees").fit(sub, ["g"], offset=off)
    g = OffsetGBM(n_estimators=3).fit(sub, ["g"], offset=off)
    with pytest.raises(DataValidationError, match="categories not seen"):
        g.predict_account_score(pd.DataFrame({"g": ["q"]}))
    g = OffsetGBM(n_estimators=3, handle_unknown="missing").fit(sub, ["g"], offset=off)
    assert np.isfinite(g.predict_account_score(pd.DataFrame({"g": ["q"]}))).all()
