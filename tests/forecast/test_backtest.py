"""Out-of-time backtest: fit 2005-2016, project 2017-2019 with the actual macro path vs random walk."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from apcfair._summary import Summary
from apcfair.apc import APCModel
from apcfair.forecast import (
    BacktestResult,
    MacroModel,
    MacroResult,
    macro_backtest,
    truncate_portfolio,
)
from tests.forecast.conftest import DRIVERS


def test_truncate_censors_at_the_cut(synth):
    pf = synth.portfolio
    cut = 2016 * 12 + 11
    tr = truncate_portfolio(pf, "2016-12")
    assert tr.window[1] == cut
    assert (tr.loans["vintage"] < cut).all()
    later = pf.loans.set_index("account_id").loc[tr.loans["account_id"], "last_month"].to_numpy() > cut
    assert (tr.loans["default"].to_numpy()[later] == 0).all()
    assert tr.lineage.to_dict() != pf.lineage.to_dict()


@pytest.fixture(scope="module")
def bt(synth):
    return macro_backtest(synth.portfolio, synth.sp.macro_history, fit_end="2016-12", horizon=36,
                          apc_model=APCModel(hyper="eb", n_draws=300, random_state=0),
                          macro_model=MacroModel(drivers=DRIVERS, random_state=0))


def test_macro_projection_beats_random_walk_on_macro_driven_data(bt):
    t = bt.table
    assert len(t) == 36 and t["month"].iloc[0] == "2017-01" and t["month"].iloc[-1] == "2019-12"
    m, rw = bt.scores["macro"], bt.scores["random_walk"]
    for key in ("mae_rate", "rmse_rate", "mean_abs_pct_error", "coverage", "total_defaults_pct_error"):
        assert np.isfinite(m[key]) and np.isfinite(rw[key])
    assert m["mae_rate"] <= rw["mae_rate"]
    assert m["rmse_rate"] <= rw["rmse_rate"]
    assert abs(m["total_defaults_pct_error"]) < 0.5
    assert m["coverage"] >= 0.8
    assert "random_walk" in bt.summary()
    assert len(bt.plot().get_lines()) == 3


def test_backtest_needs_data_and_macro_beyond_the_cut(synth):
    with pytest.raises(ValueError, match="needs data up to"):
        macro_backtest(synth.portfolio, synth.sp.macro_history, fit_end="2018-12", horizon=36)
    hist = synth.sp.macro_history
    with pytest.raises(ValueError, match="must cover the test months"):
        macro_backtest(synth.portfolio, hist[hist["month"] <= "2016-12"], fit_end="2016-12",
                       apc_model=APCModel(hyper="eb", n_draws=50, random_state=0))


def test_result_protocol_and_save_load_round_trip(bt, tmp_path):
    summary = bt.summary()
    assert isinstance(summary, Summary) and "<table" in summary._repr_html_()
    assert summary.splitlines()[0].startswith("Backtest: fit up to 2016-12, projected 2017-01 to 2019-12")
    assert isinstance(bt.macro_result, MacroResult)
    d = json.loads(json.dumps(bt.to_json_dict()))
    assert d["fit_end"] == "2016-12" and d["table"]["columns"][:3] == ["month", "code", "at_risk"]
    back = BacktestResult.load(bt.save(tmp_path / "backtest.json"))
    pd.testing.assert_frame_equal(back.table, bt.table, check_exact=True)
    assert back.scores == bt.scores and back.freq == bt.freq and back.fit_end == bt.fit_end
    assert back.macro_result is None and back.summary() == summary
    assert len(back.plot().get_lines()) == 3


# ---------------------------------------------------------------------------- rolling origins
def test_errors_by_horizon_by_hand():
    from apcfair.forecast.backtest import errors_by_horizon

    long = pd.DataFrame({
        "origin": ["a", "a", "b", "b"], "horizon": [1, 2, 1, 2], "at_risk": [100, 100, 100, 0],
        "observed_rate": [0.010, 0.020, 0.030, np.nan],
        "macro": [0.012, 0.020, 0.027, 0.5], "macro_lower": [0.0, 0.0, 0.028, 0.0], "macro_upper": [1, 1, 1, 1],
        "random_walk": [0.010, 0.025, 0.020, 0.5], "random_walk_lower": 0.0, "random_walk_upper": 1.0})
    b = errors_by_horizon(long).set_index("horizon")
    assert b.loc[1, "n_origins"] == 2 and b.loc[2, "n_origins"] == 1  # no accounts at risk: not scored
    assert b.loc[1, "macro_mae"] == pytest.approx((0.002 + 0.003) / 2)
    assert b.loc[1, "macro_bias"] == pytest.approx((0.002 - 0.003) / 2)
    assert b.loc[1, "macro_coverage"] == 1.0  # 0.010 in [0, 1] and 0.030 in [0.028, 1]
    assert b.loc[1, "random_walk_mae"] == pytest.approx(0.005)
    assert b.loc[1, "mae_ratio"] == pytest.approx(0.0025 / 0.005)
    assert b.loc[2, "random_walk_rmse"] == pytest.approx(0.005)


@pytest.mark.slow  # three APC fits on 20,000 accounts
def test_rolling_origin_backtest_macro_beats_random_walk(synth, tmp_path):
    from apcfair.forecast.backtest import RollingBacktestResult, rolling_backtest

    rb = rolling_backtest(synth.portfolio, synth.sp.macro_history, ["2014-12", "2015-12", "2016-12"], horizon=36,
                          apc_model=APCModel(hyper="eb", n_draws=200, random_state=0),
                          macro_model=MacroModel(drivers="unemployment_change:+,gdp_growth:-", random_state=0))
    b = rb.by_horizon
    assert b["horizon"].tolist() == list(range(1, 37)) and (b["n_origins"] == 3).all()
    # the truth's environment is macro-driven: realised drivers beat the random walk on average
    assert b["macro_mae"].mean() < b["random_walk_mae"].mean()
    assert b["macro_coverage"].mean() >= 0.8
    again = RollingBacktestResult.load(rb.save(tmp_path / "rolling.json"))
    pd.testing.assert_frame_equal(again.by_horizon, b)
    assert len(rb.plot().get_lines()) == 2
