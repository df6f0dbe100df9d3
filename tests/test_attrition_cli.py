"""``apcfair apc`` fits both hazards: the ``attrition`` block of apc.json (issue 12 contract).

The end-to-end runs (two `apcfair apc` calls, ~50 s on a shared CI core: netCDF, plots, ArviZ
import) are marked slow; the skip decision is tested fast.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from apcfair.apc import APCModel, APCResult
from apcfair.cli import main
from data_synth import SynthConfig, generate_portfolio


@pytest.fixture(scope="module")
def apc_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("attrition_cli")
    out = {}
    for name, rate in (("payoff", 0.015), ("no_payoff", 0.0)):
        loans = base / f"{name}.parquet"
        generate_portfolio(SynthConfig(n_accounts=3000, seed=2, start="2016-01", payoff_rate=rate)).loans.to_parquet(loans)
        out[name] = base / name
        assert main(["apc", "--data", str(loans), "--out", str(out[name]), "--seed", "1", "--draws", "100"]) == 0
    return out


@pytest.mark.slow
def test_apc_json_gains_attrition_block_in_the_default_layout(apc_dirs):
    folder = apc_dirs["payoff"]
    js = json.loads((folder / "apc.json").read_text())
    block = js["attrition"]
    for key in ("lifecycle", "vintage", "environment"):
        assert block[key] and set(block[key][0]) == set(js[key][0]) == {"index", "mean", "lower", "upper"}
        assert [r["index"] for r in block[key]][:3] == [r["index"] for r in js[key]][:3]
    assert block["events"]["non_default_exits"] > 500
    assert "other than default" in block["definition"]
    assert block["identification_assumption"] == js["identification_assumption"]
    # the attrition fit is saved beside the default fit and reads back
    res = APCResult.load(folder / "apc_attrition_result.nc")
    np.testing.assert_allclose([r["mean"] for r in block["lifecycle"]], res.lifecycle["mean"], rtol=1e-12)
    assert "Attrition model" in (folder / "apc_summary.txt").read_text()


@pytest.mark.slow
def test_default_block_unchanged(apc_dirs):
    folder = apc_dirs["payoff"]
    js = json.loads((folder / "apc.json").read_text())
    again = APCResult.load(folder / "apc_result.nc").to_json_dict()
    for key in ("lifecycle", "vintage", "environment", "intercept", "identification", "identified_slopes",
                "likelihood", "credible_level"):
        assert json.loads(json.dumps(again[key])) == js[key], key
    # the default model is fitted to defaults, not exits
    assert int(APCResult.load(folder / "apc_result.nc").cells["defaults"].sum()) < js["attrition"]["events"][
        "non_default_exits"]


@pytest.mark.slow
def test_no_payoff_is_said_and_skipped(apc_dirs, capsys):
    folder = apc_dirs["no_payoff"]
    js = json.loads((folder / "apc.json").read_text())
    assert js["attrition"] is None
    assert "no exits other than default" in js["attrition_note"]
    assert not (folder / "apc_attrition_result.nc").exists()
    assert js["lifecycle"]


def test_no_exits_skip_decision_without_fitting():
    import pandas as pd

    from apcfair.apc.attrition import try_fit_attrition

    cells = pd.DataFrame({"vintage": [0, 0], "age": [1, 2], "period": [1, 2], "defaults": [1, 0],
                          "at_risk": [10, 9], "attrition": [0, 0]})
    result, note = try_fit_attrition(APCModel(n_draws=50), cells)
    assert result is None and note.startswith("skipped: the data hold no exits other than default")
    result, note = try_fit_attrition(APCModel(n_draws=50), cells.drop(columns="attrition"))
    assert result is None and "no attrition column" in note
    # too few exits to fit: the default outputs stand, the reason is recorded
    with pytest.warns(UserWarning, match="last period"):
        result, note = try_fit_attrition(APCModel(n_draws=50), cells.assign(attrition=[1, 0]))
    assert result is None and note.startswith("not fitted (1 exits other than default)")
