"""OffsetLogit against statsmodels GLM on the materialised panel, invariances, recovery."""

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit

from apcfair.errors import DataValidationError, NotFittedError
from apcfair.portfolio import Portfolio
from apcfair.scoring import ConvergenceWarning, OffsetLogit, OffsetTable, expand_account_months

# one tolerance per quantity (absolute), statsmodels fitted with tol=1e-13
TOL_COEF = 1e-6
TOL_SE = 1e-6
TOL_LLF = 1e-6


def reference_glm(model, loans, offset=None, account_offset=None, rows=None, attributes=None):
    """statsmodels GLM(Binomial) on the account-month panel with the model's design."""
    if rows is None:
        rows = expand_account_months(loans, attributes=model.attributes_)
    X = model._design(rows).toarray()
    off = np.zeros(len(rows))
    if offset is not None:
        off += offset(rows["age"].to_numpy(), rows["period"].to_numpy())
    if account_offset is not None:
        off += np.asarray(account_offset)[rows["account"].to_numpy()]
    res = sm.GLM(rows["default"].to_numpy(float), X, family=sm.families.Binomial(),
                 offset=off).fit(tol=1e-13, maxiter=100)
    return res


def assert_matches(model, res):
    np.testing.assert_allclose(model.coef_.to_numpy(), res.params, atol=TOL_COEF, rtol=0)
    np.testing.assert_allclose(model.coef_table_["std_error"].to_numpy(), res.bse,
                               atol=TOL_SE, rtol=0)
    assert abs(model.loglik_ - res.llf) < TOL_LLF


def test_zero_offset_equals_plain_logit(sim_small):
    loans, _, _ = sim_small
    m = OffsetLogit(bins=5).fit(loans, ["g", "x"])
    rows = expand_account_months(loans, attributes=["g", "x"])
    X = m._design(rows).toarray()
    res = sm.Logit(rows["default"].to_numpy(float), X).fit(disp=0, method="newton", tol=1e-13,
                                                             maxiter=100)
    np.testing.assert_allclose(m.coef_.to_numpy(), res.params, atol=TOL_COEF, rtol=0)
    np.testing.assert_allclose(m.coef_table_["std_error"], res.bse, atol=TOL_SE, rtol=0)
    assert m.method_ == "accounts" and m.converged_


def test_constant_offset_moves_only_the_intercept(sim_small):
    loans, _, off = sim_small
    m0 = OffsetLogit(bins=5).fit(loans, ["g", "x"], offset=off)
    m1 = OffsetLogit(bins=5).fit(loans, ["g", "x"], offset=off.shifted(1.7))
    diff = (m1.coef_ - m0.coef_).to_numpy()
    assert abs(diff[0] + 1.7) < 1e-8
    np.testing.assert_allclose(diff[1:], 0, atol=1e-8)
    np.testing.assert_allclose(m1.coef_table_["std_error"], m0.coef_table_["std_error"], atol=1e-8)
    # a constant per-account offset acts the same way
    m2 = OffsetLogit(bins=5).fit(loans, ["g", "x"], offset=off,
                                 account_offset=np.full(len(loans), -0.4))
    assert abs(m2.intercept_ - m0.intercept_ - 0.4) < 1e-8


@pytest.mark.parametrize("method", ["accounts", "glm"])
def test_equals_statsmodels_glm_with_offsets(sim_small, method):
    loans, _, off = sim_small
    r = np.random.default_rng(0).normal(scale=0.3, size=len(loans))
    m = OffsetLogit(bins=4, method=method).fit(loans, ["g", "x", "k"], offset=off,
                                               account_offset=r)
    assert m.method_ == method
    assert_matches(m, reference_glm(m, loans, off, r))


def test_vintage_dummies_and_numeric_passthrough_equal_statsmodels(sim_small):
    loans, _, off = sim_small
    m = OffsetLogit(bins=3, numeric=["k"], vintage_dummies=True).fit(loans, ["g", "k"], offset=off)
    assert "vintage 2015-02" in m.coef_.index and "k" in m.coef_.index
    assert "vintage 2015-01" not in m.coef_.index        # first vintage is the reference
    assert_matches(m, reference_glm(m, loans, off))


