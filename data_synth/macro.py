"""Macroeconomic drivers of the true environment and stress scenarios.

The built-in path resembles the US 2005-2019 experience: an unemployment rate of about
4.5% in 2007, 10% in late 2009 and 3.6% in 2019 (monthly anchors linearly interpolated,
held flat outside 2004-2019, plus AR(1) noise) and year-on-year real GDP growth with a
-4% trough in mid-2009. Drivers:

``unemployment_rate``
    Level in percent (not a driver of ``H`` by default: beta 0).
``unemployment_change``
    12-month change of the unemployment rate in percentage points.
``gdp_growth``
    Year-on-year real GDP growth in percent.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from data_synth._calendar import parse_month

SCENARIOS: tuple[str, ...] = ("baseline", "adverse", "severely_adverse")
BUILTIN_DRIVERS: tuple[str, ...] = ("unemployment_rate", "unemployment_change", "gdp_growth")

_UNEMPLOYMENT_ANCHORS = {
    "2004-01": 5.7, "2005-01": 5.3, "2006-01": 4.7, "2006-10": 4.4, "2007-05": 4.4,
    "2007-12": 5.0, "2008-06": 5.6, "2008-09": 6.1, "2008-12": 7.3, "2009-03": 8.7,
    "2009-06": 9.5, "2009-10": 10.0, "2010-06": 9.4, "2010-12": 9.3, "2011-06": 9.1,
    "2011-12": 8.5, "2012-06": 8.2, "2012-12": 7.9, "2013-06": 7.5, "2013-12": 6.7,
    "2014-06": 6.1, "2014-12": 5.6, "2015-06": 5.3, "2015-12": 5.0, "2016-06": 4.9,
    "2016-12": 4.7, "2017-06": 4.3, "2017-12": 4.1, "2018-06": 4.0, "2018-12": 3.9,
    "2019-06": 3.6, "2019-12": 3.6,
}
_GDP_ANCHORS = {
    "2004-06": 3.8, "2005-06": 3.5, "2006-06": 2.8, "2007-06": 1.9, "2007-12": 2.0,
    "2008-06": 1.0, "2008-12": -2.5, "2009-06": -3.9, "2009-12": 0.2, "2010-06": 3.0,
    "2010-12": 2.6, "2011-06": 1.6, "2011-12": 1.5, "2012-06": 2.3, "2012-12": 1.3,
    "2013-06": 1.4, "2013-12": 2.6, "2014-06": 2.6, "2014-12": 2.6, "2015-06": 3.1,
    "2015-12": 1.9, "2016-06": 1.4, "2016-12": 2.0, "2017-06": 2.2, "2017-12": 2.7,
    "2018-06": 3.2, "2018-12": 2.5, "2019-06": 2.1, "2019-12": 2.6,
}


def _anchored(anchors: Mapping[str, float], codes: np.ndarray) -> np.ndarray:
    x = np.array([parse_month(k) for k in anchors], dtype=float)
    return np.interp(codes.astype(float), x, np.array(list(anchors.values()), dtype=float))


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) path with coefficient ``phi`` and innovation sd ``sd``."""
    eps = rng.normal(0.0, sd, n)
    out = np.empty(n)
    out[0] = eps[0] / np.sqrt(1.0 - phi**2)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + eps[i]
    return out


def simulate_macro(rng: np.random.Generator, first: int, last: int) -> pd.DataFrame:
    """Simulate the built-in drivers for month codes ``first-12 .. last``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random source (AR(1) noise around the anchors).
    first, last : int
        Month codes of the first and last month that need ``unemployment_change``.

    Returns
    -------
    pandas.DataFrame
        ``code`` (int month code) and the three built-in drivers, for months
        ``first - 12 .. last`` (the first 12 rows only serve the 12-month change).
    """
    codes = np.arange(first - 12, last + 1)
    n = len(codes)
    rate = _anchored(_UNEMPLOYMENT_ANCHORS, codes) + _ar1(rng, n, 0.85, 0.06)
    rate = np.round(np.maximum(rate, 2.0), 3)
    gdp = np.round(_anchored(_GDP_ANCHORS, codes) + _ar1(rng, n, 0.7, 0.25), 3)
    change = np.full(n, np.nan)
    change[12:] = rate[12:] - rate[:-12]
    return pd.DataFrame(
        {"code": codes, "unemployment_rate": rate, "unemployment_change": np.round(change, 3),
         "gdp_growth": gdp}
    )


