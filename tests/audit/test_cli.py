"""``apcfair audit`` subcommand: contract keys of audit.json, HTML, atomic output, clear errors."""

from __future__ import annotations

import argparse
import json

import pytest

from apcfair.cli import audit as cli


def _ns(**kw):
    base = {"data": None, "score": "pd", "decision": None, "outcome": "default", "group": "group,age_band",
            "cutoff": 0.3, "polarity": "pd", "control": None, "min_group_size": 30, "seed": 0, "n_boot": 100,
            "format": "auto", "outputs": "both", "no_intersections": False, "caveat": None, "fail_on_gap": False, "out": None}
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.fixture(scope="module")
def csv_file(scored, tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "scored.csv"
    scored["test"].iloc[:2000].to_csv(p, index=False)
    return p


def test_cli_writes_contract_json_and_html(csv_file, tmp_path, capsys):
    out = tmp_path / "reports" / "audit1"
    rc = cli.run(_ns(data=str(csv_file), out=str(out), control="vintage", caveat=["synthetic data"]))
    assert rc == 0
    d = json.loads((out / "audit.json").read_text())
    assert {"performance", "groups", "gaps", "tests", "conventions"} <= set(d)
    assert {"auc", "gini", "ks", "brier"} <= set(d["performance"])
    assert set(d["groups"]) == {"group", "age_band", "group & age_band"}
    for rows in d["groups"].values():
        for r in rows:
            assert {"group", "n", "base_rate", "approval_rate", "tpr", "fpr", "precision"} <= set(r)
    for gaps in d["gaps"].values():
        assert {"dir", "spd", "eod", "eo", "ppd"} <= set(gaps)
        for g in gaps.values():
            assert len(g["ci"]) == 2 and "passed" in g and g["status"] in ("PASS", "FAIL", "N/A")
    assert "P(approved | creditworthy)" in d["conventions"]["tpr"]
    assert d["caveats"] == ["synthetic data"]
    assert d["strata"]["control"] == "vintage"
    html = (out / "audit.html").read_text()
    assert "data:image/png;base64," in html and "synthetic data" in html
    assert [p.name for p in out.parent.iterdir()] == ["audit1"]  # no temp folders left behind
    assert "gaps fail" in capsys.readouterr().out


def test_cli_parser_help_and_rerun_replaces_folder(csv_file, tmp_path):
    parser = argparse.ArgumentParser(prog="apcfair")
    sub = parser.add_subparsers(dest="command")
    p = cli.add_parser(sub)
    assert "example" in p.format_help() and "--polarity" in p.format_help()
    out = tmp_path / "a"
    args = parser.parse_args(["audit", "--data", str(csv_file), "--score", "pd", "--outcome", "default", "--group",
                              "group", "--cutoff", "0.3", "--out", str(out), "--outputs", "json", "--n-boot", "0",
                              "--fail-on-gap"])
    assert args.func is cli.run
    assert args.func(args) == 1  # the synthetic model fails the gaps
    assert (out / "audit.json").exists() and not (out / "audit.html").exists()
    args.fail_on_gap = False
    assert cli.run(args) == 0  # an existing audit folder is replaced
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a"]


def test_cli_parquet_and_approval_polarity(scored, tmp_path):
    df = scored["test"].iloc[:1000].assign(score=lambda d: 1 - d["pd"])
    path = tmp_path / "s.parquet"
    df.to_parquet(path)
    out = tmp_path / "o"
    assert cli.run(_ns(data=str(path), score="score", polarity="approval", cutoff=0.7, group="group",
                       outputs="json", n_boot=0, out=str(out))) == 0
    other = tmp_path / "scored.dat"
    other.write_bytes(path.read_bytes())
    assert cli.run(_ns(data=str(other), format="parquet", score="score", polarity="approval", cutoff=0.7,
                       group="group", outputs="json", n_boot=0, out=str(tmp_path / "o2"))) == 0
    with pytest.raises(ValueError, match="cannot read --data .* as csv"):
        cli.run(_ns(data=str(other), format="csv", score="score", group="group", out=str(tmp_path / "o3")))
    d = json.loads((out / "audit.json").read_text())
    assert d["conventions"]["decision_rule"].startswith("approved iff score >= cutoff")


def test_cli_user_errors(csv_file, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        cli.run(_ns(data=str(tmp_path / "nope.csv"), out=str(tmp_path / "o")))
    with pytest.raises(ValueError, match=r"--group column 'sex' is not in the data; columns: income"):
        cli.run(_ns(data=str(csv_file), group="sex", out=str(tmp_path / "o")))
    with pytest.raises(ValueError, match=r"outcome column 'income' must hold 0/1 outcomes"):
        cli.run(_ns(data=str(csv_file), outcome="income", out=str(tmp_path / "o")))
    with pytest.raises(ValueError, match=r"score column 'income' has .* values outside \[0, 1\]"):
        cli.run(_ns(data=str(csv_file), score="income", out=str(tmp_path / "o")))
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is not an apcfair audit folder"):
        cli.run(_ns(data=str(csv_file), out=str(keep)))
    assert (keep / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="--score is required"):
        cli.run(_ns(data=str(csv_file), score=None, out=str(tmp_path / "o")))


def test_cli_min_rate_denominator_and_insufficient_count(csv_file, tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="apcfair")
    p = cli.add_parser(parser.add_subparsers(dest="command"))
    assert "--min-rate-denominator" in p.format_help()
    out = tmp_path / "a"
    args = parser.parse_args(["audit", "--data", str(csv_file), "--score", "pd", "--outcome", "default", "--group",
                              "group,age_band", "--cutoff", "0.3", "--out", str(out), "--outputs", "json",
                              "--n-boot", "0", "--min-rate-denominator", "400"])
    assert args.min_rate_denominator == 400
    cli.run(args)
    d = json.loads((out / "audit.json").read_text())
    assert d["settings"]["min_rate_denominator"] == 400 and d["settings"]["min_group_size"] == 30
    statuses = [g["status"] for gaps in d["gaps"].values() for g in gaps.values()]
    assert statuses.count("INSUFFICIENT") == args.summary["gaps_insufficient_data"] > 0
    assert "have no verdict (insufficient data" in capsys.readouterr().out


def test_missing_optional_package_exits_with_the_setup_code():
    from apcfair._optional import MissingDependencyError, require
    from apcfair.cli._common import EXIT_CODES, EXIT_SETUP, classify_error
    from apcfair.cli.main import EPILOG

    with pytest.raises(MissingDependencyError) as err:
        require("no_such_package_xyz", "a demo feature")
    code, message = classify_error(err.value)
    assert code == EXIT_SETUP == 6 and "pip install no_such_package_xyz" in message
    assert "optional package" in EXIT_CODES[6] and "6  setup" in EPILOG