def _panel_portfolio(loans, attributes):
    rows = expand_account_months(loans, attributes=attributes)
    panel = pd.DataFrame({"account_id": rows["account_id"], "origination": rows["vintage"],
                          "month": rows["period"], "default": rows["default"]})
    for c in attributes:
        panel[c] = rows[c]
    return panel


def test_panel_input_static_attributes_uses_accounts_path(sim_small):
    loans, _, off = sim_small
    port = Portfolio.from_panel(_panel_portfolio(loans, ["g", "x"]))
    m = OffsetLogit(bins=4).fit(port, ["g", "x"], offset=off)
    ref = OffsetLogit(bins=4).fit(loans, ["g", "x"], offset=off)
    assert m.method_ == "accounts"
    np.testing.assert_allclose(m.coef_.to_numpy(), ref.coef_.to_numpy(), atol=1e-10)


def test_panel_with_time_varying_attribute_equals_statsmodels(sim_small):
    loans, _, off = sim_small
    panel = _panel_portfolio(loans, ["g"])
    rng = np.random.default_rng(1)
    panel["util"] = rng.choice(["low", "mid", "high"], len(panel))   # changes month to month
    port = Portfolio.from_panel(panel)
    m = OffsetLogit().fit(port, ["g", "util"], offset=off)
    assert m.method_ == "glm"
    rows = expand_account_months(port, attributes=["g", "util"])
    res = reference_glm(m, None, off, rows=rows)
    assert_matches(m, res)
    with pytest.raises(DataValidationError, match="column 'util': changes over time"):
        OffsetLogit(method="accounts").fit(port, ["g", "util"], offset=off)
    # predictions for the panel rows use each row's own attributes
    np.testing.assert_allclose(m.predict_pd(port), res.fittedvalues, atol=1e-9)


def test_recovers_known_coefficients(sim_large):
    loans, _, off = sim_large
    m = OffsetLogit(cuts={"x": [0.0]}).fit(loans, ["g", "x"], offset=off)
    truth = {"(Intercept)": -0.2, "g b": 0.6, "g c": -0.5, "x (0, Inf]": 0.8, "x NA": 0.3}
    t = m.coef_table_.set_index("term")
    for term, value in truth.items():
        est, se = t.loc[term, "estimate"], t.loc[term, "std_error"]
        assert abs(est - value) < 4 * se, (term, est, value, se)
        assert se < 0.1
    # a wrong (zero) offset biases the intercept but a right one does not
    assert abs(m.intercept_ + 0.2) < 0.1


def test_training_mask_equals_fit_on_subset(sim_small):
    loans, _, off = sim_small
    mask = np.random.default_rng(2).random(len(loans)) < 0.6
    m = OffsetLogit(bins=4).fit(loans, ["g", "x"], offset=off, accounts=mask)
    ref = OffsetLogit(bins=4).fit(loans[mask].reset_index(drop=True), ["g", "x"], offset=off)
    np.testing.assert_allclose(m.coef_.to_numpy(), ref.coef_.to_numpy(), atol=1e-12)
    assert m.n_accounts_ == mask.sum()
    step = m.lineage_.steps[-1]
    assert step.rows_in - step.rows_out == (~mask).sum()


