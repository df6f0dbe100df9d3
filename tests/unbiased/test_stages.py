"""The procedure's stages one by one, numbers pinned across the refactor, and the result protocol."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from apcfair import load_portfolio
from apcfair._summary import Summary
from apcfair.errors import NotFittedError
from apcfair.unbiased import MODELS, UnbiasedByDesign, UnbiasedResult
from apcfair.unbiased.stages import (
    VINTAGE_YEAR,
    StageTimer,
    evaluate,
    fit_apc,
    fit_score_models,
    forecast,
    logit_data,
    split_accounts,
)
from data_synth import SynthConfig, generate_portfolio

RESTRICTED = ["minority", "sex"]
CREDIT = ["bureau_score", "total_deposits"]
TOL = {"rel": 1e-10, "abs": 1e-10}


@pytest.fixture(scope="module")
def portfolio():
    return load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=0)).loans)


@pytest.fixture(scope="module")
def fitted(portfolio):
    return UnbiasedByDesign(restricted=RESTRICTED, credit=CREDIT, random_state=0).fit(portfolio)


def _row(result, model, sample):
    return next(r for r in result.rows if r["model"] == model and r["sample"] == sample)


# ---------------------------------------------------------------------- pinned numbers
def test_numbers_are_those_of_the_procedure_before_it_was_split_into_stages(fitted):
    """Recorded with the single-function ``fit`` (commit afc2f9b), seed 0, GBM on."""
    res = fitted.result_
    assert res.calibrating_constant == pytest.approx(0.08837737836074677, **TOL)
    assert res.restricted_centre == pytest.approx(-0.11322236703790224, **TOL)
    coef = {k: t.set_index("term")["estimate"] for k, t in res.coefficient_tables.items()}
    assert coef["restricted"]["minority (0, Inf]"] == pytest.approx(0.80006802196395, **TOL)
    assert coef["credit"]["(Intercept)"] == pytest.approx(1.83976178709782, **TOL)
    assert coef["credit_with_restricted_offset"]["bureau_score (581, 597]"] == pytest.approx(-0.71932958343572, **TOL)
    auc = {("credit", "in"): 0.735348205005197, ("restricted", "out"): 0.6134068636583822,
           ("credit_with_restricted_offset", "out"): 0.7159611730074151,
           ("credit_restricted_mean", "in"): 0.73636763412489,
           ("gbm_credit_with_restricted_offset", "in"): 0.6899336371631886,
           ("gbm_credit_restricted_zero", "out"): 0.7397715840071544}
    for (model, sample), value in auc.items():
        assert _row(res, model, sample)["auc"] == pytest.approx(value, **TOL), (model, sample)
    assert _row(res, "restricted", "in")["dependence"]["minority"]["air"]["air"] == pytest.approx(
        0.5122029346719557, **TOL)
    assert res.cost_of_fairness["out"]["difference"] == pytest.approx(0.005682453329358683, **TOL)
    assert res.cost_of_fairness["in"]["se"] == pytest.approx(0.0038815891216973887, **TOL)
    cum = res.forecasts.groupby("model", sort=False)["cum_pd"].sum()
    assert cum["credit_restricted_mean"] == pytest.approx(195.58865005758005, **TOL)
    assert cum["gbm_credit_restricted_zero"] == pytest.approx(183.16695186485217, **TOL)
    assert res.account_scores["credit_restricted_zero"].sum() == pytest.approx(-1597.0085850427604, **TOL)
    assert list(res.account_scores.columns) == [
        "account_id", "credit", "restricted", "credit_with_restricted_offset", "credit_restricted_zero",
        "gbm_credit_with_restricted_offset", "gbm_credit_restricted_zero", "credit_restricted_mean"]


def test_backfit_numbers_are_those_of_the_procedure_before_it_was_split(portfolio):
    res = UnbiasedByDesign(restricted=RESTRICTED, credit=CREDIT, gbm=False, backfit=1,
                           random_state=0).fit(portfolio).result_
    assert res.calibrating_constant == pytest.approx(0.08989426652940768, **TOL)
    assert res.restricted_centre == pytest.approx(0.09766432107855198, **TOL)
    coef = res.coefficient_tables["credit_with_restricted_offset"].set_index("term")["estimate"]
    assert coef["(Intercept)"] == pytest.approx(1.95869125349759, **TOL)
    assert _row(res, "credit_restricted_zero", "out")["auc"] == pytest.approx(0.7192122815515892, **TOL)
    assert res.cost_of_fairness["out"]["difference"] == pytest.approx(0.005421619406043909, **TOL)
    assert set(res.timings) >= {"APC", "restricted", "credit", "credit + restricted offset", "backfit",
                                "forecasts", "evaluation", "total"}


# ---------------------------------------------------------------------- the stages alone
def test_split_is_seeded_and_sized():
    a = split_accounts(101, 0.5, 3)
    assert a.dtype == bool and a.sum() == 50  # round(50.5) = 50 (banker's rounding)
    assert np.array_equal(a, split_accounts(101, 0.5, 3))
    assert not np.array_equal(a, split_accounts(101, 0.5, 4))
    assert split_accounts(10, 0.2, 0).sum() == 8


def test_stages_one_by_one_reproduce_fit(portfolio, fitted):
    res = fitted.result_
    in_sample = split_accounts(portfolio.n_accounts, 0.5, 0)
    assert np.array_equal(np.where(in_sample, "in", "out"),
                          res.forecasts["sample"].to_numpy()[: portfolio.n_accounts])
    # APC: reusing a fitted result gives the same offsets
    apc_result, offsets = fit_apc(portfolio, in_sample, horizon=36, random_state=0)
    again, offsets2 = fit_apc(portfolio, in_sample, horizon=36, apc_result=apc_result)
    assert again is apc_result
    ages, periods = np.arange(1, 37), np.full(36, portfolio.window[1] + 36)  # beyond the window
    np.testing.assert_array_equal(offsets(ages, periods), offsets2(ages, periods))
    # score models: the restricted offset is centred on the estimation accounts
    data, vintage_cols = logit_data(portfolio, in_sample, vintage_dummies=True)
    assert vintage_cols == [VINTAGE_YEAR] and VINTAGE_YEAR in data.columns
    timer = StageTimer(["restricted", "credit", "credit + restricted offset"])
    models = fit_score_models(data, RESTRICTED, CREDIT, offsets, in_sample, bins=10, vintage_cols=vintage_cols,
                              timer=timer)
    assert set(timer.close()) == {"restricted", "credit", "credit + restricted offset", "total"}
    assert abs(models.restricted_score[in_sample].mean()) < 1e-12
    assert models.restricted_centre == res.restricted_centre
    pd.testing.assert_frame_equal(models.credit.coef_table_, res.coefficient_tables["credit"])
    # forecasts (logit models only): the calibrated constant restores in-sample expected defaults
    scores = models.account_scores(data)
    fc = forecast(portfolio, offsets, scores, models.restricted_score, in_sample, horizon=36)
    assert fc.models == [m for m in MODELS if not m.startswith("gbm")]
    assert fc.calibrating_constant == res.calibrating_constant
    np.testing.assert_array_equal(fc.scores["credit_restricted_mean"],
                                  scores["credit_restricted_zero"] + fc.calibrating_constant)
    assert np.all(fc.window["credit"] <= fc.full["credit"] + 1e-15)  # the window is part of the horizon
    for m in fc.models:  # the logit models' forecasts equal those of the full fit
        np.testing.assert_array_equal(fc.full[m], res.forecasts.query("model == @m")["cum_pd"].to_numpy())
    # evaluation: one row per model and sample
    ev = evaluate(portfolio, fc, in_sample, horizon=36, protected=RESTRICTED, approval_rate=0.8, random_state=0)
    assert [(r["model"], r["sample"]) for r in ev.rows] == [(m, s) for s in ("in", "out") for m in fc.models]
    assert ev.rows[0] == _row(res, "credit", "in")
    assert ev.cost_of_fairness == res.cost_of_fairness
    assert len(ev.dependence_table) == len(ev.rows) * len(RESTRICTED)


# ---------------------------------------------------------------------- estimator contract
def test_clone_and_params(fitted):
    twin = clone(fitted)
    assert twin.get_params() == fitted.get_params()
    with pytest.raises(NotFittedError):
        _ = twin.result_
    assert "apc_model" in fitted.get_params() and "apc_model" not in fitted.result_.settings
    assert fitted.result_.settings == {
        "restricted": RESTRICTED, "credit": CREDIT, "protected": None, "horizon": 36, "bins": 10,
        "test_size": 0.5, "gbm": True, "gbm_params": None, "approval_rate": 0.8, "vintage_dummies": True,
        "backfit": 0, "random_state": 0}
    assert fitted.result is fitted.result_
    with pytest.raises(NotFittedError):
        _ = UnbiasedByDesign(RESTRICTED, CREDIT).result


# ---------------------------------------------------------------------- result protocol
def test_save_load_round_trip(fitted, portfolio, tmp_path):
    res = fitted.result_
    folder = res.save(tmp_path / "unbiased")
    assert sorted(p.name for p in folder.iterdir()) == [
        "account_scores.parquet", "apc_result.nc", "forecasts.parquet", "unbiased_result.json"]
    back = UnbiasedResult.load(folder)
    assert UnbiasedResult.load(folder / "unbiased_result.json").rows == back.rows
    assert back.rows == json.loads(json.dumps(res.rows))
    pd.testing.assert_frame_equal(back.dependence_table, res.dependence_table)
    pd.testing.assert_frame_equal(back.forecasts, res.forecasts)
    pd.testing.assert_frame_equal(back.account_scores, res.account_scores)
    assert back.coefficient_tables.keys() == res.coefficient_tables.keys()
    for name, table in res.coefficient_tables.items():
        pd.testing.assert_frame_equal(back.coefficient_tables[name], table)
    data, _ = logit_data(portfolio, split_accounts(portfolio.n_accounts, 0.5, 0), vintage_dummies=True)
    for name in ("restricted", "credit", "credit_with_restricted_offset", "gbm"):
        np.testing.assert_array_equal(back.models[name].predict_account_score(data),
                                      res.models[name].predict_account_score(data))
    assert back.apc_result.identification == res.apc_result.identification
    for attr in ("cost_of_fairness", "calibrating_constant", "restricted_centre", "settings", "timings",
                 "lineage", "provenance"):
        assert getattr(back, attr) == json.loads(json.dumps(getattr(res, attr))), attr
    assert back.summary() == res.summary()
    assert back.to_json_dict() == res.to_json_dict()


def test_json_dict_summary_and_plots(fitted):
    res = fitted.result_
    d = res.to_json_dict()
    assert d["kind"] == "UnbiasedResult" and d["comparison"] == json.loads(json.dumps(res.rows))
    assert d["apc_identification"] == res.apc_result.identification["text"]
    json.dumps(d)
    s = res.summary()
    assert isinstance(s, Summary) and s.startswith("Unbiased by design") and "Cost of zeroing" in s
    assert "<table" in s._repr_html_()
    axes = res.plot_roc()
    assert len(axes) == 2
    _, ax = plt.subplots()
    assert res.plot_roc(ax, sample="out") is ax
    assert res.plot_dependence(ax=ax) is ax
    assert res.plot_calibration(ax=ax, model="credit") is ax
    with pytest.raises(ValueError, match="sample="):
        res.plot_roc(sample="both")
    plt.close("all")
