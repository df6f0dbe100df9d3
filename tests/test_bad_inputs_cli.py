"""Bad input through the command line (issue 17 §2-3): one line, an exit code, no traceback.

Every case runs ``apcfair.cli.main([...])`` in-process on tiny files and gives either a
one-line ``apcfair: error: ...`` with a non-zero exit code, a result with a visible
warning, or a correct result. ``CORPUS`` collects the outcome of each case;
:func:`test_corpus_counts` (run last) checks that no case produced a traceback.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from apcfair.cli import _common as common
from apcfair.cli import build_parser, main

#: case -> "error" | "warning" | "correct" | "traceback"
CORPUS: dict[str, str] = {}


def run(argv, capsys) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``apcfair ARGV`` (argparse's SystemExit included)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def expect_error(case, argv, capsys, *, code=2, match=None) -> str:
    """The case fails with ``code`` and exactly one line ``apcfair: error: ...`` (matching ``match``)."""
    got, _, err = run(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    CORPUS[case] = "traceback" if "Traceback" in err else "error"
    assert "Traceback" not in err, err
    assert got == code, (got, err)
    errors = [ln for ln in lines if ln.startswith("apcfair: error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    if match is not None:
        assert match.lower() in errors[0].lower(), errors[0]
    return errors[0]


def expect_ok(case, argv, capsys, *, warning=None) -> str:
    code, out, err = run(argv, capsys)
    assert "Traceback" not in err, err
    assert code == 0, err
    if warning is not None:
        assert warning in err, err
    CORPUS[case] = "warning" if warning else "correct"
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A tiny valid loans CSV (200 accounts, 2 years) and its frame."""
    from data_synth import SynthConfig, generate_portfolio

    folder = tmp_path_factory.mktemp("bad_cli")
    sp = generate_portfolio(SynthConfig(n_accounts=200, seed=1, start="2016-01", end="2017-12"))
    loans = sp.loans
    path = folder / "loans.csv"
    loans.to_csv(path, index=False)
    return {"dir": folder, "csv": path, "loans": loans}


# --------------------------------------------------------------------------- input files
def test_input_files_that_cannot_be_read(data, tmp_path, capsys):
    expect_error("missing file", ["validate", "--data", tmp_path / "nope.csv"], capsys, code=3, match="no such file")
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    expect_error("directory named .csv", ["validate", "--data", folder], capsys, code=3, match="is a folder")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    expect_error("empty file", ["validate", "--data", empty], capsys, match=str(empty))
    header = tmp_path / "header.csv"
    header.write_text("account_id,origination,last_month,default\n")
    expect_error("header only", ["validate", "--data", header], capsys, match="header.csv")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(np.random.default_rng(0).bytes(2000))
    expect_error("random bytes as parquet", ["validate", "--data", junk], capsys, match="junk.parquet")
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.csv"
        locked.write_bytes(data["csv"].read_bytes())
        locked.chmod(0)
        try:
            expect_error("unreadable file", ["validate", "--data", locked], capsys, code=3, match="permission")
        finally:
            locked.chmod(0o644)


def test_non_utf8_file_names_encoding_and_reads_with_it(data, tmp_path, capsys):
    latin = tmp_path / "latin.csv"
    df = data["loans"].assign(subcategory="CAFÉ")
    latin.write_bytes(df.to_csv(index=False).encode("latin-1"))
    expect_error("latin-1 file", ["validate", "--data", latin], capsys, match="--encoding")
    out = expect_ok("latin-1 file with --encoding", ["validate", "--data", latin, "--encoding", "latin-1"], capsys)
    assert '"accounts": 200' in out or "200" in out
    expect_error("unknown --encoding", ["validate", "--data", latin, "--encoding", "klingon"], capsys,
                 match="unknown encoding")


def test_date_format_option_reaches_the_reader(data, tmp_path, capsys):
    df = data["loans"].copy()
    for c in ("origination", "last_month"):
        df[c] = df[c].str.replace("-", "").astype(int)  # 201601
    path = tmp_path / "yyyymm.csv"
    df.to_csv(path, index=False)
    out = expect_ok("YYYYMM integers", ["--json", "validate", "--data", path], capsys)
    assert json.loads(out)["exit_code"] == 0
    expect_ok("YYYYMM with --date-format yyyymm", ["validate", "--data", path, "--date-format", "yyyymm"], capsys)
    expect_error("wrong --date-format", ["validate", "--data", path, "--date-format", "dd/mm/yyyy"], capsys)
    expect_error("unknown --date-format", ["validate", "--data", path, "--date-format", "fortnightly"], capsys)


