"""Loan-level and panel portfolios: the data contract, validation and lineage.

Data contract
-------------
**Loan-level** table, one row per account:

``account_id``
    Unique account identifier.
``origination``
    Origination month (the vintage ``v``).
``last_month``
    Last month with observed performance: the month of default, of closure/payoff,
    or the end of the data.
``default``
    1 if the account defaulted in ``last_month``, else 0.
``first_month`` (optional)
    First month observed, for delayed entry (left truncation). Default: the month
    after origination.
``exit`` (optional)
    How the account's observation ends in ``last_month``: ``default``, ``payoff``,
    ``closed`` or ``censored`` (any case; empty = inferred). Another column can be named
    with ``exit_column=`` (CLI ``--exit-column``) and status codes mapped with
    ``exit_codes=`` (CLI ``--payoff-codes C,P --closed-codes X``).

**Panel** table, one row per account-month: ``account_id``, ``month``, ``default``
(0/1), optional ``origination`` (default: the month before the account's first row),
optional ``exit`` (or a status column named with ``exit_column=``) recording the month an
account pays off or closes, plus any time-varying attributes.

Exits
-----
Payoff and closure compete with default: an account that leaves by them can no longer
default. Each account's exit (``Portfolio.loans["exit"]``) is, in this order:

1. ``default`` if it defaulted (``default = 1`` in ``last_month``);
2. the recorded exit, where the exit column has one (loan-level: the account's row;
   panel: the account's last row). With ``exit_codes`` (``{code: exit}``, e.g.
   ``{"C": "payoff"}`` for a card panel's status code C = paid off / closed), values that
   are not among the codes mean "still open" and are not errors;
3. otherwise inferred: ``payoff`` if ``last_month`` is before the last month of the data
   (the latest ``last_month``, or the latest panel month, over the whole table), else
   ``censored``. An account whose last month is the data's last month is censored even if
   it paid off in that month: the data cannot tell the two apart (record it as ``payoff``
   to count it).

Invalid rows (errors, or dropped and counted with ``on_invalid="exclude"``): an exit value
that is not one of the four (without ``exit_codes``); ``exit = default`` with
``default = 0``; ``default = 1`` with another exit; in a panel, a default after the
account's recorded exit. Panel rows after a recorded exit (a closed card that stays in the
file) are not errors: they are dropped and counted in the lineage. The lineage notes how
many accounts leave by each exit and how many payoffs were inferred.

Any other column is an attribute. Ages count from the month after origination:
``a = t - v`` with ``a = 1`` in the first performance month. On quarterly periods
(``freq="Q"``) age 1 is the first quarter after the origination quarter, and a loan-level
account that defaults or closes within its origination quarter is counted at age 1 (with
a lineage note giving the count) rather than lost.

Reading
-------
**Dates** are read strictly: each date column with one format, detected once from its
distinct values or given as ``date_format`` (:mod:`apcfair.portfolio.periods`); the
lineage records which (``lineage.date_formats``). Values that do not fit the column's
format are invalid rows. A column that cannot be read with one format (Excel serials,
Unix time, day/month order the values do not decide, quarters with ``freq="M"``) is
refused whatever ``on_invalid`` says. Monthly dates with ``freq="Q"`` are mapped to the
quarter that contains them (noted in the lineage); a panel that then has several rows per
account and quarter is refused.

**Plausible dates.** Dates after the current period, before 1900, or cut off from the
rest of the table's dates by a stretch of more than 10 years without any date (counted
from the median date outwards over all date columns together; a typo 2099 or 1919 in data
from 2005-2019) are invalid rows: an error by default, dropped and counted with
``on_invalid="exclude"``. A book with continuous history is never cut, however old.

**Files.** CSV columns are typed without losing information (zip ``04872`` stays text,
identifiers are never floats; :mod:`apcfair.portfolio.reading`), so a CSV and a Parquet
file of the same table give the same portfolio; ``lineage.column_types`` and
``describe()["attribute_types"]`` say how each attribute was typed. Empty, header-only,
non-UTF-8 (pass ``encoding=``) and malformed files raise one error naming the path.

**Reserved columns.** ``vintage`` (and, in a panel, ``age``) are apcfair's own: a column
of that name that agrees with what apcfair derives is dropped with a lineage note; any
other must be renamed (a borrower's age in years as ``borrower_age``, say).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair._options import Frequency, InputFormat, OnInvalid, check_option
from apcfair.errors import DataValidationError
from apcfair.portfolio.lineage import Lineage
from apcfair.portfolio.periods import (
    PERIODS_PER_YEAR,
    ParsedPeriods,
    check_date_format,
    format_period,
    parse_periods,
)
from apcfair.portfolio.reading import dtype_description, read_any
from apcfair.portfolio.spells import EXIT_VALUES, NON_DEFAULT_EXITS, Spells

LOAN_REQUIRED = ("account_id", "origination", "last_month", "default")
PANEL_REQUIRED = ("account_id", "month", "default")
_N_EXAMPLES = 3


def read_table(path: str | Path, *, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file (chosen by extension; ``.csv.gz`` works too).

    CSV columns are typed without losing information: digit strings with leading zeros
    (zip ``04872``) and code-like names (``zip5``, ``postcode``) stay text, identifiers
    (``account_id``) are integers or text but never floats; see
    :mod:`apcfair.portfolio.reading`. A CSV and a Parquet file of the same table give the
    same frame.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv``, ``.csv.gz``, ``.txt``, ``.parquet`` or ``.pq`` file.
    encoding : str, optional
        Text encoding of a CSV file; default UTF-8 (a byte-order mark is skipped).

    Returns
    -------
    pandas.DataFrame
        The table as read (no validation; see :func:`load_portfolio`).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DataValidationError
        If the file is empty, not UTF-8 (or ``encoding``) text, not a well-formed table,
        a folder or unreadable; the message names the path and the fix.
    ValueError
        If the extension is neither CSV nor Parquet.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> from apcfair.portfolio import read_table
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "loans.csv"
    >>> pd.DataFrame({"account_id": [1, 2], "default": [0, 1]}).to_csv(path, index=False)
    >>> read_table(path).shape
    (2, 2)
    >>> _ = path.write_text("account_id,zip\\n1,04872\\n2,10115\\n")
    >>> read_table(path)["zip"].tolist()
    ['04872', '10115']
    """
    return read_any(path, encoding)[0]


def _examples(ids: pd.Series) -> str:
    ex = ", ".join(map(str, ids.head(_N_EXAMPLES).tolist()))
    return f"e.g. account_id {ex}" if ex else ""


