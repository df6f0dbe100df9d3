"""Partitioned Parquet data sets: validation and cells per part, judged by global facts.

A book too large for one frame arrives as a *partitioned data set*: a folder of Parquet
files (searched recursively; names starting with ``_`` or ``.`` are skipped) or a glob
such as ``"loans/part-*.parquet"``. Each file is one *part*. Every part is read, validated
and counted on its own, and the results are added up, in two passes:

1. **Scan** (cheap; only the date columns and ``account_id`` are read): each part's
   distinct combinations of date strings with their row counts, and its account ids.
   Together they give the **global context** (:class:`GlobalContext`): each date column's
   format (detected from the distinct values of the whole data set, as for one file), the
   plausible-date window (from the row-weighted median of all dates), the data's last
   month (used to infer payoff exits, see *Exits* in :mod:`apcfair.portfolio.portfolio`)
   and the account ids found in more than one part.
2. **Validate** each part with the global context (``Portfolio.from_loans(...,
   context=...)``), count its (vintage, age) cells, and add the parts up: lineage steps
   (rows in, rows out and every exclusion reason) and cells are sums, so they equal those of
   the same rows read as one file. The date formats, the window and the exit rule are the
   whole data set's, so a part is never judged by its own dates alone.

Loan-level rows whose ``account_id`` is in another part are duplicates (the same message
as duplicates in one file). Panel data must keep each account's rows in one part
(partition by ``account_id``): rows of an account found in several parts are invalid rows.

Messages are those of one file; a validation error names the part it comes from
(``"part loans/part-3.parquet: column 'default': 2 rows have ..."``) and its counts are
that part's (the lineage, with ``on_invalid="exclude"``, adds them up). Lineage notes that
differ between parts (a dropped ``vintage`` column's row count, say) are kept per part,
prefixed with the part's file name; the exit note is added up.

Backends: ``"memory"`` runs the passes one part after another in this process;
``"dask"`` runs each part as a task on a Dask cluster (``dask.distributed``; a local
cluster started for you, or an existing one by its scheduler address) and gathers only
small results: per-part lineage, cell tables and counts (and, when asked, the per-account
columns the vintage curves need). The driver's memory is then bounded by the cells and the
per-account arrays, never by the account-months: the scan's account ids (one value per account,
for duplicates across parts; with the context and pandas overhead about 50 MiB per million
accounts, measured at 10x and 30x in ``benchmarks/results/issue18_scale.md``), one cell table
per part (at most vintages x ages rows of 6 integers) and the counts; with ``accounts=True``
also six columns per account. A worker holds one part at a time (about 300 MiB for a part
of 92,000 accounts).
"""

from __future__ import annotations

import glob as _glob
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair._options import Frequency, OnInvalid, check_option
from apcfair.errors import DataValidationError
from apcfair.portfolio.cells import Cells, aggregate_cells
from apcfair.portfolio.lineage import Lineage, LineageStep
from apcfair.portfolio.periods import format_period
from apcfair.portfolio.portfolio import (
    Portfolio,
    _nothing_left,
    _parse_dates,
    current_period,
    detect_format,
    load_portfolio,
    plausible_window,
)
from apcfair.portfolio.spells import EXIT_VALUES

PARQUET_SUFFIXES = (".parquet", ".pq")
_CORE = ("account_id", "vintage", "first_month", "last_month", "default", "exit")