def test_predictions(sim_small):
    loans, _, off = sim_small
    r = np.random.default_rng(4).normal(scale=0.2, size=len(loans))
    m = OffsetLogit(bins=4).fit(loans, ["g", "x"], offset=off, account_offset=r)
    res = reference_glm(m, loans, off, r)
    rows = expand_account_months(loans, attributes=["g", "x"])
    # one call over the whole portfolio, and row-aligned calls
    np.testing.assert_allclose(m.predict_pd(loans, account_offset=r), res.fittedvalues, atol=1e-9)
    lp = m.predict_logit(rows, rows["age"], rows["period"],
                         account_offset=r[rows["account"].to_numpy()])
    np.testing.assert_allclose(expit(lp), res.fittedvalues, atol=1e-9)
    s = m.predict_account_score(loans)
    np.testing.assert_allclose(lp - off(rows["age"], rows["period"]) - r[rows["account"]],
                               s[rows["account"]], atol=1e-12)
    # a scenario offset replaces the fitted one
    lp2 = m.predict_logit(loans, offset=off.shifted(0.5), account_offset=r)
    np.testing.assert_allclose(lp2 - 0.5, m.predict_logit(loans, account_offset=r), atol=1e-12)


def test_summary_and_table(sim_small):
    loans, _, off = sim_small
    m = OffsetLogit(bins=4).fit(loans, ["g", "x"], offset=off)
    assert list(m.coef_table_.columns) == ["term", "estimate", "std_error", "z", "p_value"]
    txt = m.summary()
    assert "x NA" in txt and "Pr(>|z|)" in txt and "accounts: 3,000" in txt
    assert m.cov_.shape == (len(m.coef_), len(m.coef_))


def test_save_load_roundtrip(sim_small, tmp_path):
    loans, _, off = sim_small
    m = OffsetLogit(bins=4, vintage_dummies=True, reference={"g": "b"}).fit(
        loans, ["g", "x"], offset=off)
    path = m.save(tmp_path / "logit.json")
    back = OffsetLogit.load(path)
    pd.testing.assert_frame_equal(back.coef_table_, m.coef_table_)
    np.testing.assert_array_equal(back.predict_pd(loans), m.predict_pd(loans))
    assert back.offset_.equals(off)
    assert back.get_params() == OffsetLogit.from_dict(m.to_dict()).get_params()
    assert "settings_hash" in m.to_dict()["provenance"]



def test_clone_refits_to_the_same_model(sim_small):
    from sklearn.base import clone

    loans, _, off = sim_small
    m = OffsetLogit(bins=4, vintage_dummies=True, reference={"g": "b"}).fit(loans, ["g", "x"], offset=off)
    twin = clone(m)
    assert twin.get_params() == m.get_params() and not hasattr(twin, "coef_")
    pd.testing.assert_series_equal(twin.fit(loans, ["g", "x"], offset=off).coef_, m.coef_)
    assert twin.set_params(bins=6) is twin and twin.bins == 6

def test_bad_inputs(sim_small):
    loans, _, off = sim_small
    with pytest.raises(NotFittedError):
        OffsetLogit().predict_account_score(loans)
    with pytest.raises(DataValidationError, match=r"\['nope'\] not found"):
        OffsetLogit().fit(loans, ["g", "nope"], offset=off)
    with pytest.raises(DataValidationError, match="column 'empty': all 3,000 training rows"):
        OffsetLogit().fit(loans.assign(empty=np.nan), ["g", "empty"], offset=off)
    with pytest.raises(DataValidationError, match="account_offset has 10 values but there are 3,000"):
        OffsetLogit().fit(loans, ["g"], offset=off, account_offset=np.zeros(10))
    with pytest.raises(DataValidationError, match="account_offset has 1 missing"):
        OffsetLogit().fit(loans, ["g"], offset=off,
                          account_offset=np.r_[np.nan, np.zeros(len(loans) - 1)])
    with pytest.raises(TypeError, match="OffsetTable"):
        OffsetLogit().fit(loans, ["g"], offset=np.zeros(len(loans)))
    with pytest.raises(ValueError, match="accounts= mask has 5 values"):
        OffsetLogit().fit(loans, ["g"], offset=off, accounts=np.ones(5, dtype=bool))
    with pytest.raises(ValueError, match="method='fast' is not allowed"):
        OffsetLogit(method="fast").fit(loans, ["g"])
    with pytest.raises(DataValidationError, match="Portfolio"):
        OffsetLogit().fit(loans.drop(columns=["last_month"]), ["g"])
    m = OffsetLogit().fit(loans, ["g"], offset=off)
    with pytest.raises(DataValidationError, match="column 'g': 1 rows have values not seen"):
        m.predict_account_score(pd.DataFrame({"g": ["a", "zz"]}))
    with pytest.raises(ValueError, match="one value per data row"):
        m.predict_logit(loans, np.ones(3), np.ones(3))


