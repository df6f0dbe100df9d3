"""Macro history / scenario CSV formats: validation errors, quarterly expansion, default scenario."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.forecast import random_walk_projection, read_macro_history, read_scenarios
from apcfair.forecast.scenarios import driver_path


def _hist(n=6, start="2019-01"):
    months = pd.period_range(start, periods=n, freq="M").strftime("%Y-%m")
    return pd.DataFrame({"month": months, "u": np.arange(n, dtype=float), "g": 2.0})


def _scen():
    a = _hist(3, "2020-01").assign(scenario="baseline")
    b = _hist(3, "2020-01").assign(scenario="adverse", u=[5.0, 6.0, 7.0])
    return pd.concat([a, b], ignore_index=True)


def test_history_is_sorted_coded_and_keeps_drivers():
    df = _hist().iloc[::-1]
    out = read_macro_history(df)
    assert list(out.columns) == ["month", "code", "u", "g"]
    assert out["month"].tolist()[0] == "2019-01"
    assert out["code"].tolist() == list(range(2019 * 12, 2019 * 12 + 6))
    assert out.attrs["drivers"] == ["u", "g"]


def test_scenarios_csv_roundtrip(tmp_path):
    path = tmp_path / "scen.csv"
    _scen().to_csv(path, index=False)
    out = read_scenarios(path)
    assert out["scenario"].unique().tolist() == ["baseline", "adverse"]
    assert out.groupby("scenario").size().tolist() == [3, 3]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.drop(columns="month"), "no 'month' column"),
    (lambda d: d.assign(month=["2019-01", "2019-02", "garbage", "2019-04", "2019-05", "2019-06"]), "are not months"),
    (lambda d: d.assign(month=["2019-01", "2019-02", "2019-03", "2019-04", "2019-05", "2019-05"]), "more than once"),
    (lambda d: d.assign(month=["2019-01", "2019-02", "2019-03", "2019-05", "2019-06", "2019-07"]), "missing between"),
    (lambda d: d.assign(u=["1", "2", "x", "4", "5", "6"]), "non-numeric"),
    (lambda d: d.assign(u=[1, 2, np.nan, 4, 5, 6]), "missing value"),
    (lambda d: d.assign(month=["2019Q1", "2019-02", "2019-03", "2019-04", "2019-05", "2019-06"]), "mixes quarterly"),
    (lambda d: d[["month"]], "no driver columns"),
])
def test_history_errors_name_the_problem(mutate, message):
    with pytest.raises(ValueError, match=message):
        read_macro_history(mutate(_hist()))


def test_missing_driver_named():
    with pytest.raises(ValueError, match=r"missing driver column\(s\) \['hpi'\]"):
        read_macro_history(_hist(), drivers=["u", "hpi"])


def test_scenario_errors():
    with pytest.raises(ValueError, match="no 'scenario' column"):
        read_scenarios(_hist())
    bad = _scen()
    bad.loc[4, "month"] = "2020-01"  # adverse: duplicated (overlapping) month
    with pytest.raises(ValueError, match="scenario 'adverse'.*more than once"):
        read_scenarios(bad)
    with pytest.raises(ValueError, match="looks like a scenarios file"):
        read_macro_history(_scen())
    with pytest.raises(FileNotFoundError):
        read_scenarios("/nonexistent/scenarios.csv")


def test_quarterly_hold_and_interpolate():
    q = pd.DataFrame({"month": ["2008Q1", "2008-Q2", "2008q3"], "g": [1.0, -2.0, 4.0]})
    hold = read_macro_history(q)
    assert hold.attrs["source_frequency"] == "Q"
    assert hold["month"].tolist()[0] == "2008-01" and hold["month"].tolist()[-1] == "2008-09"
    assert hold["g"].tolist() == [1.0] * 3 + [-2.0] * 3 + [4.0] * 3
    lin = read_macro_history(q, quarterly="interpolate")
    # quarter values on the middle months (Feb, May, Aug), linear in between, held at the ends
    assert lin["g"].tolist() == pytest.approx([1.0, 1.0, 0.0, -1.0, -2.0, 0.0, 2.0, 4.0, 4.0])


def test_fred_quarterly_dates_are_detected():
    q = pd.DataFrame({"DATE": ["2008-01-01", "2008-04-01", "2008-07-01"], "x": [1.0, 2.0, 3.0]})
    out = read_macro_history(q.rename(columns={"DATE": "month"}))
    assert len(out) == 9 and out["x"].tolist()[3:6] == [2.0] * 3
    # forced monthly, three-month steps are gaps, reported rather than silently accepted
    with pytest.raises(ValueError, match="missing between"):
        read_macro_history(pd.DataFrame({"month": ["2008-01", "2008-04"], "x": [1.0, 2.0]}), frequency="M")


def test_driver_path_prefers_scenario_and_reports_gaps():
    hist = read_macro_history(_hist(13))  # 2019-01 .. 2020-01 (u = 0 .. 12)
    sc = read_scenarios(_scen())
    base = sc[sc["scenario"] == "adverse"]
    codes = np.arange(2019 * 12 + 10, 2020 * 12 + 3)
    x = driver_path(hist, base, ["u"], codes, "test")[:, 0]
    assert x.tolist() == [10.0, 11.0, 5.0, 6.0, 7.0]
    with pytest.raises(ValueError, match="no driver values for 1 month"):
        driver_path(hist, base, ["u"], np.append(codes, codes[-1] + 1), "test")


def test_random_walk_projection(synth):
    proj = random_walk_projection(synth.apc, 24, random_state=0)
    last = synth.apc.labels["environment"][-1]
    assert proj.scenarios == ["random_walk"] and proj.horizon == 24
    assert proj.codes[0] == last + 1
    d = proj["random_walk"]
    assert d.shape == (synth.apc.n_draws, 24)
    sf = proj.summary_frame()
    width = (sf["upper"] - sf["lower"]).to_numpy()
    assert width[-1] > width[0]  # innovations widen the band with the horizon
    assert proj.truncate(6).horizon == 6
    with pytest.raises(ValueError, match="horizon"):
        random_walk_projection(synth.apc, 0)
