"""``apcfair stress``: stress.json layout, outputs, random-walk default, one-line errors."""

from __future__ import annotations

import json

import pytest

from apcfair.cli import main


@pytest.fixture(scope="module")
def files(synth, tmp_path_factory):
    d = tmp_path_factory.mktemp("stress_in")
    synth.sp.loans.to_parquet(d / "loans.parquet", index=False)
    synth.sp.macro_history.to_csv(d / "macro_history.csv", index=False)
    synth.sp.scenarios.to_csv(d / "scenarios.csv", index=False)
    synth.apc.save(d / "apc_result.nc")
    return d


def test_stress_command_writes_the_documented_layout(files, tmp_path, capsys):
    out = tmp_path / "stress"
    code = main(["stress", "--data", str(files / "loans.parquet"), "--macro", str(files / "macro_history.csv"),
                 "--scenarios", str(files / "scenarios.csv"), "--out", str(out), "--horizon", "24",
                 "--apc", str(files), "--drivers", "unemployment_change,gdp_growth", "--seed", "1"])
    assert code == 0
    d = json.loads((out / "stress.json").read_text())
    assert set(d["scenarios"]) == {"baseline", "adverse", "severely_adverse"}
    for sc in d["scenarios"].values():
        assert {"month", "pd", "pd_lower", "pd_upper", "expected_defaults", "cumulative_pd"} <= set(sc)
        assert len(sc["month"]) == len(sc["pd"]) == len(sc["expected_defaults"]) == 24
        assert isinstance(sc["cumulative_pd"], float)
    for name in ("fan_chart.png", "fan_chart_by_scenario.png", "environment_scenarios.png", "macro_model.txt",
                 "stress_months.csv", "account_cumulative_pd.parquet"):
        assert (out / name).exists(), name
    assert "Durbin-Watson" in (out / "macro_model.txt").read_text()
    assert "wrote" in capsys.readouterr().out


def test_random_walk_default_fits_the_apc_model(files, tmp_path):
    out = tmp_path / "rw"
    code = main(["stress", "--data", str(files / "loans.parquet"), "--out", str(out), "--horizon", "12",
                 "--draws", "50", "--no-new-vintages"])
    assert code == 0
    d = json.loads((out / "stress.json").read_text())
    assert list(d["scenarios"]) == ["random_walk"] and len(d["scenarios"]["random_walk"]["pd"]) == 12


@pytest.mark.parametrize("extra, message", [
    (["--macro", "M"], "give both --macro and --scenarios"),
    (["--horizon", "0"], "--horizon 0"),
    (["--lags", "0,x", "--macro", "M", "--scenarios", "S"], "comma-separated integers"),
    (["--macro", "M", "--scenarios", "BAD"], "scenario 'baseline': 1 month(s) appear more than once"),
    (["--apc", "/nonexistent"], "does not exist"),
])
def test_user_mistakes_are_one_line_errors(files, tmp_path, capsys, extra, message):
    bad = files / "bad_scenarios.csv"
    text = (files / "scenarios.csv").read_text().splitlines()
    bad.write_text("\n".join([*text[:3], text[2]]) + "\n")  # duplicated month in the first scenario
    sub = {"M": str(files / "macro_history.csv"), "S": str(files / "scenarios.csv"), "BAD": str(bad)}
    args = ["stress", "--data", str(files / "loans.parquet"), "--out", str(tmp_path / "x"),
            *[sub.get(a, a) for a in extra]]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("apcfair: error:") and message in err and "\n" not in err
    assert not (tmp_path / "x").exists()
