"""``apcfair unbiased`` -> ``apcfair score`` and ``apcfair audit`` end to end (issue 11)."""

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from apcfair.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("u11")
    assert main(["synth", "--accounts", "4000", "--seed", "3", "--out", str(root / "data")]) == 0
    out = root / "unbiased"
    assert main(["unbiased", "--data", str(root / "data" / "loans.parquet"), "--restricted", "minority,sex",
                 "--credit", "bureau_score,total_deposits,subcategory", "--out", str(out), "--n-boot", "50",
                 "--gbm-params", '{"n_estimators": 50}']) == 0
    return root, out


def test_costs_dependence_change_and_calibration_by_group_contracts(run_dir):
    _, out = run_dir
    cost = json.loads((out / "cost_of_fairness.json").read_text())["costs"]
    assert set(cost) == {"traditional_vs_zero", "offset_vs_zero", "gbm_traditional_vs_zero"}
    for c in cost.values():
        for s in ("in", "out"):
            assert {"difference", "lower", "upper", "p_value", "method"} <= set(c[s])
            assert c[s]["lower"] <= c[s]["difference"] <= c[s]["upper"]
    rows = json.loads((out / "comparison.json").read_text())
    assert "gbm_credit" in {r["model"] for r in rows}
    for r in rows:
        groups = r["calibration"]["by_group"]["minority"]
        assert {g["group"] for g in groups} == {"0", "1"}
        assert {"group", "n", "expected_over_actual", "lower", "upper"} <= set(groups[0])
        if r["model"] != "credit":
            ch = r["dependence"]["minority"]["change_vs_credit"]
            assert ch["lower"] <= ch["difference"] <= ch["upper"]
    summary = (out / "unbiased_summary.txt").read_text()
    assert "Cost against today's model" in summary and "What the restricted term carried" in summary
    assert "horizon: 36 months = 36 months" in summary


def test_score_reproduces_the_training_forecasts(run_dir, tmp_path):
    root, out = run_dir
    loans = pd.read_parquet(root / "data" / "loans.parquet")
    applicants = loans[["account_id", "origination", "bureau_score", "total_deposits", "subcategory"]]
    applicants = applicants.sample(frac=1.0, random_state=1)  # order must not matter
    applicants.to_csv(tmp_path / "applicants.csv", index=False)
    assert main(["score", "--model", str(out), "--data", str(tmp_path / "applicants.csv"),
                 "--out", str(tmp_path / "scores.parquet")]) == 0
    scored = pd.read_parquet(tmp_path / "scores.parquet")
    assert list(scored.columns) == ["account_id", "model", "cum_pd"]
    assert set(scored["model"]) == {"credit", "credit_restricted_zero", "credit_restricted_mean", "gbm_credit",
                                    "gbm_credit_restricted_zero"}
    fc = pd.read_parquet(out / "forecasts.parquet")
    both = scored.merge(fc[["account_id", "model", "cum_pd"]], on=["account_id", "model"], suffixes=("", "_train"))
    assert len(both) == len(scored)
    np.testing.assert_allclose(both["cum_pd"], both["cum_pd_train"], rtol=0, atol=1e-10)


def test_score_reports_unseen_categories_and_out_of_range(run_dir, tmp_path, capsys):
    root, out = run_dir
    loans = pd.read_parquet(root / "data" / "loans.parquet").head(20)
    app = loans[["account_id", "origination", "bureau_score", "total_deposits", "subcategory"]].copy()
    app.loc[app.index[1], "bureau_score"] = 9999
    app.to_parquet(tmp_path / "a.parquet")
    assert main(["score", "--model", str(out), "--data", str(tmp_path / "a.parquet"),
                 "--out", str(tmp_path / "s.parquet")]) == 0
    assert "above the training maximum" in capsys.readouterr().out
    # an unseen category is refused with one line naming the column (no silent reference level)
    app.loc[app.index[0], "subcategory"] = "PLATINUM-NEW"
    app.to_parquet(tmp_path / "b.parquet")
    assert main(["score", "--model", str(out), "--data", str(tmp_path / "b.parquet"),
                 "--out", str(tmp_path / "s2.parquet")]) == 2
    assert "subcategory" in capsys.readouterr().err


