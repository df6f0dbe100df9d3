"""``apcfair stress``: stress.json layout, outputs, random-walk default, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
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


def test_precision_option_reaches_the_model_and_changes_numbers_by_far_less_than_their_error(files, tmp_path):
    """--precision float64 gives the exact path; the float32 default moves the reported cumulative PD by
    far less than its Monte Carlo standard error (stress.json records the precision used)."""
    runs = {}
    for prec in ("float32", "float64"):
        out = tmp_path / prec
        code = main(["stress", "--data", str(files / "loans.parquet"), "--out", str(out), "--horizon", "12",
                     "--draws", "50", "--no-new-vintages", "--precision", prec, "--apc", str(files)])
        assert code == 0
        runs[prec] = json.loads((out / "stress.json").read_text())
        assert runs[prec]["settings"]["precision"] == prec
    a, b = (runs[p]["scenarios"]["random_walk"] for p in ("float32", "float64"))
    assert abs(a["cumulative_pd"] - b["cumulative_pd"]) < 1e-6
    assert np.allclose(a["pd"], b["pd"], rtol=1e-5)


def test_quarterly_horizon_is_in_months(files, tmp_path):
    """--horizon is months on quarterly data too (36 = 12 quarters), as in apcfair unbiased: a
    score file written by `unbiased --freq Q --horizon 36` is stressed over the same 36 months."""
    out = tmp_path / "rwq"
    code = main(["stress", "--data", str(files / "loans.parquet"), "--freq", "Q", "--out", str(out),
                 "--horizon", "36", "--draws", "50", "--no-new-vintages"])
    assert code == 0
    d = json.loads((out / "stress.json").read_text())
    assert len(d["scenarios"]["random_walk"]["pd"]) == 12
    assert (d["horizon"], d["horizon_unit"], d["horizon_months"]) == (12, "quarters", 36)


@pytest.mark.parametrize("extra, message", [
    (["--macro", "M"], "give both --macro and --scenarios"),
    (["--horizon", "0"], "--horizon: 0 is too small: at least 1 months"),
    (["--lags", "0,x", "--macro", "M", "--scenarios", "S"], "comma-separated integers"),
    (["--drivers", "unemployment_change:cube", "--macro", "M", "--scenarios", "S"], "unknown transform 'cube'"),
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
    try:
        code = main(args)
    except SystemExit as exc:  # option ranges are checked by the parser, before any work
        code = exc.code
    assert code == (3 if "--apc" in extra else 2)  # 3: an input file is missing
    err = capsys.readouterr().err.strip()
    assert err.startswith("apcfair: error:") and message in err and "\n" not in err
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- --scores
@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """4,000 synthetic accounts and `apcfair unbiased` on them (account_scores.parquet, apc_result.nc)."""
    d = tmp_path_factory.mktemp("stress_scores")
    assert main(["synth", "--accounts", "4000", "--seed", "3", "--out", str(d / "synth")]) == 0
    assert main(["unbiased", "--data", str(d / "synth" / "loans.parquet"), "--restricted", "age,sex,black_frac",
                 "--credit", "bureau_score,total_deposits", "--out", str(d / "unbiased"), "--no-gbm",
                 "--horizon", "12", "--bins", "5"]) == 0
    return d


def _stress_scored(scored, out, *extra):
    return main(["stress", "--data", str(scored / "synth" / "loans.parquet"), "--apc", str(scored / "unbiased"),
                 "--out", str(out), "--horizon", "12", "--no-new-vintages", *extra])


def test_stress_with_account_scores_from_unbiased(scored, tmp_path, capsys):
    scores = pd.read_parquet(scored / "unbiased" / "account_scores.parquet")
    # CSV with the zeroed column and a few accounts that are not in the portfolio
    extra = pd.DataFrame({"account_id": [10**9 + i for i in range(5)],
                          **{c: 0.0 for c in scores.columns if c != "account_id"}})
    csv = tmp_path / "scores.csv"
    pd.concat([scores.sample(frac=1, random_state=0), extra]).to_csv(csv, index=False)

    assert _stress_scored(scored, tmp_path / "mean", "--scores", str(scored / "unbiased" / "account_scores.parquet"),
                          "--macro", str(scored / "synth" / "macro_history.csv"),
                          "--scenarios", str(scored / "synth" / "scenarios.csv")) == 0
    assert "account scores: 'credit_restricted_mean'" in capsys.readouterr().out
    d = json.loads((tmp_path / "mean" / "stress.json").read_text())
    assert {k: d["scores"][k] for k in ("column", "matched", "ignored")} == {
        "column": "credit_restricted_mean", "matched": 4000, "ignored": 0}
    assert d["scores"]["file"].endswith("account_scores.parquet")
    assert d["definitions"]["score"].startswith("account scores")
    assert set(d["scenarios"]) == {"baseline", "adverse", "severely_adverse"}

    assert _stress_scored(scored, tmp_path / "zero", "--scores", str(csv),
                          "--score-column", "credit_restricted_zero") == 0
    z = json.loads((tmp_path / "zero" / "stress.json").read_text())
    assert z["scores"]["column"] == "credit_restricted_zero"
    assert (z["scores"]["matched"], z["scores"]["ignored"]) == (4000, 5)
    acct = pd.read_parquet(tmp_path / "zero" / "account_cumulative_pd.parquet")
    assert acct["account_id"].nunique() == len(acct) > 0

    assert _stress_scored(scored, tmp_path / "plain") == 0   # without --scores: the APC vintage effect
    p = json.loads((tmp_path / "plain" / "stress.json").read_text())
    assert p["scores"] is None and p["definitions"]["score"] == "APC vintage effect G(v)"


@pytest.mark.parametrize("edit, extra, message", [
    (None, ["--score-column", "nope"], "no column 'nope' (--score-column); score columns there: credit"),
    ("no_id", [], "no column 'account_id'"),
    ("drop", [], "no score for 7 of the 4,000 account(s) of the portfolio (e.g. account_id"),
    ("dup", [], "1 account_id(s) appear more than once (e.g. 11)"),
    ("nan", [], "'credit_restricted_mean' has 2 missing or infinite score(s) for accounts of the portfolio"),
])
def test_score_file_mistakes_are_one_line_errors(scored, tmp_path, capsys, edit, extra, message):
    scores = pd.read_parquet(scored / "unbiased" / "account_scores.parquet")
    if edit == "no_id":
        scores = scores.rename(columns={"account_id": "id"})
    elif edit == "drop":
        scores = scores.iloc[7:]
    elif edit == "dup":
        scores = pd.concat([scores, scores[scores["account_id"] == 11]])
    elif edit == "nan":
        scores.loc[[3, 5], "credit_restricted_mean"] = [np.nan, np.inf]
    path = tmp_path / "scores.parquet"
    scores.to_parquet(path, index=False)
    assert _stress_scored(scored, tmp_path / "x", "--scores", str(path), *extra) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("apcfair: error: --scores") and message in err and "\n" not in err
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- drivers, refusal, --apc folders
def test_drivers_with_signs_warn_in_console_and_json(files, tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["stress", "--data", str(files / "loans.parquet"), "--apc", str(files / "apc_result.nc"),
                 "--macro", str(files / "macro_history.csv"), "--scenarios", str(files / "scenarios.csv"),
                 "--drivers", "unemployment_change:-,gdp_growth", "--out", str(out), "--horizon", "6",
                 "--no-new-vintages"]) == 0
    err = capsys.readouterr().err
    assert "WARNING: driver unemployment_change: wrong sign" in err
    d = json.loads((out / "stress.json").read_text())
    assert [x["name"] for x in d["drivers"]] == ["unemployment_change", "gdp_growth"]
    assert d["drivers"][0]["expected_sign"] == "-" and "wrong sign" in d["drivers"][0]["warning"]
    for sc in d["scenarios"].values():
        assert set(sc["cumulative_pd_quantiles"]) == {"0.05", "0.25", "0.75", "0.95"}
        assert len(sc["environment"]["mean"]) == 6
    assert main(["stress", "--data", str(files / "loans.parquet"), "--apc", str(files / "apc_result.nc"),
                 "--macro", str(files / "macro_history.csv"), "--scenarios", str(files / "scenarios.csv"),
                 "--drivers", "unemployment_change:-,gdp_growth", "--on-wrong-sign", "drop",
                 "--out", str(tmp_path / "d"), "--horizon", "6"]) == 0
    d = json.loads((tmp_path / "d" / "stress.json").read_text())
    assert [x["name"] for x in d["drivers"]] == ["gdp_growth"]


def test_row_sampled_panel_is_refused_with_one_line_and_forced(synth, tmp_path, capsys):
    from tests.forecast.test_scored_paths import _row_sampled_panel

    panel = _row_sampled_panel(synth.portfolio.loans.sample(2000, random_state=1))
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    base = ["stress", "--data", str(path), "--on-invalid", "exclude", "--draws", "30", "--horizon", "6"]
    assert main([*base, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("apcfair: error: the portfolio cannot support a projection") and "\n" not in err
    assert not (tmp_path / "x").exists()
    assert main([*base, "--out", str(tmp_path / "f"), "--force"]) == 0
    assert "FORCED PROJECTION" in capsys.readouterr().err
    d = json.loads((tmp_path / "f" / "stress.json").read_text())
    assert d["warnings"][0].startswith("FORCED PROJECTION ON INCOMPLETE HISTORIES")


def test_apc_from_an_unbiased_folder_that_reused_apc(files, tmp_path):
    """An `unbiased` folder without apc_result.nc is usable when its JSON records the fit."""
    from apcfair.cli.stress import _apc_path

    ub = tmp_path / "unbiased"
    ub.mkdir()
    (ub / "cost_of_fairness.json").write_text(json.dumps({"settings": {"apc": str(files / "apc_result.nc")}}))
    assert _apc_path(str(ub)) == files / "apc_result.nc"
    (ub / "cost_of_fairness.json").write_text(json.dumps({"settings": {}}))
    with pytest.raises(FileNotFoundError, match="reused another fit with --apc"):
        _apc_path(str(ub))
    assert _apc_path(str(files)) == files