# ----------------------------------------------------------------------------- finding the parts
def dataset_files(path: str | Path) -> list[Path] | None:
    """The Parquet files of a partitioned data set, or ``None`` when ``path`` is one file.

    Parameters
    ----------
    path : str or pathlib.Path
        A folder (searched recursively for ``*.parquet`` / ``*.pq``; names starting with
        ``_`` or ``.`` skipped) or a glob pattern (``*``, ``?``, ``[``, ``**``).

    Returns
    -------
    list of pathlib.Path or None
        The files in sorted order; ``None`` for a path that is neither (one file).

    Raises
    ------
    DataValidationError
        If the folder or pattern holds no Parquet file, or the pattern matches other files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from apcfair.portfolio.partitioned import dataset_files
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(2):
    ...     pd.DataFrame({"a": [i]}).to_parquet(d / f"part-{i}.parquet")
    >>> [p.name for p in dataset_files(d)]
    ['part-0.parquet', 'part-1.parquet']
    >>> len(dataset_files(str(d / "part-*.parquet")))
    2
    >>> dataset_files(d / "part-0.parquet") is None
    True
    """
    text = str(path)
    if any(ch in text for ch in "*?["):
        files = sorted(Path(p) for p in _glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise DataValidationError([f"data pattern {text!r} matches no file. Fix: check the pattern "
                                       "(e.g. 'loans/part-*.parquet') or give the folder of the data set."])
        other = [p.name for p in files if not p.name.lower().endswith(PARQUET_SUFFIXES)]
        if other:
            raise DataValidationError([f"data pattern {text!r} matches files that are not Parquet "
                                       f"({', '.join(other[:3])}). Fix: a partitioned data set is a set of "
                                       "Parquet files; narrow the pattern, e.g. '*.parquet'."])
        return files
    p = Path(text)
    if not p.is_dir():
        return None
    files = sorted(q for q in p.rglob("*") if q.is_file() and q.name.lower().endswith(PARQUET_SUFFIXES)
                   and not any(part.startswith(("_", ".")) for part in q.relative_to(p).parts))
    if not files:
        raise DataValidationError([f"data folder {text!r} holds no Parquet file (*.parquet, *.pq). Fix: give "
                                   "a CSV or Parquet file, or the folder of a partitioned Parquet data set."])
    return files


def is_partitioned(path) -> bool:
    """Whether ``path`` names a partitioned data set (a folder or a glob), not one file."""
    return not isinstance(path, pd.DataFrame) and dataset_files(path) is not None


# ----------------------------------------------------------------------------- pass 1: scan
@dataclass(frozen=True)
class PartScan:
    """What the first pass learns from one part: columns, date combinations, account ids."""

    path: str
    columns: tuple[str, ...]
    n_rows: int
    dates: pd.DataFrame  # distinct combinations of the date columns, with ``__rows__``
    ids: np.ndarray  # distinct non-missing account ids


def _date_columns(kind: str, columns: Sequence[str]) -> list[str]:
    if kind == "loans":
        return ["origination", "last_month"] + (["first_month"] if "first_month" in columns else [])
    return ["month"] + (["origination"] if "origination" in columns else [])


def _renamed_columns(path: str, mapping: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    import pyarrow.parquet as pq

    try:
        names = list(pq.read_schema(path).names)
    except Exception as err:  # pyarrow raises many types for a broken file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataValidationError([f"cannot read data file {path!r} as Parquet ({first}). Fix: check that it "
                                   "is a complete Parquet file."]) from None
    back = {mapping.get(n, n): n for n in names}
    return [mapping.get(n, n) for n in names], back


def scan_part(path: str, *, kind: str, columns: Mapping[str, str] | None = None) -> PartScan:
    """First pass over one part: distinct date combinations with row counts, and account ids.

    Parameters
    ----------
    path : str
        A Parquet file.
    kind : {"loans", "panel"}
        Data format (decides the date columns).
    columns : mapping, optional
        ``{your_column: contract_column}`` renames.

    Returns
    -------
    PartScan
    """
    mapping = dict(columns or {})
    names, back = _renamed_columns(path, mapping)
    dcols = [c for c in _date_columns(kind, names) if c in names]
    read = [c for c in ("account_id", *dcols) if c in names]
    df = pd.read_parquet(path, columns=[back[c] for c in read]).rename(columns=mapping)
    if dcols:
        dates = df.groupby(dcols, dropna=False, sort=False).size().rename("__rows__").reset_index()
    else:
        dates = pd.DataFrame({"__rows__": [len(df)]})
    ids = pd.unique(df["account_id"].dropna()) if "account_id" in df else np.empty(0)
    return PartScan(str(path), tuple(names), len(df), dates, np.asarray(ids))


