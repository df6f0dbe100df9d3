"""Shapes of the true lifecycle, vintage and seasonal functions and the payoff hazard.

All shapes are deterministic functions of age or calendar date; the generator centres
them (see :func:`data_synth.generate_portfolio` for the identification conventions).
"""

from __future__ import annotations

import numpy as np

from data_synth._calendar import year_fraction

#: Seasonal log-odds by month of year (January first), before ``seasonal_scale``. Defaults
#: run high in late winter (post-holiday) and low in late spring (tax refunds).
_SEASONAL_RAW = np.array(
    [0.08 * np.cos(2 * np.pi * (m - 2) / 12) + 0.03 * np.cos(4 * np.pi * m / 12) for m in range(12)]
)
SEASONAL = _SEASONAL_RAW - _SEASONAL_RAW.mean()


def lifecycle_shape(ages: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Uncentred lifecycle ``F`` (log-odds) at ages ``1, 2, ...``.

    An early fraud/underwriting spike (``1.1 * exp(-(a - 1) / 2)``, gone after about six
    months) plus a log-normal hump peaking at 36 months
    (``1.5 * exp(-0.5 * (ln(a / 36) / 0.55)^2)``), declining towards zero by age 180.
    """
    a = np.asarray(ages, dtype=float)
    spike = 1.1 * np.exp(-(a - 1.0) / 2.0)
    hump = 1.5 * np.exp(-0.5 * (np.log(a / 36.0) / 0.55) ** 2)
    return scale * (spike + hump)


def vintage_shape(codes: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Uncentred vintage ``G`` (log-odds) at origination month codes.

    A bump centred on mid-2007 (loose underwriting before the crisis,
    ``0.45 * exp(-0.5 * ((y - 2007.6) / 0.8)^2)``) plus a logistic rise to ``+0.35``
    around 2017 (rising risk appetite), with ``y`` the decimal year.
    """
    y = year_fraction(codes)
    bump = 0.45 * np.exp(-0.5 * ((y - 2007.6) / 0.8) ** 2)
    rise = 0.35 / (1.0 + np.exp(-(y - 2017.3) / 0.6))
    return scale * (bump + rise)


def seasonal_values(codes: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Seasonal log-odds for month codes (periodic, mean zero over a calendar year)."""
    return scale * SEASONAL[np.asarray(codes, dtype=np.int64) % 12]


def payoff_hazard(ages: np.ndarray, rate: float) -> np.ndarray:
    """Monthly payoff/attrition probability at ages ``1, 2, ...``.

    ``rate * (0.7 + 0.6 * exp(-(a - 1) / 24))``: elevated for new accounts, 0.7x the base
    rate for seasoned ones.
    """
    a = np.asarray(ages, dtype=float)
    return rate * (0.7 + 0.6 * np.exp(-(a - 1.0) / 24.0))


def vintage_volume_weights(codes: np.ndarray) -> np.ndarray:
    """Relative origination volume per vintage: a dip around 2010 (post-crisis tightening)."""
    y = year_fraction(codes)
    return 1.0 - 0.45 * np.exp(-0.5 * ((y - 2010.0) / 1.0) ** 2)


def centre(values: np.ndarray) -> np.ndarray:
    """Subtract the (unweighted) mean."""
    v = np.asarray(values, dtype=float)
    return v - v.mean()


def linear_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares ``(intercept, slope)`` of ``y`` on ``x``."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 2:
        return float(y.mean()) if len(y) else 0.0, 0.0
    xc = x - x.mean()
    slope = float((xc * (y - y.mean())).sum() / (xc * xc).sum())
    return float(y.mean() - slope * x.mean()), slope
