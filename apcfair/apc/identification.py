"""The identification choice of the APC model: its wording, its trend algebra, its invariants.

Because period = vintage + age (``t = v + a``), one linear trend can be moved freely between
the lifecycle F(a), the vintage function G(v) and the environment H(t) without changing a
single fitted rate. This module is the one home of everything that depends on where that
trend is put:

- :func:`identification_text`: the plain-language statement stored with every result;
- :func:`period_trend` and :func:`allocate_trend`: the slope H takes under each assumption
  and the move of a linear trend into H (and out of F and G);
- :func:`environment_slope`: the per-draw linear slope that H carries in a result;
- :func:`invariant_offset_draws`: ``mu``, F and H with G's linear trend moved into F + H, the
  part of the predictor that is the same under every assumption (the score models' offsets);
- :data:`HOLD_WINDOW` and :func:`hold_level`: the "hold the mean of the last 12 values"
  rule that continues a function beyond its grid in a frame without the trend, used for the
  offsets beyond the data window (:meth:`APCResult.offset_table`) and for forecasts
  (``apcfair.forecast._extrapolate.function_draws``).

The pure algebra of splitting a function into mean, slope and nonlinear rest lives in
:func:`apcfair.apc.basis.split_linear`.

Examples
--------
Moving a trend into H leaves every cell predictor ``mu + F[a] + G[v] + H[t]`` unchanged:

>>> import numpy as np
>>> from apcfair.apc.identification import allocate_trend
>>> rng = np.random.default_rng(0)
>>> funcs = {"intercept": np.zeros(1), "lifecycle": rng.normal(size=(1, 4)),
...          "vintage": rng.normal(size=(1, 3)), "environment": rng.normal(size=(1, 6))}
>>> moved = allocate_trend(funcs, np.array([0.3]), grid_offset=0)
>>> def eta(f, a, v):  # period position t = v + a (grid offset 0)
...     return f["intercept"][0] + f["lifecycle"][0, a] + f["vintage"][0, v] + f["environment"][0, v + a]
>>> bool(np.isclose(eta(moved, 3, 2), eta(funcs, 3, 2)))
True
"""

from __future__ import annotations

import numpy as np

from apcfair.apc._design import COMPONENTS
from apcfair.apc.basis import split_linear

#: Number of last grid values whose mean is held beyond the grid (12 months).
HOLD_WINDOW = 12

_TREND_TEXT = {
    "no_period_trend": "the environment H(t) has no linear trend over the fit window; "
    "the common age-period-vintage trend is carried by the lifecycle and vintage functions",
    "no_vintage_trend": "the vintage function G(v) has no linear trend; the common trend is "
    "carried by the lifecycle and environment functions",
    "fixed_period_slope": "the environment H(t) has a fixed linear slope of {slope:+.5f} "
    "logit per period over the fit window, set by the user",
}


def identification_text(assumption: str, period_slope: float = 0.0) -> str:
    """Plain-language statement of the linear-trend assumption.

    Parameters
    ----------
    assumption : {"no_period_trend", "no_vintage_trend", "fixed_period_slope"}
        How the unidentified linear trend is allocated (see :mod:`apcfair.apc.model`).
    period_slope : float
        The environment's slope per period, used with ``"fixed_period_slope"``.

    Returns
    -------
    str
        One paragraph, stored with every :class:`~apcfair.apc.APCResult` and shown in
        its summary and the report.

    Examples
    --------
    >>> from apcfair.apc import identification_text
    >>> text = identification_text("no_vintage_trend")
    >>> text.startswith("Linear trends are not identified by data")
    True
    >>> "G(v) has no linear trend" in text
    True
    >>> "+0.00100 logit per period" in identification_text("fixed_period_slope", 0.001)
    True
    """
    body = _TREND_TEXT[assumption].format(slope=period_slope)
    return (
        "Linear trends are not identified by data (period = vintage + age). "
        f"Assumption: {body}. Nonlinear parts, second differences and fitted rates do not "
        "depend on this choice; levels and slopes of F, G and H do."
    )


