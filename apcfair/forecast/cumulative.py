"""Cumulative PD over a horizon from origination, and what was observed.

For account ``i`` of vintage ``v_i`` with account score ``s_i`` (logit) and offsets
``o(a, t) = mu + F(a) + H(t)``::

    PD_i(a) = expit(o(a, v_i + a) + s_i),     CumPD_i(h) = 1 - prod_{a=1..h} (1 - PD_i(a))

The product is the default probability **net** of attrition (payoff is treated as
censoring: the account is assumed to stay open), which is also what Kaplan–Meier
estimates from the observed data.

With attrition (payoff, closure) as a competing exit, monthly attrition probability
``q_i(a)``, the **unconditional** cumulative default (the probability of defaulting before
any other exit; the cumulative incidence of default) is::

    S_i(a) = S_i(a - 1) (1 - PD_i(a) - q_i(a)),   S_i(0) = 1
    CumPD_i^unc(h) = sum_{a=1..h} S_i(a - 1) PD_i(a)  <=  CumPD_i(h)

with equality when ``q = 0``. :func:`unconditional_cumulative_pd` and
:func:`competing_risk_paths` compute it from monthly probabilities (any leading
dimensions: accounts, draws); :func:`lifetime_pd` gives IFRS 9 12-month and lifetime PDs
(to maturity or a stated cut-off) of open accounts on both definitions, and
:func:`apc_cumulative_default` the portfolio figure with credible bands from the default
and attrition APC fits.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from apcfair._options import check_option
from apcfair.forecast._options import OnExcess
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


#: |logit| bound of each factor of the factored odds in :meth:`HorizonGrid.summaries`: exp of
#: the sum of two stays within float64 (exp(700) ~ 1e304) and PD keeps full relative precision
_LOG_ODDS_SAFE = 350.0


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
        self._eta0_t = None
        self._exp_eta0_t = None     # exp of it, on the first summaries() (False: out of range)

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

    def probabilities(self, score=0.0) -> np.ndarray:
        """Monthly probabilities ``expit(offset + score)``, shape (accounts, horizon)."""
        return expit(self.eta0 + np.broadcast_to(np.asarray(score, dtype=float), self.eta0.shape[:1])[:, None])

    def unconditional(self, score, attrition, mask=None, *, on_excess: str = "clip") -> np.ndarray:
        """Probability of default before any other exit over the masked ages.

        Parameters
        ----------
        score : array-like of float
            Account default scores (logit) added to the offsets.
        attrition : array-like of float
            Monthly attrition probabilities broadcastable to (accounts, horizon), e.g.
            ``HorizonGrid(vintage, attrition_offsets(result), horizon).probabilities()``.
        mask : ndarray of bool, optional
            Ages to accumulate (:meth:`mask`).
        on_excess : {"clip", "error"}
            See :func:`unconditional_cumulative_pd`.
        """
        return unconditional_cumulative_pd(self.probabilities(score), attrition, mask=mask, on_excess=on_excess)

    def age_range(self, start_age=None, end_age=None) -> tuple[np.ndarray, np.ndarray]:
        """First and last age per account of :meth:`mask`'s window, clipped to ``0..horizon``
        (``last < first`` where the window is empty)."""
        n = self.eta0.shape[0]
        return age_range(np.ones(n, dtype=np.int64) if start_age is None else start_age,
                         np.full(n, self.horizon, dtype=np.int64) if end_age is None else end_age, self.horizon)

    def _odds(self, score: np.ndarray) -> np.ndarray | None:
        """``exp(o + s)`` as ``exp(o) exp(s)`` on the (horizon, accounts) grid, or ``None`` where a
        factor or the product could leave float64's range (then the logits are used)."""
        if not len(score):
            return None
        if self._exp_eta0_t is None:
            lo, hi = float(self._eta0_t.min(initial=0.0)), float(self._eta0_t.max(initial=0.0))
            self._exp_eta0_t = np.exp(self._eta0_t) if -_LOG_ODDS_SAFE <= lo and hi <= _LOG_ODDS_SAFE else False
        if self._exp_eta0_t is False or not (np.all(np.isfinite(score))
                                             and -_LOG_ODDS_SAFE <= score.min() and score.max() <= _LOG_ODDS_SAFE):
            return None
        return np.multiply(self._exp_eta0_t, np.exp(score)[None, :])

    def summaries(self, score, *, cumulative=None, expected=None, unconditional=None, attrition=None,
                  excess: dict | None = None) -> dict:
        """Several of :meth:`cumulative`, :meth:`expected` and :meth:`unconditional` in one pass.

        Each window is an :meth:`age_range` pair ``(first, last)``, or ``None`` for the whole
        horizon. The monthly logits, ``log(1 - PD)``, ``PD`` and (with ``attrition``) the
        survival from both exits are computed once over the (accounts x horizon) grid and
        every window is read from running sums along the ages, instead of one masked pass
        per window. Equal to the separate methods to rounding (1e-12 in the tests).

        Parameters
        ----------
        score : array-like of float
            Account default scores (logit).
        cumulative, expected, unconditional : mapping of str to (first, last) or None, optional
            The windows wanted of each kind, by name.
        attrition : numpy.ndarray, optional
            Monthly attrition probabilities, shape (accounts, horizon), in [0, 1] (e.g. from
            :func:`attrition_path`); needed for ``unconditional``.
        excess : dict, optional
            Where default + attrition probability exceeds 1 in some months (attrition is
            then clipped to ``1 - PD``), add their ``count`` and ``largest`` sum to this dict
            instead of warning, for a caller that runs blocks of accounts and warns once
            with :func:`excess_message`.

        Returns
        -------
        dict
            ``{name: one value per account}`` for every window asked for.

        Examples
        --------
        >>> from apcfair.offsets import OffsetTable
        >>> grid = HorizonGrid([0, 0], OffsetTable.constant(-4.0), 3)
        >>> out = grid.summaries([0.0, 1.0], cumulative={"full": None}, expected={"sum": grid.age_range(None, [2, 3])})
        >>> bool(np.allclose(out["full"], grid.cumulative([0.0, 1.0])))
        True
        >>> bool(np.allclose(out["sum"], grid.expected([0.0, 1.0], grid.mask(None, [2, 3]))))
        True
        """
        cumulative, expected, unconditional = cumulative or {}, expected or {}, unconditional or {}
        h, n = self.horizon, self.eta0.shape[0]
        if self._eta0_t is None:  # ages first: running sums along the ages add whole rows
            self._eta0_t = np.ascontiguousarray(self.eta0.T)
        score = np.asarray(score, dtype=float)
        want_p = bool(expected or unconditional)
        odds = self._odds(score)
        if odds is not None:
            # factored odds exp(o) exp(s), exp(o) once per grid: log(1 - PD) = -log1p(odds)
            # and PD = odds / (1 + odds), with no exp per month and model
            log_net = np.log1p(odds)
            p = np.divide(odds, odds + 1.0, out=odds) if want_p else None
            np.negative(log_net, out=log_net)
        else:
            log_net = log_expit(-(self._eta0_t + score[None, :]))  # log(1 - PD)
            p = -np.expm1(log_net) if want_p else None
        cols = np.arange(n)
        out = {}
        for kinds, values in ((cumulative, log_net), (expected, p)):
            if not kinds:
                continue
            run = _running_sum(values)
            for name, window in kinds.items():
                total = run[h] if window is None else _window_sum(run, window, cols)
                out[name] = -np.expm1(total) if kinds is cumulative else total
        if unconditional:
            out.update(_unconditional_windows(p, np.asarray(attrition, dtype=float).T, unconditional, excess))
        return out


