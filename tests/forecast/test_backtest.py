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