def test_rank_deficient_design_names_terms(sim_small):
    loans, _, off = sim_small
    with pytest.raises(DataValidationError, match="rank deficient.*g2 b"):
        OffsetLogit().fit(loans.assign(g2=loans["g"]), ["g", "g2"], offset=off)


def test_separation_warns(sim_small):
    loans, _, off = sim_small
    sep = np.where(loans["default"] == 1, "x", np.where(np.arange(len(loans)) % 7 == 0, "y", "x"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="quasi-separation"):
            OffsetLogit(max_iter=25, min_bin_defaults=0).fit(loans.assign(sep=sep), ["sep"],
                                                             offset=off)
        # by default the level without defaults is merged (here: nothing is left of sep)
        m = OffsetLogit(max_iter=25).fit(loans.assign(sep=sep), ["sep"], offset=off)
    assert m.converged_ and list(m.coef_.index) == ["(Intercept)"]
    assert m.binner_.merges_["merged_from"].tolist() == ["x + y"]


def _sparse_loans(loans):
    """sim_small plus a balance with a zero-default bin and a channel with rare levels."""
    rng = np.random.default_rng(21)
    n = len(loans)
    dflt = loans["default"].to_numpy() == 1
    bal = rng.uniform(1, 5000, n)
    zero = ~dflt & (rng.random(n) < 0.2)         # like balance_transfer: 0 for some, never in default
    bal[zero] = 0.0
    channel = rng.choice(np.array(["branch", "web"], dtype=object), n)
    d_pos, nd_pos = rng.permutation(np.flatnonzero(dflt)), rng.permutation(np.flatnonzero(~dflt))
    channel[np.r_[d_pos[:2], nd_pos[:30]]] = "phone"     # 2 and 3 defaults: pooled, 5
    channel[np.r_[d_pos[2:5], nd_pos[30:60]]] = "mail"
    x2 = loans["x"].fillna(0.0).to_numpy()
    x2[nd_pos[60:80]] = np.nan                           # NA: 20 accounts without default
    return loans.assign(bal=bal, channel=channel, x2=x2)


@pytest.mark.parametrize("method", ["accounts", "glm"])
def test_sparse_bins_merged_and_fit_converges(sim_small, method):
    loans, _, off = sim_small
    data = _sparse_loans(loans)
    old = OffsetLogit(bins=8, min_bin_defaults=0, method="accounts", max_iter=30)
    with pytest.warns(ConvergenceWarning, match=r"quasi-separation.*'bal \(0, "):
        old.fit(data, ["g", "bal"], offset=off)
    assert not old.converged_ and abs(old.coef_).max() > 10
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m = OffsetLogit(bins=8, method=method).fit(data, ["g", "bal"], offset=off)
    assert m.converged_ and abs(m.coef_).max() < 5
    merges = m.binner_.merges_
    assert merges["attribute"].tolist() == ["bal"]
    assert merges.loc[0, "merged_from"].startswith("(-Inf, 0] + ")
    assert len(m.coef_) == len(old.coef_) - 1
    assert "Merged sparse levels" in m.summary() and "bal (-Inf, " in m.summary()
    assert_matches(m, reference_glm(m, data, off))


def test_sparse_categories_pooled_into_other_in_the_fit(sim_small):
    loans, _, off = sim_small
    data = _sparse_loans(loans)
    m = OffsetLogit().fit(data, ["g", "channel"], offset=off)
    assert [t for t in m.coef_.index if t.startswith("channel")] == ["channel web", "channel other"]
    assert m.binner_.merges_["merged_from"].tolist() == ["mail + phone"]
    s = m.predict_account_score(pd.DataFrame({"g": ["a", "a"], "channel": ["mail", "phone"]}))
    assert s[0] == s[1] == m.intercept_ + m.coef_["channel other"]


def test_min_bin_defaults_zero_reproduces_unmerged_fit(sim_small):
    loans, _, off = sim_small
    data = _sparse_loans(loans)
    a = OffsetLogit(bins=4, min_bin_defaults=0).fit(data, ["g", "channel", "x"], offset=off)
    assert len(a.binner_.merges_) == 0 and "channel mail" in a.coef_.index
    # where every level has enough defaults the default setting changes nothing
    b = OffsetLogit(bins=4).fit(data, ["g", "x"], offset=off)
    c = OffsetLogit(bins=4, min_bin_defaults=0).fit(data, ["g", "x"], offset=off)
    pd.testing.assert_frame_equal(b.coef_table_, c.coef_table_)
    assert len(b.binner_.merges_) == 0 and "Merged" not in b.summary()


def test_save_load_roundtrip_with_merges(sim_small, tmp_path):
    loans, _, off = sim_small
    data = _sparse_loans(loans)
    m = OffsetLogit(bins=8).fit(data, ["bal", "channel", "x2"], offset=off)
    assert set(m.binner_.merges_["attribute"]) == {"bal", "channel", "x2"}
    back = OffsetLogit.load(m.save(tmp_path / "logit.json"))
    assert back.min_bin_defaults == 5
    pd.testing.assert_frame_equal(back.coef_table_, m.coef_table_)
    pd.testing.assert_frame_equal(back.binner_.merges_, m.binner_.merges_)
    np.testing.assert_array_equal(back.predict_pd(data), m.predict_pd(data))
    assert back.summary() == m.summary()


def test_offset_table_extrapolation_is_used(sim_small):
    loans, _, off = sim_small
    short = OffsetTable(1, off.lifecycle[:5], off.period_min, off.environment[:3])
    m = OffsetLogit(bins=4).fit(loans, ["g"], offset=short)
    assert_matches(m, reference_glm(m, loans, short))


def test_intercept_only_and_portfolio_input(sim_small):
    loans, _, off = sim_small
    a = OffsetLogit().fit(loans, [], offset=off)
    b = OffsetLogit(method="glm").fit(loans, [], offset=off)
    np.testing.assert_allclose(a.coef_.to_numpy(), b.coef_.to_numpy(), atol=1e-8)
    raw = loans.rename(columns={"vintage": "origination"}).drop(columns="first_month")
    port = Portfolio.from_loans(raw)
    rows = expand_account_months(port)
    assert len(rows) == port.n_account_months and rows["default"].sum() == port.n_defaults
    c = OffsetLogit(vintage_dummies=True).fit(port, ["g"], offset=off)
    d = OffsetLogit(vintage_dummies=True).fit(loans, ["g"], offset=off)
    np.testing.assert_allclose(c.coef_.to_numpy(), d.coef_.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(c.predict_account_score(port), d.predict_account_score(loans),
                               atol=1e-10)


@pytest.mark.slow
def test_streamed_equals_glum_at_a_million_rows():
    from tests.scoring.conftest import simulate_loans, true_offset

    off = true_offset()
    loans, _ = simulate_loans(50_000, seed=9, n_vintages=48, horizon=48, closure=0.005,
                              offset=off)
    r = np.random.default_rng(9).normal(scale=0.3, size=len(loans))
    kw = dict(bins=10, vintage_dummies=True)
    a = OffsetLogit(method="accounts", **kw).fit(loans, ["g", "x", "k"], offset=off,
                                                 account_offset=r)
    b = OffsetLogit(method="glm", **kw).fit(loans, ["g", "x", "k"], offset=off, account_offset=r)
    assert a.n_account_months_ > 1_000_000
    np.testing.assert_allclose(a.coef_.to_numpy(), b.coef_.to_numpy(), atol=1e-6)
    np.testing.assert_allclose(a.coef_table_["std_error"], b.coef_table_["std_error"], atol=1e-6)
