"""Empirical vintage curves: monthly default rate by age, cumulative default by vintage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from apcfair.portfolio._time import PERIODS_PER_YEAR, format_period


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
    from lifelines import KaplanMeierFitter

    loans = portfolio.loans
    v = loans["vintage"].to_numpy(np.int64)
    dur = loans["last_month"].to_numpy(np.int64) - v
    entry = loans["first_month"].to_numpy(np.int64) - v - 1
    event = loans["default"].to_numpy().astype(bool)
    groups = _vintage_group(v, portfolio.freq, by)
    frames = []
    for grp in np.unique(groups):
        m = groups == grp
        kmf = KaplanMeierFitter(alpha=alpha)
        kmf.fit(dur[m], event_observed=event[m], entry=entry[m])
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        ages = sf.index.to_numpy()
        keep = ages >= 1
        label = str(grp) if by == "year" else format_period([grp], portfolio.freq)[0]
        frames.append(
            pd.DataFrame(
                {
                    "group": label,
                    "age": ages[keep].astype(int),
                    "cum_default": 1 - sf.to_numpy()[keep],
                    "lower": 1 - ci.iloc[:, 1].to_numpy()[keep],
                    "upper": 1 - ci.iloc[:, 0].to_numpy()[keep],
                    "at_risk": kmf.event_table["at_risk"].reindex(ages).to_numpy()[keep],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