def _running_sum(values: np.ndarray) -> np.ndarray:
    """``run[a] = sum of values[:a]`` along the first axis (ages), ``run[0] = 0``.

    Row by row (one vector add per age): ``np.cumsum(axis=0)`` walks each column with a
    stride and is several times slower on a (horizon, accounts) array.
    """
    run = np.empty((values.shape[0] + 1,) + values.shape[1:])
    run[0] = 0.0
    for a in range(values.shape[0]):
        np.add(run[a], values[a], out=run[a + 1])
    return run


def _window_sum(run: np.ndarray, window, cols: np.ndarray) -> np.ndarray:
    """Sum over each account's ages ``first..last`` from :func:`_running_sum` (0 if empty)."""
    lo, hi = window
    return np.where(hi >= lo, run[hi, cols] - run[np.minimum(lo - 1, hi), cols], 0.0)


def age_range(start_age, end_age, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last age of each account's window ``start_age..end_age`` within ``1..horizon``.

    Clipped to ``1..horizon + 1`` and ``0..horizon`` (``last < first`` where the window is
    empty): the windows of :meth:`HorizonGrid.summaries`, for any subset of the accounts.

    Examples
    --------
    >>> [x.tolist() for x in age_range([1, 5, 40], [36, 60, 50], 36)]
    [[1, 5, 37], [36, 36, 36]]
    """
    return (np.clip(np.asarray(start_age, dtype=np.int64), 1, horizon + 1),
            np.clip(np.minimum(np.asarray(end_age, dtype=np.int64), horizon), 0, horizon))


def excess_message(count: int, largest: float, *, clipped: bool = True) -> str:
    """The warning (``clipped``) or error when ``count`` months have default + attrition probability above 1."""
    msg = (f"{int(count)} months have default + attrition probability above 1 (largest "
           f"{float(largest):.4g}): the two hazards were estimated separately and do not fit together there")
    return msg + "; attrition is clipped to 1 - PD in those months (default decided first)" if clipped else msg


def _unconditional_windows(d: np.ndarray, q: np.ndarray, windows, excess: dict | None = None) -> dict:
    """:func:`unconditional_cumulative_pd` over each window, from (horizon, accounts) probabilities.

    ``d`` and ``q`` are in [0, 1] by construction (no check). Months where ``d + q > 1``
    are warned about, or counted into ``excess`` (``count``, ``largest``). Windows starting at age 1 are
    read from one running sum of ``S(a - 1) d(a)`` over the whole horizon (a later end does
    not change ``S`` before it); the accounts of a window starting later are computed with
    their mask, as :func:`unconditional_cumulative_pd` does.
    """
    h, n = d.shape
    x = d + q
    over = x > 1
    if over.any():
        count, largest = int(over.sum()), float(x.max())
        if excess is None:
            warnings.warn(excess_message(count, largest), RuntimeWarning, stacklevel=4)
        else:
            excess["count"] = excess.get("count", 0) + count
            excess["largest"] = max(excess.get("largest", largest), largest)
        x = d + np.minimum(q, 1.0 - d)
    stay = np.subtract(1.0, x, out=x)                     # 1 - d - q
    s_prev = np.empty((h, n))                             # S(a - 1), a product row by row
    s_prev[0] = 1.0
    for a in range(1, h):
        np.multiply(s_prev[a - 1], stay[a - 1], out=s_prev[a])
    run = _running_sum(np.multiply(s_prev, d, out=s_prev))
    cols = np.arange(n)
    out = {}
    for name, window in windows.items():
        if window is None:
            out[name] = run[h]
            continue
        lo, hi = window
        val = np.where(hi >= lo, run[hi, cols], 0.0)
        late = np.flatnonzero((lo > 1) & (hi >= lo))
        if len(late):
            ages = np.arange(1, h + 1)
            mask = (ages >= lo[late, None]) & (ages <= hi[late, None])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # said once above
                val[late] = unconditional_cumulative_pd(d[:, late].T, q[:, late].T, mask=mask)
        out[name] = val
    return out


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


def observed_cumulative_default(loans: pd.DataFrame | Spells, horizon: int = 36, groups=None) -> pd.DataFrame:
    """Kaplan–Meier cumulative default at ``horizon`` (censoring handled), by group.

    Parameters
    ----------
    loans : pandas.DataFrame or Spells
        ``Portfolio.loans``-like table, or its spells when already built
        (:meth:`Portfolio.spells <apcfair.portfolio.Portfolio.spells>`, :meth:`Spells.take`).
    horizon : int
    groups : array-like, optional
        Group label per account (e.g. vintage year); ``None`` for one overall row.

    Returns
    -------
    pandas.DataFrame
        ``group``, ``n``, ``km_cum_default``, ``lower``, ``upper`` (95% pointwise).
    """
    spells = loans if isinstance(loans, Spells) else Spells.from_loans(loans)
    curves = kaplan_meier(spells, groups, sort=False)
    out = kaplan_meier_at(curves, horizon).rename(columns={"cum_default": "km_cum_default"})
    return out[["group", "n", "km_cum_default", "lower", "upper"]]


# ---------------------------------------------------------------------------------------
# competing exits: default and attrition (payoff, closure)


class CompetingRiskPaths(NamedTuple):
    """Cumulative incidence of each exit and survival at ages ``1..h`` (last axis).

    ``default + attrition + survival = 1`` at every age.
    """

    #: Probability of default by the end of each age, before any other exit.
    default: np.ndarray
    #: Probability of a non-default exit (payoff, closure) by the end of each age, before default.
    attrition: np.ndarray
    #: Probability of being still open (neither exit) at the end of each age.
    survival: np.ndarray


def _competing(pd_default, pd_attrition, mask, on_excess: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masked hazards ``d, q`` (``d + q <= 1`` enforced) and ``S(a - 1)``."""
    check_option("on_excess", on_excess, OnExcess)
    d, q = np.broadcast_arrays(np.asarray(pd_default, dtype=float), np.asarray(pd_attrition, dtype=float))
    for name, x in (("pd_default", d), ("pd_attrition", q)):
        bad = ~np.isfinite(x) | (x < 0) | (x > 1)
        if bad.any():
            raise ValueError(f"{name}: {int(bad.sum())} values are not probabilities in [0, 1]")
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        d, q = np.where(m, d, 0.0), np.where(m, q, 0.0)
    excess = d + q > 1
    if excess.any():
        count, largest = int(excess.sum()), float((d + q).max())
        if on_excess == "error":
            raise ValueError(excess_message(count, largest, clipped=False))
        warnings.warn(excess_message(count, largest), RuntimeWarning, stacklevel=3)
        q = np.minimum(q, 1.0 - d)
    with np.errstate(divide="ignore"):
        log_s = np.cumsum(np.log1p(-(d + q)), axis=-1)
    s_prev = np.exp(np.concatenate([np.zeros(log_s.shape[:-1] + (1,)), log_s[..., :-1]], axis=-1))
    return d, q, s_prev


def competing_risk_paths(pd_default, pd_attrition, *, mask=None, on_excess: str = "clip") -> CompetingRiskPaths:
    """Cumulative incidence of default and of attrition, and survival, age by age.

    Discrete time, monthly probabilities on the last axis (ages ``1..h``), any leading
    dimensions (accounts, draws)::

        S(a) = S(a - 1) (1 - d(a) - q(a)),   CIF_d(h) = sum_{a<=h} S(a - 1) d(a),
        CIF_q(h) = sum_{a<=h} S(a - 1) q(a)

    Parameters
    ----------
    pd_default, pd_attrition : array-like of float
        Monthly cause-specific probabilities among accounts open at the start of the
        month (broadcast together).
    mask : array-like of bool, optional
        Months to count; outside it neither exit happens (e.g. months already survived
        before the reporting date, or after maturity).
    on_excess : {"clip", "error"}
        Where ``d + q > 1`` (two separately estimated hazards that do not fit together):
        ``"clip"`` warns and lowers ``q`` to ``1 - d``; ``"error"`` refuses.

    Returns
    -------
    CompetingRiskPaths

    Examples
    --------
    >>> paths = competing_risk_paths([0.1, 0.2], [0.5, 0.5])
    >>> paths.default.round(4).tolist(), paths.attrition.round(4).tolist(), paths.survival.round(4).tolist()
    ([0.1, 0.18], [0.5, 0.7], [0.4, 0.12])
    """
    d, q, s_prev = _competing(pd_default, pd_attrition, mask, on_excess)
    s = s_prev * (1.0 - d - q)
    return CompetingRiskPaths(np.cumsum(s_prev * d, axis=-1), np.cumsum(s_prev * q, axis=-1), s)


def unconditional_cumulative_pd(pd_default, pd_attrition, *, mask=None, on_excess: str = "clip") -> np.ndarray:
    """Probability of default before any other exit: ``sum_a S(a - 1) d(a)``.

    ``S`` is the survival from both exits, ``S(a) = S(a - 1) (1 - d(a) - q(a))``. This is
    the figure behind expected defaults of a book whose accounts also pay off (IFRS 9
    lifetime PD, CECL); it is at most :func:`net_cumulative_pd` and equals it when
    ``q = 0``.

    Parameters
    ----------
    pd_default, pd_attrition : array-like of float
        Monthly default and attrition probabilities; ages on the last axis (e.g. (accounts,
        horizon) from :meth:`HorizonGrid.probabilities`, or (draws, accounts, horizon)).
    mask : array-like of bool, optional
        Months to count (see :func:`competing_risk_paths`).
    on_excess : {"clip", "error"}
        See :func:`competing_risk_paths`.

    Returns
    -------
    numpy.ndarray
        One probability per leading index (the last axis summed).

    Examples
    --------
    Default 10% then 20%, payoff 50% a month: 0.1 + (1 - 0.1 - 0.5) * 0.2 = 0.18, against
    a net 1 - 0.9 * 0.8 = 0.28:

    >>> round(float(unconditional_cumulative_pd([0.1, 0.2], [0.5, 0.5])), 12)
    0.18
    >>> round(float(net_cumulative_pd([0.1, 0.2])), 12)
    0.28
    """
    d, _, s_prev = _competing(pd_default, pd_attrition, mask, on_excess)
    return (s_prev * d).sum(axis=-1)


def net_cumulative_pd(pd_default, *, mask=None) -> np.ndarray:
    """Cumulative PD net of attrition, ``1 - prod_a (1 - d(a))`` (conditional on staying open).

    Today's ``cum_pd``: the default probability of an account that never pays off.

    Parameters
    ----------
    pd_default : array-like of float
        Monthly default probabilities, ages on the last axis.
    mask : array-like of bool, optional
        Months to count.

    Returns
    -------
    numpy.ndarray
    """
    d = np.asarray(pd_default, dtype=float)
    if mask is not None:
        d = np.where(np.asarray(mask, dtype=bool), d, 0.0)
    with np.errstate(divide="ignore"):
        return -np.expm1(np.log1p(-d).sum(axis=-1))


def attrition_path(vintage, attrition_offsets, horizon: int = 36, *, score=0.0) -> np.ndarray:
    """Monthly attrition probabilities at ages ``1..horizon`` per account.

    Parameters
    ----------
    vintage : array-like of int
        Origination period codes.
    attrition_offsets : callable
        ``(age, period) -> attrition logit``, e.g.
        :func:`apcfair.apc.attrition.attrition_offsets` of an attrition APC fit (which
        includes the vintage effect G_q(v)).
    horizon : int
        Months from origination.
    score : float or array-like of float
        Account-level attrition scores (logit; 0 without an attrition score model).

    Returns
    -------
    numpy.ndarray, shape (accounts, horizon)
    """
    return HorizonGrid(vintage, attrition_offsets, horizon).probabilities(score)


#: Columns of :func:`lifetime_pd`, each with its definition.
LIFETIME_COLUMNS = {
    "lifetime_months": "months from the reporting date to maturity or the stated cut-off (whichever is first)",
    "pd_12m_unconditional": "probability of default before any other exit within the next 12 months "
                            "(or to maturity if sooner), given the account is open now (IFRS 9 stage 1)",
    "pd_12m_net": "1 - prod(1 - PD) over the same months (net of attrition: conditional on staying open)",
    "pd_lifetime_unconditional": "probability of default before any other exit to maturity or the cut-off "
                                 "(IFRS 9 stage 2 lifetime PD; CECL lifetime view)",
    "pd_lifetime_net": "1 - prod(1 - PD) over the same months (net of attrition)",
    "attrition_lifetime": "probability of a non-default exit (payoff, closure) before default over the same months",
}


def lifetime_pd(vintage, score, offsets, attrition_offsets, *, age_now, maturity_age=None, cutoff=None,
                attrition_score=0.0, on_excess: str = "clip") -> pd.DataFrame:
    """IFRS 9 12-month and lifetime PDs of open accounts, unconditional and net of attrition.

    From the reporting date, when account ``i`` is open at age ``age_now_i``, the months
    ``age_now_i + 1 .. end_i`` count, with ``end_i = min(maturity_age_i, age_now_i +
    cutoff)`` (contractual maturity for amortising loans, a stated behavioural cut-off
    for revolving products). Summed over the open book, ``pd_lifetime_unconditional`` is
    the expected number of defaults over the lifetime (CECL-style,
    :func:`lifetime_expected_defaults`).

    Parameters
    ----------
    vintage : array-like of int
        Origination period codes.
    score : float or array-like of float
        Account default scores (logit) added to ``offsets`` (0 for the APC level alone).
    offsets : callable
        ``(age, period) -> default logit`` (an :class:`~apcfair.offsets.OffsetTable` with
        the environment continued over the forecast months).
    attrition_offsets : callable
        ``(age, period) -> attrition logit`` (:func:`apcfair.apc.attrition.attrition_offsets`).
    age_now : int or array-like of int
        Age at the reporting date (months since origination; 0 for a new account).
    maturity_age : int or array-like of int, optional
        Contractual maturity as an age (months from origination).
    cutoff : int, optional
        Stated lifetime in months from the reporting date. At least one of
        ``maturity_age`` and ``cutoff`` is needed.
    attrition_score : float or array-like of float
        Account attrition scores (logit), 0 without an attrition score model.
    on_excess : {"clip", "error"}
        See :func:`competing_risk_paths`.

    Returns
    -------
    pandas.DataFrame
        One row per account, the columns of :data:`LIFETIME_COLUMNS`.

    Examples
    --------
    >>> from apcfair.offsets import OffsetTable
    >>> d, q = OffsetTable.constant(-4.0), OffsetTable.constant(-3.0)  # ~1.8% and ~4.7% a month
    >>> out = lifetime_pd([0, 0], 0.0, d, q, age_now=[0, 30], maturity_age=36)
    >>> out["lifetime_months"].tolist()
    [36, 6]
    >>> bool((out["pd_lifetime_unconditional"] < out["pd_lifetime_net"]).all())
    True
    """
    if maturity_age is None and cutoff is None:
        raise ValueError("lifetime_pd needs maturity_age (contractual) or cutoff (stated lifetime in months)")
    vintage = np.asarray(vintage, dtype=np.int64)
    n = len(vintage)
    now = np.broadcast_to(np.asarray(age_now, dtype=np.int64), (n,))
    end = np.full(n, np.iinfo(np.int64).max)
    if maturity_age is not None:
        end = np.minimum(end, np.broadcast_to(np.asarray(maturity_age, dtype=np.int64), (n,)))
    if cutoff is not None:
        if int(cutoff) < 1:
            raise ValueError(f"cutoff={cutoff!r} must be at least 1 month")
        end = np.minimum(end, now + int(cutoff))
    if (now < 0).any():
        raise ValueError(f"age_now: {int((now < 0).sum())} accounts have a negative age")
    end = np.maximum(end, now)
    score = np.broadcast_to(np.asarray(score, dtype=float), (n,))
    attrition_score = np.broadcast_to(np.asarray(attrition_score, dtype=float), (n,))
    horizon = int(max(end.max(), 1)) if n else 1
    out = {k: np.zeros(n) for k in LIFETIME_COLUMNS if k != "lifetime_months"}
    step = max(1, 2_000_000 // horizon)
    for s in range(0, n, step):
        sl = slice(s, s + step)
        d = HorizonGrid(vintage[sl], offsets, horizon).probabilities(score[sl])
        q = HorizonGrid(vintage[sl], attrition_offsets, horizon).probabilities(attrition_score[sl])
        ages = np.arange(1, horizon + 1)[None, :]
        life = (ages > now[sl, None]) & (ages <= end[sl, None])
        first12 = life & (ages <= now[sl, None] + 12)
        paths = competing_risk_paths(d, q, mask=life, on_excess=on_excess)
        out["pd_lifetime_unconditional"][sl] = paths.default[:, -1]
        out["attrition_lifetime"][sl] = paths.attrition[:, -1]
        out["pd_lifetime_net"][sl] = net_cumulative_pd(d, mask=life)
        out["pd_12m_unconditional"][sl] = unconditional_cumulative_pd(d, q, mask=first12, on_excess=on_excess)
        out["pd_12m_net"][sl] = net_cumulative_pd(d, mask=first12)
    frame = pd.DataFrame({"lifetime_months": end - now, **out})
    return frame[list(LIFETIME_COLUMNS)]


def lifetime_expected_defaults(lifetime: pd.DataFrame) -> dict:
    """Expected defaults of the open book over 12 months and the lifetime, on both definitions.

    Parameters
    ----------
    lifetime : pandas.DataFrame
        :func:`lifetime_pd` for the accounts open at the reporting date.

    Returns
    -------
    dict
        ``n_accounts``, ``expected_defaults_12m_unconditional``, ``expected_defaults_12m_net``,
        ``expected_defaults_lifetime_unconditional`` (the CECL-style lifetime view),
        ``expected_defaults_lifetime_net`` (accounts), and ``definitions``.
    """
    out = {"n_accounts": int(len(lifetime))}
    for horizon in ("12m", "lifetime"):
        for kind in ("unconditional", "net"):
            out[f"expected_defaults_{horizon}_{kind}"] = float(lifetime[f"pd_{horizon}_{kind}"].sum())
    out["definitions"] = {
        "unconditional": "sum over open accounts of the probability of default before any other exit (accounts)",
        "net": "sum over open accounts of 1 - prod(1 - PD), as if no account paid off (accounts)"}
    return out


def apc_cumulative_default(default_result, attrition_result, vintages, horizon: int = 36, *, weights=None,
                           credible_level: float | None = None, random_state: int | None = 0) -> dict:
    """Cumulative default of whole vintages from the two APC fits, with credible bands.

    For vintage ``v`` and posterior draw ``s`` the cell hazards ``d_s(a) = expit(mu + F(a)
    + G(v) + H(v + a))`` (default fit) and ``q_s(a)`` (attrition fit) at ages
    ``1..horizon`` give the unconditional cumulative default
    (:func:`unconditional_cumulative_pd`: the vintage's cumulative incidence, what the
    Aalen–Johansen estimator measures) and the net one (:func:`net_cumulative_pd`: what
    Kaplan–Meier measures). Cell hazards are the average over the accounts still open,
    so these are vintage-level figures, not averages of account forecasts. Draw ``s`` of
    one fit is paired with draw ``s`` of the other (independent fits); beyond the data
    the functions continue by their random walks (:meth:`APCResult.predict_cells`).

    Parameters
    ----------
    default_result, attrition_result : APCResult
        The default fit and the attrition fit (:func:`apcfair.apc.attrition.fit_attrition`).
    vintages : array-like of int
        Vintage codes.
    horizon : int
        Months from origination.
    weights : array-like of float, optional
        Weight per vintage for the portfolio figure (e.g. accounts originated; default equal).
    credible_level : float, optional
        Level of the bands (default: the default fit's).
    random_state : int, optional
        Seed of the random-walk continuation.

    Returns
    -------
    dict
        ``unconditional``, ``net`` and ``difference`` (net - unconditional), each
        ``{"mean", "lower", "upper"}`` (probabilities over ``horizon`` months, weighted mean
        over vintages, band at ``credible_level``); ``by_vintage`` a
        DataFrame (``vintage`` code, ``unconditional``, ``net`` posterior means and bands);
        ``definitions``.
    """
    vintages = np.asarray(vintages, dtype=np.int64)
    ages = np.arange(1, horizon + 1)
    cells = pd.DataFrame({"vintage": np.repeat(vintages, horizon), "age": np.tile(ages, len(vintages))})
    cells["period"] = cells["vintage"] + cells["age"]
    seeds = np.random.SeedSequence(random_state).spawn(2)
    d = default_result.predict_cells(cells, random_state=int(seeds[0].generate_state(1)[0]))
    q = attrition_result.predict_cells(cells, random_state=int(seeds[1].generate_state(1)[0]))
    n = min(len(d), len(q))
    d = d[:n].reshape(n, len(vintages), horizon)
    q = q[:n].reshape(n, len(vintages), horizon)
    unc = unconditional_cumulative_pd(d, q)  # (S, V)
    net = net_cumulative_pd(d)
    w = np.ones(len(vintages)) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    level = default_result.credible_level if credible_level is None else float(credible_level)
    if not 0 < level < 1:
        raise ValueError(f"credible_level={credible_level!r} must be between 0 and 1")
    lo, hi = (1 - level) / 2, (1 + level) / 2

    def band(x):
        return {"mean": float(x.mean()), "lower": float(np.quantile(x, lo)), "upper": float(np.quantile(x, hi))}

    by_vintage = pd.DataFrame({"vintage": vintages})
    for name, x in (("unconditional", unc), ("net", net)):
        by_vintage[name] = x.mean(axis=0)
        by_vintage[f"{name}_lower"] = np.quantile(x, lo, axis=0)
        by_vintage[f"{name}_upper"] = np.quantile(x, hi, axis=0)
    return {
        "unconditional": band(unc @ w), "net": band(net @ w), "difference": band((net - unc) @ w),
        "by_vintage": by_vintage, "credible_level": level,
        "definitions": {
            "unconditional": f"probability of default before any other exit within {horizon} months of origination",
            "net": f"1 - prod(1 - PD) over {horizon} months (net of attrition: as if no account paid off)",
            "difference": "net - unconditional (probability points as fractions)"},
    }
