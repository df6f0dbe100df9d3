"""Empirical vintage curves: monthly default rate by age, cumulative default by vintage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from apcfair.portfolio.periods import PERIODS_PER_YEAR, format_period
from apcfair.portfolio.survival import kaplan_meier


def _vintage_group(vintage: np.ndarray, freq: str, by: str) -> np.ndarray:
    if by == "year":
        return vintage // PERIODS_PER_YEAR[freq]
    return vintage


def monthly_pd_curves(cells, by: str = "year") -> pd.DataFrame:
    """Observed default rate by age, per vintage (``by="vintage"``) or vintage year.

    Parameters
    ----------
    cells : Cells
        Cells from :meth:`Portfolio.cells`.
    by : {"year", "vintage"}
        Pool the vintages of each calendar year (default) or keep each vintage.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``group``, ``age``, ``defaults``, ``at_risk``, ``pd``.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio, monthly_pd_curves
    >>> df = pd.DataFrame({"account_id": [1, 2, 3],
    ...                    "origination": ["2019-01", "2019-01", "2019-02"],
    ...                    "last_month": ["2019-03", "2019-02", "2019-04"],
    ...                    "default": [0, 1, 0]})
    >>> curves = monthly_pd_curves(Portfolio.from_loans(df).cells())
    >>> curves.round(2)  # doctest: +NORMALIZE_WHITESPACE
       group  age  defaults  at_risk    pd
    0   2019    1         1        3  0.33
    1   2019    2         0        2  0.00
    >>> monthly_pd_curves(Portfolio.from_loans(df).cells(), by="vintage")["group"].unique().tolist()
    ['2019-01', '2019-02']
    """
    t = cells.table
    g = _vintage_group(t["vintage"].to_numpy(), cells.freq, by)
    out = (
        t.assign(group=g).groupby(["group", "age"], as_index=False)[["defaults", "at_risk"]].sum()
    )
    out["pd"] = out["defaults"] / out["at_risk"]
    if by == "vintage":
        out["group"] = format_period(out["group"], cells.freq)
    return out


def cumulative_default_curves(portfolio, by: str = "year", alpha: float = 0.05) -> pd.DataFrame:
    """Cumulative default probability by age per vintage group, censoring handled.

    Uses lifelines' Kaplan–Meier estimator with delayed entry (``first_month``), so
    censored accounts (payoff, end of data) count as at risk until they leave.

    Parameters
    ----------
    portfolio : Portfolio
    by : {"year", "vintage"}
        Group vintages by calendar year (default) or keep monthly vintages.
    alpha : float
        One minus the confidence level of the pointwise bands.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``group``, ``age``, ``cum_default``, ``lower``, ``upper``, ``at_risk``.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio, cumulative_default_curves
    >>> df = pd.DataFrame({"account_id": [1, 2, 3],
    ...                    "origination": ["2019-01", "2019-01", "2019-02"],
    ...                    "last_month": ["2019-03", "2019-02", "2019-04"],
    ...                    "default": [0, 1, 0]})
    >>> curves = cumulative_default_curves(Portfolio.from_loans(df))
    >>> list(curves.columns)
    ['group', 'age', 'cum_default', 'lower', 'upper', 'at_risk']
    >>> curves[["group", "age", "cum_default", "at_risk"]].round(2)  # doctest: +NORMALIZE_WHITESPACE
      group  age  cum_default  at_risk
    0  2019    1         0.33        3
    1  2019    2         0.33        2
    """
    spells = portfolio.spells()
    groups = _vintage_group(spells.vintage, portfolio.freq, by)
    km = kaplan_meier(spells, groups, alpha=alpha)
    km = km[km["age"] >= 1].reset_index(drop=True)
    labels = {g: str(g) if by == "year" else format_period([g], portfolio.freq)[0] for g in km["group"].unique()}
    km["group"] = km["group"].map(labels)
    return km[["group", "age", "cum_default", "lower", "upper", "at_risk"]]
