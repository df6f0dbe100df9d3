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

**Panel** table, one row per account-month: ``account_id``, ``month``, ``default``
(0/1), optional ``origination`` (default: the month before the account's first row),
plus any time-varying attributes.

Any other column is an attribute. Ages count from the month after origination:
``a = t - v`` with ``a = 1`` in the first performance month.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair._options import Frequency, InputFormat, OnInvalid, check_option
from apcfair.errors import DataValidationError
from apcfair.portfolio.lineage import Lineage
from apcfair.portfolio.periods import format_period, to_period_code
from apcfair.portfolio.spells import Spells

LOAN_REQUIRED = ("account_id", "origination", "last_month", "default")
PANEL_REQUIRED = ("account_id", "month", "default")
_N_EXAMPLES = 3


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file (chosen by extension; ``.csv.gz`` works too).

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv``, ``.csv.gz``, ``.txt``, ``.parquet`` or ``.pq`` file.

    Returns
    -------
    pandas.DataFrame
        The table as read (no validation; see :func:`load_portfolio`).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
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
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or suffixes.endswith(".pq"):
        return pd.read_parquet(path)
    if ".csv" in suffixes or ".txt" in suffixes:
        return pd.read_csv(path)
    raise ValueError(f"cannot tell the format of {str(path)!r}: use a .csv or .parquet file")


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

    def flag(self, mask, reason: str, fix: str, column: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n == 0:
            return
        ids = self.df.loc[mask, "account_id"] if "account_id" in self.df else pd.Series([], dtype=object)
        self.problems.append(
            f"column {column!r}: {n:,} {self.unit} {reason} ({_examples(ids)}). Fix: {fix}."
        )
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
    missing = [c for c in columns if c not in df.columns]
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


def _check_months(chk: _Checker, col: str, freq: str, optional: bool = False) -> np.ndarray:
    codes = to_period_code(chk.df[col], freq, column=col)
    bad = codes < 0
    if optional:
        bad &= chk.df[col].notna().to_numpy()
    chk.flag(bad, f"have an unparseable {col} (expected a date such as '2019-12' or '2019-12-31')",
             f"write {col} as YYYY-MM or an ISO date", col)
    return codes


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
    ['account_id', 'vintage', 'first_month', 'last_month', 'default', 'region']
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
                   source: str = "<DataFrame>") -> Portfolio:
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

        Returns
        -------
        Portfolio

        Examples
        --------
        >>> import pandas as pd
        >>> from apcfair.portfolio import Portfolio
        >>> df = pd.DataFrame({"account_id": [1, 2], "origination": ["2019-01", "2019-02"],
        ...                    "last_month": ["2019-06", "2019-12"], "default": [1, 0]})
        >>> Portfolio.from_loans(df).n_accounts
        2
        """
        check_option("freq", freq, Frequency)
        check_option("on_invalid", on_invalid, OnInvalid)
        df = df.rename(columns=dict(columns or {}))
        _require_columns(df, LOAN_REQUIRED, "loan-level")
        chk = _Checker(df.reset_index(drop=True), on_invalid, "rows")
        df = chk.df
        _check_ids(chk)
        dup = df["account_id"].duplicated(keep=False).to_numpy() & df["account_id"].notna().to_numpy()
        chk.flag(dup, "share an account_id with another row (duplicate accounts)",
                 "keep one row per account (for account-month data use the panel format)",
                 "account_id")
        v = _check_months(chk, "origination", freq)
        last = _check_months(chk, "last_month", freq)
        if "vintage" in df.columns:
            raise DataValidationError(
                ["attribute column 'vintage' clashes with apcfair's own vintage (the origination period). "
                 "Fix: rename it, e.g. columns={'vintage': 'vintage_label'} (CLI: --map vintage=vintage_label)."]
            )
        has_first = "first_month" in df.columns
        first = _check_months(chk, "first_month", freq, optional=True) if has_first else None
        dflt = _check_binary(chk)
        ok = (v >= 0) & (last >= 0)
        chk.flag(ok & (last < v), "have last_month before origination",
                 "last_month must be on or after the origination month", "last_month")
        chk.flag(ok & (last == v) & (dflt == 1),
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
            counts["no performance month observed (last_month equals origination)"] = int(no_perf.sum())
            keep &= ~no_perf
        attrs = [c for c in df.columns if c not in (*LOAN_REQUIRED, "first_month")]
        loans = pd.DataFrame(
            {
                "account_id": df["account_id"].to_numpy()[keep],
                "vintage": v[keep],
                "first_month": first[keep].astype(np.int64),
                "last_month": last[keep],
                "default": dflt[keep],
            }
        )
        for c in attrs:
            loans[c] = df[c].to_numpy()[keep]
        lineage = Lineage(source).add("validate loan-level data", "accounts", rows_in, int(keep.sum()), counts)
        return cls(loans, None, freq, lineage, tuple(attrs))

    @classmethod
    def from_panel(cls, df: pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                   freq: Frequency = "M", on_invalid: OnInvalid = "raise",
                   source: str = "<DataFrame>") -> Portfolio:
        """Validate a panel table (one row per account-month).

        Parameters are as in :meth:`from_loans`. Checks: required columns, parseable
        months, duplicate account-months, non-binary defaults, rows after an account's
        default, gaps between an account's first and last month, rows on or before
        origination and origination that varies within an account. With
        ``on_invalid="exclude"`` the rows after a default are dropped and accounts with
        duplicates, gaps or inconsistent origination are dropped whole.
        """
        check_option("freq", freq, Frequency)
        check_option("on_invalid", on_invalid, OnInvalid)
        df = df.rename(columns=dict(columns or {}))
        _require_columns(df, PANEL_REQUIRED, "panel")
        chk = _Checker(df.reset_index(drop=True), on_invalid, "account-month rows")
        df = chk.df
        _check_ids(chk)
        month = _check_months(chk, "month", freq)
        has_orig = "origination" in df.columns
        orig = _check_months(chk, "origination", freq) if has_orig else None
        dflt = _check_binary(chk)
        acct = df["account_id"]
        codes, uniq = pd.factorize(acct)
        valid_m = month >= 0
        key = pd.DataFrame({"a": codes, "m": month})
        dup = key.duplicated(keep=False).to_numpy() & valid_m & (codes >= 0)
        chk.flag(dup, "duplicate another row's (account_id, month)",
                 "keep one row per account and month", "month")
        g = pd.DataFrame({"a": codes, "m": np.where(valid_m, month, np.iinfo(np.int64).max),
                          "d": dflt})
        first_m = g.groupby("a")["m"].transform("min").to_numpy()
        dm = np.where(dflt == 1, g["m"], np.iinfo(np.int64).max)
        def_m = pd.Series(dm).groupby(codes).transform("min").to_numpy()
        chk.flag(valid_m & (month > def_m), "come after the account's default month",
                 "an account leaves the panel when it defaults; remove later rows", "month")
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
        ok_rows = valid_m & ~(month > def_m)
        n_rows = pd.Series(ok_rows.astype(int)).groupby(codes).transform("sum").to_numpy()
        m_ok = np.where(ok_rows, month, -1)
        last_m = pd.Series(m_ok).groupby(codes).transform("max").to_numpy()
        gap = valid_m & (last_m - first_m + 1 != n_rows) & ~dup
        chk.flag(gap, "belong to accounts with gaps (missing months between first and last row)",
                 "fill the missing account-months or use loan-level data with first_month",
                 "month")
        reserved = [c for c in ("vintage", "age") if c in df.columns]
        if reserved:
            raise DataValidationError(
                [f"panel attribute column(s) {reserved} clash with apcfair's own panel columns "
                 "(vintage = origination period, age = months on book). Fix: rename them, e.g. "
                 f"columns={{'{reserved[0]}': 'borrower_{reserved[0]}'}} (CLI: --map {reserved[0]}=borrower_{reserved[0]})."]
            )
        rows_in = len(df)
        keep, counts = chk.finish()
        panel = pd.DataFrame(
            {
                "account_id": acct.to_numpy()[keep],
                "vintage": vint[keep].astype(np.int64),
                "month": month[keep],
                "default": dflt[keep],
            }
        )
        panel["age"] = (panel["month"] - panel["vintage"]).astype(np.int64)
        attrs = [c for c in df.columns if c not in (*PANEL_REQUIRED, "origination")]
        for c in attrs:
            panel[c] = df[c].to_numpy()[keep]
        panel = panel.sort_values(["account_id", "month"], kind="stable").reset_index(drop=True)
        lineage = Lineage(source).add("validate panel data", "account-months", rows_in, int(keep.sum()), counts)
        grp = panel.groupby("account_id", sort=False)
        loans = grp.agg(vintage=("vintage", "first"), first_month=("month", "min"),
                        last_month=("month", "max"), default=("default", "max")).reset_index()
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
        """Counts and window as a JSON-ready dictionary."""
        lo, hi = self.window
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
                   on_invalid: OnInvalid = "raise") -> Portfolio:
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

    Returns
    -------
    Portfolio
        The validated portfolio with its lineage.

    Raises
    ------
    DataValidationError
        With ``on_invalid="raise"``, naming every problem (column, count, examples, fix).

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
    if isinstance(data, pd.DataFrame):
        df, source = data, "<DataFrame>"
    else:
        df, source = read_table(data), str(data)
    df = df.rename(columns=dict(columns or {}))
    fmt = detect_format(df) if format == "auto" else format
    builder = Portfolio.from_loans if fmt == "loans" else Portfolio.from_panel
    return builder(df, freq=freq, on_invalid=on_invalid, source=source)
