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
            OffsetLogit(max_iter=25).fit(loans.assign(sep=sep), ["sep"], offset=off)


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
