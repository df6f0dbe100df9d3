"""Cumulative PD over a horizon from origination, and what was observed.

For account ``i`` of vintage ``v_i`` with account score ``s_i`` (logit) and offsets
``o(a, t) = mu + F(a) + H(t)``::

    PD_i(a) = expit(o(a, v_i + a) + s_i),     CumPD_i(h) = 1 - prod_{a=1..h} (1 - PD_i(a))

The product is the default probability net of attrition (payoff is treated as
censoring), which is also what Kaplan–Meier estimates from the observed data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import log_expit

from apcfair.portfolio.spells import Spells
from apcfair.portfolio.survival import kaplan_meier, kaplan_meier_at

_CHUNK = 50_000


def _accumulate(vintage, score, offsets, horizon, start_age, end_age, kind: str) -> np.ndarray:
    vintage = np.asarray(vintage, dtype=np.int64)
    score = np.broadcast_to(np.asarray(score, dtype=float), vintage.shape)
    n = len(vintage)
    lo = np.ones(n, dtype=np.int64) if start_age is None else np.asarray(start_age, dtype=np.int64)
    hi = np.full(n, horizon, dtype=np.int64) if end_age is None else np.minimum(np.asarray(end_age, dtype=np.int64), horizon)
    ages = np.arange(1, horizon + 1)
    out = np.empty(n)
    for s in range(0, n, _CHUNK):
        sl = slice(s, s + _CHUNK)
        v = vintage[sl, None]
        a = np.broadcast_to(ages, (len(v), horizon))
        eta = offsets(a.ravel(), (v + a).ravel()).reshape(a.shape) + score[sl, None]
        mask = (a >= lo[sl, None]) & (a <= hi[sl, None])
        if kind == "cumulative":
            out[sl] = -np.expm1((log_expit(-eta) * mask).sum(axis=1))  # 1 - prod(1 - PD)
        else:
            out[sl] = (np.exp(log_expit(eta)) * mask).sum(axis=1)  # sum of PD
    return out


class HorizonGrid:
    """Offsets ``o(a, v_i + a)`` for ``a = 1..horizon`` per account, computed once.

    Forecasting several scores for the same accounts (the procedure's seven models, a
    root search for a calibrating constant) then costs one vectorised pass each.

    Parameters
    ----------
    vintage : array-like of int
    offsets : callable
        ``offsets(age, period)``.
    horizon : int
    """

    def __init__(self, vintage, offsets, horizon: int = 36):
        v = np.asarray(vintage, dtype=np.int64)[:, None]
        a = np.broadcast_to(np.arange(1, horizon + 1), (len(v), horizon))
        self.horizon = horizon
        self.ages = a
        self.eta0 = np.asarray(offsets(a.ravel(), (v + a).ravel()), dtype=float).reshape(a.shape)

    def mask(self, start_age=None, end_age=None) -> np.ndarray:
        """Boolean (accounts x horizon) mask of the ages to accumulate."""
        n = self.eta0.shape[0]
        lo = np.ones(n, dtype=np.int64) if start_age is None else np.asarray(start_age, dtype=np.int64)
        hi = np.full(n, self.horizon) if end_age is None else np.minimum(np.asarray(end_age, dtype=np.int64), self.horizon)
        return (self.ages >= lo[:, None]) & (self.ages <= hi[:, None])

    def cumulative(self, score, mask=None) -> np.ndarray:
        """``1 - prod (1 - PD)`` over the masked ages."""
        ls = log_expit(-(self.eta0 + np.asarray(score, dtype=float)[:, None]))
        return -np.expm1((ls if mask is None else ls * mask).sum(axis=1))

    def expected(self, score, mask=None) -> np.ndarray:
        """Sum of monthly PDs over the masked ages."""
        p = np.exp(log_expit(self.eta0 + np.asarray(score, dtype=float)[:, None]))
        return (p if mask is None else p * mask).sum(axis=1)


def cumulative_pd(vintage, score, offsets, horizon: int = 36, *, start_age=None, end_age=None) -> np.ndarray:
    """Cumulative PD per account over ages ``start_age..min(horizon, end_age)``.

    Parameters
    ----------
    vintage : array-like of int
        Origination period codes.
    score : array-like of float
        Account logit scores added to the offsets (0 for the APC level alone).
    offsets : callable
        ``offsets(age, period) -> logit offset`` (e.g. an
        :class:`~apcfair.offsets.OffsetTable`).
    horizon : int
        Months from origination.
    start_age, end_age : array-like of int, optional
        Per-account first and last age to accumulate (default ``1`` and ``horizon``).

    Returns
    -------
    numpy.ndarray
        Cumulative PD per account (0 where the account has no month in range).
    """
    return _accumulate(vintage, score, offsets, horizon, start_age, end_age, "cumulative")


def expected_defaults(vintage, score, offsets, horizon: int = 36, *, start_age=None, end_age=None) -> np.ndarray:
    """Sum of monthly PDs over the months each account was actually at risk.

    Summed over accounts this is the expected number of defaults given the observed
    exposure (payoff and default end an account's exposure), so comparing it with the
    actual count is an exact calibration check under censoring.
    """
    return _accumulate(vintage, score, offsets, horizon, start_age, end_age, "sum")


def observed_default_within(loans: pd.DataFrame, horizon: int = 36, window_end: int | None = None) -> pd.DataFrame:
    """What each account did within ``horizon`` months of origination.

    Two windows matter. The **evaluation window** ends at the horizon or at the end of
    the data, whichever comes first: it depends only on the calendar, never on the
    outcome, so forecasts over it can be ranked against outcomes (a window that ended
    at default would shorten defaulters' forecasts and bias the AUC downwards). The
    **exposure window** also ends at default or payoff: expected defaults summed over it
    are compared with actual defaults.

    Parameters
    ----------
    loans : pandas.DataFrame
        ``Portfolio.loans``-like table.
    horizon : int
    window_end : int, optional
        Last period of the data (default: the latest ``last_month``).

    Returns
    -------
    pandas.DataFrame
        ``defaulted`` (default at an age within the evaluation window), ``start_age``,
        ``eval_end_age``, ``exposure_end_age`` and ``complete`` (horizon fully inside the
        data window).
    """
    sp = Spells.from_loans(loans)
    v, age_last, start = sp.vintage, sp.last_age, sp.first_age
    window_end = int(sp.last_period.max()) if window_end is None else int(window_end)
    admin = np.minimum(window_end - v, horizon)
    defaulted = sp.defaulted & (age_last <= admin)
    return pd.DataFrame(
        {
            "defaulted": defaulted.astype(np.int8),
            "start_age": start,
            "eval_end_age": admin,
            "exposure_end_age": np.minimum(age_last, horizon),
            "complete": admin >= horizon,
        },
        index=loans.index,
    )


def observed_cumulative_default(loans: pd.DataFrame, horizon: int = 36, groups=None) -> pd.DataFrame:
    """Kaplan–Meier cumulative default at ``horizon`` (censoring handled), by group.

    Parameters
    ----------
    loans : pandas.DataFrame
        ``Portfolio.loans``-like table.
    horizon : int
    groups : array-like, optional
        Group label per account (e.g. vintage year); ``None`` for one overall row.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n``, ``km_cum_default``, ``lower``, ``upper`` (95% pointwise).
    """
    curves = kaplan_meier(Spells.from_loans(loans), groups, sort=False)
    out = kaplan_meier_at(curves, horizon).rename(columns={"cum_default": "km_cum_default"})
    return out[["group", "n", "km_cum_default", "lower", "upper"]]