@dataclass
class _Checker:
    """Collects validation problems and exclusion masks for one table."""

    df: pd.DataFrame
    on_invalid: str
    unit: str
    problems: list[str] = field(default_factory=list)
    reasons: dict[str, np.ndarray] = field(default_factory=dict)

    def flag(self, mask, reason: str, fix: str, column: str, *, show_values: bool = False) -> None:
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n == 0:
            return
        ids = self.df.loc[mask, "account_id"] if "account_id" in self.df else pd.Series([], dtype=object)
        ex = _examples(ids)
        if show_values:
            vals = pd.unique(self.df.loc[mask, column])[:_N_EXAMPLES]
            ex = f"{ex}; values {', '.join(repr(str(v)) for v in vals)}"
        self.problems.append(f"column {column!r}: {n:,} {self.unit} {reason} ({ex}). Fix: {fix}.")
        self.reasons[reason] = mask

    def keep_mask(self) -> tuple[np.ndarray, dict[str, int]]:
        """Rows kept and, for each reason, rows excluded (first reason wins)."""
        keep = np.ones(len(self.df), dtype=bool)
        counts: dict[str, int] = {}
        for reason, mask in self.reasons.items():
            newly = mask & keep
            counts[reason] = int(newly.sum())
            keep &= ~mask
        return keep, counts

    def finish(self) -> tuple[np.ndarray, dict[str, int]]:
        if self.problems and self.on_invalid == "raise":
            hint = (
                " Alternatively pass on_invalid='exclude' (CLI: --on-invalid exclude) to drop "
                "these rows; every dropped row is counted in the lineage report."
            )
            raise DataValidationError([p + ("" if i else hint) for i, p in enumerate(self.problems)])
        return self.keep_mask()


def require_columns(df: pd.DataFrame, columns: list[str] | tuple[str, ...], *, what: str = "attribute",
                    where: str = "not found in the data",
                    fix: str = "add the column(s) or remove them from attributes=[...].") -> None:
    """Raise :class:`~apcfair.errors.DataValidationError` naming every missing column and the fix.

    The one column check of the package (portfolio validation, the score models, the binner).

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    columns : sequence of str
        Columns that must be present.
    what, where : str
        Wording of the message: ``"{what} column(s) [...] {where}; found columns [...]"``.
    fix : str
        What the user can do about it (after ``"Fix: "``).

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio.portfolio import require_columns
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"])  # nothing missing: no error
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"])
    Traceback (most recent call last):
    ...
    apcfair.errors.DataValidationError: attribute column(s) ['b'] not found in the data; found columns ['a']. Fix: add the column(s) or remove them from attributes=[...].
    """
    missing = list(dict.fromkeys(c for c in columns if c not in df.columns))
    if missing:
        raise DataValidationError(
            [f"{what} column(s) {missing} {where}; found columns {list(df.columns)[:15]}. Fix: {fix}"]
        )


def _require_columns(df: pd.DataFrame, required, kind: str) -> None:
    """:func:`require_columns` worded for the data contract (the fix is a column mapping)."""
    first = next((c for c in required if c not in df.columns), "")
    require_columns(df, required, what="missing required", where=f"for {kind} data",
                    fix=f"rename the columns or map them with columns={{'your_name': '{first}'}} "
                        f"(CLI: --map your_name={first}).")


def _check_binary(chk: _Checker, col: str = "default") -> np.ndarray:
    raw = pd.to_numeric(chk.df[col], errors="coerce")
    bad = ~raw.isin([0, 1]).to_numpy()
    chk.flag(bad, "have a default flag that is not 0 or 1 (NaN, negative or other values)",
             "code default as 1 = defaulted in this month, 0 = not", col)
    return np.where(bad, 0, raw.fillna(0).to_numpy()).astype(np.int8)


def _check_ids(chk: _Checker) -> None:
    ids = chk.df["account_id"]
    chk.flag(ids.isna().to_numpy(), "have a missing account_id", "give every row an identifier",
             "account_id")


def _where(source: str) -> str:
    return "the table" if source == "<DataFrame>" else f"data file {source!r}"


def _require_rows(df: pd.DataFrame, source: str) -> None:
    if len(df) == 0:
        where = _where(source)
        raise DataValidationError([
            f"{where} has no data rows (columns {list(df.columns)[:8]}, but only a header). Fix: "
            "give one row per account (loan-level) or per account and month (panel)."
        ])


def _parse_dates(df: pd.DataFrame, cols: list[str], freq: str, date_format) -> dict[str, ParsedPeriods]:
    """Each date column read with one format; every column that cannot be read is reported."""
    if isinstance(date_format, Mapping):
        unknown = [c for c in date_format if c not in cols]
        if unknown:
            raise ValueError(f"date_format names {unknown}, which are not date columns of this table; "
                             f"the date columns are {cols}.")
    problems: list[str] = []
    out: dict[str, ParsedPeriods] = {}
    for col in cols:
        fmt = date_format.get(col) if isinstance(date_format, Mapping) else date_format
        context = [df[c] for c in cols if c != col]
        try:
            out[col] = parse_periods(df[col], freq, column=col, date_format=fmt, context=context)
        except DataValidationError as err:
            problems.extend(err.problems)
    if problems:
        raise DataValidationError(problems)
    return out


def _check_months(chk: _Checker, col: str, parsed: ParsedPeriods, optional: bool = False) -> np.ndarray:
    codes = parsed.codes
    bad = codes < 0
    if optional:
        bad &= chk.df[col].notna().to_numpy()
    if parsed.date_format == "empty":
        expected = "missing: the column holds no dates"
    else:
        expected = f"missing or not in the column's date format, {parsed.date_format}"
    chk.flag(bad, f"have an unparseable {col} ({expected})",
             f"write every {col} in one format, e.g. YYYY-MM, or pass date_format= (CLI: --date-format)",
             col, show_values=not optional and parsed.date_format != "empty")
    return codes


# Plausible dates: not in the future, and not cut off from the bulk of the data. From the
# median date of all date columns together, the window extends over the distinct dates
# present until a stretch of more than _GAP_YEARS without any date; dates beyond such a
# gap (a typo 2099 or 1919 in data from 2005-2019) and dates before _EARLIEST_YEAR are
# implausible. A book with continuous history, however old, is never cut.
_GAP_YEARS = 10
_EARLIEST_YEAR = 1900


def current_period(freq: str = "M") -> int:
    """The period code of today (the last period that can have been observed)."""
    today = pd.Timestamp.today()
    if freq == "M":
        return today.year * 12 + today.month - 1
    return today.year * 4 + (today.month - 1) // 3


