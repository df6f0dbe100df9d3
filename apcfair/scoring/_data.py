"""Input normalisation for the score models: portfolios, frames, masks and offsets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from apcfair.errors import DataValidationError
from apcfair.offsets import OffsetTable
from apcfair.portfolio import Lineage, Portfolio, Spells
from apcfair.portfolio.periods import format_period, to_period_code
from apcfair.portfolio.portfolio import require_columns

LOAN_COLUMNS = ("vintage", "first_month", "last_month", "default")
PANEL_COLUMNS = ("account_id", "vintage", "month", "age", "default")
VINTAGE = "vintage"


@dataclass
class Source:
    """A portfolio reduced to what the score models need.

    ``loans`` has one row per account (``vintage, first_month, last_month, default`` as
    integer period codes, plus attributes); ``panel`` (panel input only) one row per
    account-month with ``account`` = row position of the account in ``loans``.
    """

    loans: pd.DataFrame
    panel: pd.DataFrame | None
    freq: str
    lineage: Lineage

    @property
    def n_accounts(self) -> int:
        return len(self.loans)

    @cached_property
    def spells(self) -> Spells:
        """Each account's ages at risk (aligned with ``loans``)."""
        return Spells.from_loans(self.loans)


def as_source(data, freq: str = "M") -> Source:
    """Accept a :class:`Portfolio` or a frame shaped like ``Portfolio.loans``/``.panel``."""
    if isinstance(data, Portfolio):
        loans, panel, freq, lineage = data.loans, data.panel, data.freq, data.lineage
    elif isinstance(data, pd.DataFrame):
        cols = set(data.columns)
        lineage = Lineage("<DataFrame>").add("score model input", "rows", len(data), len(data))
        if set(PANEL_COLUMNS) <= cols:
            panel = data
            loans = None
        elif {"vintage", "last_month", "default"} <= cols:
            loans, panel = data, None
        else:
            raise DataValidationError(
                [
                    "the data are neither a Portfolio nor a validated loan table (columns "
                    f"{list(LOAN_COLUMNS)}) nor a validated panel (columns {list(PANEL_COLUMNS)}); "
                    f"found {list(data.columns)[:12]}. Fix: build a Portfolio first, e.g. "
                    "apcfair.load_portfolio(df) or Portfolio.from_loans(df)."
                ]
            )
        if panel is not None:
            grp = panel.groupby("account_id", sort=True)
            loans = grp.agg(vintage=("vintage", "first"), first_month=("month", "min"),
                            last_month=("month", "max"), default=("default", "max")).reset_index()
    else:
        raise TypeError(f"expected a Portfolio or a pandas DataFrame, got {type(data).__name__}.")
    loans = loans.reset_index(drop=True)
    if "first_month" not in loans.columns:
        loans = loans.assign(first_month=loans["vintage"] + 1)
    for c in LOAN_COLUMNS:
        if loans[c].isna().any():
            raise DataValidationError(
                [f"column {c!r}: {int(loans[c].isna().sum()):,} accounts have missing values. "
                 "Fix: validate the data with Portfolio.from_loans(...)."]
            )
    if panel is not None:
        acct = pd.Index(loans["account_id"]).get_indexer(panel["account_id"])
        panel = panel.assign(account=acct.astype(np.intp))
    src = Source(loans, panel, freq, lineage)
    bad = src.spells.last_age < src.spells.first_age
    if bad.any():
        raise DataValidationError(
            [f"column 'last_month': {int(bad.sum()):,} accounts have last_month before "
             "first_month (no month at risk). Fix: validate with Portfolio.from_loans(...)."]
        )
    return src


def account_mask(accounts, n: int) -> np.ndarray:
    """Boolean mask over accounts from ``None``, a boolean mask or integer positions."""
    if accounts is None:
        return np.ones(n, dtype=bool)
    arr = np.asarray(accounts)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(
                f"accounts= mask has {arr.size:,} values but the portfolio has {n:,} accounts; "
                "pass one boolean per row of portfolio.loans (in that order)."
            )
        return arr.copy()
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < -n or arr.max() >= n):
            raise ValueError(f"accounts= positions must lie in [0, {n}); got {arr.min()}..{arr.max()}.")
        mask = np.zeros(n, dtype=bool)
        mask[arr] = True
        return mask
    raise TypeError("accounts= must be a boolean mask over accounts or integer positions.")