def period_trend(assumption: str, period_slope: float, vintage_slope: np.ndarray) -> np.ndarray:
    """Per-draw slope (logit per period) that H takes under an identification assumption.

    Parameters
    ----------
    assumption : {"no_period_trend", "no_vintage_trend", "fixed_period_slope"}
        The identification choice.
    period_slope : float
        The user's slope for ``"fixed_period_slope"``.
    vintage_slope : ndarray, shape (S,)
        Slope of each G draw in the engine's frame, where H has no linear trend.

    Returns
    -------
    ndarray, shape (S,)
        The slope to move into H with :func:`allocate_trend`.

    Examples
    --------
    >>> import numpy as np
    >>> period_trend("no_vintage_trend", 0.0, np.array([0.1, 0.2])).tolist()
    [0.1, 0.2]
    >>> period_trend("fixed_period_slope", 0.01, np.array([0.1, 0.2])).tolist()
    [0.01, 0.01]
    """
    vintage_slope = np.asarray(vintage_slope, dtype=float)
    if assumption == "no_period_trend":
        return np.zeros(len(vintage_slope))
    if assumption == "no_vintage_trend":
        return vintage_slope
    return np.full(len(vintage_slope), float(period_slope))


def allocate_trend(funcs: dict[str, np.ndarray], trend: np.ndarray, grid_offset: int,
                   age_step: int = 1) -> dict[str, np.ndarray]:
    """Move a linear trend of slope ``trend`` per period into H (and out of F and G).

    Cell predictors ``mu + F[a] + G[v] + H[t]`` are unchanged because ``t = v + a``
    (``t = v + M a`` with ``M = age_step`` periods per age group: F then moves by ``M``
    times the slope per age group); all three functions stay mean-zero and ``mu`` absorbs
    the constant.

    Parameters
    ----------
    funcs : dict of ndarray
        ``intercept`` (S,) and ``lifecycle``, ``vintage``, ``environment`` (S, n) draws.
    trend : ndarray, shape (S,)
        Slope per period moved into H, one per draw.
    grid_offset : int
        ``k`` in ``t_index = M * a_index + v_index + k`` (:attr:`CellData.grid_offset`).
    age_step : int
        ``M``, the periods per age group (1 for equal widths; :attr:`CellData.age_step`).

    Returns
    -------
    dict of ndarray
        A new dictionary with the moved functions (other keys copied).
    """
    out = dict(funcs)
    slope = np.asarray(trend, dtype=float)[:, None]
    centre = {}
    for name in COMPONENTS:
        n = funcs[name].shape[1]
        centre[name] = (n - 1) / 2
        position = np.arange(n) - centre[name]
        # H gains the slope per period; G loses it per cohort step (one period) and F per
        # age group (age_step periods)
        step = {"environment": 1.0, "vintage": -1.0, "lifecycle": -float(age_step)}[name]
        out[name] = funcs[name] + step * slope * position
    out["intercept"] = funcs["intercept"] - slope[:, 0] * (
        grid_offset - centre["environment"] + age_step * centre["lifecycle"] + centre["vintage"]
    )
    return out


def environment_slope(apc_result) -> np.ndarray:
    """Least-squares slope of each H draw over its period grid, shape (S,).

    0 under ``"no_period_trend"``, ``period_slope`` under ``"fixed_period_slope"``. Adding
    ``-slope * t`` to H (and ``+slope * a``, ``+slope * v`` to F and G) gives the frame where
    H has no linear trend, in which forecasts hold levels (:func:`hold_level`).

    Parameters
    ----------
    apc_result : APCResult
        A fitted result.

    Returns
    -------
    ndarray, shape (S,)
        Logit per period, one per posterior draw.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from apcfair.apc import APCModel
    >>> rng = np.random.default_rng(0)
    >>> cells = pd.DataFrame([(v, a, v + a) for v in range(24) for a in range(1, 25 - v)],
    ...                      columns=["vintage", "age", "period"])
    >>> cells["at_risk"] = 500
    >>> cells["defaults"] = rng.binomial(500, 0.01, size=len(cells))
    >>> res = APCModel(n_draws=50, random_state=0, identification="fixed_period_slope",
    ...                period_slope=0.01).fit(cells, freq="M").result_
    >>> np.allclose(environment_slope(res), 0.01)
    True
    """
    periods = np.asarray(apc_result.labels["environment"], dtype=float)
    centred = periods - periods.mean()
    env = np.asarray(apc_result.draws["environment"], dtype=float)
    return (env - env.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)