def test_forecasts_audit_with_expected_equal_observed_definitions(run_dir, tmp_path):
    _, out = run_dir
    fc = pd.read_parquet(out / "forecasts.parquet")
    meta = json.loads(pq.read_schema(out / "forecasts.parquet").metadata[b"apcfair.columns"])
    assert {"cum_pd", "cum_pd_exposure", "defaulted_within_horizon", "complete_horizon"} <= set(meta)
    assert fc["complete_horizon"].dtype == bool and {"minority", "sex"} <= set(fc.columns)
    one = fc[fc["model"] == "credit_restricted_mean"]
    # same definition: expected defaults (sum of the probability of the observed outcome)
    # against observed defaults within the horizon, all accounts, within 10%
    ratio = one["cum_pd_exposure"].sum() / one["defaulted_within_horizon"].sum()
    assert 0.9 < ratio < 1.1, ratio
    one.to_parquet(tmp_path / "one.parquet")
    assert main(["audit", "--data", str(tmp_path / "one.parquet"), "--score", "cum_pd_exposure",
                 "--outcome", "defaulted_within_horizon", "--group", "minority", "--n-boot", "0",
                 "--out", str(tmp_path / "audit")]) == 0
    assert (tmp_path / "audit" / "audit.json").exists()


def test_forecasts_parquet_audits_directly_with_model(run_dir, tmp_path, capsys):
    """forecasts.parquet -> apcfair audit, straight from the unbiased folder: one model picked with --model
    (a multi-model file is refused with the models listed), expected and observed on one definition."""
    _, out = run_dir
    path = out / "forecasts.parquet"
    base = ["audit", "--data", str(path), "--outcome", "defaulted_within_horizon", "--group", "minority",
            "--n-boot", "0"]
    assert main([*base, "--score", "cum_pd_exposure", "--out", str(tmp_path / "a0")]) == 2
    err = capsys.readouterr().err
    assert "--model NAME" in err and "credit_restricted_zero" in err and "gbm_credit" in err
    assert not (tmp_path / "a0").exists()
    assert main([*base, "--score", "cum_pd_exposure", "--model", "nope", "--out", str(tmp_path / "a1")]) == 2
    assert "matches no row" in capsys.readouterr().err
    assert main([*base, "--score", "cum_pd_exposure", "--model", "credit_restricted_mean", "--sample", "out",
                 "--cutoff", "0.1", "--out", str(tmp_path / "a2")]) == 0
    d = json.loads((tmp_path / "a2" / "audit.json").read_text())
    fc = pd.read_parquet(path)
    one = fc[(fc["model"] == "credit_restricted_mean") & (fc["sample"] == "out")]
    assert d["input"]["rows"] == len(one) and d["input"]["model"] == "credit_restricted_mean"
    # expected and observed on one definition: both windows end at the data end or the horizon, or payoff
    meta = json.loads(pq.read_schema(path).metadata[b"apcfair.columns"])
    for col in ("cum_pd_exposure", "defaulted_within_horizon"):
        assert "payoff" in meta[col] and "horizon" in meta[col]
    ratio = one["cum_pd_exposure"].sum() / one["defaulted_within_horizon"].sum()
    se = 1 / np.sqrt(one["defaulted_within_horizon"].sum())  # relative binomial/Poisson SE of the count
    assert abs(ratio - 1) < 3 * se + 0.05, (ratio, se)
    # a score on another definition is warned about (cum_pd ignores payoff and the end of the data)
    assert main([*base, "--score", "cum_pd", "--model", "credit", "--out", str(tmp_path / "a3")]) == 0
    assert "Use --score cum_pd_exposure" in capsys.readouterr().err