def plausible_window(codes, freq: str = "M", *, counts=None) -> tuple[int, int] | None:
    """First and last plausible period of a table's dates (see the rule above).

    Parameters
    ----------
    codes : sequence of numpy.ndarray
        Period codes of each date column (``-1`` = missing).
    freq : {"M", "Q"}
        Period frequency.
    counts : sequence of numpy.ndarray, optional
        Rows per code (one array per column, aligned with ``codes``), when ``codes`` hold
        distinct values rather than rows (a partitioned data set's first pass).

    Returns
    -------
    (int, int) or None
        ``None`` if there are no dates.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.portfolio.periods import format_period
    >>> from apcfair.portfolio.portfolio import plausible_window
    >>> orig = np.array([24228, 24229, 24230, 2099 * 12])   # one typo 2099-01
    >>> last = np.array([24240, 24235, 24238, 24250])
    >>> format_period(plausible_window([orig, last]))
    ['2019-01', '2020-11']
    """
    per = PERIODS_PER_YEAR[freq]
    valid = [np.asarray(c, dtype=np.int64) for c in codes]
    allc = np.concatenate([c[c >= 0] for c in valid]) if valid else np.empty(0, np.int64)
    if not len(allc):
        return None
    weights = None
    if counts is not None:
        weights = np.concatenate([np.asarray(w, np.int64)[c >= 0] for c, w in zip(valid, counts, strict=True)])
    if allc.max() < 2_000_000:
        full = np.bincount(allc, weights=weights).astype(np.int64)
        u = np.flatnonzero(full)
        cnt = full[u]
    else:
        u, inv = np.unique(allc, return_inverse=True)
        cnt = np.bincount(inv, weights=weights).astype(np.int64)
    cum = np.cumsum(cnt)
    k = int(np.searchsorted(cum, (cum[-1] + 1) // 2))  # position of the row-weighted median
    big = np.flatnonzero(np.diff(u) > _GAP_YEARS * per)  # a gap between u[i] and u[i + 1]
    above, below = big[big >= k], big[big < k]
    hi = int(u[above[0]]) if len(above) else int(u[-1])
    lo = int(u[below[-1] + 1]) if len(below) else int(u[0])
    return max(lo, _EARLIEST_YEAR * per), min(hi, current_period(freq))


def _check_plausible(chk: _Checker, codes: dict[str, np.ndarray], freq: str, context=None) -> np.ndarray:
    """Flag implausible dates; returns the rows with any (later checks skip them).

    With a ``context`` (a part of a partitioned data set) the window is the whole data set's.
    """
    implausible = np.zeros(len(chk.df), dtype=bool)
    window = context.window if context is not None else plausible_window(list(codes.values()), freq)
    if window is None:
        return implausible
    lo, hi = window
    now = current_period(freq)
    unit = "month" if freq == "M" else "quarter"
    lo_l, hi_l, now_l = format_period([lo, hi, now], freq)
    for col, c in codes.items():
        ok = c >= 0
        future = ok & (c > now)
        chk.flag(future, f"have {col} dates in the future (after {now_l}, the current {unit})",
                 "correct the dates (a typo such as 2091 for 2019?); performance cannot be observed "
                 "after today", col, show_values=True)
        far = ok & ~future & ((c < lo) | (c > hi))
        chk.flag(far, f"have {col} dates far outside the rest of the data (the dates run from {lo_l} to "
                      f"{hi_l}; these are more than {_GAP_YEARS} years away from any other date, or "
                      f"before {_EARLIEST_YEAR})",
                 "correct the dates (a typo such as 1919 or 2091 for 2019?)", col, show_values=True)
        implausible |= future | far
    return implausible


def _fold_origination_quarter(v: np.ndarray, last: np.ndarray, first: np.ndarray | None,
                              dflt: np.ndarray, ok: np.ndarray, data_end: int | None = None
                              ) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Quarterly age convention: an exit in the origination quarter counts at age 1.

    On quarterly periods an account that defaults or closes within the quarter it was
    opened in has ``last_month == origination`` (age 0) although it performed for a month
    or two. Age 1 is the first quarter after the origination quarter, and such an exit is
    counted there, so no account is lost. The move applies only where quarter ``v + 1``
    is inside the data (an account still open in the last quarter of the data that began
    in it has no performance quarter yet and is dropped as before). A ``first_month`` in
    the origination quarter likewise starts at age 1. Returns the new arrays and a lineage
    note (``""`` when nothing moved).
    """
    if data_end is None:
        data_end = int(last[ok].max()) if ok.any() else -1
    same = ok & (last == v) & (v + 1 <= data_end)
    # a closure is an exit only before the data's last quarter (there it is censoring)
    move = same & ((dflt == 1) | (last < data_end))
    last = np.where(move, v + 1, last)
    n_first = 0
    if first is not None:
        early = ok & (first >= 0) & (first == v)
        n_first = int(early.sum())
        first = np.where(early, v + 1, first)
    if not move.any() and not n_first:
        return last, first, ""
    n_def = int((move & (dflt == 1)).sum())
    note = (f"quarterly ages: {int(move.sum())} accounts that left in their origination quarter "
            f"({n_def} defaults, {int(move.sum()) - n_def} closures) are counted at age 1, the first "
            "quarter after origination")
    if n_first:
        note += f"; {n_first} first_month values in the origination quarter start at age 1"
    return last, first, note


def _reserved_column(df: pd.DataFrame, name: str, derived: np.ndarray, rows: np.ndarray, freq: str,
                     kind: str, fix_name: str) -> str:
    """Drop a column apcfair derives itself when it agrees; refuse it (with the fix) when not.

    Returns the lineage note for a dropped column.
    """
    if name == "age":
        given = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
        meaning = "months on book, month - origination"
    else:
        try:
            given = parse_periods(df[name], freq, column=name).codes.astype(float)
        except DataValidationError:
            given = np.full(len(df), np.nan)
        meaning = "the origination period"
    same = given == derived
    if rows.any() and same[rows].all():
        return (f"column {name!r} equals apcfair's own {name} ({meaning}) in all "
                f"{int(rows.sum()):,} rows; dropped (apcfair derives it)")
    diff = rows & ~same
    n = int(diff.sum())
    i = int(np.flatnonzero(diff)[0]) if n else 0
    detail = ""
    if n:
        shown = df[name].iloc[i]
        shown = shown.item() if isinstance(shown, np.generic) else shown
        want = int(derived[i]) if name == "age" else format_period([int(derived[i])], freq)[0]
        detail = (f": {name!r} differs from apcfair's own {name} ({meaning}) in {n:,} of "
                  f"{int(rows.sum()):,} rows (e.g. {shown!r} where apcfair's {name} is {want!r}")
        if name == "age" and "account_id" in df:
            per_acct = pd.Series(given).groupby(df["account_id"].to_numpy()).nunique()
            if (per_acct <= 1).all():
                detail += "; it is constant within each account, so probably a borrower attribute"
        detail += ")"
    if kind == "panel":
        msg = (f"panel attribute column(s) [{name!r}] clash with apcfair's own panel columns "
               "(vintage = origination period, age = months on book)")
    else:
        msg = f"attribute column {name!r} clashes with apcfair's own vintage (the origination period)"
    raise DataValidationError([
        f"{msg}{detail}. Fix: rename it, e.g. columns={{'{name}': '{fix_name}'}} "
        f"(CLI: --map {name}={fix_name})."
    ])


def _normalise_exit_codes(exit_codes) -> dict[str, str] | None:
    """``{code: exit}`` with codes compared as stripped, case-folded text; values checked."""
    if exit_codes is None:
        return None
    out = {}
    for code, value in dict(exit_codes).items():
        v = str(value).strip().casefold()
        if v not in EXIT_VALUES:
            raise ValueError(f"exit_codes={{{code!r}: {value!r}}}: each code must map to one of "
                             f"{', '.join(EXIT_VALUES)}")
        out[str(code).strip().casefold()] = v
    return out


def _exit_column(df: pd.DataFrame, exit_column: str | None, exit_codes) -> str | None:
    """The column holding recorded exits: ``exit_column``, else a column named ``exit``."""
    if exit_column is None:
        if exit_codes is not None and "exit" not in df.columns:
            raise ValueError("exit_codes were given but there is no exit column: name it with "
                             "exit_column= (CLI: --exit-column COL) or call the column 'exit'")
        return "exit" if "exit" in df.columns else None
    require_columns(df, [exit_column], what="exit", fix="name an existing column with exit_column= "
                    "(CLI: --exit-column), or leave it out to infer exits from last_month.")
    if exit_column != "exit" and "exit" in df.columns:
        raise DataValidationError([
            f"the data have a column 'exit' besides the exit column {exit_column!r}; 'exit' is apcfair's "
            "own (how each account leaves). Fix: rename it, e.g. columns={'exit': 'exit_label'} "
            "(CLI: --map exit=exit_label)."])
    return exit_column


def _recorded_exits(chk: _Checker, col: str | None, codes: dict[str, str] | None) -> np.ndarray:
    """Each row's recorded exit (``""`` = none recorded); unknown values are invalid rows.

    Without ``codes`` the column holds ``default``, ``payoff``, ``closed`` or ``censored``
    (any case, surrounding blanks ignored) or is empty. With ``codes`` (``{code: exit}``,
    e.g. a status code ``C`` = payoff) values not among the codes mean no exit in that row
    (an open account's status such as ``current`` or ``30``).
    """
    n = len(chk.df)
    if col is None:
        return np.full(n, "", dtype=object)
    # normalise the distinct values only (a panel has millions of rows, a handful of codes)
    idx, uniq = pd.factorize(chk.df[col])
    norm = pd.Series(uniq, dtype=object).astype("string").str.strip().str.casefold().fillna("")
    if codes is not None:
        norm = norm.map(lambda t: codes.get(t, ""))
    lookup = np.append(norm.to_numpy(dtype=object), "")  # idx -1 (missing) -> ""
    text = lookup[idx]
    if codes is not None:
        return text
    unknown = np.append(((norm != "") & ~norm.isin(EXIT_VALUES)).to_numpy(dtype=bool), False)[idx]
    chk.flag(unknown, f"have an exit value that is not one of {', '.join(EXIT_VALUES)} (or empty)",
             "write the exit as default, payoff, closed or censored (any case), leave it empty to "
             "infer it, or map status codes with exit_codes= (CLI: --payoff-codes C,P --closed-codes X)",
             col, show_values=True)
    return np.where(unknown, "", text)


def _check_exit_agrees(chk: _Checker, col: str | None, rec: np.ndarray, dflt: np.ndarray) -> None:
    """A recorded exit and the default flag must tell the same story in each row."""
    if col is None:
        return
    chk.flag((rec == "default") & (dflt == 0), "have exit 'default' but default = 0",
             "set default = 1 in the month of default, or correct the exit", col)
    chk.flag(np.isin(rec, ("payoff", "closed", "censored")) & (dflt == 1),
             "have default = 1 but an exit other than default (payoff, closed or censored): an account "
             "that defaults leaves by default", "correct the exit or the default flag", col)


def _infer_exits(rec: np.ndarray, dflt: np.ndarray, last: np.ndarray, data_end: int) -> np.ndarray:
    """Each account's exit: recorded if given, else default / payoff before the data's end / censored.

    The rule for the data's last period: an account without a recorded exit whose last
    month is the last month of the data is censored (still open, or leaving in that very
    month: the data cannot tell); a recorded payoff or closure there is kept.
    """
    inferred = np.where(dflt == 1, "default", np.where(last < data_end, "payoff", "censored"))
    return np.where(rec != "", rec, inferred).astype(object)


def _exit_note(exits: np.ndarray, rec: np.ndarray, col: str | None, codes, end_label: str) -> str:
    """Lineage note: how many accounts leave by each exit and how exits were found."""
    counts = ", ".join(f"{int((exits == e).sum()):,} {e}" for e in EXIT_VALUES)
    n_inf = int(((rec == "") & np.isin(exits, NON_DEFAULT_EXITS)).sum())
    how = ("no exit column: " if col is None else
           f"exit column {col!r}" + (f" read with codes {codes}" if codes else "") + "; where empty, ")
    return (f"exits: {counts} accounts; {how}an account without default whose last month is before the "
            f"data's last month ({end_label}) is a payoff ({n_inf:,} inferred), one that reaches it is censored")


def _widen(values: np.ndarray) -> np.ndarray:
    """Attributes as int64 / float64 whatever their width, so CSV and Parquet inputs agree."""
    if values.dtype.kind in "iu" and values.dtype != np.uint64:
        return values.astype(np.int64)
    if values.dtype.kind == "f":
        return values.astype(np.float64)
    return values


def _nothing_left(source: str, rows_in: int, unit: str, counts: dict[str, int]) -> DataValidationError:
    where = _where(source)
    reasons = "; ".join(f"{v:,} {k}" for k, v in counts.items())
    return DataValidationError([
        f"all {rows_in:,} {unit} of {where} were excluded ({reasons}); nothing is left to analyse. "
        "Fix: correct the data for the reasons listed."
    ])


def _check_date_format_option(date_format) -> None:
    """Check ``date_format`` (a format, or ``{column: format}``) before any work."""
    values = date_format.values() if isinstance(date_format, Mapping) else [date_format]
    for v in values:
        check_date_format(v)


def _column_types(frame: pd.DataFrame, attrs) -> dict[str, str]:
    return {c: dtype_description(frame[c]) for c in ["account_id", *attrs]}


@dataclass(frozen=True)
class Portfolio:
    """A validated portfolio of accounts, with its lineage.

    Build one with :meth:`from_loans`, :meth:`from_panel` or :func:`load_portfolio`.

    Parameters
    ----------
    loans, panel, freq, lineage, attributes
        As the attributes; use the validating builders instead of the constructor.

    Attributes
    ----------
    loans : pandas.DataFrame
        One row per account with integer period codes: ``account_id``, ``vintage``,
        ``first_month``, ``last_month``, ``default`` plus attribute columns. For panel
        input it is derived from the panel (attributes taken from each account's first
        row).
    panel : pandas.DataFrame or None
        For panel input: ``account_id``, ``vintage``, ``month``, ``age``, ``default`` and
        attributes; ``None`` for loan-level input (the panel is never materialised).
    freq : {"M", "Q"}
        Period frequency.
    lineage : Lineage
        Rows in, rows out and every reason for exclusion.
    attributes : tuple of str
        Attribute column names.

    Notes
    -----
    ``loans["exit"]`` (text: ``"default"``, ``"payoff"``, ``"closed"`` or ``"censored"``)
    says how each account's observation ends in ``last_month``; see the module docstring
    for how it is read or inferred. ``"default"`` exactly where ``default == 1``.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair import Portfolio
    >>> df = pd.DataFrame({"account_id": [1, 2, 3],
    ...                    "origination": ["2019-01", "2019-01", "2019-02"],
    ...                    "last_month": ["2019-03", "2019-02", "2019-04"],
    ...                    "default": [0, 1, 0], "region": ["N", "S", "N"]})
    >>> p = Portfolio.from_loans(df)
    >>> p.kind, p.n_accounts, p.n_account_months, p.n_defaults, p.attributes
    ('loans', 3, 5, 1, ('region',))
    >>> p.describe()["window"]
    ['2019-02', '2019-04']
    >>> p.loans.columns.tolist()
    ['account_id', 'vintage', 'first_month', 'last_month', 'default', 'exit', 'region']
    >>> p.loans["exit"].tolist()  # account 3 reaches the data's last month: censored
    ['payoff', 'default', 'censored']
    >>> p.subset(p.loans["region"] == "N", "keep north", "south region").n_accounts
    2
    """

    loans: pd.DataFrame
    panel: pd.DataFrame | None
    freq: str
    lineage: Lineage
    attributes: tuple[str, ...]

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_loans(cls, df: pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                   freq: Frequency = "M", on_invalid: OnInvalid = "raise",
                   source: str = "<DataFrame>", date_format: str | Mapping[str, str] | None = None,
                   exit_column: str | None = None, exit_codes: Mapping[str, str] | None = None,
                   context=None) -> Portfolio:
        """Validate a loan-level table (one row per account).

        Parameters
        ----------
        df : pandas.DataFrame
            The table; see the module docstring for the contract.
        columns : mapping, optional
            ``{your_column: contract_column}`` renames applied first.
        freq : {"M", "Q"}
            Monthly or quarterly periods.
        on_invalid : {"raise", "exclude"}
            ``"raise"`` (default) stops with a :class:`DataValidationError` naming every
            problem; ``"exclude"`` drops offending rows and counts them in the lineage.
        source : str
            Name of the data source for the lineage.
        date_format : str or mapping, optional
            How the date columns are written: one format for all of them or
            ``{column: format}``; a key of
            :data:`~apcfair.portfolio.periods.DATE_FORMATS` or a strftime pattern. Default:
            detected per column from its distinct values (and recorded in the lineage).
        exit_column : str, optional
            Column recording how each account leaves (default: a column named ``exit``
            if there is one; without any, exits are inferred). See *Exits* in the module
            docstring.
        exit_codes : mapping, optional
            ``{code: exit}`` for a status-coded exit column, e.g. ``{"C": "payoff"}``;
            codes compared as text ignoring case and surrounding blanks. Values not
            among the codes mean no exit recorded.
        context : apcfair.portfolio.partitioned.GlobalContext, optional
            For one part of a partitioned data set: the whole data set's date formats,
            plausible-date window, last month (for inferred exits) and account ids shared
            between parts, so every part is judged by the same global facts. Built by
            :mod:`apcfair.portfolio.partitioned`; leave it out otherwise.

        Returns
        -------
        Portfolio

        Notes
        -----
        Dates are read strictly (:mod:`apcfair.portfolio.periods`): one format per
        column; a column that cannot be read that way is refused whatever ``on_invalid``
        says. Dates in the future or far outside the rest of the data (beyond a stretch of
        more than 10 years without any date, or before 1900) are invalid rows. A column
        ``vintage`` that equals the origination period is dropped with a lineage note;
        any other ``vintage`` column must be renamed.

        Examples
        --------
        >>> import pandas as pd
        >>> from apcfair.portfolio import Portfolio
        >>> df = pd.DataFrame({"account_id": [1, 2], "origination": ["2019-01", "2019-02"],
        ...                    "last_month": ["2019-06", "2019-12"], "default": [1, 0]})
        >>> Portfolio.from_loans(df).n_accounts
        2
        >>> df = pd.DataFrame({"account_id": [1, 2], "origination": [201901, 201902],
        ...                    "last_month": ["06/30/2019", "12/31/2019"], "default": [1, 0]})
        >>> Portfolio.from_loans(df).lineage.date_formats
        {'origination': 'yyyymm (detected)', 'last_month': 'mm/dd/yyyy (detected)'}
        """
        check_option("freq", freq, Frequency)
        check_option("on_invalid", on_invalid, OnInvalid)
        _check_date_format_option(date_format)
        codes_map = _normalise_exit_codes(exit_codes)
        df = df.rename(columns=dict(columns or {}))
        _require_columns(df, LOAN_REQUIRED, "loan-level")
        _require_rows(df, source)
        chk = _Checker(df.reset_index(drop=True), on_invalid, "rows")
        df = chk.df
        _check_ids(chk)
        dup = df["account_id"].duplicated(keep=False).to_numpy() & df["account_id"].notna().to_numpy()
        if context is not None:
            dup |= context.shared_ids(df["account_id"])  # duplicates in other parts of the data set
        chk.flag(dup, "share an account_id with another row (duplicate accounts)",
                 "keep one row per account (for account-month data use the panel format)",
                 "account_id")
        has_first = "first_month" in df.columns
        date_cols = ["origination", "last_month"] + (["first_month"] if has_first else [])
        parsed = _parse_dates(df, date_cols, freq, context.date_formats if context is not None else date_format)
        v = _check_months(chk, "origination", parsed["origination"])
        last = _check_months(chk, "last_month", parsed["last_month"])
        notes = [f"{c}: {parsed[c].note}" for c in date_cols if parsed[c].note]
        dropped = []
        if "vintage" in df.columns:
            notes.append(_reserved_column(df, "vintage", v.astype(float), v >= 0, freq, "loans",
                                          "vintage_label"))
            dropped.append("vintage")
        first = _check_months(chk, "first_month", parsed["first_month"], optional=True) if has_first else None
        implausible = _check_plausible(chk, {c: parsed[c].codes for c in date_cols}, freq, context)
        dflt = _check_binary(chk)
        exit_col = _exit_column(df, exit_column, codes_map)
        rec = _recorded_exits(chk, exit_col, codes_map)
        _check_exit_agrees(chk, exit_col, rec, dflt)
        data_end = context.data_end if context is not None else None
        if exit_col is not None:
            dropped.append(exit_col)
        ok = (v >= 0) & (last >= 0) & ~implausible  # rows with bad dates are reported once
        if freq == "Q":
            last, first, fold_note = _fold_origination_quarter(v, last, first, dflt, ok, data_end)
            if fold_note:
                notes.append(fold_note)
        chk.flag(ok & (last < v), "have last_month before origination",
                 "last_month must be on or after the origination month", "last_month")
        # quarterly: after the fold a default can sit in its origination quarter only when that
        # is the data's last quarter (no performance quarter inside the data): counted below
        chk.flag(ok & (last == v) & (dflt == 1) & (freq == "M"),
                 "default in the origination month itself (age 0, before the first performance month)",
                 "ages start at 1 = the month after origination; check the dates", "default")
        if first is None:
            first = v + 1
        else:
            first = np.where(first < 0, v + 1, first)
            okf = ok & (first >= 0)
            chk.flag(okf & (first <= v), "have first_month on or before origination",
                     "first_month is the first performance month, after origination", "first_month")
            chk.flag(okf & (first > last) & (last > v), "have first_month after last_month",
                     "first_month must not be after last_month", "first_month")
        rows_in = len(df)
        keep, counts = chk.finish()
        # not errors: accounts with no performance period at all
        no_perf = keep & (last == v)
        if no_perf.any():
            late_default = no_perf & (dflt == 1)
            if late_default.any():  # quarterly only (monthly ones are errors above)
                counts["default in the origination quarter, which is the data's last quarter (no performance "
                       "quarter inside the data)"] = int(late_default.sum())
            if (no_perf & ~late_default).any():
                counts["no performance month observed (last_month equals origination)"] = int(
                    (no_perf & ~late_default).sum())
            keep &= ~no_perf
        if not keep.any() and context is None:  # a part of a data set may lose all its rows
            raise _nothing_left(source, rows_in, "rows", counts)
        attrs = [c for c in df.columns if c not in (*LOAN_REQUIRED, "first_month", *dropped)]
        loans = pd.DataFrame(
            {
                "account_id": df["account_id"].to_numpy()[keep],
                "vintage": v[keep],
                "first_month": first[keep].astype(np.int64),
                "last_month": last[keep],
                "default": dflt[keep],
            }
        )
        if data_end is None:
            data_end = int(last[ok].max())
        loans["exit"] = _infer_exits(rec, dflt, last, data_end)[keep]
        notes.append(_exit_note(loans["exit"].to_numpy(), rec[keep], exit_col, exit_codes,
                                format_period([data_end], freq)[0]))
        for c in attrs:
            loans[c] = _widen(df[c].to_numpy()[keep])
        lineage = Lineage(source, date_formats={c: parsed[c].describe() for c in date_cols},
                          column_types=_column_types(loans, attrs), notes=tuple(notes))
        lineage = lineage.add("validate loan-level data", "accounts", rows_in, int(keep.sum()), counts)
        return cls(loans, None, freq, lineage, tuple(attrs))

    @classmethod
    def from_panel(cls, df: pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                   freq: Frequency = "M", on_invalid: OnInvalid = "raise",
                   source: str = "<DataFrame>", date_format: str | Mapping[str, str] | None = None,
                   exit_column: str | None = None, exit_codes: Mapping[str, str] | None = None,
                   context=None) -> Portfolio:
        """Validate a panel table (one row per account-month).

        Parameters are as in :meth:`from_loans`. Checks: required columns, parseable
        months, plausible dates, duplicate account-months, non-binary defaults, rows after
        an account's default, gaps between an account's first and last month, rows on or
        before origination and origination that varies within an account. With
        ``on_invalid="exclude"`` the rows after a default are dropped and accounts with
        duplicates, gaps or inconsistent origination are dropped whole.

        Columns ``age`` and ``vintage`` are apcfair's own (months on book, origination
        period): when the table has them and they agree with what apcfair derives, they
        are dropped with a note in the lineage; otherwise the error asks to rename them
        (a borrower's age in years, for instance, as ``borrower_age``).

        Monthly dates with ``freq="Q"`` are mapped to quarters; a panel with more than one
        row per account and quarter is then refused (aggregate it to quarters first).
        """
        check_option("freq", freq, Frequency)
        check_option("on_invalid", on_invalid, OnInvalid)
        _check_date_format_option(date_format)
        codes_map = _normalise_exit_codes(exit_codes)
        df = df.rename(columns=dict(columns or {}))
        _require_columns(df, PANEL_REQUIRED, "panel")
        _require_rows(df, source)
        chk = _Checker(df.reset_index(drop=True), on_invalid, "account-month rows")
        df = chk.df
        _check_ids(chk)
        has_orig = "origination" in df.columns
        date_cols = ["month"] + (["origination"] if has_orig else [])
        parsed = _parse_dates(df, date_cols, freq, context.date_formats if context is not None else date_format)
        notes = [f"{c}: {parsed[c].note}" for c in date_cols if parsed[c].note]
        month = _check_months(chk, "month", parsed["month"])
        orig = _check_months(chk, "origination", parsed["origination"]) if has_orig else None
        implausible = _check_plausible(chk, {c: parsed[c].codes for c in date_cols}, freq, context)
        dflt = _check_binary(chk)
        exit_col = _exit_column(df, exit_column, codes_map)
        rec = _recorded_exits(chk, exit_col, codes_map)
        _check_exit_agrees(chk, exit_col, rec, dflt)
        if context is not None:
            chk.flag(context.shared_ids(df["account_id"]), "belong to accounts whose rows lie in more than one "
                     "part of the data set", "write all rows of an account into one part (partition by "
                     "account_id)", "account_id")
        acct = df["account_id"]
        codes, uniq = pd.factorize(acct)
        valid_m = (month >= 0) & ~implausible  # rows with bad dates are reported once
        key = pd.DataFrame({"a": codes, "m": month})
        dup = key.duplicated(keep=False).to_numpy() & valid_m & (codes >= 0)
        if dup.any() and freq == "Q" and parsed["month"].note:
            raise DataValidationError([
                f"column 'month' holds monthly dates but freq='Q': {int(dup.sum()):,} account-month "
                "rows share an account and quarter with another row. Fix: aggregate the panel to one "
                "row per account and quarter, or analyse it monthly with freq='M' (CLI: --freq M)."
            ])
        chk.flag(dup, "duplicate another row's (account_id, month)",
                 "keep one row per account and month", "month")
        g = pd.DataFrame({"a": codes, "m": np.where(valid_m, month, np.iinfo(np.int64).max),
                          "d": dflt})
        first_m = g.groupby("a")["m"].transform("min").to_numpy()
        dm = np.where(dflt == 1, g["m"], np.iinfo(np.int64).max)
        def_m = pd.Series(dm).groupby(codes).transform("min").to_numpy()
        chk.flag(valid_m & (month > def_m), "come after the account's default month",
                 "an account leaves the panel when it defaults; remove later rows", "month")
        em = np.where(valid_m & (rec != ""), month, np.iinfo(np.int64).max)
        after_exit = valid_m & (month > pd.Series(em).groupby(codes).transform("min").to_numpy())
        chk.flag(after_exit & (dflt == 1),
                 "default after the account's recorded exit (payoff, closure or censoring)",
                 "an account leaves at its exit; correct the exit or the default month", "default")
        if has_orig:
            o_first = pd.Series(orig).groupby(codes).transform("min").to_numpy()
            o_last = pd.Series(orig).groupby(codes).transform("max").to_numpy()
            chk.flag(o_first != o_last, "belong to accounts whose origination differs between rows",
                     "give each account one origination month", "origination")
            chk.flag(valid_m & (orig >= 0) & (month <= orig),
                     "are on or before the account's origination month (default or performance before origination)",
                     "performance months start the month after origination", "month")
            vint = orig
        else:
            vint = first_m - 1
        # gaps: count of months per account vs span (on rows not after default)
        ok_rows = valid_m & ~(month > def_m) & ~after_exit
        n_rows = pd.Series(ok_rows.astype(int)).groupby(codes).transform("sum").to_numpy()
        m_ok = np.where(ok_rows, month, -1)
        last_m = pd.Series(m_ok).groupby(codes).transform("max").to_numpy()
        gap = valid_m & (last_m - first_m + 1 != n_rows) & ~dup
        chk.flag(gap, "belong to accounts with gaps (missing months between first and last row)",
                 "fill the missing account-months or use loan-level data with first_month",
                 "month")
        dropped = [exit_col] if exit_col is not None else []
        derived_ok = valid_m & (vint >= 0) & (codes >= 0)
        for name in ("vintage", "age"):
            if name in df.columns:
                derived = (month - vint) if name == "age" else vint
                notes.append(_reserved_column(df, name, derived.astype(float), derived_ok, freq,
                                              "panel", f"borrower_{name}"))
                dropped.append(name)
        rows_in = len(df)
        keep, counts = chk.finish()
        # not errors: a closed account that stays in the file after its exit month
        trailing = keep & after_exit
        if trailing.any():
            counts["come after the account's recorded payoff/closure month (rows of a closed account)"] = \
                int(trailing.sum())
            keep &= ~trailing
        if not keep.any() and context is None:  # a part of a data set may lose all its rows
            raise _nothing_left(source, rows_in, "account-month rows", counts)
        panel = pd.DataFrame(
            {
                "account_id": acct.to_numpy()[keep],
                "vintage": vint[keep].astype(np.int64),
                "month": month[keep],
                "default": dflt[keep],
                "__exit__": rec[keep],
            }
        )
        panel["age"] = (panel["month"] - panel["vintage"]).astype(np.int64)
        attrs = [c for c in df.columns if c not in (*PANEL_REQUIRED, "origination", *dropped)]
        for c in attrs:
            panel[c] = _widen(df[c].to_numpy()[keep])
        panel = panel.sort_values(["account_id", "month"], kind="stable").reset_index(drop=True)
        lineage = Lineage(source, date_formats={c: parsed[c].describe() for c in date_cols},
                          column_types=_column_types(panel, attrs), notes=tuple(notes))
        lineage = lineage.add("validate panel data", "account-months", rows_in, int(keep.sum()), counts)
        grp = panel.groupby("account_id", sort=False)
        loans = grp.agg(vintage=("vintage", "first"), first_month=("month", "min"),
                        last_month=("month", "max"), default=("default", "max"),
                        rec=("__exit__", "last")).reset_index()
        panel = panel.drop(columns="__exit__")
        data_end = context.data_end if context is not None else int(month[valid_m].max())
        rec_acct = loans.pop("rec").to_numpy(dtype=object)
        loans["exit"] = _infer_exits(rec_acct, loans["default"].to_numpy(), loans["last_month"].to_numpy(),
                                     data_end)
        lineage = lineage.annotate(notes=[_exit_note(loans["exit"].to_numpy(), rec_acct, exit_col, exit_codes,
                                                     format_period([data_end], freq)[0])])
        for c in attrs:
            loans[c] = grp[c].first().to_numpy()
        lineage = lineage.add("accounts from panel", "accounts", len(loans), len(loans))
        return cls(loans, panel, freq, lineage, tuple(attrs))

    # ------------------------------------------------------------------ properties
    @property
    def kind(self) -> str:
        """``"panel"`` or ``"loans"``."""
        return "panel" if self.panel is not None else "loans"

    @property
    def n_accounts(self) -> int:
        """Number of accounts kept."""
        return len(self.loans)

    @property
    def n_account_months(self) -> int:
        """Account-months at risk (computed, not materialised, for loan-level data)."""
        if self.panel is not None:
            return len(self.panel)
        return self.spells().n_account_months

    @property
    def n_defaults(self) -> int:
        """Number of defaults."""
        return int(self.loans["default"].sum())

    @property
    def window(self) -> tuple[int, int]:
        """First and last performance period (integer codes)."""
        return int(self.loans["first_month"].min()), int(self.loans["last_month"].max())

    def describe(self) -> dict:
        """Counts, window, date formats and attribute types as a JSON-ready dictionary."""
        lo, hi = self.window
        exits = {}
        if "exit" in self.loans:
            exits = {"exits_accounts": {e: int((self.loans["exit"] == e).sum()) for e in EXIT_VALUES}}
        return {
            "kind": self.kind,
            "freq": self.freq,
            "accounts": self.n_accounts,
            "account_months": self.n_account_months,
            "defaults": self.n_defaults,
            "default_rate_accounts": self.n_defaults / max(self.n_accounts, 1),
            "first_vintage": format_period([self.loans["vintage"].min()], self.freq)[0],
            "last_vintage": format_period([self.loans["vintage"].max()], self.freq)[0],
            "window": format_period([lo, hi], self.freq),
            "attributes": list(self.attributes),
            "date_formats": dict(self.lineage.date_formats),
            "attribute_types": {a: t for a, t in self.lineage.column_types.items() if a in self.attributes},
            **exits,
        }

    def spells(self) -> Spells:
        """Each account's ages at risk and default flag (see :class:`Spells`)."""
        return Spells.from_loans(self.loans)

    def cells(self):
        """Aggregate to (vintage, age) cells; see :func:`apcfair.portfolio.cells.aggregate_cells`."""
        from apcfair.portfolio.cells import aggregate_cells

        return aggregate_cells(self)

    def subset(self, account_mask, stage: str, reason: str) -> Portfolio:
        """Keep accounts where ``account_mask`` is true; lineage records the rest."""
        mask = np.asarray(account_mask, dtype=bool)
        loans = self.loans.loc[mask].reset_index(drop=True)
        panel = None
        if self.panel is not None:
            panel = self.panel[self.panel["account_id"].isin(loans["account_id"])].reset_index(drop=True)
        lin = self.lineage.add(stage, "accounts", len(mask), int(mask.sum()), {reason: int((~mask).sum())})
        return Portfolio(loans, panel, self.freq, lin, self.attributes)


def detect_format(df: pd.DataFrame) -> str:
    """Return ``"loans"`` or ``"panel"`` from the columns present.

    Parameters
    ----------
    df : pandas.DataFrame
        Loan-level (``origination`` and ``last_month`` columns) or panel (``month``
        column) data, after any column renames.

    Returns
    -------
    str
        ``"loans"`` or ``"panel"``.

    Raises
    ------
    DataValidationError
        If neither set of columns is present.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import detect_format
    >>> detect_format(pd.DataFrame(columns=["account_id", "origination", "last_month", "default"]))
    'loans'
    >>> detect_format(pd.DataFrame(columns=["account_id", "month", "default"]))
    'panel'
    """
    cols = set(df.columns)
    if {"last_month", "origination"} <= cols:
        return "loans"
    if "month" in cols:
        return "panel"
    raise DataValidationError(
        [
            "cannot tell whether the data are loan-level or panel: loan-level data need "
            "'origination' and 'last_month', panel data need 'month'. Found columns "
            f"{list(df.columns)[:12]}. Fix: rename or map the columns, or pass the format explicitly."
        ]
    )


def load_portfolio(data: str | Path | pd.DataFrame, *, format: InputFormat = "auto",
                   columns: Mapping[str, str] | None = None, freq: Frequency = "M",
                   on_invalid: OnInvalid = "raise", date_format: str | Mapping[str, str] | None = None,
                   encoding: str | None = None, exit_column: str | None = None,
                   exit_codes: Mapping[str, str] | None = None, context=None) -> Portfolio:
    """Read and validate a portfolio from a CSV/Parquet file or a DataFrame.

    Parameters
    ----------
    data : path or pandas.DataFrame
        Loan-level or panel data.
    format : {"auto", "loans", "panel"}
        Input format; ``"auto"`` decides from the columns.
    columns : mapping, optional
        ``{your_column: contract_column}`` renames.
    freq : {"M", "Q"}
        Period frequency.
    on_invalid : {"raise", "exclude"}
        What to do with rows that violate the contract.
    date_format : str or mapping, optional
        How the date columns are written (one format, or ``{column: format}`` keyed by
        the contract names); default: detected per column. See
        :data:`~apcfair.portfolio.periods.DATE_FORMATS`.
    encoding : str, optional
        Text encoding of a CSV file (default UTF-8).
    exit_column, exit_codes : optional
        How exits other than default are recorded; see :meth:`Portfolio.from_loans` and
        *Exits* in :mod:`apcfair.portfolio.portfolio`.
    context : optional
        The global facts of a partitioned data set this file is one part of; see
        :meth:`Portfolio.from_loans` and :mod:`apcfair.portfolio.partitioned` (which also
        reads a whole partitioned data set).

    Returns
    -------
    Portfolio
        The validated portfolio with its lineage, which records how each date column
        and each attribute was read.

    Raises
    ------
    DataValidationError
        With ``on_invalid="raise"``, naming every problem (column, count, examples, fix);
        and whatever ``on_invalid`` says for files and columns that cannot be read.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair import load_portfolio
    >>> df = pd.DataFrame({"account_id": [1, 2, 3, 3],
    ...                    "origination": ["2019-01", "2019-01", "2019-02", "2019-02"],
    ...                    "last_month": ["2019-03", "2019-02", "2019-04", "2019-04"],
    ...                    "default": [0, 1, 0, 0]})
    >>> p = load_portfolio(df, on_invalid="exclude")
    >>> p.n_accounts, p.lineage.total_excluded
    (2, {'share an account_id with another row (duplicate accounts)': 2})
    >>> panel = pd.DataFrame({"account_id": [1, 1, 2], "month": ["2019-02", "2019-03", "2019-02"],
    ...                       "default": [0, 1, 0]})
    >>> load_portfolio(panel).kind
    'panel'
    """
    check_option("format", format, InputFormat)
    _check_date_format_option(date_format)
    mapping = dict(columns or {})
    info = None
    if isinstance(data, pd.DataFrame):
        df, source = data, "<DataFrame>"
    else:
        df, info = read_any(data, encoding)
        source = str(data)
    df = df.rename(columns=mapping)
    fmt = detect_format(df) if format == "auto" else format
    builder = Portfolio.from_loans if fmt == "loans" else Portfolio.from_panel
    portfolio = builder(df, freq=freq, on_invalid=on_invalid, source=source, date_format=date_format,
                        exit_column=exit_column, exit_codes=exit_codes, context=context)
    if info is not None:
        read_types = {mapping.get(k, k): v for k, v in info.column_types.items()}
        lin = portfolio.lineage
        types = {c: read_types.get(c, t) for c, t in lin.column_types.items()}
        portfolio = replace(portfolio, lineage=lin.annotate(column_types=types, notes=info.notes))
    return portfolio
