"""User-facing fixes from the issue-19 end-to-end trial: -q silences text and progress bars
(also with --json), a missing attribute is named once, one vintage group fits without a
dummy (with a warning), and write_portfolio's swapped arguments get a clear error."""

import json

import pytest

from apcfair.cli import main
from apcfair.errors import DataValidationError


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "data"
    assert main(["synth", "--accounts", "4000", "--seed", "4", "--out", str(out), "-q"]) == 0
    return out


@pytest.fixture(scope="module")
def unbiased_dir(synth_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("unb") / "unbiased"
    assert main(["-q", "unbiased", "--data", str(synth_dir / "loans.parquet"), "--restricted", "sex,minority",
                 "--credit", "bureau_score", "--out", str(out), "--no-gbm", "--n-boot", "10"]) == 0
    return out


def test_quiet_unbiased_shows_no_progress_bar(synth_dir, tmp_path, capsys):
    capsys.readouterr()
    assert main(["-q", "unbiased", "--data", str(synth_dir / "loans.parquet"), "--restricted", "sex,minority",
                 "--credit", "bureau_score", "--out", str(tmp_path / "u"), "--no-gbm", "--n-boot", "10"]) == 0
    err = capsys.readouterr().err
    assert "%|" not in err and "unbiased by design" not in err


def test_quiet_json_audit_prints_only_the_summary(unbiased_dir, tmp_path, capsys):
    capsys.readouterr()
    code = main(["-q", "--json", "audit", "--data", str(unbiased_dir / "forecasts.parquet"), "--model",
                 "credit_restricted_zero", "--sample", "out", "--score", "cum_pd_exposure", "--outcome",
                 "defaulted_within_horizon", "--group", "sex,minority", "--cutoff", "0.1", "--n-boot", "20",
                 "--out", str(tmp_path / "audit")])
    got = capsys.readouterr()
    assert code == 0
    assert json.loads(got.out)["command"] == "audit"          # stdout: one JSON summary
    assert "wrote" not in got.err                              # -q: no human-readable text anywhere


def test_missing_attribute_named_once(synth_dir):
    from apcfair import load_portfolio
    from apcfair.portfolio import read_table
    from apcfair.unbiased import UnbiasedByDesign

    p = load_portfolio(read_table(synth_dir / "loans.parquet"))
    with pytest.raises(DataValidationError) as err:
        UnbiasedByDesign(restricted=["minority", "gender"], credit=["bureau_score"], gbm=False).fit(p)
    assert "['gender']" in str(err.value)


def test_one_vintage_year_fits_without_dummy_and_warns():
    import numpy as np

    from apcfair import load_portfolio
    from apcfair.unbiased import UnbiasedByDesign
    from data_synth import SynthConfig, generate_portfolio

    raw = generate_portfolio(SynthConfig(n_accounts=30_000, seed=2)).loans
    full = load_portfolio(raw).loans
    year = full["vintage"] // 12
    ids = full.loc[year == year.min(), "account_id"]           # the first year: observed longest
    p = load_portfolio(raw[raw["account_id"].isin(ids)].reset_index(drop=True))
    with pytest.warns(UserWarning, match="single vintage year group"):
        res = UnbiasedByDesign(restricted=["sex", "minority"], credit=["bureau_score"], gbm=False, n_boot=10,
                               horizon=12, random_state=0).fit(p).result_
    names = res.coefficient_tables["credit"]["term"].tolist()
    assert not any("vintage" in str(t) for t in names)
    assert np.isfinite([r["auc"] for r in res.rows]).all()


def test_write_portfolio_swapped_arguments(tmp_path):
    from data_synth import SynthConfig, write_portfolio

    with pytest.raises(TypeError, match="output folder first"):
        write_portfolio(SynthConfig(n_accounts=100), str(tmp_path))