# ----------------------------------------------------------------------------- global context
@dataclass(frozen=True)
class GlobalContext:
    """The facts every part of a partitioned data set is validated with.

    Attributes
    ----------
    kind : {"loans", "panel"}
        Data format.
    date_formats : dict
        ``{date column: format}`` detected from the whole data set's distinct values (or
        given), passed to each part so all parts read their dates the same way.
    date_describe : dict
        ``{date column: how it was read}`` for the lineage, e.g. ``"iso (detected)"``.
    window : (int, int) or None
        First and last plausible period code of the whole data set.
    data_end : int or None
        The data's last month (period code): the latest valid ``last_month`` (loans) or
        ``month`` (panel) over all parts; accounts ending before it without a recorded
        exit paid off.
    duplicate_ids : numpy.ndarray
        Account ids found in more than one part.
    """

    kind: str
    date_formats: dict[str, str]
    date_describe: dict[str, str]
    window: tuple[int, int] | None
    data_end: int | None
    duplicate_ids: np.ndarray = field(default_factory=lambda: np.empty(0))

    def shared_ids(self, account_id: pd.Series) -> np.ndarray:
        """Rows whose account id also occurs in another part."""
        if not len(self.duplicate_ids):
            return np.zeros(len(account_id), dtype=bool)
        return account_id.isin(self.duplicate_ids).to_numpy()


def build_context(scans: Sequence[PartScan], *, kind: str, freq: str = "M",
                  date_format: str | Mapping[str, str] | None = None) -> GlobalContext:
    """Combine the parts' scans into the :class:`GlobalContext` (exactly as one file would be read).

    Parameters
    ----------
    scans : sequence of PartScan
        One per part (:func:`scan_part`).
    kind : {"loans", "panel"}
        Data format.
    freq : {"M", "Q"}
        Period frequency.
    date_format : str or mapping, optional
        As in :func:`~apcfair.portfolio.load_portfolio`; default: detected.

    Returns
    -------
    GlobalContext

    Raises
    ------
    DataValidationError
        If the parts have different columns, or a date column cannot be read with one
        format (the message of one file).
    """
    first = scans[0]
    for s in scans[1:]:
        if set(s.columns) != set(first.columns):
            diff = sorted(set(s.columns) ^ set(first.columns))
            raise DataValidationError([
                f"the parts of the data set have different columns: {Path(s.path).name} and "
                f"{Path(first.path).name} differ in {diff}. Fix: write every part with the same columns."])
    dcols = [c for c in _date_columns(kind, first.columns) if c in first.columns]
    if not dcols:
        return GlobalContext(kind, {}, {}, None, None)
    dates = pd.concat([s.dates for s in scans], ignore_index=True)
    dates = dates.groupby(dcols, dropna=False, sort=False)["__rows__"].sum().reset_index()
    parsed = _parse_dates(dates, dcols, freq, date_format)
    codes = {c: parsed[c].codes for c in dcols}
    rows = dates["__rows__"].to_numpy(np.int64)
    window = plausible_window(list(codes.values()), freq, counts=[rows] * len(codes))
    implausible = np.zeros(len(dates), dtype=bool)
    if window is not None:
        now = current_period(freq)
        for c in codes.values():
            implausible |= (c >= 0) & ((c > now) | (c < window[0]) | (c > window[1]))
    if kind == "loans":
        end_col = codes["last_month"]
        ok = (codes["origination"] >= 0) & (end_col >= 0) & ~implausible
    else:
        end_col = codes["month"]
        ok = (end_col >= 0) & ~implausible
    data_end = int(end_col[ok].max()) if ok.any() else None
    formats = {c: p.date_format for c, p in parsed.items() if p.date_format not in ("empty", "datetime")}
    ids = [s.ids for s in scans if len(s.ids)]
    dup = np.empty(0)
    if len(ids) > 1:
        all_ids = pd.Series(np.concatenate(ids))
        dup = pd.unique(all_ids[all_ids.duplicated()])
    return GlobalContext(kind, formats, {c: p.describe() for c, p in parsed.items()}, window, data_end,
                         np.asarray(dup))


# ----------------------------------------------------------------------------- pass 2: validate
@dataclass(frozen=True)
class PartResult:
    """What the second pass returns from one part (small: no account-months)."""

    path: str
    lineage: Lineage | None = None
    cells: pd.DataFrame | None = None
    counts: dict | None = None
    accounts: pd.DataFrame | None = None  # core per-account columns, when asked
    portfolio: Portfolio | None = None  # the whole part, memory backend only
    problems: tuple[str, ...] = ()