def user_macro(macro: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    """Normalise a user macro table to ``code`` + numeric drivers for ``first .. last``.

    Raises
    ------
    ValueError
        If months are unparseable or duplicated, or ``first .. last`` is not covered.
    """
    months = pd.to_datetime(macro["month"].astype(str), errors="coerce", format="mixed")
    if months.isna().any():
        raise ValueError("macro['month'] has values that are not months ('YYYY-MM')")
    codes = (months.dt.year * 12 + months.dt.month - 1).to_numpy(np.int64)
    if len(np.unique(codes)) != len(codes):
        raise ValueError("macro['month'] has duplicated months")
    need = np.arange(first, last + 1)
    missing = np.setdiff1d(need, codes)
    if len(missing):
        raise ValueError(
            f"macro does not cover {len(missing)} performance month(s) between start+1 and end"
        )
    out = macro.drop(columns=["month"]).copy()
    out.insert(0, "code", codes)
    out = out[out["code"].between(first, last)].sort_values("code").reset_index(drop=True)
    for c in out.columns[1:]:
        out[c] = pd.to_numeric(out[c], errors="raise").astype(float)
    if out.iloc[:, 1:].isna().any().any():
        raise ValueError("macro drivers have missing values in the performance window")
    return out


def _shock_ramp(h: np.ndarray, peak: float, decay: float) -> np.ndarray:
    """Rises linearly to 1 at month ``peak``, then decays exponentially."""
    return np.minimum(h / peak, 1.0) * np.exp(-np.maximum(h - peak, 0.0) / decay)


def _pulse(h: np.ndarray, peak: float) -> np.ndarray:
    """Gamma-shaped pulse equal to 1 at month ``peak``."""
    return (h / peak) * np.exp(1.0 - h / peak)


def builtin_scenarios(history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Baseline, adverse and severely adverse paths of the built-in drivers.

    Baseline: unemployment drifts to 4.5% (time constant 24 months), GDP growth reverts
    to 2% (6 months). Adverse / severely adverse add +4 / +6.5 pp to the unemployment rate
    (linear ramp to month 15, then decaying with time constant 36 months) and subtract
    4 / 7 pp from GDP growth (pulse peaking at month 6). ``unemployment_change`` is the
    12-month change of the scenario rate path, continuing the history.
    """
    last = int(history["code"].iloc[-1])
    h = np.arange(1, horizon + 1, dtype=float)
    u_hist = history["unemployment_rate"].to_numpy()[-12:]
    u0, g0 = u_hist[-1], float(history["gdp_growth"].iloc[-1])
    base_u = u0 + (4.5 - u0) * (1.0 - np.exp(-h / 24.0))
    base_g = 2.0 + (g0 - 2.0) * np.exp(-h / 6.0)
    frames = []
    for name, du, dg in (("baseline", 0.0, 0.0), ("adverse", 4.0, 4.0), ("severely_adverse", 6.5, 7.0)):
        u = base_u + du * _shock_ramp(h, 15.0, 36.0)
        g = base_g - dg * _pulse(h, 6.0)
        full = np.concatenate([u_hist, u])
        frames.append(
            pd.DataFrame(
                {"scenario": name, "code": last + h.astype(np.int64),
                 "unemployment_rate": np.round(u, 3),
                 "unemployment_change": np.round(full[12:] - full[:-12], 3),
                 "gdp_growth": np.round(g, 3)}
            )
        )
    return pd.concat(frames, ignore_index=True)


def generic_scenarios(history: pd.DataFrame, beta: Mapping[str, float], horizon: int) -> pd.DataFrame:
    """Scenarios for user drivers.

    Baseline: each driver reverts from its last value to its window mean (time constant
    12 months). Adverse / severely adverse add ``sign(beta) * 1.5 / 3`` window standard
    deviations times a pulse peaking at month 9 to every driver with non-zero beta, so
    that each shock raises the environment.
    """
    last = int(history["code"].iloc[-1])
    h = np.arange(1, horizon + 1, dtype=float)
    drivers = [c for c in history.columns if c != "code"]
    frames = []
    for name, k in (("baseline", 0.0), ("adverse", 1.5), ("severely_adverse", 3.0)):
        cols: dict[str, object] = {"scenario": name, "code": last + h.astype(np.int64)}
        for c in drivers:
            x = history[c].to_numpy(dtype=float)
            base = x.mean() + (x[-1] - x.mean()) * np.exp(-h / 12.0)
            b = float(beta.get(c, 0.0))
            cols[c] = base + np.sign(b) * k * x.std() * _pulse(h, 9.0)
        frames.append(pd.DataFrame(cols))
    return pd.concat(frames, ignore_index=True)
