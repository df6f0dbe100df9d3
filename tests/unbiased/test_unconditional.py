"""Unconditional cumulative PD in the unbiased procedure (issue 12 §3): attrition fitted like the
default APC model, ``cum_pd_unconditional`` beside the net ``cum_pd``, calibration on matching
definitions (``defaulted_within_horizon`` is a default before payoff)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from apcfair import layout, load_portfolio
from apcfair.apc import APCModel
from apcfair.apc.attrition import fit_attrition, try_fit_attrition
from apcfair.forecast.cumulative import HorizonGrid, attrition_path, unconditional_cumulative_pd
from apcfair.unbiased import UnbiasedByDesign, UnbiasedResult
from apcfair.unbiased.result import ForecastTable
from apcfair.unbiased.stages import fit_apc, fit_attrition_apc, forecast, split_accounts
from data_synth import SynthConfig, generate_portfolio

RESTRICTED, CREDIT = ["minority", "sex"], ["bureau_score", "total_deposits"]


def _portfolio(n=3000, seed=0, **kw):
    return load_portfolio(generate_portfolio(SynthConfig(n_accounts=n, seed=seed, **kw)).loans)


def _fit(portfolio, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return UnbiasedByDesign(restricted=RESTRICTED, credit=CREDIT, gbm=False, n_boot=20, **kw).fit(portfolio).result_


@pytest.fixture(scope="module")
def with_payoff():
    """The default synthetic book (payoff_rate 0.015 a month), 3,000 accounts."""
    portfolio = _portfolio()
    return portfolio, _fit(portfolio)


def test_no_payoff_unconditional_equals_net_to_1e12():
    res = _fit(_portfolio(n=2000, seed=1, payoff_rate=0.0))
    f = res.forecasts
    assert np.max(np.abs(f["cum_pd_unconditional"] - f["cum_pd"])) < 1e-12
    assert np.max(np.abs(f["cum_pd_unconditional_observed_window"] - f["cum_pd_observed_window"])) < 1e-12
    att = res.settings["design"]["attrition"]
    assert res.attrition_result is None and att["unconditional"] and "no exit other than default" in att["note"]
    for r in res.rows:
        cu = r["calibration_unconditional"]
        assert cu["expected_defaults"] == pytest.approx(cu["net_expected_defaults"], abs=1e-9)


def test_with_payoff_matching_definition_is_calibrated_and_net_is_not(with_payoff):
    _, res = with_payoff
    f = res.forecasts
    assert (f["cum_pd_unconditional"] <= f["cum_pd"] + 1e-15).all()
    assert (f["cum_pd_unconditional_observed_window"] <= f["cum_pd_observed_window"] + 1e-15).all()
    # 1.5% a month pay off: over 36 months the net figure is about 1.45x the unconditional one
    assert f["cum_pd"].mean() / f["cum_pd_unconditional"].mean() > 1.2
    for r in res.rows:
        if r["model"] not in ("credit_with_restricted_offset", "credit_restricted_mean"):
            continue
        cu = r["calibration_unconditional"]
        # measured on seed 0: unconditional 1.05 (in) / 1.06 (out); net 1.49 / 1.51
        assert abs(cu["expected_over_actual"] - 1) < abs(cu["net_expected_over_actual"] - 1)
        assert abs(cu["expected_over_actual"] - 1) < 0.25  # ~54 defaults per sample: Poisson sd ~14%
        assert cu["net_expected_over_actual"] > 1.25
        assert cu["actual_defaults"] == int(f[(f.model == r["model"]) & (f["sample"] == r["sample"])]
                                            ["defaulted_within_horizon"].sum())
        # mean forecast on the horizon against Aalen-Johansen (payoff competing), inside its 95% band
        assert cu["aj_lower"] <= cu["mean_cum_pd_unconditional_horizon"] <= cu["aj_upper"]
        assert "definition" in cu and "definition" in r["calibration"]


def test_attrition_fitted_on_estimation_accounts_only(with_payoff):
    portfolio, res = with_payoff
    in_sample = (res.forecasts.query("model == 'credit'")["sample"] == "in").to_numpy()
    est = portfolio.subset(in_sample, "est", "held out").cells()
    direct, note = try_fit_attrition(APCModel(hyper="eb", n_draws=400, random_state=0), est)
    assert note is None
    assert int(res.attrition_result.cells["at_risk"].sum()) == int(direct.cells["at_risk"].sum())
    assert int(res.attrition_result.cells["at_risk"].sum()) < int(portfolio.cells().table["at_risk"].sum())
    for name in ("lifecycle", "environment"):
        np.testing.assert_allclose(res.attrition_result.draws[name], direct.draws[name], atol=1e-12)
    assert res.settings["design"]["attrition"]["fitted"].startswith("on the estimation accounts only")


def test_forecast_follows_the_recipe():
    portfolio = _portfolio(n=1500, seed=2)
    in_sample = split_accounts(portfolio.loans["account_id"].to_numpy(), 0.5, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        _, offsets = fit_apc(portfolio, in_sample, horizon=36, apc_model=APCModel(n_draws=50, random_state=0))
        res_q, q_offsets, note = fit_attrition_apc(portfolio, in_sample, horizon=36,
                                                   apc_model=APCModel(n_draws=50, random_state=0))
    assert note is None and res_q is not None
    rng = np.random.default_rng(0)
    score = rng.normal(0, 0.5, portfolio.n_accounts)
    fc = forecast(portfolio, offsets, {"credit": score, "credit_with_restricted_offset": score,
                                       "credit_restricted_zero": score}, np.zeros_like(score), in_sample,
                  horizon=36, attrition_offsets=q_offsets)
    vintage = portfolio.spells().vintage
    q = attrition_path(vintage, q_offsets, 36)
    expect = unconditional_cumulative_pd(HorizonGrid(vintage, offsets, 36).probabilities(score), q)
    np.testing.assert_allclose(fc.unconditional["credit"], expect, atol=1e-14)
    # a given fit is used as it is
    same, _, _ = fit_attrition_apc(portfolio, in_sample, horizon=36, attrition_result=res_q)
    assert same is res_q
    # without attrition offsets: no unconditional forecasts, frame as before
    plain = forecast(portfolio, offsets, {"credit": score, "credit_restricted_zero": score}, np.zeros_like(score),
                     in_sample, horizon=36)
    frame = ForecastTable.from_forecasts(plain, portfolio.loans["account_id"], in_sample).to_frame()
    assert "cum_pd_unconditional" not in frame and not plain.unconditional


def test_attrition_plan_follows_the_default_fit_discipline(with_payoff):
    _, res = with_payoff
    ubd = UnbiasedByDesign(restricted=RESTRICTED, credit=CREDIT)
    model, design = ubd._attrition_plan(None, None)
    assert model is None and "default APC model's settings" in design["fitted"]
    model, design = ubd._attrition_plan(res.apc_result, None)  # default fit reused: attrition fitted here
    assert isinstance(model, APCModel) and design["fitted"].startswith("on the estimation accounts only")
    with pytest.warns(UserWarning, match="REUSED ATTRITION FIT"):
        model, design = ubd._attrition_plan(res.apc_result, res.attrition_result)
    assert model is None and "reused" in design["fitted"]
    refit = UnbiasedByDesign(restricted=RESTRICTED, credit=CREDIT, apc_refit="training")
    model, design = refit._attrition_plan(res.apc_result, res.attrition_result)
    assert isinstance(model, APCModel) and "refitted on the estimation accounts" in design["fitted"]
    off = UnbiasedByDesign(restricted=RESTRICTED, credit=CREDIT, attrition=False)
    assert off._attrition_plan(None, None) == (None, {"fitted": "no (attrition=False): net cumulative PDs only"})
    with pytest.raises(ValueError, match="without apc_result"):
        ubd.fit(_portfolio(n=300), attrition_result=res.attrition_result)


def test_save_load_and_definitions(with_payoff, tmp_path):
    import pyarrow.parquet as pq

    _, res = with_payoff
    folder = res.save(tmp_path / "u")
    assert (folder / layout.APC_ATTRITION_RESULT).exists()
    back = UnbiasedResult.load(folder)
    np.testing.assert_allclose(back.attrition_result.draws["lifecycle"], res.attrition_result.draws["lifecycle"])
    meta = json.loads(pq.read_schema(folder / layout.FORECASTS).metadata[b"apcfair.columns"])
    assert "before any other exit" in meta["cum_pd_unconditional"] and meta["cum_pd"].startswith("NET")
    d = res.to_json_dict()
    assert {"cum_pd", "cum_pd_unconditional", "calibration", "calibration_unconditional"} <= set(
        d["cumulative_pd_definitions"])
    assert d["attrition_identification"]
    text = res.summary()
    assert "NET of attrition" in text and "unconditional (matching definition)" in text
    pd.testing.assert_frame_equal(back.forecasts, res.forecasts)


def test_net_only_when_asked(with_payoff):
    portfolio, _ = with_payoff
    res = _fit(portfolio.subset(np.arange(portfolio.n_accounts) < 1000, "t", "t"), attrition=False)
    assert "cum_pd_unconditional" not in res.forecasts and res.attrition_result is None
    assert "calibration_unconditional" not in res.rows[0]


def test_cli_loads_the_attrition_fit_beside_the_apc_fit(with_payoff, tmp_path):
    from apcfair.cli._common import load_apc_result

    _, res = with_payoff
    res.apc_result.save(tmp_path / layout.APC_RESULT)
    assert load_apc_result(str(tmp_path), attrition=True)[1] is None
    assert load_apc_result(str(tmp_path)).n_draws == res.apc_result.n_draws  # unchanged without the keyword
    res.attrition_result.save(tmp_path / layout.APC_ATTRITION_RESULT)
    apc, att = load_apc_result(str(tmp_path / layout.APC_RESULT), attrition=True)
    np.testing.assert_allclose(att.draws["environment"], res.attrition_result.draws["environment"])
    (tmp_path / layout.APC_ATTRITION_RESULT).write_bytes(b"not netcdf")
    from apcfair.cli._common import UserError

    with pytest.raises(UserError, match="apc_attrition_result.nc"):
        load_apc_result(str(tmp_path), attrition=True)


def test_refit_training_and_direct_fit_of_all_accounts_fit(with_payoff):
    """--apc-refit training refits a given all-accounts attrition fit on the estimation accounts."""
    portfolio, res = with_payoff
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        full = fit_attrition(APCModel(hyper="eb", n_draws=400, random_state=0), portfolio.cells())
    refit = UnbiasedByDesign(restricted=RESTRICTED, credit=CREDIT, apc_refit="training")
    model, _ = refit._attrition_plan(res.apc_result, full)
    in_sample = (res.forecasts.query("model == 'credit'")["sample"] == "in").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        again, _, _ = fit_attrition_apc(portfolio, in_sample, horizon=36, apc_model=model)
    for name in ("lifecycle", "environment"):
        np.testing.assert_allclose(again.draws[name], res.attrition_result.draws[name], atol=1e-12)


@pytest.mark.slow
def test_cli_end_to_end_with_apc_refit_training(tmp_path):
    """``apcfair apc`` (both hazards) -> ``apcfair unbiased --apc DIR --apc-refit training``: both fits
    refitted on the estimation accounts; forecasts.parquet and comparison.json carry both definitions
    (~100 s on the shared 2-core machine)."""
    import pyarrow.parquet as pq

    from apcfair.cli import main

    assert main(["synth", "--accounts", "3000", "--seed", "4", "--out", str(tmp_path / "data")]) == 0
    data = str(tmp_path / "data" / "loans.parquet")
    assert main(["apc", "--data", data, "--out", str(tmp_path / "apc"), "--seed", "0"]) == 0
    assert json.loads((tmp_path / "apc" / "apc.json").read_text())["attrition"]["lifecycle"]
    out = tmp_path / "unbiased"
    base = ["unbiased", "--data", data, "--restricted", "minority,sex", "--credit", "bureau_score,total_deposits",
            "--no-gbm", "--n-boot", "20"]
    assert main([*base, "--out", str(out), "--apc", str(tmp_path / "apc"), "--apc-refit", "training"]) == 0
    frame = pq.read_table(out / layout.FORECASTS).to_pandas()
    assert (frame["cum_pd_unconditional"] <= frame["cum_pd"] + 1e-15).all()
    rows = json.loads((out / layout.COMPARISON).read_text())
    assert all("calibration_unconditional" in r for r in rows)
    settings = json.loads((out / layout.COST_OF_FAIRNESS).read_text())["settings"]
    assert "refitted on the estimation accounts" in settings["design"]["attrition"]["fitted"]
    apc_json = json.loads((out / "apc.json").read_text())  # the training-only fits written on the way
    assert apc_json["attrition"]["events"]["non_default_exits"] < json.loads(
        (tmp_path / "apc" / "apc.json").read_text())["attrition"]["events"]["non_default_exits"]
