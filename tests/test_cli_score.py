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
