"""Calendar conventions used everywhere in apcfair.

Months (or quarters) are stored as integer period codes: ``year * 12 + month - 1`` for
monthly data and ``year * 4 + quarter - 1`` for quarterly data. With vintage ``v`` the
origination period, the **age** of an account in period ``t`` is ``a = t - v``; the first
performance period is ``a = 1`` (the period after origination), so ``t = v + a``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PERIODS_PER_YEAR = {"M": 12, "Q": 4}


def to_period_code(values, freq: str = "M", *, column: str = "month") -> np.ndarray:
    """Parse dates, ``"YYYY-MM"`` strings, pandas Periods or codes into integer codes.

    Parameters
    ----------
    values : array-like
        Dates in any format pandas parses (``"2019-12"``, ``"2019-12-31"``,
        ``datetime64``, ``Period``) or already-encoded integer codes.
    freq : {"M", "Q"}
        Monthly or quarterly periods.
    column : str
        Column name used in error messages.

    Returns
    -------
    numpy.ndarray
        ``int64`` codes, with ``-1`` marking values that could not be parsed (NaN,
        empty strings, garbage). Callers report those rows.

    Examples
    --------
    >>> from apcfair.portfolio import to_period_code
    >>> to_period_code(["2019-12", "2020-01-15", "not a date"]).tolist()
    [24239, 24240, -1]
    >>> to_period_code(["2019Q4", "2020-Q1"], freq="Q").tolist()
    [8079, 8080]
    """
    s = pd.Series(values)
    n_per = PERIODS_PER_YEAR[freq]
    if isinstance(s.dtype, pd.PeriodDtype):
        ts = s.dt.to_timestamp()
    elif pd.api.types.is_integer_dtype(s.dtype) and len(s) and s.min() > 10_000:
        # integer codes already (year*12+m-1 is > 20 000 for any modern date)
        return s.to_numpy(dtype=np.int64)
    elif pd.api.types.is_datetime64_any_dtype(s.dtype):
        ts = s
    else:
        txt = s.astype("string").str.strip()
        if freq == "Q":
            # accept 2019Q4 / 2019-Q4
            q = txt.str.extract(r"^(\d{4})-?[Qq]([1-4])$")
            is_q = q[0].notna()
        else:
            is_q = pd.Series(False, index=s.index)
        ts = pd.to_datetime(txt.where(~is_q), errors="coerce", format="mixed")
        if is_q.any():
            out = np.full(len(s), -1, dtype=np.int64)
            qq = q[is_q]
            out[is_q.to_numpy()] = qq[0].astype(int).to_numpy() * 4 + qq[1].astype(int).to_numpy() - 1
            rest = ~is_q.to_numpy()
            ts_rest = ts[rest]
            code = ts_rest.dt.year * 4 + (ts_rest.dt.month - 1) // 3
            out[rest] = code.fillna(-1).astype(np.int64).to_numpy()
            return out
    ts = pd.to_datetime(ts, errors="coerce")
    if freq == "M":
        code = ts.dt.year * 12 + ts.dt.month - 1
    else:
        code = ts.dt.year * n_per + (ts.dt.month - 1) // 3
    return code.fillna(-1).astype(np.int64).to_numpy()


def format_period(codes, freq: str = "M") -> list[str]:
    """Format integer period codes as ``"YYYY-MM"`` (monthly) or ``"YYYY-Qn"``.

    Parameters
    ----------
    codes : array-like of int
        Period codes (``year * 12 + month - 1`` or ``year * 4 + quarter - 1``).
    freq : {"M", "Q"}
        Monthly or quarterly periods.

    Returns
    -------
    list of str
        One label per code.

    Examples
    --------
    >>> from apcfair.portfolio import format_period
    >>> format_period([24239, 24240])
    ['2019-12', '2020-01']
    >>> format_period([8079], freq="Q")
    ['2019-Q4']
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_per = PERIODS_PER_YEAR[freq]
    years, rem = np.divmod(codes, n_per)
    if freq == "M":
        return [f"{y:04d}-{m + 1:02d}" for y, m in zip(years, rem, strict=True)]
    return [f"{y:04d}-Q{q + 1}" for y, q in zip(years, rem, strict=True)]


def period_to_timestamp(codes, freq: str = "M") -> pd.DatetimeIndex:
    """Convert integer codes to the first day of each period (for plotting).

    Parameters
    ----------
    codes : array-like of int
        Period codes.
    freq : {"M", "Q"}
        Monthly or quarterly periods.

    Returns
    -------
    pandas.Series
        ``datetime64`` values, the first day of each period.

    Examples
    --------
    >>> from apcfair.portfolio import period_to_timestamp
    >>> [str(d.date()) for d in period_to_timestamp([24239, 24240])]
    ['2019-12-01', '2020-01-01']
    >>> [str(d.date()) for d in period_to_timestamp([8079], freq="Q")]
    ['2019-10-01']
    """
    codes = np.asarray(codes, dtype=np.int64)
    n_per = PERIODS_PER_YEAR[freq]
    years, rem = np.divmod(codes, n_per)
    months = rem + 1 if freq == "M" else rem * 3 + 1
    return pd.to_datetime(pd.DataFrame({"year": years, "month": months, "day": 1}))


def period_to_year_fraction(codes, freq: str = "M") -> np.ndarray:
    """Period codes as decimal years (``2019.917`` for 2019-12)."""
    return np.asarray(codes, dtype=float) / PERIODS_PER_YEAR[freq]