def per_account(values, n: int, name: str) -> np.ndarray:
    """A finite float array of one value per account (``None`` -> zeros)."""
    if values is None:
        return np.zeros(n)
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.shape[0] != n:
        raise DataValidationError(
            [f"{name} has {arr.shape[0]:,} values but there are {n:,} accounts; pass one value "
             "per account, in the order of the rows of portfolio.loans (or of the data)."]
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataValidationError(
            [f"{name} has {int(bad.sum()):,} missing or infinite values (e.g. at positions "
             f"{np.flatnonzero(bad)[:3].tolist()}). Fix: score every account before using "
             f"the scores as an offset."]
        )
    return arr


def check_offset(offset) -> OffsetTable:
    """``None`` -> zero offset; anything else must be an :class:`OffsetTable`."""
    if offset is None:
        return OffsetTable.zeros()
    if not isinstance(offset, OffsetTable):
        raise TypeError(
            f"offset must be an apcfair.scoring.OffsetTable (F by age and H by period), got "
            f"{type(offset).__name__}. Build one with OffsetTable(age_min, lifecycle, "
            "period_min, environment) or OffsetTable.from_series(...)."
        )
    return offset


def check_attributes(attributes: Sequence[str] | str | None) -> list[str]:
    """A list of attribute names (may be empty)."""
    if attributes is None:
        return []
    if isinstance(attributes, str):
        return [attributes]
    attributes = list(attributes)
    if VINTAGE in attributes:
        raise ValueError("'vintage' cannot be an attribute; use vintage_dummies=True instead.")
    return attributes


def vintage_labels(values, freq: str) -> np.ndarray:
    """Vintage codes (or date strings) as ``"YYYY-MM"``/``"YYYY-Qn"`` labels."""
    codes = to_period_code(pd.Series(values).reset_index(drop=True), freq, column=VINTAGE)
    if (codes < 0).any():
        raise DataValidationError(
            [f"column 'vintage': {int((codes < 0).sum()):,} rows have an unparseable vintage. "
             "Fix: give vintages as period codes or dates such as '2019-12'."]
        )
    return np.asarray(format_period(codes, freq), dtype=object)


def attribute_frame(frame: pd.DataFrame, attributes: list[str], vintage: bool,
                    freq: str) -> pd.DataFrame:
    """The attribute columns (and vintage labels) the binner sees."""
    require_columns(frame, attributes)
    out = frame[attributes].reset_index(drop=True)
    if vintage:
        require_columns(frame, [VINTAGE], what="vintage")
        out[VINTAGE] = vintage_labels(frame[VINTAGE], freq)
    return out


def static_mask(panel: pd.DataFrame, columns: list[str]) -> dict[str, int]:
    """For each column, the number of accounts whose value changes over months."""
    acct = panel["account"].to_numpy()
    first = np.zeros(acct.max() + 1 if len(acct) else 0, dtype=np.intp)
    # first row of each account (panel rows are sorted by account then month)
    uniq, pos = np.unique(acct, return_index=True)
    first[uniq] = pos
    out = {}
    for c in columns:
        s = panel[c]
        rep = s.iloc[first[acct]].reset_index(drop=True)
        s = s.reset_index(drop=True)
        same = (s == rep) | (s.isna() & rep.isna())
        changed = acct[~same.to_numpy()]
        out[c] = int(len(np.unique(changed)))
    return out


def expand_account_months(data, attributes: Sequence[str] = (),
                          accounts=None) -> pd.DataFrame:
    """Materialise the account-month panel of a loan-level portfolio (or pass a panel through).

    Account ``i`` is at risk at ages ``first_month - v .. last_month - v`` and defaults
    in its last month iff ``default == 1``. Meant for small data, tests and reference
    fits; the score models never need it for loan-level data.

    Parameters
    ----------
    data : Portfolio or pandas.DataFrame
        A portfolio or a frame shaped like ``Portfolio.loans``/``Portfolio.panel``.
    attributes : sequence of str
        Attribute columns to carry along.
    accounts : array-like of bool or int, optional
        Keep only these accounts (mask or positions over ``portfolio.loans``).

    Returns
    -------
    pandas.DataFrame
        ``account`` (row position in ``portfolio.loans``), ``account_id`` (if present),
        ``vintage``, ``age``, ``period``, ``default`` and the attributes.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.scoring import expand_account_months
    >>> loans = pd.DataFrame({"account_id": [1, 2], "vintage": [24000, 24001],
    ...                       "first_month": [24001, 24002], "last_month": [24003, 24003],
    ...                       "default": [1, 0], "grade": ["A", "B"]})
    >>> expand_account_months(loans, ["grade"])  # doctest: +NORMALIZE_WHITESPACE
       account  account_id  vintage  age  period  default grade
    0        0           1    24000    1   24001        0     A
    1        0           1    24000    2   24002        0     A
    2        0           1    24000    3   24003        1     A
    3        1           2    24001    1   24002        0     B
    4        1           2    24001    2   24003        0     B
    """
    src = as_source(data)
    mask = account_mask(accounts, src.n_accounts)
    attributes = list(attributes)
    if src.panel is not None:
        p = src.panel
        keep = mask[p["account"].to_numpy()]
        out = pd.DataFrame({
            "account": p["account"].to_numpy()[keep],
            "account_id": p["account_id"].to_numpy()[keep],
            "vintage": p["vintage"].to_numpy(np.int64)[keep],
            "age": p["age"].to_numpy(np.int64)[keep],
            "period": p["month"].to_numpy(np.int64)[keep],
            "default": p["default"].to_numpy(np.int64)[keep],
        })
        require_columns(p, attributes)
        for c in attributes:
            out[c] = p[c].to_numpy()[keep]
        return out
    loans = src.loans
    idx_acc = np.flatnonzero(mask)
    spells = src.spells.take(idx_acc)
    v, a0, a1 = spells.vintage, spells.first_age, spells.last_age
    n = spells.n_months
    rep = np.repeat(np.arange(len(idx_acc)), n)
    starts = np.cumsum(n) - n
    age = a0[rep] + (np.arange(int(n.sum())) - starts[rep])
    y = ((age == a1[rep]) & spells.defaulted[rep]).astype(np.int64)
    out = pd.DataFrame({"account": idx_acc[rep]})
    if "account_id" in loans.columns:
        out["account_id"] = loans["account_id"].to_numpy()[idx_acc][rep]
    out["vintage"] = v[rep]
    out["age"] = age
    out["period"] = v[rep] + age
    out["default"] = y
    require_columns(loans, attributes)
    for c in attributes:
        out[c] = loans[c].to_numpy()[idx_acc][rep]
    return out


def resolve_method(src: Source, mask: np.ndarray, attributes: list[str], method: str,
                   rows_method: str) -> tuple[bool, str]:
    """Whether attributes are fixed per account, and the method to use.

    ``method`` is ``"auto"``, ``"accounts"`` or ``rows_method`` (the account-month
    row method's name); ``"auto"`` picks ``"accounts"`` when attributes are static.
    """
    static = True
    if src.panel is not None and attributes:
        keep_rows = mask[src.panel["account"].to_numpy()]
        changed = static_mask(src.panel.loc[keep_rows], attributes)
        varying = {c: k for c, k in changed.items() if k}
        static = not varying
        if method == "accounts" and varying:
            raise DataValidationError(
                [f"column {c!r}: changes over time within {k:,} accounts, but "
                 "method='accounts' needs attributes fixed per account. Fix: use "
                 f"method='{rows_method}' (or 'auto')." for c, k in varying.items()]
            )
    if method == "auto":
        method = "accounts" if static else rows_method
    return static, method


def first_rows(panel: pd.DataFrame) -> np.ndarray:
    """Position of each account's first panel row, indexed by account."""
    acct = panel["account"].to_numpy()
    uniq, pos = np.unique(acct, return_index=True)
    out = np.full(int(acct.max()) + 1 if len(acct) else 0, -1, dtype=np.intp)
    out[uniq] = pos
    return out


def account_frame(src: Source) -> pd.DataFrame:
    """One row per account: the loan table, or each account's first panel row."""
    if src.panel is None:
        return src.loans
    return src.panel.iloc[first_rows(src.panel)].reset_index(drop=True)
