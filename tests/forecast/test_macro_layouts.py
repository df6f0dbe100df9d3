"""Declared macro transforms, FRED downloads, the Fed's supervisory scenario layout, several files,
``driver_trend`` and the consistency of driver bands and p-values (issue 13, section 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apcfair.forecast import MacroModel, read_macro_history, read_scenarios
from apcfair.forecast.transforms import parse_drivers, transform_history, transform_scenarios

from .conftest import simulate_environment

FIX = Path(__file__).resolve().parents[1] / "fixtures"
FRED = [FIX / "fred" / "UNRATE.csv", FIX / "fred" / "A191RL1Q225SBEA.csv"]
FED = [FIX / "supervisory" / "2020_supervisory_baseline_domestic.csv",
       FIX / "supervisory" / "2020_supervisory_severely_adverse_domestic.csv"]


# ---------------------------------------------------------------------------- transforms
def test_transforms_match_pandas_reference():
    """diffN, pctN/yoy, logdiffN, lagN against pandas' diff, pct_change, log-diff and shift."""
    x = pd.Series(np.random.default_rng(0).uniform(50, 150, 40))
    ref = {
        "diff12": x.diff(12), "diff": x.diff(1), "yoy": 100 * x.pct_change(12), "pct3": 100 * x.pct_change(3),
        "logdiff6": 100 * np.log(x).diff(6), "lag3": x.shift(3), "log": np.log(x),
        "yoy,lag3": (100 * x.pct_change(12)).shift(3),
    }
    for decl, want in ref.items():
        (spec,) = parse_drivers("x:" + decl)
        np.testing.assert_allclose(spec.apply(x.to_numpy()), want.to_numpy(), rtol=0, atol=1e-12, err_msg=decl)


def test_declarations_signs_and_errors():
    specs = parse_drivers("unemployment_rate:diff12:+,hpi:yoy,lag3:-,gdp")
    assert [(s.column, s.sign) for s in specs] == [("unemployment_rate_diff12", "+"), ("hpi_yoy_lag3", "-"),
                                                   ("gdp", None)]
    assert specs[0].definition == "change over 12 months of unemployment_rate"
    assert specs[1].history_months == 15
    with pytest.raises(ValueError, match="unknown transform 'cube'"):
        parse_drivers("x:cube")
    with pytest.raises(ValueError, match="declared more than once"):
        parse_drivers("x:diff,x:diff1:+".replace("diff1", "diff"))
    with pytest.raises(ValueError, match="needs positive values"):
        parse_drivers("x:logdiff")[0].apply(np.array([1.0, 0.0, 2.0]))


def test_scenario_transform_continues_the_history():
    hist = read_macro_history(pd.DataFrame({"month": pd.period_range("2018-01", periods=24, freq="M").astype(str),
                                            "u": np.arange(24.0)}))
    sc = read_scenarios(pd.DataFrame({"scenario": "s", "month": ["2020-01", "2020-02"], "u": [100.0, 101.0]}))
    specs = parse_drivers("u:diff12")
    h = transform_history(hist, specs)
    assert h["month"].iloc[0] == "2019-01" and h["u_diff12"].tolist() == [12.0] * 12
    out = transform_scenarios(sc, hist, specs)
    assert out["u_diff12"].tolist() == [100.0 - 12.0, 101.0 - 13.0]  # vs 2019-01 and 2019-02 of the history
    late = read_scenarios(pd.DataFrame({"scenario": "s", "month": ["2020-03"], "u": [1.0]}))
    with pytest.raises(ValueError, match="continuous path"):
        transform_scenarios(late, hist, specs)


# ---------------------------------------------------------------------------- layouts
def test_fred_downloads_merge_by_date_and_match_supervisory_names():
    hist = read_macro_history(FRED, drivers=["unemployment_rate", "real_gdp_growth"])
    assert list(hist.columns) == ["month", "code", "unemployment_rate", "real_gdp_growth"]
    # UNRATE monthly from 2003-01, GDP growth quarterly (2003-01-01 = Q1) held over its months
    assert hist["month"].iloc[0] == "2003-01" and hist["month"].iloc[-1] == "2020-09"
    assert hist["unemployment_rate"].iloc[0] == 5.8
    assert hist.loc[hist["month"] == "2008-12", "real_gdp_growth"].item() == hist.loc[
        hist["month"] == "2008-10", "real_gdp_growth"].item()
    assert hist.attrs["sources"]["unemployment_rate"]["column"] == "UNRATE"
    raw = read_macro_history(FRED)  # no drivers named: the series ids as they come
    assert raw.attrs["drivers"] == ["UNRATE", "A191RL1Q225SBEA"]
    with pytest.raises(ValueError, match=r"missing driver column\(s\) \['hpi'\]"):
        read_macro_history(FRED, drivers=["unemployment_rate", "hpi"])