def test_typo_date_is_refused_or_excluded_and_counted(data, tmp_path, capsys):
    df = data["loans"].copy()
    df.loc[3, "last_month"] = "2099-01"
    path = tmp_path / "typo.csv"
    df.to_csv(path, index=False)
    expect_error("typo date 2099", ["validate", "--data", path], capsys, match="--on-invalid exclude")
    out = expect_ok("typo date 2099 with --on-invalid exclude", ["validate", "--data", path, "--on-invalid",
                                                                  "exclude"], capsys)
    assert "excluded 1" in out


def test_library_warnings_are_one_line_and_in_the_json_summary(data, tmp_path, capsys, monkeypatch):
    import warnings

    import apcfair.outputs as outputs

    write = outputs.write_vintage_outputs

    def warn_then_write(*args, **kwargs):
        warnings.warn("only 3 defaults:\n bands are wide", UserWarning, stacklevel=2)
        return write(*args, **kwargs)

    monkeypatch.setattr(outputs, "write_vintage_outputs", warn_then_write)
    out = expect_ok("a result with a warning", ["--json", "vintage", "--data", data["csv"], "--out", tmp_path / "v"],
                    capsys, warning="apcfair: warning: only 3 defaults: bands are wide")
    assert json.loads(out)["warnings"] == ["only 3 defaults: bands are wide"]


def test_map_mistakes(data, capsys):
    csv = data["csv"]
    expect_error("--map of a missing column", ["validate", "--data", csv, "--map", "acct=account_id"], capsys,
                 match="no column 'acct'")
    expect_error("--map onto an existing column", ["validate", "--data", csv, "--map", "bureau_score=default"],
                 capsys, match="already have a column 'default'")
    expect_error("--map without =", ["validate", "--data", csv, "--map", "bureau_score"], capsys,
                 match="YOUR_COLUMN=CONTRACT_COLUMN")
    expect_error("--map twice onto one name", ["validate", "--data", csv, "--map", "sex=s", "--map", "age=s"],
                 capsys, match="two columns")
    renamed = data["dir"] / "renamed.parquet"
    data["loans"].rename(columns={"account_id": "acct"}).to_parquet(renamed)
    expect_ok("--map of a Parquet column", ["validate", "--data", renamed, "--map", "acct=account_id"], capsys)