def test_cum_pd_exposure_is_cum_pd_on_fully_observed_accounts(run_dir):
    """The censoring window ends at the data end or the horizon (payoff before), never at default."""
    root, out = run_dir
    from apcfair import load_portfolio
    from apcfair.forecast.cumulative import observed_default_within

    fc = pd.read_parquet(out / "forecasts.parquet")
    p = load_portfolio(pd.read_parquet(root / "data" / "loans.parquet"))
    obs = observed_default_within(p.loans, 36, window_end=p.window[1])
    paid_off = (obs["defaulted"].to_numpy() == 0) & (obs["exposure_end_age"] < obs["eval_end_age"]).to_numpy()
    info = pd.DataFrame({"account_id": p.loans["account_id"].to_numpy(), "paid_off": paid_off,
                         "defaulted": obs["defaulted"].to_numpy() == 1})
    fc = fc.merge(info, on="account_id")
    full = fc[fc["complete_horizon"] & ~fc["paid_off"]]
    assert full["defaulted"].sum() > 50                              # defaulters among them
    np.testing.assert_allclose(full["cum_pd_exposure"], full["cum_pd"], rtol=0, atol=1e-12)
    dflt = fc[fc["defaulted"]]                                       # defaulters: window to the data end/horizon
    np.testing.assert_allclose(dflt["cum_pd_exposure"], dflt["cum_pd_observed_window"], rtol=0, atol=1e-12)
    early = fc[fc["paid_off"]]                                       # payoff ends the window
    assert (early["cum_pd_exposure"] <= early["cum_pd_observed_window"] + 1e-15).all()
    assert (early["cum_pd_exposure"] < early["cum_pd_observed_window"]).mean() > 0.9


def test_apc_reuse_is_warned_refit_on_training_and_recorded(run_dir, tmp_path, capsys):
    """--apc DIR used as it is warns loudly and records its source (stress follows it); --apc-refit training
    refits it on the estimation accounts and writes the refit beside the results."""
    from apcfair.cli.stress import _apc_path

    root, out = run_dir
    data = str(root / "data" / "loans.parquet")
    base = ["unbiased", "--data", data, "--restricted", "minority,sex", "--credit", "bureau_score,total_deposits",
            "--no-gbm", "--n-boot", "10", "--apc", str(out)]
    assert main([*base, "--out", str(tmp_path / "reused")]) == 0
    assert "REUSED APC FIT" in capsys.readouterr().err
    s = json.loads((tmp_path / "reused" / "cost_of_fairness.json").read_text())["settings"]
    assert s["apc_source"] == str(out.resolve()) and s["design"]["apc_refit"] == "none"
    assert s["design"]["apc"].startswith("given: reused as it is")
    assert not (tmp_path / "reused" / "apc_result.nc").exists()
    assert _apc_path(str(tmp_path / "reused")) == out.resolve()      # stress --apc follows the recorded source
    assert main([*base, "--apc-refit", "training", "--out", str(tmp_path / "refit")]) == 0
    assert "REUSED APC FIT" not in capsys.readouterr().err
    s = json.loads((tmp_path / "refit" / "comparison.json").read_text()) and json.loads(
        (tmp_path / "refit" / "cost_of_fairness.json").read_text())["settings"]
    assert s["design"]["apc_refit"] == "training" and "refitted on the estimation accounts" in s["design"]["apc"]
    assert s["apc_source"] == str(out.resolve())
    assert (tmp_path / "refit" / "apc_result.nc").exists()
    assert _apc_path(str(tmp_path / "refit")) == tmp_path / "refit"
    assert main(["unbiased", "--data", data, "--restricted", "minority", "--credit", "bureau_score",
                 "--apc-refit", "training", "--out", str(tmp_path / "x")]) == 2
    assert "add --apc DIR" in capsys.readouterr().err


def test_time_split_from_the_command_line(run_dir, tmp_path):
    root, _ = run_dir
    out = tmp_path / "oot"
    assert main(["unbiased", "--data", str(root / "data" / "loans.parquet"), "--restricted", "minority,sex",
                 "--credit", "bureau_score,total_deposits", "--no-gbm", "--n-boot", "10", "--split", "time",
                 "--holdout-from", "2012-01", "--out", str(out)]) == 0
    d = json.loads((out / "cost_of_fairness.json").read_text())["settings"]["design"]
    assert d["split"] == "time" and d["holdout_from"] == "2012-01" and 0 < d["test_share"] < 1
    assert d["environment_beyond_training"].startswith("realised")
    fc = pd.read_parquet(out / "forecasts.parquet")
    loans = pd.read_parquet(root / "data" / "loans.parquet")
    late = set(loans.loc[loans["origination"] >= "2012-01", "account_id"])
    assert set(fc.loc[fc["sample"] == "out", "account_id"]) == late
    assert "out of time: estimation on vintages before 2012-01" in (out / "unbiased_summary.txt").read_text()
