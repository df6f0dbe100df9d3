"""The command line: contracts of output files, one-line errors, atomic folders."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import apcfair
from apcfair.cli import build_parser, main


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    assert main(["synth", "--accounts", "6000", "--seed", "3", "--out", str(out)]) == 0
    return out


def test_synth_writes_loans_and_truth(synth_dir):
    loans = pd.read_parquet(synth_dir / "loans.parquet")
    assert len(loans) == 6000
    assert {"account_id", "origination", "last_month", "default"} <= set(loans.columns)
    truth = json.loads((synth_dir / "truth.json").read_text())
    assert {"lifecycle", "vintage", "environment"} <= set(truth)


def test_validate_prints_lineage_and_fails_on_bad_data(synth_dir, tmp_path, capsys):
    assert main(["validate", "--data", str(synth_dir / "loans.parquet")]) == 0
    assert "validate loan-level data" in capsys.readouterr().out
    bad = pd.read_parquet(synth_dir / "loans.parquet").head(50)
    bad.loc[0, "last_month"] = "1999-01"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    assert main(["validate", "--data", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("apcfair: error:") and "last_month before origination" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["validate", "--data", str(path), "--on-invalid", "exclude"]) == 0
    assert "excluded 1: have last_month before origination" in capsys.readouterr().out


def test_vintage_writes_cells_contract(synth_dir, tmp_path):
    out = tmp_path / "vintage"
    assert main(["vintage", "--data", str(synth_dir / "loans.parquet"), "--out", str(out)]) == 0
    cells = pd.read_csv(out / "cells.csv")
    assert list(cells.columns) == ["vintage", "age", "period", "defaults", "at_risk", "attrition"]
    assert cells["vintage"].str.match(r"^\d{4}-\d{2}$").all()
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["rows_in"] == 6000
    assert (out / "vintage_monthly_pd.png").exists() and (out / "vintage_cumulative_default.png").exists()
    assert (out / "vintage_cumulative_incidence.png").exists()
    curves = pd.read_csv(out / "vintage_curves.csv")
    assert {"cif_default", "cif_attrition", "km_cum_default"} <= set(curves.columns)
    # payoff competes: the incidence of default never exceeds 1 - KM (payoff censored)
    assert (curves["cif_default"] <= curves["km_cum_default"] + 1e-12).all()
    totals = cells[["defaults", "attrition"]].sum()
    assert totals["defaults"] == lineage["portfolio"]["exits_accounts"]["default"]
    assert totals["attrition"] == lineage["portfolio"]["exits_accounts"]["payoff"]


def test_apc_writes_apc_json_contract_and_report(synth_dir, tmp_path):
    out = tmp_path / "apc"
    assert main(["apc", "--data", str(synth_dir / "loans.parquet"), "--out", str(out), "--seed", "1",
                 "--draws", "200", "--report"]) == 0
    js = json.loads((out / "apc.json").read_text())
    for key in ("lifecycle", "vintage", "environment"):
        assert set(js[key][0]) == {"index", "mean", "lower", "upper"}
    assert isinstance(js["lifecycle"][0]["index"], int)
    assert js["vintage"][0]["index"] == "2005-01"
    assert {"intercept", "identification", "lineage"} <= set(js)
    assert js["lineage"]["rows_in"] == 6000
    assert (out / "apc_components.png").exists() and (out / "report.html").exists()
    html = (out / "report.html").read_text()
    assert "Identification" in html and "data:image/png;base64" in html


def test_unbiased_writes_comparison_rows(synth_dir, tmp_path):
    out = tmp_path / "unbiased"
    assert main(["unbiased", "--data", str(synth_dir / "loans.parquet"), "--restricted", "age,sex,black_frac",
                 "--credit", "bureau_score,total_deposits", "--protected", "minority,sex", "--out", str(out),
                 "--no-gbm", "--horizon", "24"]) == 0
    rows = json.loads((out / "comparison.json").read_text())
    assert isinstance(rows, list)
    models = {r["model"] for r in rows}
    assert {"restricted", "credit", "credit_with_restricted_offset", "credit_restricted_zero",
            "credit_restricted_mean"} <= models
    assert {r["sample"] for r in rows} == {"in", "out"}
    row = next(r for r in rows if r["model"] == "credit_restricted_zero" and r["sample"] == "out")
    assert {"auc", "gini", "dependence", "calibration", "auc_difference_vs_credit"} <= set(row)
    assert {"corr", "dcor", "auc_group", "air"} <= set(row["dependence"]["minority"])
    scores = pd.read_parquet(out / "account_scores.parquet")
    assert {"account_id", "credit_restricted_mean", "credit_restricted_zero"} <= set(scores.columns)
    assert len(scores) == 6000
    fc = pd.read_parquet(out / "forecasts.parquet")
    assert {"account_id", "model", "cum_pd"} <= set(fc.columns)


def test_user_mistakes_are_one_line_and_leave_no_folder(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["apc", "--data", str(tmp_path / "missing.csv"), "--out", str(out)]) == 3  # missing input file
    assert "no such file" in capsys.readouterr().err
    assert not out.exists()
    assert not list(tmp_path.glob(".never.partial-*"))


def test_every_subcommand_has_help_with_an_example():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in ("synth", "validate", "vintage", "apc", "unbiased", "audit", "demo", "report"):
        assert name in sub.choices, name
        assert "example" in sub.choices[name].format_help().lower(), name


def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--accounts", "6000", "--seed", "1"]) == 0
    for f in ("report.html", "results.json", "comparison.json", "audit.json", "stress.json", "apc.json"):
        assert (out / f).exists(), f


def test_stress_takes_the_period_slope_to_the_apc_model(synth_dir, tmp_path, monkeypatch):
    # the APC options are declared once: `stress` with fixed_period_slope gets --period-slope
    # (it once had none and silently meant slope 0)
    from apcfair.apc import APCModel

    fitted = []
    fit = APCModel.fit

    def spy(self, *args, **kwargs):
        fitted.append(fit(self, *args, **kwargs))
        return fitted[-1]

    monkeypatch.setattr(APCModel, "fit", spy)
    out = tmp_path / "stress"
    assert main(["stress", "--data", str(synth_dir / "loans.parquet"), "--out", str(out), "--horizon", "6",
                 "--draws", "50", "--no-new-vintages", "--identification", "fixed_period_slope",
                 "--period-slope", "0.01"]) == 0
    (model,) = fitted
    assert model.get_params()["identification"] == "fixed_period_slope"
    assert model.get_params()["period_slope"] == 0.01
    assert model.result_.identification["period_slope"] == 0.01
    assert (out / "stress.json").exists()


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in ("synth", "validate", "vintage", "apc", "audit", "unbiased", "stress", "demo", "report"):
        assert f"\n    {name} " in text, name


def test_help_imports_no_heavy_library():
    # command modules import the library inside their run function, so --help stays fast
    code = ("import sys; from apcfair.cli import build_parser; build_parser().format_help(); "
            "print(','.join(m for m in ('matplotlib', 'pymc', 'sklearn', 'apcfair.apc', 'apcfair.scoring', "
            "'apcfair.forecast', 'apcfair.unbiased', 'apcfair.audit', 'apcfair.report') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == ""


def test_no_library_module_imports_the_cli():
    root = Path(apcfair.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if rel.parts[0] == "cli" or rel == Path("__main__.py"):  # the CLI and `python -m apcfair`
            continue
        package = ["apcfair", *rel.parts[:-1]]  # for relative imports
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, *([node.module] if node.module else [])])
                names = [module, *(f"{module}.{a.name}" for a in node.names)]
            else:
                continue
            offenders += [f"{rel}: {n}" for n in names if n == "apcfair.cli" or n.startswith("apcfair.cli.")]
    assert offenders == []


def test_writers_name_files_only_from_the_layout(tmp_path):
    from apcfair import layout, outputs

    names = {v for k, v in vars(layout).items() if k.isupper()}
    assert set(outputs.AUDIT_FILES) | set(outputs.STRESS_FILES) <= names
    with pytest.raises(ValueError, match=r"files=\['audit.jsn'\] are not among its outputs"):
        outputs.write_audit_outputs(None, tmp_path, files=["audit.jsn"])
    with pytest.raises(ValueError, match="not among its outputs"):
        outputs.write_stress_outputs(None, tmp_path, projection=None, files=[layout.AUDIT_JSON])


def test_python_dash_m_runs_the_same_command_line():
    """``python -m apcfair`` works where the ``apcfair`` script is not on PATH (e.g. a notebook's kernel)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "apcfair", "--version"], capture_output=True, text=True, check=True)
    assert (out.stdout + out.stderr).startswith("apcfair ")  # argparse prints the version where the script does