def test_supervisory_layout_one_file_per_scenario():
    sc = read_scenarios(FED, drivers=["UNRATE", "real_gdp_growth", "house_price_index_level"])
    assert sc["scenario"].unique().tolist() == ["baseline", "severely_adverse"]
    per = sc.groupby("scenario").size()
    assert per.tolist() == [36, 36]  # 12 quarters 2020 Q1 .. 2022 Q4 held over their months
    sev = sc[sc["scenario"] == "severely_adverse"].set_index("month")
    assert sev.loc["2021-07", "UNRATE"] == 10.0 and sev.loc["2020-05", "real_gdp_growth"] == -9.9
    assert sc.attrs["sources"]["UNRATE"]["column"] == "Unemployment rate"
    everything = read_scenarios(FED[0])
    assert "house_price_index_level" in everything.columns and "mortgage_rate" in everything.columns


# ---------------------------------------------------------------------------- driver trend, p-values
def _fit(trend="extend", **kw):
    apc, hist, beta = simulate_environment(seed=3)
    model = MacroModel(drivers="x1:+,x2:-", residuals="none", driver_trend=trend, random_state=0, **kw)
    return model.fit(apc, hist).result_, hist


def test_driver_trend_hold_and_extend():
    """Constant drivers at their last in-window line value: 'hold' leaves H on its own (zero) line,
    'extend' moves it by -sum_k b_k s_k per month."""
    res_e, hist = _fit("extend")
    res_h, _ = _fit("hold")
    last = int(res_e.codes[-1])
    t_c = res_e.t_centre
    value = {k: v["value_at_centre"] + v["slope"] * (last - t_c) for k, v in res_e.driver_lines.items()}
    months = pd.period_range("2020-02", periods=24, freq="M").astype(str)
    sc = pd.DataFrame({"scenario": "flat", "month": months, **{k: value[k] for k in ("x1", "x2")}})
    e = res_e.project(sc, random_state=0)["flat"].mean(axis=0)
    h = res_h.project(sc, random_state=0)["flat"].mean(axis=0)
    beta = res_e.coef_draws[["x1", "x2"]].mean().to_numpy()
    slopes = np.array([res_e.driver_lines[k]["slope"] for k in ("x1", "x2")])
    # seasonal dummies move both paths alike; the difference is the drivers' extended lines
    np.testing.assert_allclose(np.diff(h - e), beta @ slopes, rtol=1e-9)
    assert abs(beta @ slopes) > 1e-4  # the drivers do trend in the window (the test has power)
    assert "hold" in res_h.summary() and res_h.settings["driver_trend"] == "hold"
    assert res_h.project(sc, random_state=0).notes["driver_trend"].startswith("hold")


def test_driver_p_value_agrees_with_its_band():
    res, _ = _fit()
    cl = res.credible_level
    for d in res.driver_report:
        excludes_zero = d["lower"] > 0 or d["upper"] < 0
        assert excludes_zero == (d["p_value"] < 1 - cl), d
        assert {"p_value_point_fit", "estimate_point_fit", "definition", "term"} <= set(d)


# ---------------------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def us_book(tmp_path_factory):
    """A synthetic book whose true environment is driven by the real FRED series of the fixtures:
    H = 0.2 x (12-month change of UNRATE) - 0.04 x (real GDP growth, % SAAR) + seasonality."""
    from data_synth import SynthConfig, generate_portfolio

    hist = read_macro_history(FRED, drivers=["unemployment_rate", "real_gdp_growth"])
    drivers = transform_history(hist, parse_drivers("unemployment_rate:diff12,real_gdp_growth"))
    beta = {"unemployment_rate_diff12": 0.2, "real_gdp_growth": -0.04}
    macro = drivers[drivers["month"] <= "2019-12"].drop(columns="code")
    sp = generate_portfolio(SynthConfig(n_accounts=8000, seed=5, start="2006-01", end="2019-12",
                                        macro=macro, macro_beta=beta))
    d = tmp_path_factory.mktemp("us_book")
    sp.loans.to_parquet(d / "loans.parquet", index=False)
    return d, beta


@pytest.mark.slow  # ~30 s: an APC fit on 8,000 accounts
def test_stress_runs_on_fred_files_and_supervisory_tables_without_renaming(us_book, tmp_path, capsys):
    from apcfair.cli import main

    d, beta = us_book
    out = tmp_path / "out"
    code = main(["stress", "--data", str(d / "loans.parquet"), "--macro", *map(str, FRED),
                 "--scenarios", *map(str, FED), "--drivers", "unemployment_rate:diff12:+,real_gdp_growth:-",
                 "--draws", "200", "--horizon", "36", "--driver-trend", "hold", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    s = json.loads((out / "stress.json").read_text())
    assert list(s["scenarios"]) == ["baseline", "severely_adverse"]
    rows = {r["name"]: r for r in s["drivers"]}
    assert rows["unemployment_rate"]["transform"] == "diff12"
    assert rows["unemployment_rate"]["series_unit"].startswith("percent")
    assert rows["unemployment_rate"]["lower"] <= beta["unemployment_rate_diff12"] <= rows["unemployment_rate"]["upper"]
    assert s["definitions"]["driver_trend"].startswith("hold")
    assert s["definitions"]["driver_transforms"][0]["definition"] == "change over 12 months of unemployment_rate"
    assert set(s["definitions"]["drivers"]) >= {"coefficient", "p_value", "lower", "upper"}
    base, sev = (s["scenarios"][k]["cumulative_pd"] for k in ("baseline", "severely_adverse"))
    assert sev > base
