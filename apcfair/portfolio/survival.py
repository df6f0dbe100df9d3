"""Observed survival curves: the one Kaplan–Meier estimator every stage uses.

Cumulative default by age is ``1 - S(a)`` with ``S`` the Kaplan–Meier product-limit over
account spells (lifelines' :class:`~lifelines.KaplanMeierFitter`), delayed entry handled as
left truncation and every non-default exit treated as censoring. That makes it cumulative
default *net of* other exits (the probability of default if nobody could pay off).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apcfair.portfolio.spells import Spells


def kaplan_meier(spells: Spells, groups=None, *, alpha: float = 0.05,
                 sort: bool = True) -> pd.DataFrame:
    """Kaplan–Meier cumulative default by age, overall or per group.

    Parameters
    ----------
    spells : Spells
        From :meth:`Portfolio.spells` (or :meth:`Spells.from_loans`).
    groups : array-like, optional
        Group label per account (e.g. vintage year); ``None`` for one group ``"all"``.
    alpha : float
        One minus the confidence level of the pointwise (exponential Greenwood) bands.
    sort : bool
        Groups in sorted order (default) or in order of first appearance.

    Returns
    -------
    pandas.DataFrame
        Tidy, one row per group and time on the estimator's timeline (age 0 included):
        ``group``, ``n`` (accounts in the group), ``age``, ``cum_default`` (``1 - S``),
        ``lower``, ``upper``, ``at_risk``.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio, kaplan_meier
    >>> df = pd.DataFrame({"account_id": [1, 2, 3, 4],
    ...                    "origination": ["2019-01"] * 4,
    ...                    "last_month": ["2019-02", "2019-03", "2019-03", "2019-04"],
    ...                    "default": [1, 0, 1, 0]})
    >>> km = kaplan_meier(Portfolio.from_loans(df).spells())
    >>> km[["age", "cum_default", "at_risk"]].round(3)  # doctest: +NORMALIZE_WHITESPACE
       age  cum_default  at_risk
    0    0         0.00        4
    1    1         0.25        4
    2    2         0.50        3
    3    3         0.50        1
    """
    from lifelines import KaplanMeierFitter

    g = np.full(len(spells), "all", dtype=object) if groups is None else np.asarray(groups)
    keys = np.unique(g) if sort else pd.unique(g)
    dur, entry, event = spells.last_age, spells.entry_age, spells.defaulted
    frames = []
    for key in keys:
        m = g == key
        kmf = KaplanMeierFitter(alpha=alpha).fit(dur[m], event_observed=event[m], entry=entry[m])
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        ages = sf.index.to_numpy()
        frames.append(pd.DataFrame({
            "group": key,
            "n": int(m.sum()),
            "age": ages.astype(np.int64),
            "cum_default": 1 - sf.to_numpy(),
            "lower": 1 - ci.iloc[:, 1].to_numpy(),
            "upper": 1 - ci.iloc[:, 0].to_numpy(),
            "at_risk": kmf.event_table["at_risk"].reindex(ages).to_numpy(),
        }))
    if not frames:
        return pd.DataFrame(columns=["group", "n", "age", "cum_default", "lower", "upper", "at_risk"])
    return pd.concat(frames, ignore_index=True)


def kaplan_meier_at(curves: pd.DataFrame, age: int) -> pd.DataFrame:
    """The Kaplan–Meier value at ``age`` per group (groups whose timeline ends before
    ``age`` are dropped, since the curve is not observed that far).

    Parameters
    ----------
    curves : pandas.DataFrame
        Output of :func:`kaplan_meier`.
    age : int

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n``, ``cum_default``, ``lower``, ``upper`` (one row per group reaching ``age``).
    """
    rows = []
    for key, c in curves.groupby("group", sort=False):
        if c["age"].max() < age:
            continue
        last = c[c["age"] <= age].iloc[-1]
        rows.append({"group": key, "n": int(last["n"]), "cum_default": float(last["cum_default"]),
                     "lower": float(last["lower"]), "upper": float(last["upper"])})
    return pd.DataFrame(rows, columns=["group", "n", "cum_default", "lower", "upper"])
