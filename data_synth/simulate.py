"""Exit simulation over calendar time, calibration of ``mu`` and true cumulative PDs.

Nothing here materialises account-months: exits are simulated month by month over
calendar time with vectorised numpy on the accounts still active.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

_CALIBRATION_SAMPLE = 20_000


@dataclass(frozen=True)
class Hazards:
    """Inputs of the monthly hazards, on integer offsets.

    Attributes
    ----------
    first_month : int
        Month code of the first performance month (``start + 1``).
    lifecycle : numpy.ndarray
        ``F`` at ages ``1 .. len(lifecycle)`` (index ``a - 1``).
    environment : numpy.ndarray
        ``H`` at months ``first_month .. first_month + len - 1``.
    payoff : numpy.ndarray
        Monthly payoff probability at ages ``1 .. len(payoff)``.
    """

    first_month: int
    lifecycle: np.ndarray
    environment: np.ndarray
    payoff: np.ndarray


def simulate_exits(rng: np.random.Generator, vintage: np.ndarray, offset: np.ndarray,
                   mu: float, hz: Hazards, last_month: int) -> tuple[np.ndarray, np.ndarray]:
    """Simulate default / payoff / censoring for accounts sorted by vintage.

    In each month ``t`` an active account defaults with probability
    ``p = expit(mu + F(a) + offset_i + H(t))``; if it does not default it pays off with
    probability ``q(a)``. One uniform ``u`` per account-month decides: default if
    ``u < p``, payoff if ``p <= u < p + (1 - p) q(a)``. Accounts still active at
    ``last_month`` are censored there.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source.
    vintage : numpy.ndarray
        Origination month codes, non-decreasing, all ``< last_month``.
    offset : numpy.ndarray
        ``G(v_i) + s_i`` per account.
    mu : float
        Intercept.
    hz : Hazards
        Lifecycle, environment and payoff hazard.
    last_month : int
        Month code of the window end.

    Returns
    -------
    exit_month : numpy.ndarray
        ``int64`` month code of default, payoff or ``last_month``.
    default : numpy.ndarray
        ``int8``, 1 iff the account defaulted in ``exit_month``.
    """
    n = len(vintage)
    exit_month = np.full(n, last_month, dtype=np.int64)
    default = np.zeros(n, dtype=np.int8)
    # accounts of vintage t-1 join in month t; vintage is sorted
    bounds = np.searchsorted(vintage, np.arange(hz.first_month - 1, last_month + 1))
    idx = np.empty(0, dtype=np.int64)
    for t in range(hz.first_month, last_month + 1):
        j = t - hz.first_month
        new = np.arange(bounds[j], bounds[j + 1], dtype=np.int64)
        idx = np.concatenate([idx, new]) if len(new) else idx
        if not len(idx):
            continue
        age = t - vintage[idx]
        p = expit(mu + hz.environment[j] + hz.lifecycle[age - 1] + offset[idx])
        u = rng.random(len(idx))
        is_default = u < p
        gone = is_default | (u < p + (1.0 - p) * hz.payoff[age - 1])
        exit_month[idx[gone]] = t
        default[idx[is_default]] = 1
        idx = idx[~gone]
    return exit_month, default


def expected_default_fraction(vintage: np.ndarray, offset: np.ndarray, mu: float,
                              hz: Hazards, last_month: int) -> float:
    """Expected fraction of the given accounts that default by ``last_month``.

    ``sum_a S(a-1) p(a)`` per account, where ``S`` is the survival to both default and
    payoff; exact under the model, no randomness.
    """
    surv = np.ones(len(vintage))
    p_def = np.zeros(len(vintage))
    max_age = last_month - int(vintage.min())
    for a in range(1, max_age + 1):
        act = vintage + a <= last_month
        if not act.any():
            break
        t_idx = vintage[act] + a - hz.first_month
        p = expit(mu + hz.lifecycle[a - 1] + hz.environment[t_idx] + offset[act])
        s = surv[act]
        p_def[act] += s * p
        surv[act] = s * (1.0 - p) * (1.0 - hz.payoff[a - 1])
    return float(p_def.mean())


def calibrate_mu(vintage: np.ndarray, offset: np.ndarray, hz: Hazards, last_month: int,
                 target: float) -> tuple[float, float]:
    """Find ``mu`` whose expected default fraction equals ``target`` (deterministic).

    Uses all accounts when there are at most 20,000, otherwise a systematic sample of
    20,000 (every k-th account in vintage order), and Brent's method.

    Returns
    -------
    mu : float
        Calibrated intercept.
    expected : float
        Expected default fraction on the calibration accounts at ``mu``.
    """
    n = len(vintage)
    if n > _CALIBRATION_SAMPLE:
        take = np.linspace(0, n - 1, _CALIBRATION_SAMPLE).round().astype(np.int64)
        vintage, offset = vintage[take], offset[take]

    def gap(mu: float) -> float:
        return expected_default_fraction(vintage, offset, mu, hz, last_month) - target

    lo, hi = -15.0, 2.0
    if gap(lo) > 0 or gap(hi) < 0:
        raise ValueError(
            f"default_rate_target={target} cannot be reached in this window with the "
            "payoff hazard set (expected fraction outside the feasible range)"
        )
    mu = float(brentq(gap, lo, hi, xtol=1e-7))
    return mu, gap(mu) + target


def cumulative_pd(vintage: np.ndarray, offset: np.ndarray, mu: float, lifecycle: np.ndarray,
                  env_by_month: np.ndarray, env_first_month: int, horizon: int = 36) -> np.ndarray:
    """True probability of default within ``horizon`` months of origination.

    ``1 - prod_{a=1..horizon} (1 - p_i(a))``: the net default probability of an account
    that stays open (payoff ignored), using ``H`` from ``env_by_month`` (history followed
    by a scenario).
    """
    log_surv = np.zeros(len(vintage))
    for a in range(1, horizon + 1):
        p = expit(mu + lifecycle[a - 1] + env_by_month[vintage + a - env_first_month] + offset)
        log_surv += np.log1p(-p)
    return -np.expm1(log_surv)