# --------------------------------------------------------------------------- option ranges
@pytest.mark.parametrize("argv, match", [
    (["synth", "--accounts", "0", "--out", "{tmp}/s"], "--accounts"),
    (["synth", "--accounts", "10_000_000_000", "--out", "{tmp}/s"], "too large"),
    (["synth", "--accounts", "ten", "--out", "{tmp}/s"], "not a whole number"),
    (["synth", "--seed", "-1", "--out", "{tmp}/s"], "--seed"),
    (["synth", "--start", "2019-13", "--out", "{tmp}/s"], "YYYY-MM"),
    (["synth", "--start", "2019-01", "--end", "2018-01", "--out", "{tmp}/s"], "must end after"),
    (["demo", "--accounts", "10", "--out", "{tmp}/d"], "at least 2000"),
    (["audit", "--data", "x.csv", "--outcome", "y", "--group", "g", "--n-boot", "-1", "--out", "{tmp}/a"], "n-boot"),
    (["audit", "--data", "x.csv", "--outcome", "y", "--group", "g", "--cutoff", "nan", "--out", "{tmp}/a"],
     "finite"),
    (["audit", "--data", "x.csv", "--outcome", "y", "--group", "g", "--min-group-size", "0", "--out", "{tmp}/a"],
     "too small"),
    (["audit", "--data", "x.csv", "--outcome", "y", "--group", "g", "--max-levels", "1", "--out", "{tmp}/a"],
     "max-levels"),
    (["report", "--folder", "{tmp}/no-such-folder"], "no folder"),
    (["vintage", "--data", "x.csv"], "required"),
    (["validate", "--data", "x.csv", "--frobnicate"], "unrecognized"),
])
def test_option_ranges_are_refused_before_any_work(argv, match, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    started = time.perf_counter()
    expect_error(f"option: {' '.join(argv[:1] + argv[-4:])}", argv, capsys, match=match)
    assert time.perf_counter() - started < 2
    assert not (tmp_path / "s").exists() and not (tmp_path / "d").exists()


def test_validators():
    import argparse

    assert common.fraction("0.8") == 0.8
    for bad in ("2", "0", "1", "-0.1", "nan", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            common.fraction(bad)
    assert common.horizon_months("360") == 360
    with pytest.raises(argparse.ArgumentTypeError, match="at most 360"):
        common.horizon_months("100000")
    with pytest.raises(argparse.ArgumentTypeError, match="at least 10"):
        common.draws("1")
    with pytest.raises(argparse.ArgumentTypeError, match="at least 1"):
        common.chains("0")
    assert common.positive_int("1_000") == 1000
    with pytest.raises(argparse.ArgumentTypeError):
        common.positive_float("0")


# --------------------------------------------------------------------------- unbounded work
def test_id_like_group_column_is_refused_before_the_audit(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 5000
    df = pd.DataFrame({"pd": rng.uniform(0, 0.3, n), "default": rng.integers(0, 2, n),
                       "customer": np.arange(n), "sex": rng.choice(["F", "M"], n)})
    path = tmp_path / "scored.csv"
    df.to_csv(path, index=False)
    started = time.perf_counter()
    expect_error("audit group column with 5,000 levels",
                 ["audit", "--data", path, "--score", "pd", "--outcome", "default", "--group", "sex,customer",
                  "--out", tmp_path / "a"], capsys, match="5,000 distinct values")
    expect_error("audit control column with 5,000 levels",
                 ["audit", "--data", path, "--score", "pd", "--outcome", "default", "--group", "sex",
                  "--control", "customer", "--out", tmp_path / "a"], capsys, match="--max-levels")
    assert time.perf_counter() - started < 10
    assert not (tmp_path / "a").exists()
    # the library refuses too (its cap is higher)
    from apcfair.audit import audit

    with pytest.raises(ValueError, match="looks like an identifier"):
        audit(df["pd"], df["default"], {"customer": df["customer"]}, n_boot=0)


# --------------------------------------------------------------------------- model files
def test_broken_apc_result_files_are_one_line(tmp_path):
    import xarray as xr

    files = {}
    files["random bytes"] = tmp_path / "random.nc"
    files["random bytes"].write_bytes(np.random.default_rng(1).bytes(4000))
    files["netCDF4/HDF5 file"] = tmp_path / "hdf5.nc"
    files["netCDF4/HDF5 file"].write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(2000))
    files["netCDF3 without apcfair metadata"] = tmp_path / "foreign.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}).to_netcdf(files["netCDF3 without apcfair metadata"], engine="scipy")
    files["deeply nested JSON metadata"] = tmp_path / "deep.nc"
    xr.Dataset({"x": ("i", np.arange(3.0))}, attrs={"apcfair_meta": "[" * 100_000 + "]" * 100_000}).to_netcdf(
        files["deeply nested JSON metadata"], engine="scipy")
    for case, path in files.items():
        with pytest.raises(common.UserError) as err:
            common.load_apc_result(str(path))
        msg = str(err.value)
        assert "is not an APC result written by apcfair" in msg and "\n" not in msg, msg
        code, line = common.classify_error(err.value)
        assert code == 2 and line.startswith("--apc ")
        CORPUS[f"--apc {case}"] = "error"
    with pytest.raises(common.InputFileError, match="does not exist"):
        common.load_apc_result(str(tmp_path / "none"))
    CORPUS["--apc folder without apc_result.nc"] = "error"


def test_deeply_nested_results_json_in_report(data, tmp_path, capsys):
    out = tmp_path / "v"
    expect_ok("vintage for the report", ["vintage", "--data", data["csv"], "--out", out], capsys)
    (out / "apc.json").write_text("[" * 100_000 + "]" * 100_000)
    expect_error("deeply nested JSON in a results folder", ["report", "--folder", out], capsys,
                 match="nested too deeply")


# --------------------------------------------------------------------------- the one handler
def test_every_exception_kind_maps_to_one_line_and_its_code(data, tmp_path, capsys, monkeypatch):
    import apcfair.outputs as outputs

    def failing(exc):
        def writer(portfolio, folder, **kwargs):
            (Path(folder) / "cells.csv").write_text("half")
            raise exc
        return writer

    cases = {
        "SIGINT while writing": (KeyboardInterrupt(), 130, "interrupted"),
        "disk full": (OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "cells.csv")), 4,
                      "no space left"),
        "TypeError": (TypeError("unsupported operand type(s) for -: 'str' and 'int'"), 2, "unsupported operand"),
        "KeyError (bare)": (KeyError("apcfair_meta"), 2, "missing column or key 'apcfair_meta'"),
        "permission denied writing": (PermissionError(errno.EACCES, "Permission denied",
                                                      str(tmp_path / "out" / "x")), 4, "cannot write"),
        "internal error": (RuntimeError("boom"), 70, "internal error (RuntimeError: boom)"),
        "fit failure": (np.linalg.LinAlgError("Singular matrix"), 5, "model fit failed"),
        "out of memory": (MemoryError(), 5, "out of memory"),
    }
    for case, (exc, code, match) in cases.items():
        monkeypatch.setattr(outputs, "write_vintage_outputs", failing(exc))
        out = tmp_path / "out"
        expect_error(case, ["vintage", "--data", data["csv"], "--out", out], capsys, code=code, match=match)
        assert not out.exists() and not list(tmp_path.glob(".out.*")), case  # nothing left behind


