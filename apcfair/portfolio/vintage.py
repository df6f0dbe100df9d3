"""Empirical vintage curves: monthly default rate by age, cumulative default by vintage.

Cumulative default comes in two definitions (:mod:`apcfair.portfolio.survival`):
``cumulative_default_curves`` gives ``1 - KM`` with payoff censored (default *net of*
attrition: as if nobody could pay off); ``cumulative_incidence_curves`` gives the
Aalen–Johansen cumulative incidence of default with payoff/closure competing (the share of
accounts that default before any other exit) and of payoff/closure itself.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apcfair.portfolio.periods import PERIODS_PER_YEAR, format_period
from apcfair.portfolio.survival import aalen_johansen, kaplan_meier


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
    """Cumulative default by age per vintage group as ``1 - KM``, payoff censored.

    Kaplan–Meier with delayed entry (``first_month``; :func:`~apcfair.portfolio.survival.kaplan_meier`,
    computed as lifelines' ``KaplanMeierFitter`` computes it and tested equal to it), so
    censored accounts (payoff, end of data) count as at risk until they leave. This is
    default *net of* attrition; :func:`cumulative_incidence_curves` gives the share that
    defaults before paying off.

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
    km["group"] = km["group"].map(_group_labels(km["group"], portfolio.freq, by))
    return km[["group", "age", "cum_default", "lower", "upper", "at_risk"]]


def _group_labels(groups, freq: str, by: str) -> dict:
    return {g: str(g) if by == "year" else format_period([g], freq)[0] for g in pd.unique(groups)}


def cumulative_incidence_curves(portfolio, by: str = "year", alpha: float = 0.05) -> pd.DataFrame:
    """Cumulative incidence of default (payoff competing) and of payoff, by age per vintage group.

    The Aalen–Johansen estimator (:func:`~apcfair.portfolio.survival.aalen_johansen`):
    default and payoff/closure (``Portfolio.loans["exit"]``) are competing exits, the end
    of the data censors, delayed entry is left truncation. Beside it, the Kaplan–Meier
    ``1 - KM`` with payoff censored, so the two definitions can be compared row by row.

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
        Tidy, one row per group and age >= 1 with accounts at risk: ``group``, ``age``,
        ``at_risk``, ``defaults``, ``attrition`` (payoffs/closures at that age),
        ``cif_default`` with ``cif_default_lower``/``_upper`` (cumulative incidence of
        default, payoff competing), ``cif_attrition`` with bands (cumulative incidence of
        payoff or closure, default competing), ``km_cum_default`` with
        ``km_lower``/``km_upper`` (1 - Kaplan–Meier, payoff censored).

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio, cumulative_incidence_curves
    >>> df = pd.DataFrame({"account_id": [1, 2, 3, 4],
    ...                    "origination": ["2019-01"] * 4,
    ...                    "last_month": ["2019-02", "2019-03", "2019-03", "2019-05"],
    ...                    "default": [0, 1, 0, 1]})
    >>> c = cumulative_incidence_curves(Portfolio.from_loans(df))
    >>> c[["age", "cif_default", "cif_attrition", "km_cum_default"]].round(3)  # doctest: +NORMALIZE_WHITESPACE
       age  cif_default  cif_attrition  km_cum_default
    0    1         0.00           0.25           0.000
    1    2         0.25           0.50           0.333
    2    3         0.25           0.50           0.333
    3    4         0.50           0.50           1.000
    """
    spells = portfolio.spells()
    groups = _vintage_group(spells.vintage, portfolio.freq, by)
    aj = aalen_johansen(spells, groups, alpha=alpha)
    aj = aj[aj["age"] >= 1]
    km = kaplan_meier(spells, groups, alpha=alpha)
    km = km.rename(columns={"cum_default": "km_cum_default", "lower": "km_lower", "upper": "km_upper"})
    out = aj.merge(km[["group", "age", "km_cum_default", "km_lower", "km_upper"]], on=["group", "age"], how="left")
    # Kaplan–Meier is a step function on its own timeline: carry it to every age
    out[["km_cum_default", "km_lower", "km_upper"]] = (
        out.groupby("group")[["km_cum_default", "km_lower", "km_upper"]].ffill().fillna(0.0))
    out["group"] = out["group"].map(_group_labels(out["group"], portfolio.freq, by))
    return out[["group", "age", "at_risk", "defaults", "attrition", "cif_default", "cif_default_lower",
                "cif_default_upper", "cif_attrition", "cif_attrition_lower", "cif_attrition_upper",
                "km_cum_default", "km_lower", "km_upper"]].reset_index(drop=True)
