"""Aggregation of a portfolio to (vintage, age) cells by counting.

For loan-level data the account-month panel is never built: account ``i`` is at risk
at ages ``first_month - v .. last_month - v``, so the at-risk count of a vintage is a
cumulative sum over ages of ``+1`` at each account's entry age and ``-1`` after its exit
age — O(accounts + cells) time and memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair.portfolio.lineage import Lineage
from apcfair.portfolio.periods import format_period
from apcfair.portfolio.spells import Spells


@dataclass(frozen=True)
class Cells:
    """Defaults, other exits and accounts at risk per (vintage, age) cell.

    Parameters
    ----------
    table, freq, lineage
        As the attributes; build cells with :meth:`Portfolio.cells` or
        :func:`aggregate_cells` rather than by hand.

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``vintage`` and ``period`` (integer period codes), ``age`` (1 = first
        performance period), ``defaults``, ``at_risk`` and ``attrition`` (accounts leaving
        the cell by a non-default exit, payoff or closure: ``Spells.exited``; they were at
        risk of default in that month). Only cells with at least one account at risk are
        listed, sorted by vintage then age.
    freq : {"M", "Q"}
        Period frequency.
    lineage : Lineage
        Lineage of the portfolio the cells came from.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio
    >>> df = pd.DataFrame({"account_id": [1, 2, 3],
    ...                    "origination": ["2019-01", "2019-01", "2019-02"],
    ...                    "last_month": ["2019-03", "2019-02", "2019-04"],
    ...                    "default": [0, 1, 0]})
    >>> cells = Portfolio.from_loans(df).cells()
    >>> cells.n_cells
    4
    >>> cells.to_frame()  # doctest: +NORMALIZE_WHITESPACE
       vintage  age   period  defaults  at_risk  attrition  default_rate
    0  2019-01    1  2019-02         1        2          0           0.5
    1  2019-01    2  2019-03         0        1          1           0.0
    2  2019-02    1  2019-03         0        1          0           0.0
    3  2019-02    2  2019-04         0        1          0           0.0
    """

    table: pd.DataFrame
    freq: str
    lineage: Lineage

    @property
    def n_cells(self) -> int:
        """Number of non-empty cells."""
        return len(self.table)

    def to_frame(self) -> pd.DataFrame:
        """The table with ``vintage`` and ``period`` formatted as ``"YYYY-MM"`` strings."""
        out = self.table.copy()
        out["vintage"] = format_period(out["vintage"], self.freq)
        out["period"] = format_period(out["period"], self.freq)
        out["default_rate"] = out["defaults"] / out["at_risk"]
        return out

    def to_csv(self, path: str | Path) -> None:
        """Write ``vintage, age, period, defaults, at_risk, attrition`` as CSV (``vintage`` as YYYY-MM).

        ``attrition`` counts the accounts that left the cell by payoff or closure (a
        table built without it, by hand, is written without the column).
        """
        cols = [c for c in ("vintage", "age", "period", "defaults", "at_risk", "attrition") if c in self.table]
        self.to_frame()[cols].to_csv(path, index=False)

    def rates(self) -> pd.DataFrame:
        """Monthly default rate as a vintage × age matrix (NaN where nobody is at risk)."""
        t = self.table
        return t.assign(rate=t["defaults"] / t["at_risk"]).pivot(index="vintage", columns="age", values="rate")


_COLUMNS = ("vintage", "age", "period", "defaults", "at_risk", "attrition")


def _loan_cells(loans: pd.DataFrame) -> pd.DataFrame:
    sp = Spells.from_loans(loans)
    v, a0, a1, d, x = sp.vintage, sp.first_age, sp.last_age, sp.defaulted, sp.exited
    keep = a1 >= a0
    v, a0, a1, d, x = v[keep], a0[keep], a1[keep], d[keep], x[keep]
    if len(v) == 0:
        return pd.DataFrame({c: np.array([], dtype=np.int64) for c in _COLUMNS})
    vmin, vmax = int(v.min()), int(v.max())
    amax = int(a1.max())
    nv, na = vmax - vmin + 1, amax + 2  # ages 0..amax+1
    vi = v - vmin
    diff = np.bincount(vi * na + a0, minlength=nv * na) - np.bincount(vi * na + a1 + 1, minlength=nv * na)
    at_risk = np.cumsum(diff.reshape(nv, na), axis=1)
    defaults = np.bincount((vi * na + a1)[d], minlength=nv * na).reshape(nv, na)
    attrition = np.bincount((vi * na + a1)[x], minlength=nv * na).reshape(nv, na)
    vv, aa = np.nonzero(at_risk > 0)
    return pd.DataFrame(
        {
            "vintage": vv.astype(np.int64) + vmin,
            "age": aa.astype(np.int64),
            "period": vv.astype(np.int64) + vmin + aa,
            "defaults": defaults[vv, aa].astype(np.int64),
            "at_risk": at_risk[vv, aa].astype(np.int64),
            "attrition": attrition[vv, aa].astype(np.int64),
        }
    )


def _panel_cells(panel: pd.DataFrame, spells: Spells) -> pd.DataFrame:
    v = panel["vintage"].to_numpy(np.int64)
    a = panel["age"].to_numpy(np.int64)
    d = panel["default"].to_numpy(np.int64)
    vmin = int(v.min())
    na = int(a.max()) + 1
    key = (v - vmin) * na + a
    n = int(key.max()) + 1
    at_risk = np.bincount(key, minlength=n)
    defaults = np.bincount(key, weights=d, minlength=n)
    # each account's non-default exit is in its last panel row (the spell's last age)
    x = spells.exited
    attrition = np.bincount((spells.vintage[x] - vmin) * na + spells.last_age[x], minlength=n)[:n]
    idx = np.nonzero(at_risk)[0]
    vv, aa = np.divmod(idx, na)
    return pd.DataFrame(
        {
            "vintage": vv + vmin,
            "age": aa,
            "period": vv + vmin + aa,
            "defaults": defaults[idx].astype(np.int64),
            "at_risk": at_risk[idx].astype(np.int64),
            "attrition": attrition[idx].astype(np.int64),
        }
    )


def aggregate_cells(portfolio) -> Cells:
    """Aggregate a :class:`~apcfair.portfolio.Portfolio` to (vintage, age) cells.

    Loan-level portfolios are counted without building the account-month panel;
    panel portfolios are counted with ``numpy.bincount`` on integer keys. Delayed entry
    (``first_month``) and censoring (``last_month`` without default) are honoured.

    Parameters
    ----------
    portfolio : Portfolio
        A validated loan-level or panel portfolio.

    Returns
    -------
    Cells
        Defaults, accounts at risk and attrition (payoff/closure exits) per non-empty
        (vintage, age) cell, with the aggregation step added to the lineage.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio
    >>> df = pd.DataFrame({"account_id": [1, 2], "origination": ["2019-01", "2019-01"],
    ...                    "last_month": ["2019-03", "2019-02"], "default": [0, 1]})
    >>> Portfolio.from_loans(df).cells().table[["age", "defaults", "at_risk"]].values.tolist()
    [[1, 1, 2], [2, 0, 1]]
    """
    if portfolio.panel is not None:
        table = _panel_cells(portfolio.panel, portfolio.spells())
        rows_in = len(portfolio.panel)
        unit = "account-months"
    else:
        table = _loan_cells(portfolio.loans)
        rows_in = portfolio.n_accounts
        unit = "accounts"
    n_at_risk = int(table["at_risk"].sum())
    lineage = portfolio.lineage.add(
        f"aggregate to {len(table):,} (vintage, age) cells covering {n_at_risk:,} account-months",
        unit, rows_in, rows_in,
    )
    return Cells(table.reset_index(drop=True), portfolio.freq, lineage)