def test_verbose_shows_the_traceback_of_an_internal_error(data, tmp_path, capsys, monkeypatch):
    import apcfair.outputs as outputs

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(outputs, "write_vintage_outputs", boom)
    code, _, err = run(["vintage", "-v", "--data", data["csv"], "--out", tmp_path / "o"], capsys)
    assert code == 70 and "Traceback" in err and err.strip().splitlines()[-1].startswith("apcfair: error:")


def test_error_after_a_progress_bar_starts_its_own_line():
    from tqdm import tqdm

    bar = tqdm(total=10, disable=False)
    bar.update(3)
    common._end_progress_line()
    assert bar not in getattr(tqdm, "_instances", set())


# --------------------------------------------------------------------------- clean failure
def test_out_naming_an_existing_file_fails_before_any_work(tmp_path, capsys):
    afile = tmp_path / "results.txt"
    afile.write_text("mine")
    # the --data file does not even exist: the --out check comes first
    for cmd in (["vintage", "--data", tmp_path / "missing.csv"],
                ["audit", "--data", tmp_path / "missing.csv", "--outcome", "y", "--group", "g"]):
        expect_error(f"{cmd[0]} --out an existing file", [*cmd, "--out", afile], capsys, match="existing file")
    expect_error("--out inside a file", ["vintage", "--data", tmp_path / "m.csv", "--out", afile / "sub"], capsys,
                 match="is a file")
    assert afile.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["results.txt"]


def test_stale_partial_folders_are_removed_by_the_next_run(data, tmp_path, capsys):
    out = tmp_path / "v"
    stale, young = tmp_path / ".v.partial-dead", tmp_path / ".v.partial-alive"
    stale.mkdir()
    young.mkdir()
    (stale / "cells.csv").write_text("half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    expect_ok("vintage beside a killed run's temp folder", ["vintage", "--data", data["csv"], "--out", out], capsys)
    assert not stale.exists() and young.exists()


def test_shared_out_folder_refuses_other_data_and_report_refuses_mixed(data, tmp_path, capsys):
    out = tmp_path / "shared"
    expect_ok("vintage A", ["vintage", "--data", data["csv"], "--out", out], capsys)
    fp = json.loads((out / "data_fingerprint.json").read_text())
    assert len(fp["datasets"]) == 1 and "cells.csv" in fp["datasets"][0]["files"]
    # the same data again (even copied elsewhere) is fine
    copy = tmp_path / "copy.csv"
    copy.write_bytes(data["csv"].read_bytes())
    expect_ok("vintage A again from a copy", ["vintage", "--data", copy, "--out", out], capsys)
    other = tmp_path / "other.csv"
    data["loans"].iloc[:150].to_csv(other, index=False)
    expect_error("other data into a shared --out", ["vintage", "--data", other, "--out", out], capsys,
                 match="already holds results of other data")
    expect_error("other reading options into a shared --out",
                 ["vintage", "--data", data["csv"], "--on-invalid", "exclude", "--out", out], capsys,
                 match="--force")
    # --force: vintage rewrites the same files, so the folder holds one data set again
    expect_ok("other data with --force", ["vintage", "--data", other, "--out", out, "--force"], capsys)
    fp = json.loads((out / "data_fingerprint.json").read_text())
    assert [d["path"] for d in fp["datasets"]] == [str(other)]
    expect_ok("report over one data set", ["report", "--folder", out], capsys)
    # a second data set that leaves files of the first: the report refuses to mix them
    fake = dict(fp["datasets"][0], key="0" * 16, path="elsewhere.csv", files=["apc.json"], commands=["apc"])
    fp["datasets"].append(fake)
    (out / "data_fingerprint.json").write_text(json.dumps(fp))
    expect_error("report over mixed data", ["report", "--folder", out], capsys, match="2 different data sets")
    expect_ok("report over mixed data with --force", ["report", "--out", out, "--force"], capsys)


# --------------------------------------------------------------------------- quiet, json, help
def test_quiet_json_and_verbose(data, tmp_path, capsys):
    code, out, err = run(["validate", "-q", "--data", data["csv"]], capsys)
    assert code == 0 and out == "" and "Traceback" not in err
    code, out, err = run(["--json", "vintage", "--data", data["csv"], "--out", tmp_path / "v"], capsys)
    summary = json.loads(out)
    assert code == 0 and summary["exit_code"] == 0 and summary["status"] == "ok"
    assert "cells.csv" in summary["files_written"] and summary["summary"]["accounts"] == 200
    assert summary["data"]["bytes"] == data["csv"].stat().st_size
    assert "cells written" in err  # human text on stderr
    code, out, err = run(["validate", "--json", "--data", tmp_path / "none.csv"], capsys)
    summary = json.loads(out)
    assert code == 3 and summary["exit_code"] == 3 and "no such file" in summary["error"]
    CORPUS["--json summary of an error"] = "error"


def test_every_option_has_help_with_its_default():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    mine = ("synth", "validate", "vintage", "audit", "demo", "report")
    missing = []
    for name in mine:
        p = sub.choices[name]
        text = p.format_help()
        for action in p._actions:
            if not action.option_strings or action.help == "==SUPPRESS==":
                continue
            if not action.help:
                missing.append(f"{name} {action.option_strings[0]}: no help")
            elif (action.default not in (None, False, [], "==SUPPRESS==") and not action.required
                  and "default" not in common.HelpFormatter(name)._get_help_string(action).lower()):
                missing.append(f"{name} {action.option_strings[0]}: no default")
        assert "example" in text.lower(), name
    assert missing == []
    top = parser.format_help()
    for code in (2, 3, 4, 5, 130):
        assert f"\n  {code:>3}  " in top, code


def test_help_is_fast():
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "apcfair.cli", "--help"], capture_output=True, check=True)
    seconds = time.perf_counter() - started
    assert seconds < 1.5, seconds  # 0.2 s on an idle core; was 2.4 s before the lazy imports


