"""Drivers chosen explicitly with expected signs: report, warnings, drop/error, stress.json."""

from __future__ import annotations

import json

import pytest

from apcfair.forecast import MacroModel, StressTest
from apcfair.forecast.macro import parse_driver_spec

DRIVER_KEYS = ["name", "transform", "coefficient", "lower", "upper", "p_value", "expected_sign", "warning"]


def test_driver_spec_parsing_and_errors():
    assert parse_driver_spec("unemployment_rate:+, gdp_growth:-,hpi") == (
        ["unemployment_rate", "gdp_growth", "hpi"], {"unemployment_rate": "+", "gdp_growth": "-"})
    with pytest.raises(ValueError, match="expected signs"):
        parse_driver_spec(["x"], {"x": "up"})
    with pytest.raises(ValueError, match="on_wrong_sign"):
        MacroModel(on_wrong_sign="ignore")._check()


def test_true_driver_betas_recovered_with_expected_signs_and_no_warning(synth):
    """data_synth's true sensitivities (unemployment change +0.2, GDP growth -0.04 logit per unit)."""
    with pytest.warns(UserWarning, match="gdp_growth: .*not significant"):
        res = MacroModel(drivers="unemployment_change:+,gdp_growth:-", random_state=0).fit(
            synth.apc, synth.sp.macro_history).result_
    rep = {d["name"]: d for d in res.driver_report}
    for name in ("unemployment_change", "gdp_growth"):
        beta = synth.sp.truth["macro_beta"][name]
        assert rep[name]["lower"] <= beta <= rep[name]["upper"], (name, beta, rep[name])
    # the strong driver has its expected sign and p < 0.05; the weak true GDP effect (-0.04 per
    # pp) is not distinguishable from zero on 20k accounts and is flagged, not hidden
    assert rep["unemployment_change"]["warning"] is None and not rep["unemployment_change"]["wrong_sign"]
    assert rep["gdp_growth"]["p_value"] > 0.05 and "not significant" in rep["gdp_growth"]["warning"]


def test_wrong_sign_warns_drops_or_errors(synth, synth_macro):
    hist = synth.sp.macro_history
    with pytest.warns(UserWarning, match="driver unemployment_change: wrong sign: coefficient \\+0.2"):
        res = MacroModel(drivers="unemployment_change:-,gdp_growth", random_state=0).fit(synth.apc, hist).result_
    assert res.drivers == ["unemployment_change", "gdp_growth"] and res.warnings
    with pytest.warns(UserWarning, match="dropped: wrong sign"):
        dropped = MacroModel(drivers="unemployment_change:-,gdp_growth", on_wrong_sign="drop",
                             random_state=0).fit(synth.apc, hist).result_
    assert dropped.drivers == ["gdp_growth"]
    with pytest.raises(ValueError, match="wrong sign.*on_wrong_sign='error'"):
        MacroModel(drivers="unemployment_change:-", on_wrong_sign="error", random_state=0).fit(synth.apc, hist)
    # the report travels to the stress result and stress.json
    proj = res.project(synth.sp.scenarios, 6, random_state=0)
    st = StressTest(horizon=6, new_vintages=False).fit(synth.portfolio, synth.apc, proj).result_
    d = json.loads(json.dumps(st.to_json_dict()))
    assert [list(x)[:8] for x in d["drivers"]] == [DRIVER_KEYS, DRIVER_KEYS]
    assert d["drivers"][0]["expected_sign"] == "-" and "wrong sign" in d["drivers"][0]["warning"]
    assert any("wrong sign" in w for w in d["warnings"]) and "WARNING: wrong sign" in st.summary()
    assert d["definitions"]["driver_trend"].startswith("extend")
    assert "Month-of-year dummies: 11 terms" in res.summary()
