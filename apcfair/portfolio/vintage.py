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
    by : {"year", "vintage"}

    Returns
    -------
    pandas.DataFrame
        Tidy: ``group``, ``age``, ``defaults``, ``at_risk``, ``pd``.
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