# --------------------------------------------------------------------------- synth --panel -> validate
def test_synth_panel_validates(tmp_path, capsys):
    out = tmp_path / "s"
    expect_ok("synth --panel", ["synth", "--accounts", "150", "--start", "2017-01", "--end", "2018-06", "--panel",
                                "--out", out], capsys)
    panel = pd.read_parquet(out / "panel.parquet")
    assert "borrower_age" in panel.columns and "age" not in panel.columns
    text = expect_ok("validate the synth panel", ["validate", "--data", out / "panel.parquet"], capsys)
    assert '"kind": "panel"' in text


# --------------------------------------------------------------------------- counts
def test_corpus_counts(capsys):
    """Run last (file order): no case produced a traceback; the counts for the closing note."""
    counts = {k: sum(v == k for v in CORPUS.values()) for k in ("error", "warning", "correct", "traceback")}
    with capsys.disabled():
        print(f"\nbad-input CLI corpus: {len(CORPUS)} cases: {counts}")
    assert counts["traceback"] == 0
    if len(CORPUS) < 40:  # under xdist the cases may run in another worker; each asserts its own outcome
        pytest.skip(f"only {len(CORPUS)} corpus cases ran in this process (others ran elsewhere or were deselected)")


def test_apc_result_with_nan_draws_is_refused_before_any_work(tmp_path, capsys):
    """``stress --apc`` with a fit whose draws are NaN used to write an all-null folder, then exit 2."""
    import numpy as np
    import pandas as pd

    from apcfair.apc import APCModel

    cells = pd.DataFrame([(v, a, v + a) for v in range(24) for a in range(1, 25 - v)],
                         columns=["vintage", "age", "period"])
    cells["at_risk"] = 500
    cells["defaults"] = np.random.default_rng(0).binomial(500, 0.01, len(cells))
    result = APCModel(n_draws=50).fit(cells).result_
    result.draws["environment"] = np.full_like(np.asarray(result.draws["environment"], float), np.nan)
    folder = tmp_path / "apc"
    folder.mkdir()
    result.save(folder / "apc_result.nc")
    data = tmp_path / "loans.csv"
    pd.DataFrame({"account_id": [1, 2], "origination": ["2019-01", "2019-02"],
                  "last_month": ["2019-06", "2019-06"], "default": [1, 0]}).to_csv(data, index=False)
    out = tmp_path / "out"
    expect_error("stress --apc with NaN draws",
                 ["stress", "--data", data, "--apc", folder, "--out", out], capsys, match="not all finite")
    assert not out.exists()