def validate_part(path: str, context: GlobalContext, options: Mapping, *, keep: str = "cells") -> PartResult:
    """Second pass over one part: validate with the global context, count cells.

    Parameters
    ----------
    path : str
        A Parquet file.
    context : GlobalContext
        From :func:`build_context`.
    options : mapping
        ``columns``, ``freq``, ``on_invalid``, ``exit_column``, ``exit_codes`` as in
        :func:`~apcfair.portfolio.load_portfolio`.
    keep : {"cells", "accounts", "portfolio"}
        What to return besides lineage, cells and counts: nothing, the per-account core
        columns (``account_id, vintage, first_month, last_month, default, exit``), or the
        whole part's :class:`Portfolio`.

    Returns
    -------
    PartResult
        With ``problems`` (each prefixed by the part) instead of results when the part
        has invalid rows and ``on_invalid="raise"``.
    """
    try:
        p = load_portfolio(path, format=context.kind, context=context, **options)
    except DataValidationError as err:
        return PartResult(path, problems=tuple(f"part {path}: {q}" for q in err.problems))
    loans = p.loans
    if not len(loans):  # every row of this part excluded (counted in its lineage)
        return PartResult(path, p.lineage, None, None, accounts=loans[list(_CORE)].copy() if keep == "accounts"
                          else None, portfolio=p if keep == "portfolio" else None)
    counts = {
        "accounts": p.n_accounts,
        "account_months": p.n_account_months,
        "defaults": p.n_defaults,
        "vintage": (int(loans["vintage"].min()), int(loans["vintage"].max())),
        "window": p.window,
        "exits": {e: int((loans["exit"] == e).sum()) for e in EXIT_VALUES},
        "attributes": list(p.attributes),
    }
    table = aggregate_cells(p).table
    return PartResult(path, p.lineage, table, counts,
                      accounts=loans[list(_CORE)].copy() if keep == "accounts" else None,
                      portfolio=p if keep == "portfolio" else None)


# ----------------------------------------------------------------------------- adding up
_EXIT_NOTE = re.compile(r"^exits: (?P<counts>.+?) accounts; (?P<how>.*)\((?P<n>[\d,]+) inferred\)(?P<rest>.*)$")


def _sum_exit_notes(notes: Sequence[str]) -> str:
    """One exit note whose counts are the parts' sums (the same wording as one file)."""
    totals = dict.fromkeys(EXIT_VALUES, 0)
    inferred = 0
    m = None
    for note in notes:
        m = _EXIT_NOTE.match(note)
        for n, e in re.findall(r"(\d[\d,]*) (\w+)", m["counts"]):
            totals[e] += int(n.replace(",", ""))
        inferred += int(m["n"].replace(",", ""))
    counts = ", ".join(f"{totals[e]:,} {e}" for e in EXIT_VALUES)
    return f"exits: {counts} accounts; {m['how']}({inferred:,} inferred){m['rest']}"


def merge_lineages(lineages: Sequence[Lineage], names: Sequence[str], source: str,
                   date_formats: Mapping[str, str]) -> Lineage:
    """Add the parts' lineages up: step by step, rows and exclusion reasons summed.

    Notes equal in every part are kept once, the exit note is summed, and any other note
    is kept per part with the part's name in front.
    """
    steps = []
    for group in zip(*(lin.steps for lin in lineages), strict=True):
        excluded: dict[str, int] = {}
        for s in group:
            for k, v in s.excluded.items():
                excluded[k] = excluded.get(k, 0) + v
        steps.append(LineageStep(group[0].stage, group[0].unit, sum(s.rows_in for s in group),
                                 sum(s.rows_out for s in group), excluded))
    notes: list[str] = []
    exit_notes = [n for lin in lineages for n in lin.notes if _EXIT_NOTE.match(n)]
    for lin, name in zip(lineages, names, strict=True):
        for n in lin.notes:
            if _EXIT_NOTE.match(n):
                merged = _sum_exit_notes(exit_notes)
                if merged not in notes:
                    notes.append(merged)
            elif all(n in other.notes for other in lineages):
                if n not in notes:
                    notes.append(n)
            else:
                notes.append(f"{name}: {n}")
    types = dict(lineages[0].column_types)
    for lin, name in zip(lineages[1:], names[1:], strict=True):
        for c, t in lin.column_types.items():
            if types.get(c) != t:
                notes.append(f"{name}: column {c!r} typed {t} (first part: {types.get(c)})")
    return Lineage(source, tuple(steps), dict(date_formats), types, tuple(notes))


