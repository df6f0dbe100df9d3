"""Draws of F (lifecycle) and G (vintage) at labels beyond the APC grid.

``"hold"`` (the forecast default): beyond the last grid point every draw keeps the mean of
its last ``hold_window`` values — the lifecycle of old accounts stays at its recent level and
new vintages get the quality of the last year's vintages. The level is held in the frame where
the environment H has no linear trend (``no_period_trend``): under another identification the
per-draw H slope ``b`` is added back as ``-b * label``, so forecasts
``mu + F(a) + G(v) + H(t)`` do not depend on the identification (``t = v + a``).
``"random_walk"``: the APC engine's random-walk continuation with innovations
(:meth:`APCResult.component_draws`); an RW2 continues the noisy local slope at the edge of the
grid, where the data are thinnest, and its bands explode with the distance (see the backtest
in :mod:`apcfair.forecast.backtest`).

The hold rule, its window and the environment slope have one home,
:mod:`apcfair.apc.identification` (:func:`~apcfair.apc.identification.hold_level`,
``HOLD_WINDOW``, :func:`~apcfair.apc.identification.environment_slope`); ``HOLD_WINDOW`` and
``environment_slope`` stay importable from here.
"""

from __future__ import annotations

import numpy as np

from apcfair._options import check_option
from apcfair.apc.identification import HOLD_WINDOW, environment_slope, hold_level
from apcfair.forecast._options import Extrapolation

__all__ = ["HOLD_WINDOW", "environment_slope", "function_draws"]


def function_draws(apc_result, name: str, labels, *, extrapolation: str = "hold",
                   random_state: int | None = None, hold_window: int = HOLD_WINDOW) -> np.ndarray:
    """Draws (S, len(labels)) of F or G at integer ``labels``, extended beyond the grid.

    Labels below the grid take the first grid value (as in ``APCResult.component_draws``).
    """
    check_option("extrapolation", extrapolation, Extrapolation)
    if name not in ("lifecycle", "vintage"):
        raise ValueError(f"name={name!r}: use 'lifecycle' or 'vintage' (H is projected by scenarios)")
    labels = np.asarray(labels, dtype=np.int64)
    if extrapolation == "random_walk":
        return apc_result.component_draws(name, labels, random_state=random_state)
    grid = np.asarray(apc_result.labels[name], dtype=np.int64)
    draws = np.asarray(apc_result.draws[name], dtype=float)
    n_after = int(max(labels.max() - grid[-1], 0)) if len(labels) else 0
    if n_after:
        # F and G carry -b * label relative to the frame where H has no linear trend
        after = np.arange(grid[-1] + 1, grid[-1] + n_after + 1)
        tail = hold_level(draws, grid, after, trend=-environment_slope(apc_result), window=hold_window)
        draws = np.hstack([draws, tail])
    return draws[:, np.clip(labels - grid[0], 0, draws.shape[1] - 1)]
