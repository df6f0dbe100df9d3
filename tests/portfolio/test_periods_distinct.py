"""Parsing the distinct date strings once and mapping them to the rows equals parsing each row.

``parse_periods`` factorizes a column and parses only its distinct values (issue 19: the
parse at paper scale is then ~180 strings, not 146,500 x 2). Here every row is also parsed on its
own (one value with the column's format given) and the codes must agree exactly.
"""

import numpy as np
import pandas as pd
import pytest

from apcfair.portfolio.periods import parse_periods

FORMATS = {
    "iso month": lambda y, m, d: f"{y}-{m:02d}",
    "iso date": lambda y, m, d: f"{y}-{m:02d}-{d:02d}",
    "iso date-time": lambda y, m, d: f"{y}-{m:02d}-{d:02d} {d % 24:02d}:{m:02d}:00",
    "yyyymm": lambda y, m, d: f"{y}{m:02d}",
    "yyyymmdd": lambda y, m, d: f"{y}{m:02d}{d:02d}",
    "dd/mm/yyyy": lambda y, m, d: f"{d:02d}/{m:02d}/{y}",
    "mm/dd/yyyy": lambda y, m, d: f"{m:02d}/{d:02d}/{y}",
    "quarter": lambda y, m, d: f"{y}Q{(m - 1) // 3 + 1}",
    "month-name": lambda y, m, d: f"{d} {['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][m - 1]} {y}",
}


@pytest.mark.parametrize("name", list(FORMATS))
def test_distinct_parse_equals_row_by_row(name):
    rng = np.random.default_rng(len(name))
    k, n = 40, 2_000
    y, m, d = rng.integers(2005, 2020, k), rng.integers(1, 13, k), rng.integers(1, 29, k)
    d[: k // 2] = rng.integers(13, 29, k // 2)        # days above 12 decide day-first vs month-first
    pool = [FORMATS[name](*v) for v in zip(y, m, d, strict=True)] + [None, "not a date"]
    rows = [pool[i] for i in rng.integers(0, len(pool), n)]
    freq = "Q" if name == "quarter" else "M"
    whole = parse_periods(pd.Series(rows, dtype=object), freq)
    anchor = pool[0]  # a valid value, so that a lone bad value is read as -1, not refused
    alone = {v: parse_periods([v, anchor], freq, date_format=whole.date_format).codes[0] for v in pool}
    np.testing.assert_array_equal(whole.codes, [alone[v] for v in rows])
    assert sum(v >= 0 for v in alone.values()) == len(set(pool)) - 2     # only None and the text fail
