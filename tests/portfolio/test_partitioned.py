"""Partitioned Parquet data sets: per-part validation and cells add up to the one-file results.

Every test writes the same rows once as one file and once as several parts and requires
the same cells (defaults, at-risk, attrition), the same lineage (steps, exclusion counts,
date formats, exit note) and the same ``describe()``; the global facts (date format, the
plausible-date window, the data's last month, duplicate ids across parts) are tested with
parts that would be judged differently on their own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from apcfair.errors import DataValidationError
from apcfair.portfolio import load_portfolio
from apcfair.portfolio.partitioned import (
    dataset_files,
    load_partitioned,
    load_partitioned_portfolio,
)
from data_synth import SynthConfig, generate_portfolio

_PART_NOTE = "read as "


@pytest.fixture(scope="module")
def synth():
    return generate_portfolio(SynthConfig(n_accounts=3000, seed=11))


@pytest.fixture(scope="module")
def synth_panel():
    return generate_portfolio(SynthConfig(n_accounts=800, seed=12)).panel(status=True)


def _write(tmp_path, frame: pd.DataFrame, splits, name="parts"):
    """``frame`` as one file and as parts (``splits``: row-index arrays); returns both paths."""
    one = tmp_path / f"{name}.parquet"
    frame.to_parquet(one, index=False)
    folder = tmp_path / name
    folder.mkdir()
    for i, rows in enumerate(splits):
        frame.iloc[rows].to_parquet(folder / f"part-{i:03d}.parquet", index=False)
    return one, folder


def _same_lineage(a, b):
    assert [s.to_dict() for s in a.steps] == [s.to_dict() for s in b.steps]
    assert a.date_formats == b.date_formats
    assert a.column_types == b.column_types
    assert list(a.notes) == [n for n in b.notes if not n.startswith(_PART_NOTE)]


@pytest.mark.parametrize("backend", ["memory", "dask"])
def test_loans_cells_lineage_describe_equal_one_file(tmp_path, synth, backend, request):
    loans = synth.loans
    one, folder = _write(tmp_path, loans, np.array_split(np.arange(len(loans)), 4))
    ref = load_portfolio(one)
    client = request.getfixturevalue("dask_client") if backend == "dask" else None
    parts = load_partitioned(folder, client=client, accounts=True)
    pd.testing.assert_frame_equal(parts.cells().table, ref.cells().table)
    assert parts.cells().table["attrition"].sum() > 0  # payoffs are counted, not only defaults
    _same_lineage(ref.lineage, parts.lineage)
    _same_lineage(ref.cells().lineage, parts.cells().lineage)
    assert parts.describe() == ref.describe()
    assert parts.lineage.rows_in == len(loans)
    core = ref.loans[list(parts.accounts.columns)]
    pd.testing.assert_frame_equal(parts.accounts, core)
    assert parts.to_portfolio().describe() == ref.describe()
    whole = load_partitioned_portfolio(folder)
    pd.testing.assert_frame_equal(whole.loans, ref.loans)
    assert whole.attributes == ref.attributes


def test_glob_and_one_parquet_file(tmp_path, synth):
    loans = synth.loans.iloc[:500]
    one, folder = _write(tmp_path, loans, np.array_split(np.arange(len(loans)), 2))
    ref = load_portfolio(one).cells().table
    pd.testing.assert_frame_equal(load_partitioned(str(folder / "part-*.parquet")).cells().table, ref)
    pd.testing.assert_frame_equal(load_partitioned(one).cells().table, ref)  # one file = one part


@pytest.mark.parametrize("backend", ["memory", "dask"])
def test_panel_with_status_codes_equal_one_file(tmp_path, synth_panel, backend, request):
    panel = synth_panel
    acct = panel["account_id"].to_numpy()
    splits = [np.flatnonzero(acct <= 200), np.flatnonzero((acct > 200) & (acct <= 500)),
              np.flatnonzero(acct > 500)]
    one, folder = _write(tmp_path, panel, splits)
    opts = {"exit_column": "status", "exit_codes": {"C": "payoff"}}
    ref = load_portfolio(one, **opts)
    client = request.getfixturevalue("dask_client") if backend == "dask" else None
    parts = load_partitioned(folder, client=client, **opts)
    pd.testing.assert_frame_equal(parts.cells().table, ref.cells().table)
    _same_lineage(ref.lineage, parts.lineage)
    assert parts.describe() == ref.describe()
    whole = load_partitioned_portfolio(folder, **opts)
    pd.testing.assert_frame_equal(whole.panel, ref.panel)


def _loans(rows):
    return pd.DataFrame(rows, columns=["account_id", "origination", "last_month", "default"])


def test_date_format_decided_by_the_whole_data_set(tmp_path):
    # part 0 alone is ambiguous (no day above 12: day-first or month-first?); part 1 decides it
    df = _loans([(1, "05/01/2019", "06/03/2019", 0), (2, "05/02/2019", "07/06/2019", 1),
                 (3, "25/01/2019", "28/06/2019", 0), (4, "15/02/2019", "20/05/2019", 0)])
    one, folder = _write(tmp_path, df, [[0, 1], [2, 3]])
    with pytest.raises(DataValidationError, match="no value decides it"):
        load_portfolio(tmp_path / "parts" / "part-000.parquet")
    ref = load_portfolio(one)
    parts = load_partitioned(folder)
    assert parts.lineage.date_formats == ref.lineage.date_formats == {
        "origination": "dd/mm/yyyy (detected)", "last_month": "dd/mm/yyyy (detected)"}
    pd.testing.assert_frame_equal(parts.cells().table, ref.cells().table)


def test_plausible_window_and_data_end_are_global(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    v = rng.integers(0, 60, n)
    life = rng.integers(1, 40, n)
    months = pd.period_range("2010-01", periods=140, freq="M").strftime("%Y-%m")
    last = np.minimum(v + life, 139)
    df = _loans([(i + 1, months[v[i]], months[last[i]], int(rng.random() < 0.1)) for i in range(n)])
    # part 2 alone: one account from 1919 (a typo) -- plausible on its own, not within the data set
    df.loc[n] = [n + 1, "1919-03", "1919-09", 0]
    # part 1 ends before the data's last month: its accounts paid off, not censored
    order = np.argsort(last, kind="stable")
    early, late = order[: n // 2], order[n // 2:]
    splits = [late, early, [n]]
    assert load_portfolio(df.iloc[[n]]).n_accounts == 1
    assert (load_portfolio(df.iloc[early]).loans["exit"] == "censored").any()
    one, folder = _write(tmp_path, df, splits)
    with pytest.raises(DataValidationError, match="far outside the rest of the data") as err:
        load_partitioned(folder)
    assert "part " in str(err.value) and "part-002.parquet" in str(err.value)
    ref = load_portfolio(one, on_invalid="exclude")
    parts = load_partitioned(folder, on_invalid="exclude")
    _same_lineage(ref.lineage, parts.lineage)
    assert parts.describe() == ref.describe()
    assert parts.lineage.total_excluded == ref.lineage.total_excluded != {}
    pd.testing.assert_frame_equal(parts.cells().table, ref.cells().table)


def test_duplicate_accounts_across_parts(tmp_path):
    df = _loans([(1, "2019-01", "2019-05", 0), (2, "2019-01", "2019-06", 1), (3, "2019-02", "2019-07", 0),
                 (1, "2019-02", "2019-04", 0), (4, "2019-03", "2019-07", 0)])
    one, folder = _write(tmp_path, df, [[0, 1], [2, 3, 4]])
    with pytest.raises(DataValidationError, match="share an account_id with another row"):
        load_partitioned(folder)
    ref = load_portfolio(one, on_invalid="exclude")
    parts = load_partitioned(folder, on_invalid="exclude")
    assert parts.lineage.total_excluded == ref.lineage.total_excluded == {
        "share an account_id with another row (duplicate accounts)": 2}
    _same_lineage(ref.lineage, parts.lineage)


def test_panel_account_split_over_parts_is_flagged(tmp_path):
    panel = pd.DataFrame({"account_id": [1, 1, 1, 2, 2], "default": [0, 0, 0, 0, 1],
                          "month": ["2019-02", "2019-03", "2019-04", "2019-02", "2019-03"]})
    _, folder = _write(tmp_path, panel, [[0, 1, 3, 4], [2]])
    with pytest.raises(DataValidationError, match="rows lie in more than one part"):
        load_partitioned(folder)
    parts = load_partitioned(folder, on_invalid="exclude")
    assert parts.n_accounts == 1
    assert sum(parts.lineage.total_excluded.values()) == 3


def test_invalid_rows_in_several_parts_add_up(tmp_path, synth):
    loans = synth.loans.iloc[:600].copy()
    loans["default"] = loans["default"].astype(float)
    loans.iloc[[3, 250, 590], loans.columns.get_loc("default")] = np.nan
    loans.iloc[[10, 400], loans.columns.get_loc("last_month")] = "not a date"
    one, folder = _write(tmp_path, loans, np.array_split(np.arange(600), 3))
    with pytest.raises(DataValidationError) as err:
        load_partitioned(folder)
    assert sum(p.startswith("part ") for p in err.value.problems) == len(err.value.problems) >= 3
    ref = load_portfolio(one, on_invalid="exclude")
    parts = load_partitioned(folder, on_invalid="exclude")
    _same_lineage(ref.lineage, parts.lineage)
    pd.testing.assert_frame_equal(parts.cells().table, ref.cells().table)


def test_data_set_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataValidationError, match="holds no Parquet file"):
        dataset_files(empty)
    with pytest.raises(DataValidationError, match="matches no file"):
        dataset_files(str(tmp_path / "nothing-*.parquet"))
    d = tmp_path / "mixed"
    d.mkdir()
    _loans([(1, "2019-01", "2019-03", 0)]).to_parquet(d / "a.parquet")
    _loans([(2, "2019-01", "2019-03", 0)]).assign(extra=1).to_parquet(d / "b.parquet")
    with pytest.raises(DataValidationError, match="different columns"):
        load_partitioned(d)
