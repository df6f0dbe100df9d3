"""The real-book experiment: bootstrap replicates of South German Credit (Grömping 2019).

Data: ``../shared/data/german_credit/SouthGermanCredit.asc`` (1,000 accounts, 300 bad;
``credit_risk`` 1 = good, so ``default = 1 - credit_risk``). Restricted inputs: age
(years) and foreign worker (1 = yes, 2 = no). Sex is not used: in the corrected code
table, personal_status_sex = 2 means "female non-single OR male single", so sex cannot
be derived cleanly (the data README's caveat).

Reference values: each replicate's traditional logit is refitted with scikit-learn's
unpenalised ``LogisticRegression`` (Newton-Cholesky) on the same bootstrap draw
(coefficients to 1e-5 relative; AUC with ``roc_auc_score`` to 1e-12); the restricted-offset
model is checked by its score equations (``X'(y - p) = 0`` to 1e-6 per row).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apcfair.experiment.bootstrap import design, replicate_metrics, static_procedure

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "german_credit" / "SouthGermanCredit.asc"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared German credit data not beside the repo")

RESTRICTED = ["age", "foreign_worker"]
CREDIT = ["status", "duration", "credit_history", "amount", "savings", "employment_duration"]
CATEGORICAL = ["status", "credit_history", "savings", "employment_duration", "foreign_worker"]


@pytest.fixture(scope="module")
def book():
    d = pd.read_csv(DATA, sep=" ")
    d["default"] = 1 - d["credit_risk"]
    d["age_25_or_under"] = (d["age"] <= 25).astype(int)   # a binary protected attribute for group metrics
    return d


def test_replicate_models_match_sklearn_and_score_equations(book):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    xr = design(book, RESTRICTED, CATEGORICAL)
    xc = design(book, CREDIT, CATEGORICAL)
    y = book["default"].to_numpy(float)
    fit = np.random.default_rng([0, 3]).integers(0, len(y), len(y))   # replicate 3 of seed 0
    res = static_procedure(xr.to_numpy(float), xc.to_numpy(float), y, fit)
    ref = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=200, tol=1e-12).fit(xc.to_numpy(float)[fit], y[fit])
    np.testing.assert_allclose(res["coef_credit"], ref.coef_[0], rtol=1e-5, atol=1e-7)
    # restricted-offset model: score equations at the in-bag rows
    X = np.column_stack([np.ones(len(fit)), xc.to_numpy(float)[fit]])
    p = 1 / (1 + np.exp(-res["scores"]["credit_with_restricted_offset"][fit]))
    assert np.abs(X.T @ (y[fit] - p)).max() / len(fit) < 1e-6
    # the calibrated constant keeps in-sample expected defaults; zero under-predicts (Jensen)
    pm = 1 / (1 + np.exp(-res["scores"]["credit_restricted_mean"][fit]))
    pz = 1 / (1 + np.exp(-res["scores"]["credit_restricted_zero"][fit]))
    assert pm.sum() == pytest.approx(p.sum(), rel=1e-9) and pz.sum() < p.sum()
    rows = replicate_metrics(book, xr, xc, y, ["age_25_or_under", "foreign_worker"], 3, 0).set_index(["model", "metric"])
    oob = np.setdiff1d(np.arange(len(y)), fit)
    trad = 1 / (1 + np.exp(-res["scores"]["credit"]))
    assert rows.loc[("credit", "auc_out"), "value"] == pytest.approx(roc_auc_score(y[oob], trad[oob]), abs=1e-12)
    dep = rows.loc["credit"]["value"]
    for a in ("age_25_or_under", "foreign_worker"):
        parts = dep[f"dep_legit_{a}"] + dep[f"dep_proxy_{a}"] + dep[f"dep_other_{a}"]
        assert parts == pytest.approx(dep[f"dep_total_{a}"], abs=1e-12)


def test_cli_bootstrap_writes_tidy_table_and_summary_and_resumes(book, tmp_path, capsys):
    from apcfair.cli import main

    path = tmp_path / "german.csv"
    book.to_csv(path, index=False)
    out = tmp_path / "boot"
    argv = ["experiment", "--bootstrap", "8", "--data", str(path), "--outcome", "default",
            "--restricted", ",".join(RESTRICTED), "--credit", ",".join(CREDIT),
            "--protected", "age_25_or_under,foreign_worker", "--categorical", ",".join(CATEGORICAL),
            "--out", str(out), "--quiet"]
    assert main(argv) == 0
    table = pd.read_parquet(out / "experiment.parquet")
    assert list(table.columns) == ["seed", "model", "metric", "value"] and table["seed"].nunique() == 8
    summary = json.loads((out / "experiment.json").read_text())
    assert summary["settings"]["mode"] == "bootstrap" and summary["settings"]["accounts"] == 1000
    cost = summary["models"]["credit_restricted_zero"]["cost_traditional_vs_zero_out"]
    # no truth, but a spread: replicates differ, and the DeLong coverage of their mean is a share
    assert cost["sd"] > 0 and 0 <= cost["delong_covered_mean"] <= 1
    assert {"corr_change_vs_credit_foreign_worker", "calibration_age_25_or_under_1"} <= set(
        summary["models"]["credit_restricted_zero"])
    assert (out / "experiment_bootstrap.png").stat().st_size > 0
    proxy = pd.read_csv(out / "proxy_correlations.csv")   # the book's proxy diagnostic (Table 1)
    row = proxy[(proxy["restricted"] == "age") & (proxy["credit"] == "duration")].iloc[0]
    assert row["corr"] == pytest.approx(book["age"].corr(book["duration"]), abs=1e-12)
    assert "foreign_worker=2" in set(proxy["restricted"]) and "status=4" in set(proxy["credit"])
    before = table.copy()
    assert main(argv) == 0                      # resumable: nothing rerun, same table
    pd.testing.assert_frame_equal(pd.read_parquet(out / "experiment.parquet"), before)


def test_cli_bootstrap_refusals(tmp_path, capsys):
    from apcfair.cli import main

    assert main(["experiment", "--bootstrap", "5", "--out", str(tmp_path / "x")]) == 2
    assert "--bootstrap needs --data" in capsys.readouterr().err
    assert main(["experiment", "--data", "x.csv", "--out", str(tmp_path / "y")]) == 2
    assert "add --bootstrap" in capsys.readouterr().err


@pytest.mark.slow
def test_loan_level_bootstrap_runs_the_procedure_with_time_split(tmp_path):
    """A loan-level synthetic book: each replicate runs the full procedure (APC offsets, time
    split); copies of a drawn account get distinct ids; metrics without truth."""
    from apcfair.cli import main
    from data_synth import SynthConfig, generate_portfolio

    loans = generate_portfolio(SynthConfig(n_accounts=3000, seed=4, proxy_strength=1.0)).loans
    path = tmp_path / "loans.parquet"
    loans.to_parquet(path)
    out = tmp_path / "boot"
    vintages = pd.to_datetime(loans["origination"]).sort_values()
    holdout = vintages.iloc[int(0.7 * len(vintages))].strftime("%Y-%m")
    assert main(["experiment", "--bootstrap", "2", "--data", str(path), "--holdout-from", holdout,
                 "--restricted", "minority,sex,age", "--credit", "bureau_score,total_deposits",
                 "--out", str(out), "--quiet"]) == 0
    table = pd.read_parquet(out / "experiment.parquet")
    metrics = set(table["metric"])
    assert {"auc_out", "cost_traditional_vs_zero_out", "corr_change_vs_credit_minority",
            "dep_proxy_minority"} <= metrics, sorted(metrics)
    assert any(m.startswith("coef_change_bureau_score") for m in metrics)
    assert not any(m.startswith("coef_bias_") for m in metrics)       # no truth on a real book
    assert table["seed"].nunique() == 2
    summary = json.loads((out / "experiment.json").read_text())
    assert summary["settings"]["procedure"]["split"] == "time"
    t = table[table["model"] == "credit"]
    dep = t.groupby("metric")["value"].mean()
    parts = dep["dep_legit_minority"] + dep["dep_proxy_minority"] + dep["dep_other_minority"]
    assert parts == pytest.approx(dep["dep_total_minority"], abs=1e-9)