def sum_cells(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Add per-part cell tables: counts summed per (vintage, age); sorted by vintage, age."""
    t = pd.concat(tables, ignore_index=True)
    keys = ["vintage", "age", "period"]
    out = t.groupby(keys, sort=True).sum().reset_index()
    return out[list(tables[0].columns)].astype(np.int64)


# ----------------------------------------------------------------------------- the data set
@dataclass(frozen=True)
class PartitionedPortfolio:
    """A partitioned data set validated and counted part by part, with results added up.

    Build one with :func:`load_partitioned`. It holds no account-months: the lineage,
    the cells, the counts of :meth:`describe` and, when asked for, the per-account core
    columns (``accounts``).

    Attributes
    ----------
    source : str
        The folder or glob read.
    files : tuple of str
        The parts.
    kind, freq : str
        Data format and period frequency.
    context : GlobalContext
        The global facts every part was validated with.
    lineage : Lineage
        The parts' lineages added up (rows of every part counted).
    aggregated : Cells
        The parts' cells added up (equal to the cells of the same rows read as one file);
        also :meth:`cells`, as for a :class:`Portfolio`.
    accounts : pandas.DataFrame or None
        Per-account ``account_id, vintage, first_month, last_month, default, exit``
        (integer period codes), when loaded with ``accounts=True``.
    """

    source: str
    files: tuple[str, ...]
    kind: str
    freq: str
    context: GlobalContext
    lineage: Lineage
    aggregated: Cells
    counts: dict
    accounts: pd.DataFrame | None = None

    def cells(self) -> Cells:
        """The (vintage, age) cells, counted per part and summed."""
        return self.aggregated

    @property
    def n_accounts(self) -> int:
        """Accounts kept, over all parts."""
        return int(self.counts["accounts"])

    def describe(self) -> dict:
        """The same dictionary as :meth:`Portfolio.describe`, added up over the parts."""
        c = self.counts
        return {
            "kind": self.kind,
            "freq": self.freq,
            "accounts": c["accounts"],
            "account_months": c["account_months"],
            "defaults": c["defaults"],
            "default_rate_accounts": c["defaults"] / max(c["accounts"], 1),
            "first_vintage": format_period([c["vintage"][0]], self.freq)[0],
            "last_vintage": format_period([c["vintage"][1]], self.freq)[0],
            "window": format_period(list(c["window"]), self.freq),
            "attributes": list(c["attributes"]),
            "date_formats": dict(self.lineage.date_formats),
            "attribute_types": {a: t for a, t in self.lineage.column_types.items() if a in c["attributes"]},
            "exits_accounts": dict(c["exits"]),
        }

    def to_portfolio(self) -> Portfolio:
        """A loan-level :class:`Portfolio` of the per-account core columns (attribute values not gathered).

        Enough for everything computed from account spells (vintage curves, Kaplan–Meier,
        Aalen–Johansen, cells); needs ``accounts=True`` at loading. Its ``attributes`` name
        the data set's attributes (for ``describe()``), whose values stay in the parts; a
        panel data set comes back as its accounts' spells (``kind`` ``"loans"``).
        """
        if self.accounts is None:
            raise ValueError("the per-account columns were not gathered: load with accounts=True")
        return Portfolio(self.accounts, None, self.freq, self.lineage, tuple(self.counts["attributes"]))


def _sum_counts(counts: Sequence[dict]) -> dict:
    return {
        "accounts": sum(c["accounts"] for c in counts),
        "account_months": sum(c["account_months"] for c in counts),
        "defaults": sum(c["defaults"] for c in counts),
        "vintage": (min(c["vintage"][0] for c in counts), max(c["vintage"][1] for c in counts)),
        "window": (min(c["window"][0] for c in counts), max(c["window"][1] for c in counts)),
        "exits": {e: sum(c["exits"][e] for c in counts) for e in EXIT_VALUES},
        "attributes": counts[0]["attributes"],
    }


def _runner(client) -> Callable:
    """``map(func, items)`` in this process, or as tasks on a Dask cluster (results gathered)."""
    if client is None:
        return lambda func, items: [func(x) for x in items]

    def run(func, items):
        futures = client.map(func, list(items), pure=False)
        return client.gather(futures)

    return run


class _Call:
    """A picklable ``func(item, *args, **kwargs)`` for ``client.map``."""

    def __init__(self, func, *args, **kwargs):
        self.func, self.args, self.kwargs = func, args, kwargs

    def __call__(self, item):
        return self.func(item, *self.args, **self.kwargs)


def load_partitioned(data: str | Path, *, format: str = "auto", columns: Mapping[str, str] | None = None,
                     freq: Frequency = "M", on_invalid: OnInvalid = "raise",
                     date_format: str | Mapping[str, str] | None = None, exit_column: str | None = None,
                     exit_codes: Mapping[str, str] | None = None, client=None,
                     accounts: bool = False) -> PartitionedPortfolio:
    """Validate a partitioned Parquet data set part by part and add up lineage and cells.

    Parameters
    ----------
    data : str or pathlib.Path
        A folder or a glob of Parquet files (see :func:`dataset_files`), or one Parquet
        file (a data set of one part).
    format, columns, freq, on_invalid, date_format, exit_column, exit_codes
        As in :func:`~apcfair.portfolio.load_portfolio`.
    client : dask.distributed.Client, optional
        Run each part as a task on this cluster; default: one part after another here.
    accounts : bool
        Also gather the per-account core columns (needed by the vintage curves).

    Returns
    -------
    PartitionedPortfolio

    Raises
    ------
    DataValidationError
        With ``on_invalid="raise"``, every problem of every part, each naming its part.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from apcfair.portfolio import load_portfolio
    >>> from apcfair.portfolio.partitioned import load_partitioned
    >>> df = pd.DataFrame({"account_id": [1, 2, 3, 4],
    ...                    "origination": ["2019-01", "2019-01", "2019-02", "2019-02"],
    ...                    "last_month": ["2019-03", "2019-02", "2019-04", "2019-03"],
    ...                    "default": [0, 1, 0, 0]})
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> df.iloc[:2].to_parquet(d / "part-0.parquet"); df.iloc[2:].to_parquet(d / "part-1.parquet")
    >>> parts = load_partitioned(d)
    >>> parts.cells().table.equals(load_portfolio(df).cells().table)
    True
    >>> parts.describe()["exits_accounts"]  # account 1 left before the data's end (2019-04)
    {'default': 1, 'payoff': 2, 'closed': 0, 'censored': 1}
    """
    return _two_passes(data, format=format, columns=columns, freq=freq, on_invalid=on_invalid,
                       date_format=date_format, exit_column=exit_column, exit_codes=exit_codes, client=client,
                       keep="accounts" if accounts else "cells")[0]


def _two_passes(data, *, format="auto", columns=None, freq="M", on_invalid="raise", date_format=None,
                exit_column=None, exit_codes=None, client=None, keep="cells"):
    """Scan, global context, validate each part, add up; returns the sums and the parts' results."""
    paths, kind, context, options = _first_pass(data, format=format, columns=columns, freq=freq,
                                                on_invalid=on_invalid, date_format=date_format,
                                                exit_column=exit_column, exit_codes=exit_codes, client=client)
    results = _runner(client)(_Call(validate_part, context, options, keep=keep), paths)
    return _combine(str(data), paths, kind, freq, context, results), results


def _first_pass(data, *, format, columns, freq, on_invalid, date_format, exit_column, exit_codes, client):
    """The parts, their format, the global context (scan of every part) and the validation options."""
    check_option("freq", freq, Frequency)
    check_option("on_invalid", on_invalid, OnInvalid)
    files = dataset_files(data)
    if files is None:
        if not str(data).lower().endswith(PARQUET_SUFFIXES):
            raise ValueError(f"{str(data)!r} is not Parquet: a partitioned data set (and the Dask backend) "
                             "reads Parquet files; convert it, or use load_portfolio")
        files = [Path(data)]  # one Parquet file: a data set of one part
    paths = [str(f) for f in files]
    mapping = dict(columns or {})
    kind = format
    if kind == "auto":
        kind = detect_format(pd.DataFrame(columns=_renamed_columns(paths[0], mapping)[0]))
    run = _runner(client)
    scans = run(_Call(scan_part, kind=kind, columns=mapping), paths)
    context = build_context(scans, kind=kind, freq=freq, date_format=date_format)
    options = {"columns": mapping, "freq": freq, "on_invalid": on_invalid, "exit_column": exit_column,
               "exit_codes": exit_codes}
    return paths, kind, context, options


def _combine(source, paths, kind, freq, context, results) -> PartitionedPortfolio:
    problems = [q for r in results for q in r.problems]
    if problems:
        raise DataValidationError(problems)
    names = [Path(p).name for p in paths]
    lineage = merge_lineages([r.lineage for r in results], names, source, context.date_describe)
    kept = [r for r in results if r.counts is not None]
    if not kept:
        step = lineage.steps[0]
        raise _nothing_left(source, step.rows_in, step.unit, step.excluded)
    lineage = lineage.annotate(notes=[f"read as {len(paths)} parts of a partitioned data set, validated part by "
                                      "part with the whole data set's date formats, plausible-date window and "
                                      "last month; account ids checked across parts"])
    table = sum_cells([r.cells for r in kept])
    rows_in = lineage.steps[0].rows_out if kind == "panel" else lineage.steps[-1].rows_out
    cells_lineage = lineage.add(
        f"aggregate to {len(table):,} (vintage, age) cells covering {int(table['at_risk'].sum()):,} account-months",
        "account-months" if kind == "panel" else "accounts", rows_in, rows_in)
    counts = _sum_counts([r.counts for r in kept])
    accounts = None
    if results[0].accounts is not None:
        accounts = pd.concat([r.accounts for r in results], ignore_index=True)
    return PartitionedPortfolio(source, tuple(paths), kind, freq, context, lineage,
                                Cells(table, freq, cells_lineage), counts, accounts)


def load_partitioned_portfolio(data: str | Path, **options) -> Portfolio:
    """A partitioned data set validated part by part and put together as one :class:`Portfolio`.

    The in-memory path for a partitioned data set: the same global facts as
    :func:`load_partitioned`, then the parts' loans (and panels) concatenated with the
    added-up lineage. Equal to reading the same rows as one file.

    Parameters
    ----------
    data : str or pathlib.Path
        A folder or a glob of Parquet files.
    **options
        As in :func:`load_partitioned` (without ``client`` and ``accounts``).

    Returns
    -------
    Portfolio
    """
    merged, results = _two_passes(data, keep="portfolio", **options)
    parts = [r.portfolio for r in results]
    loans = pd.concat([p.loans for p in parts], ignore_index=True)
    panel = pd.concat([p.panel for p in parts], ignore_index=True) if merged.kind == "panel" else None
    return Portfolio(loans, panel, merged.freq, merged.lineage, parts[0].attributes)


def _part_loans(result: PartResult) -> pd.DataFrame:
    """A validated part's loan table (on the worker that holds it)."""
    return result.portfolio.loans


def load_partitioned_parts(data: str | Path, *, client, **options) -> tuple[Portfolio, list]:
    """A partitioned loan-level data set validated on a Dask cluster, its parts kept there.

    For the score models' passes (``apcfair unbiased --backend dask``): each part is read
    and validated as a task with the whole data set's global context, as
    :func:`load_partitioned`, and stays on its worker; the driver gathers the parts' loan
    tables -- one row per account: attributes and spell, no account-months -- and puts
    them together as one :class:`Portfolio`, equal to reading the same rows as one file
    (:func:`load_partitioned_portfolio`).

    Parameters
    ----------
    data : str or pathlib.Path
        A folder or a glob of Parquet files, or one Parquet file.
    client : dask.distributed.Client
        The cluster.
    **options
        As in :func:`load_partitioned` (without ``client`` and ``accounts``).

    Returns
    -------
    tuple of (Portfolio, list of dask.distributed.Future)
        The per-account portfolio, and a future per part of that part's loan table on its
        worker (in the portfolio's row order: part ``k``'s rows follow part ``k - 1``'s).

    Raises
    ------
    DataValidationError
        As :func:`load_partitioned`; also for a panel data set, whose rows are account-months.
    """
    opts = {"format": "auto", "columns": None, "freq": "M", "on_invalid": "raise", "date_format": None,
            "exit_column": None, "exit_codes": None, **options}
    paths, kind, context, vopts = _first_pass(data, client=client, **opts)
    if kind == "panel":
        raise DataValidationError([f"{data}: a panel data set (one row per account-month) cannot be gathered per "
                                   "account for the score models on the Dask backend; give a loan-level data set "
                                   "(one row per account), or use --backend memory"])
    futures = client.map(_Call(validate_part, context, vopts, keep="portfolio"), paths, pure=False)
    results = client.gather(futures)
    merged = _combine(str(data), paths, kind, opts["freq"], context, results)
    loans = pd.concat([r.portfolio.loans for r in results], ignore_index=True)
    portfolio = Portfolio(loans, None, merged.freq, merged.lineage, results[0].portfolio.attributes)
    parts = client.map(_part_loans, futures, pure=False)
    return portfolio, parts