def hold_level(values, grid, labels, *, trend=0.0, window: int = HOLD_WINDOW) -> np.ndarray:
    """Continue a function beyond its grid: hold the mean of its last ``window`` values.

    The level is held in the frame where the function carries no part of the trend:
    ``trend * label`` is taken out of the values, the mean of the last ``window`` grid
    values is held, and the trend is put back at the new labels::

        out = mean(values[-window:] - trend * grid[-window:]) + trend * labels

    With F or G and ``trend = -environment_slope(result)`` this holds their level in the
    frame where H has no linear trend (``no_period_trend``), so forecasts
    ``mu + F(a) + G(v) + H(t)`` do not depend on the identification; with H and
    ``trend`` = its own slope it holds H's detrended level and continues the slope.

    Parameters
    ----------
    values : array-like, shape (..., n)
        Function values (posterior draws or their mean) on ``grid``.
    grid : array-like of int, shape (n,)
        Grid labels (ages, vintage or period codes).
    labels : array-like of int, shape (m,)
        Labels to fill (normally after the grid).
    trend : float or array-like, shape values.shape[:-1]
        Slope per label carried by ``values`` relative to the frame where the level is held
        (one per draw, or one for all).
    window : int
        Number of last grid values averaged (at most ``n`` are used).

    Returns
    -------
    ndarray, shape (..., m)

    Examples
    --------
    >>> import numpy as np
    >>> values = np.arange(24.0)  # a straight line on labels 100 .. 123
    >>> grid = np.arange(100, 124)
    >>> hold_level(values, grid, [124, 125]).tolist()  # flat: the mean of the last 12
    [17.5, 17.5]
    >>> hold_level(values, grid, [124, 125], trend=1.0).tolist()  # the line continues
    [24.0, 25.0]
    """
    values = np.asarray(values, dtype=float)
    grid = np.asarray(grid, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    trend = np.asarray(trend, dtype=float)[..., None]
    k = min(int(window), values.shape[-1])
    # positions relative to the last grid label keep the trend terms small
    last = grid[-1]
    level = (values[..., -k:] - trend * (grid[-k:] - last)).mean(axis=-1, keepdims=True)
    return level + trend * (labels - last)


def invariant_offset_draws(apc_result) -> dict:
    """Draws of ``mu``, F and H with G's linear trend moved into F + H.

    ``mu + F(a) + H(t)`` then equals ``mu + F(a) + H(t) + G_lin(v)``, the part of the
    linear predictor that does not depend on the identification assumption (G's
    nonlinear part stays with the vintages; account scores or vintage effects carry
    it). Score models that take F + H as their offset are therefore the same whatever
    trend assumption the APC fit used.

    Parameters
    ----------
    apc_result : APCResult
        A fitted result.

    Returns
    -------
    dict of ndarray
        ``intercept`` (S,), ``lifecycle``, ``vintage`` (now without linear trend),
        ``environment`` (S, n) and ``trend_per_period`` (S,): the slope that H carries
        after the move (used to continue H beyond the window).
    """
    draws = apc_result.draws
    _, vintage_slope, _ = split_linear(draws["vintage"])
    funcs = {"intercept": draws["intercept"], **{name: draws[name] for name in COMPONENTS}}
    moved = allocate_trend(funcs, vintage_slope, int(apc_result.settings["grid_offset"]),
                           int(apc_result.settings.get("age_step", 1)))
    _, env_slope, _ = split_linear(moved["environment"])
    moved["trend_per_period"] = env_slope
    return moved
