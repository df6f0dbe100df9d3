"""Month codes for the generator (self-contained; same convention as apcfair).

A month is stored as the integer code ``year * 12 + month - 1``. With vintage ``v`` the
origination month, the age of an account in month ``t`` is ``a = t - v``; the first
performance month is ``a = 1``.
"""

from __future__ import annotations

import re

import numpy as np

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(text: str, *, name: str = "month") -> int:
    """Parse a ``"YYYY-MM"`` string into an integer month code.

    Parameters
    ----------
    text : str
        Month as ``"YYYY-MM"``.
    name : str
        Name used in the error message.

    Returns
    -------
    int
        ``year * 12 + month - 1``.

    Raises
    ------
    ValueError
        If ``text`` is not a valid ``"YYYY-MM"`` month.
    """
    m = _MONTH_RE.match(str(text).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"{name}={text!r} is not a month written as 'YYYY-MM'")
    return int(m.group(1)) * 12 + int(m.group(2)) - 1


def format_month(code: int) -> str:
    """Format one month code as ``"YYYY-MM"``."""
    y, m = divmod(int(code), 12)
    return f"{y:04d}-{m + 1:02d}"


def month_labels(codes: np.ndarray, first: int, last: int) -> np.ndarray:
    """Format many month codes in ``first..last`` as an object array of ``"YYYY-MM"``.

    The result references one shared ``str`` object per distinct month, so a million
    labels cost a million pointers rather than a million strings.
    """
    table = np.array([format_month(c) for c in range(first, last + 1)], dtype=object)
    return table[np.asarray(codes, dtype=np.int64) - first]


def month_list(first: int, last: int) -> list[str]:
    """``["YYYY-MM", ...]`` for every month from ``first`` to ``last`` inclusive."""
    return [format_month(c) for c in range(first, last + 1)]


def year_fraction(codes: np.ndarray) -> np.ndarray:
    """Month codes as decimal years (``2019.917`` for 2019-12)."""
    return np.asarray(codes, dtype=float) / 12.0

