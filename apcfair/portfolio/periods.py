"""Calendar conventions used everywhere in apcfair, and strict reading of date columns.

Months (or quarters) are stored as integer period codes: ``year * 12 + month - 1`` for
monthly data and ``year * 4 + quarter - 1`` for quarterly data. With vintage ``v`` the
origination period, the **age** of an account in period ``t`` is ``a = t - v``; the first
performance period is ``a = 1`` (the period after origination), so ``t = v + a``.

Reading dates
-------------
A date column is read with **one** format, detected once from the column's distinct
values (or given as ``date_format``); only the distinct values are parsed, then mapped
back to the rows. The formats (:data:`DATE_FORMATS`):

``iso``          ``2019-12``, ``2019-12-31``, ``2019/12/31``, ``2019-12-31T08:00:00``
``yyyymm``       ``201912`` (integers or text; years 1900-2199)
``yyyymmdd``     ``20191231``
``quarter``      ``2019Q4``, ``2019-Q4``, ``2019 Q4``, ``Q4 2019`` (quarterly data only)
``dd/mm/yyyy``   ``31/12/2019`` (also ``-`` or ``.``), chosen only when a day above 12
                 shows the order; otherwise the column is refused as ambiguous
``mm/dd/yyyy``   ``12/31/2019``, likewise
``month-name``   ``Dec 2019``, ``2019-Dec``, ``31-Dec-2019``, ``31DEC2019``
``code``         apcfair's own integer period codes (``24239`` is 2019-12)
``excel``        Excel serial day numbers, ``unix``/``unix_ms`` Unix time: never detected
                 (they look like any other integers), read only when given

``datetime64``, ``date`` and ``Period`` values are dates already and need no format. A
strftime pattern (``"%d.%m.%Y"``) is accepted as ``date_format`` too. Values that do not
fit the column's format get code ``-1`` (the portfolio reports those rows). A column in
which no value is a date in any of these formats, integers that look like Excel serials
or Unix time, and day/month orders that the values do not decide raise
:class:`~apcfair.errors.DataValidationError` naming the column, an example and the fix.

Quarters with ``freq="M"`` are refused (use ``freq="Q"``); monthly dates with
``freq="Q"`` are mapped to the quarter that contains them, and the returned
:class:`ParsedPeriods` says so in its ``note``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import get_args

import numpy as np
import pandas as pd

from apcfair._options import DateFormat
from apcfair.errors import DataValidationError

PERIODS_PER_YEAR = {"M": 12, "Q": 4}

DATE_FORMATS: dict[str, str] = {
    "iso": "ISO dates, year first (2019-12, 2019-12-31, 2019-12-31T08:00:00)",
    "yyyymm": "six digits YYYYMM (201912)",
    "yyyymmdd": "eight digits YYYYMMDD (20191231)",
    "quarter": "quarters (2019Q4, 2019-Q4, 2019 Q4)",
    "dd/mm/yyyy": "day-first dates (31/12/2019)",
    "mm/dd/yyyy": "month-first dates (12/31/2019)",
    "month-name": "dates with English month names (Dec 2019, 31-Dec-2019)",
    "code": "apcfair period codes (year*12 + month - 1, e.g. 24239 = 2019-12)",
    "excel": "Excel serial day numbers (days since 1899-12-30)",
    "unix": "Unix time in seconds",
    "unix_ms": "Unix time in milliseconds",
}
"""The date formats apcfair reads, with a one-line description (see the module docstring)."""

# detected in this order (the families match disjoint sets of values)
_DETECTED = ("iso", "yyyymm", "yyyymmdd", "quarter", "day/month", "month-name", "code")
_ALIASES = {"yyyy-mm": "iso", "yyyy-mm-dd": "iso", "dmy": "dd/mm/yyyy", "mdy": "mm/dd/yyyy",
            "dd-mm-yyyy": "dd/mm/yyyy", "dd.mm.yyyy": "dd/mm/yyyy", "mm-dd-yyyy": "mm/dd/yyyy"}
_TIME = r"(?:[T ](?:[01]?\d|2[0-3]):[0-5]\d(?::(?:[0-5]\d|60)(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?"
_RE = {
    "iso": rf"^(\d{{4}})[-/](\d{{1,2}})(?:[-/](\d{{1,2}}))?{_TIME}$",
    "iso-date": r"^(\d{4})[-/](\d{1,2})(?:[-/](\d{1,2}))?$",
    "quarter": r"^(?:(\d{4})\s*-?\s*[Qq]([1-4])|[Qq]([1-4])\s*[-/ ]?\s*(\d{4}))$",
    "day/month": rf"^(\d{{1,2}})([/.-])(\d{{1,2}})\2(\d{{4}}){_TIME}$",
    "month-name": r"^(?:(\d{1,2})[-/ ]?)?([A-Za-z]{3,9})\.?[-/ ,]*(\d{4})$",
    "year-month-name": r"^(\d{4})[-/ ]([A-Za-z]{3,9})$",
}
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
                "september", "october", "november", "december")
# "dec", "decem", "december" (any prefix of three letters or more) and "sept"
_MONTH_WORDS = {name[:k]: i for i, name in enumerate(_MONTH_NAMES, start=1)
                for k in range(3, len(name) + 1)} | {"sept": 9}
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_CODE_YEARS = (1900, 2200)  # integers read as period codes must fall in these years


@dataclass(frozen=True)
class ParsedPeriods:
    """A date column read as integer period codes, and how it was read.

    Attributes
    ----------
    codes : numpy.ndarray
        ``int64`` period codes, ``-1`` where a value is missing or does not fit the format.
    date_format : str
        The format used: a key of :data:`DATE_FORMATS`, ``"datetime"`` (dates already),
        ``"empty"`` (no values) or the strftime pattern given.
    how : str
        ``"detected"`` (from the distinct values), ``"given"`` (``date_format=``) or
        ``"dtype"`` (the column holds dates already).
    note : str
        Anything the reader changed, e.g. monthly dates mapped to quarters; ``""`` if none.
    """

    codes: np.ndarray
    date_format: str
    how: str
    note: str = ""

    def describe(self) -> str:
        """One phrase for the lineage, e.g. ``"iso (detected)"``."""
        return f"{self.date_format} ({self.how})" + (f"; {self.note}" if self.note else "")


def _error(column: str, text: str, fix: str) -> DataValidationError:
    return DataValidationError([f"column {column!r}: {text}. Fix: {fix}."])


def _fix_format(what: str = "write the dates as YYYY-MM (or YYYY-MM-DD)", example: str = "yyyymm") -> str:
    return (f"{what}, or pass the format explicitly, e.g. date_format={example!r} or a strftime "
            "pattern such as date_format='%d.%m.%Y' (CLI: --date-format)")


def check_date_format(date_format) -> str | None:
    """Normalise a ``date_format`` argument; ``None``/``"auto"`` mean detect.

    Parameters
    ----------
    date_format : str or None
        A key of :data:`DATE_FORMATS` (case-insensitive; ``"YYYY-MM"``, ``"dmy"`` and
        ``"mdy"`` are accepted as aliases), a strftime pattern containing ``%``,
        ``"auto"`` or ``None``.

    Returns
    -------
    str or None
        The canonical name, the pattern, or ``None`` for detection.

    Raises
    ------
    ValueError
        Naming the value and what is allowed.

    Examples
    --------
    >>> from apcfair.portfolio.periods import check_date_format
    >>> check_date_format("YYYY-MM"), check_date_format("DMY"), check_date_format(None)
    ('iso', 'dd/mm/yyyy', None)
    """
    if date_format is None:
        return None
    if not isinstance(date_format, str):
        raise ValueError(f"date_format={date_format!r} is not allowed; give a format name or a "
                         "strftime pattern")
    if "%" in date_format:
        return date_format
    name = date_format.strip().lower()
    name = _ALIASES.get(name, name)
    if name == "auto":
        return None
    allowed = [a for a in get_args(DateFormat) if a != "auto"]
    if name not in allowed:
        raise ValueError(
            f"date_format={date_format!r} is not allowed; choose 'auto', one of "
            f"{', '.join(map(repr, allowed))} or a strftime pattern such as '%d.%m.%Y'."
        )
    return name


# ----------------------------------------------------------------------------- helpers
def _ts_code(ts: pd.Series) -> np.ndarray:
    """Monthly codes of datetime values (``-1`` for NaT)."""
    return _month_code(ts.dt.year.to_numpy(dtype=float), ts.dt.month.to_numpy(dtype=float))


def _quarter_of(codes: np.ndarray) -> np.ndarray:
    """Quarterly codes of monthly codes (``-1`` stays ``-1``)."""
    return np.where(codes >= 0, (codes // 12) * 4 + (codes % 12) // 3, -1)


def _month_code(y, m, d=None) -> np.ndarray:
    """``year * 12 + month - 1`` where year/month (and day) form a real date, else -1."""
    y = np.asarray(y, dtype=float)
    m = np.asarray(m, dtype=float)
    ok = np.isfinite(y) & np.isfinite(m) & (m >= 1) & (m <= 12)
    if d is not None:
        d = np.asarray(d, dtype=float)
        mi = np.where(ok, m, 1).astype(int) - 1
        yi = np.where(ok, y, 1).astype(np.int64)
        leap = (yi % 4 == 0) & ((yi % 100 != 0) | (yi % 400 == 0))
        dim = _DAYS_IN_MONTH[mi] + (leap & (mi == 1))
        ok &= ~np.isfinite(d) | ((d >= 1) & (d <= dim))
    return np.where(ok, np.where(ok, y, 0) * 12 + np.where(ok, m, 1) - 1, -1).astype(np.int64)


def _num(frame: pd.DataFrame, col) -> np.ndarray:
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def _digits(txt: pd.Series) -> np.ndarray:
    """Integer value of all-digit strings (at most 18 digits), else -1."""
    is_d = txt.str.fullmatch(r"\d{1,18}").fillna(False).to_numpy(dtype=bool)
    out = np.full(len(txt), -1, dtype=np.int64)
    if is_d.any():
        out[is_d] = txt[is_d].astype(np.int64).to_numpy()
    return out


def _parse_iso(txt: pd.Series) -> np.ndarray:
    """ISO dates; many distinct date-times are split into a date and a time part first.

    The date part (first 10 characters) and the time part each have few distinct values,
    so the regular expressions run on those; values the split does not fit (``2019-1-5
    08:00``) go through the full expression. The result is the same either way.
    """
    if len(txt) <= 5_000:
        g = txt.str.extract(_RE["iso"])
        return _month_code(_num(g, 0), _num(g, 1), _num(g, 2))
    hi, head = pd.factorize(txt.str[:10])
    ti, tail = pd.factorize(txt.str[10:])
    gh = pd.Series(head, dtype=object).str.extract(_RE["iso-date"])
    head_codes = _month_code(_num(gh, 0), _num(gh, 1), _num(gh, 2))
    tail_ok = pd.Series(tail, dtype=object).str.fullmatch(_TIME).fillna(False).to_numpy(dtype=bool)
    codes = np.where(tail_ok[ti], head_codes[hi], -1)
    rest = codes < 0
    if rest.any():
        g = txt[rest].str.extract(_RE["iso"])
        codes[rest] = _month_code(_num(g, 0), _num(g, 1), _num(g, 2))
    return codes


def _parse_family(name: str, txt: pd.Series, freq: str, *, given: bool = False) -> np.ndarray:
    """Codes for one format family (monthly codes; quarterly codes for ``quarter``)."""
    if name == "iso":
        return _parse_iso(txt)
    if name in ("dd/mm/yyyy", "mm/dd/yyyy"):
        g = txt.str.extract(_RE["day/month"])
        a, b, y = _num(g, 0), _num(g, 2), _num(g, 3)
        return _month_code(y, b, a) if name == "dd/mm/yyyy" else _month_code(y, a, b)
    if name == "quarter":
        g = txt.str.extract(_RE["quarter"])
        y = np.where(np.isfinite(_num(g, 0)), _num(g, 0), _num(g, 3))
        q = np.where(np.isfinite(_num(g, 1)), _num(g, 1), _num(g, 2))
        ok = np.isfinite(y) & np.isfinite(q)
        return np.where(ok, np.where(ok, y, 0) * 4 + np.where(ok, q, 1) - 1, -1).astype(np.int64)
    if name == "month-name":
        a = txt.str.extract(_RE["month-name"])  # [day] name year
        b = txt.str.extract(_RE["year-month-name"])  # year name
        word = a[1].where(a[1].notna(), b[1]).astype(object)
        m = word.str.lower().map(_MONTH_WORDS).to_numpy(dtype=float)
        y = np.where(np.isfinite(_num(a, 2)), _num(a, 2), _num(b, 0))
        return _month_code(y, m, _num(a, 0))
    n = _digits(txt)
    if name == "yyyymm":
        six = (n >= 0) & (txt.str.len().to_numpy() == 6)
        y, m = n // 100, n % 100
        ok = six & (y >= _CODE_YEARS[0]) & (y < _CODE_YEARS[1])
        return np.where(ok, _month_code(y, m), -1)
    if name == "yyyymmdd":
        eight = (n >= 0) & (txt.str.len().to_numpy() == 8)
        y, m, d = n // 10_000, (n // 100) % 100, n % 100
        ok = eight & (y >= _CODE_YEARS[0]) & (y < _CODE_YEARS[1])
        return np.where(ok, _month_code(y, m, d), -1)
    if name == "code":
        per = PERIODS_PER_YEAR[freq]
        lo, hi = (0, np.iinfo(np.int64).max) if given else (_CODE_YEARS[0] * per, _CODE_YEARS[1] * per)
        return np.where((n >= lo) & (n < hi) & (txt.str.len().to_numpy() <= 6), n, -1)
    if name in ("excel", "unix", "unix_ms"):
        x = pd.to_numeric(txt, errors="coerce").to_numpy(dtype=float)
        unit, lim, origin = {"excel": ("D", 2_958_465, "1899-12-30"), "unix": ("s", 1e11, "unix"),
                             "unix_ms": ("ms", 1e14, "unix")}[name]
        ok = np.isfinite(x) & (np.abs(x) < lim) & ((x >= 1) if name == "excel" else True)
        ts = pd.to_datetime(pd.Series(np.where(ok, x, np.nan)), unit=unit, origin=origin, errors="coerce")
        return _ts_code(ts)
    # a strftime pattern
    ts = pd.to_datetime(txt, format=name, errors="coerce")
    return _ts_code(ts)


def _day_month_evidence(txt: pd.Series) -> tuple[int, int, int, str | None, str | None]:
    """Matches of ``a/b/yyyy`` and how many only fit day-first / month-first."""
    g = txt.str.extract(_RE["day/month"])
    a, b, y = _num(g, 0), _num(g, 2), _num(g, 3)
    dmy = _month_code(y, b, a) >= 0
    mdy = _month_code(y, a, b) >= 0
    only_d, only_m = dmy & ~mdy, mdy & ~dmy
    ex_d = txt[only_d].iloc[0] if only_d.any() else None
    ex_m = txt[only_m].iloc[0] if only_m.any() else None
    return int((dmy | mdy).sum()), int(only_d.sum()), int(only_m.sum()), ex_d, ex_m


def _as_text(uniq) -> pd.Series:
    """Distinct values as stripped text; numbers without a fractional part as digits."""
    uniq = np.asarray(uniq)
    kind = pd.api.types.infer_dtype(uniq, skipna=True) if uniq.dtype == object else uniq.dtype.kind
    if kind in ("i", "u", "integer"):
        return pd.Series(uniq.astype(np.int64).astype(str), dtype=object)
    if kind in ("f", "floating", "mixed-integer-float"):
        x = uniq.astype(float)
        whole = np.isfinite(x) & (x == np.round(x)) & (np.abs(x) < 1e18)
        out = pd.Series(uniq.astype(str), dtype=object)
        out[whole] = x[whole].astype(np.int64).astype(str)
        return out
    if kind == "string":
        return pd.Series(uniq, dtype=object).str.strip()
    out = []
    for u in uniq:
        if isinstance(u, bool | np.bool_):
            out.append(str(u))
        elif isinstance(u, int | np.integer) or (isinstance(u, float | np.floating) and float(u).is_integer()):
            out.append(str(int(u)))
        elif isinstance(u, pd.Period):
            out.append(u.to_timestamp().strftime("%Y-%m-%d") if u.freqstr[0] != "Q"
                       else f"{u.year}Q{u.quarter}")
        elif hasattr(u, "year") and hasattr(u, "month") and hasattr(u, "day"):
            out.append(f"{u.year:04d}-{u.month:02d}-{u.day:02d}")
        elif isinstance(u, np.datetime64):
            out.append(str(pd.Timestamp(u).date()))
        else:
            out.append(str(u).strip())
    return pd.Series(out, dtype=object)


def _unrecognised(column: str, txt: pd.Series, freq: str) -> DataValidationError:
    ex = txt.iloc[0]
    n = _digits(txt)
    ints = n[n >= 0]
    if len(ints) == len(txt):
        med = float(np.median(ints))
        other = "Q" if freq == "M" else "M"
        per = PERIODS_PER_YEAR[other]
        if (ints >= _CODE_YEARS[0] * per).all() and (ints < _CODE_YEARS[1] * per).all():
            return _error(column, f"values such as {ex!r} look like apcfair period codes for "
                          f"freq={other!r}, but freq={freq!r}",
                          f"pass freq={other!r} (CLI: --freq {other})")
        if 1900 <= med < 2200:
            what = "look like years; apcfair needs months (or quarters)"
            fix = "give the month of each date, e.g. YYYY-MM"
        elif 18_000 <= med < 80_000:
            what = "look like Excel serial day numbers (43831 is 2020-01-01)"
            fix = ("convert them with pd.to_datetime(x, unit='D', origin='1899-12-30'), or pass "
                   "date_format='excel' (CLI: --date-format excel) if they are Excel dates")
        elif 1e8 <= med < 1e10:
            what = "look like Unix time in seconds"
            fix = ("convert them with pd.to_datetime(x, unit='s'), or pass date_format='unix' "
                   "(CLI: --date-format unix)")
        elif 1e11 <= med < 1e13:
            what = "look like Unix time in milliseconds"
            fix = ("convert them with pd.to_datetime(x, unit='ms'), or pass date_format='unix_ms' "
                   "(CLI: --date-format unix_ms)")
        elif med >= 1e14:
            what = "look like Unix time in micro- or nanoseconds"
            fix = "convert them with pd.to_datetime(x, unit='us' or 'ns') and write YYYY-MM"
        else:
            what = "are integers but neither YYYYMM (201912) nor apcfair period codes"
            fix = _fix_format()
        return _error(column, f"values such as {ex!r} {what}", fix)
    return _error(
        column,
        f"values such as {', '.join(repr(v) for v in txt.head(3))} are not dates in any format "
        "apcfair reads (YYYY-MM, YYYY-MM-DD, YYYYMM, 2019Q4, dd/mm/yyyy, mm/dd/yyyy, Dec 2019)",
        _fix_format(),
    )


def detect_date_format(values, freq: str = "M", *, column: str = "month",
                       context: Sequence = ()) -> str:
    """The one format in which a column's values are dates (see :data:`DATE_FORMATS`).

    Parameters
    ----------
    values : array-like
        The column's values (text or numbers; missing values are ignored).
    freq : {"M", "Q"}
        Period frequency (decides the range of period codes).
    column : str
        Column name used in error messages.
    context : sequence of array-like
        Other date columns of the same table, used only to decide between day-first and
        month-first when this column's values do not (``01/02/2019`` in one column,
        ``25/02/2019`` in another).

    Returns
    -------
    str
        The format that fits most distinct values, or ``"empty"``.

    Raises
    ------
    DataValidationError
        If no value is a date in a known format, integers look like Excel serials or Unix
        time, or the order of day and month cannot be decided.

    Examples
    --------
    >>> from apcfair.portfolio.periods import detect_date_format
    >>> detect_date_format(["2019-12", "2020-01"]), detect_date_format([201912, 202001])
    ('iso', 'yyyymm')
    >>> detect_date_format(["31/12/2019", "01/01/2020"])
    'dd/mm/yyyy'
    >>> detect_date_format(["01/02/2020", "01/03/2020"])
    Traceback (most recent call last):
    ...
    apcfair.errors.DataValidationError: column 'month': dates such as '01/02/2020' read as day-first or month-first ...
    """
    _, uniq = pd.factorize(pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values)
    return _detect(_as_text(np.asarray(uniq)), freq, column, context)


def _detect(txt: pd.Series, freq: str, column: str, context: Sequence = (),
            parsed: dict | None = None) -> str:
    """The format of the distinct values ``txt``; codes computed on the way go into ``parsed``."""
    parsed = {} if parsed is None else parsed
    n_values = int((txt.str.len() > 0).sum())  # empty strings fit no format
    if not n_values:
        return "empty"
    counts: dict[str, int] = {}
    for fam in _DETECTED:
        if fam == "day/month":
            counts[fam] = _day_month_evidence(txt)[0]
            continue
        parsed[fam] = _parse_family(fam, txt, freq)
        counts[fam] = int((parsed[fam] >= 0).sum())
        if counts[fam] == n_values:
            return fam  # every value fits: the families are disjoint, no other can
    best = max(counts, key=lambda k: counts[k])
    if counts[best] == 0:
        raise _unrecognised(column, txt[txt.str.len() > 0].reset_index(drop=True), freq)
    if best != "day/month":
        return best
    _, only_d, only_m, ex_d, ex_m = _day_month_evidence(txt)
    if only_d and only_m:
        raise _error(column, f"mixes day-first ({ex_d!r}) and month-first ({ex_m!r}) dates",
                     _fix_format("write every date in one order, best YYYY-MM-DD", "dd/mm/yyyy"))
    if not (only_d or only_m):
        for other in context:
            _, uo = pd.factorize(pd.Series(other, dtype=object) if not isinstance(other, pd.Series) else other)
            _, od, om, _, _ = _day_month_evidence(_as_text(np.asarray(uo)))
            if bool(od) != bool(om):
                only_d, only_m = od, om
                break
    if only_d and not only_m:
        return "dd/mm/yyyy"
    if only_m and not only_d:
        return "mm/dd/yyyy"
    ex = txt[txt.str.fullmatch(_RE["day/month"]).fillna(False)].iloc[0]
    raise _error(
        column,
        f"dates such as {ex!r} read as day-first or month-first and no value decides it "
        "(no day above 12)",
        "pass date_format='dd/mm/yyyy' or date_format='mm/dd/yyyy' (CLI: --date-format), or "
        "write the dates as YYYY-MM-DD",
    )


def _to_freq(codes: np.ndarray, quarterly: bool, freq: str, column: str, example) -> tuple[np.ndarray, str]:
    if quarterly:
        if freq == "M":
            raise _error(column, f"holds quarters (e.g. {example!r}) but freq='M' (monthly periods)",
                         "pass freq='Q' (CLI: --freq Q) to analyse quarterly data")
        return codes, ""
    if freq == "Q":
        return _quarter_of(codes), "monthly dates mapped to the quarter that contains them (freq='Q')"
    return codes, ""


def parse_periods(values, freq: str = "M", *, column: str = "month", date_format: str | None = None,
                  context: Sequence = ()) -> ParsedPeriods:
    """Read a date column as integer period codes, with one format for the whole column.

    The distinct values are parsed once and mapped back to the rows, so the cost grows
    with the number of distinct dates, not the number of rows.

    Parameters
    ----------
    values : array-like
        Dates as text, numbers (``YYYYMM``, period codes), ``datetime64``, ``date`` or
        ``Period`` values.
    freq : {"M", "Q"}
        Monthly or quarterly periods.
    column : str
        Column name used in messages.
    date_format : str, optional
        A key of :data:`DATE_FORMATS` or a strftime pattern; default: detect (see
        :func:`detect_date_format`).
    context : sequence of array-like
        Other date columns of the table (only to decide day-first against month-first).

    Returns
    -------
    ParsedPeriods
        Codes (``-1`` where a value is missing or does not fit the format), the format and
        how it was chosen.

    Raises
    ------
    DataValidationError
        For a column that cannot be read with one format (see the module docstring).

    Examples
    --------
    >>> from apcfair.portfolio.periods import parse_periods
    >>> p = parse_periods(["201912", "202001", None])
    >>> p.codes.tolist(), p.describe()
    ([24239, 24240, -1], 'yyyymm (detected)')
    >>> parse_periods(["05/01/2020"], date_format="dd/mm/yyyy").codes.tolist()
    [24240]
    >>> parse_periods(["2019-11", "2019-12"], freq="Q").describe()
    "iso (detected); monthly dates mapped to the quarter that contains them (freq='Q')"
    """
    if freq not in PERIODS_PER_YEAR:
        raise ValueError(f"freq={freq!r} is not allowed; choose one of 'M', 'Q'.")
    fmt = check_date_format(date_format)
    s = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(s.dtype, pd.PeriodDtype):
        quarterly = s.dt.freq.freqstr.startswith("Q")
        ts = s.dt.to_timestamp()
        codes = _ts_code(ts)
        if quarterly:
            codes = _quarter_of(codes)
        ex = s.dropna().iloc[0] if s.notna().any() else None
        codes, note = _to_freq(codes, quarterly, freq, column, str(ex))
        return ParsedPeriods(codes, "datetime", "dtype", note)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        codes = _ts_code(s)
        codes, note = _to_freq(codes, False, freq, column, None)
        return ParsedPeriods(codes, "datetime", "dtype", note)
    if pd.api.types.is_bool_dtype(s.dtype):
        raise _error(column, "holds True/False values, not dates", _fix_format())
    idx, uniq = pd.factorize(s)
    uniq = np.asarray(uniq)
    if uniq.dtype == object and len(uniq) and pd.api.types.infer_dtype(uniq, skipna=True) in (
            "datetime", "datetime64", "date"):
        ts = pd.Series(pd.to_datetime(pd.Series(uniq), errors="coerce", utc=True))
        cu = _ts_code(ts)
        cu, note = _to_freq(cu, False, freq, column, None)
        return ParsedPeriods(np.append(cu, np.int64(-1))[idx], "datetime", "dtype", note)
    txt = _as_text(uniq)
    how = "given" if fmt else "detected"
    done: dict[str, np.ndarray] = {}
    if fmt is None:
        fmt = _detect(txt, freq, column, context, done)
        if fmt == "empty":
            return ParsedPeriods(np.full(len(s), -1, dtype=np.int64), "empty", how)
    if fmt in done:
        cu = done[fmt]
    else:
        cu = _parse_family(fmt, txt, freq, given=how == "given") if len(txt) else np.empty(0, np.int64)
    if how == "given" and len(txt) and not (cu >= 0).any() and (txt.str.len() > 0).any():
        raise _error(column, f"no value fits date_format={fmt!r} (e.g. {txt.iloc[0]!r})",
                     "pass the format of these values, or leave date_format out to detect it")
    if fmt == "code":
        note = ""
    else:
        ex = txt[cu >= 0].iloc[0] if (cu >= 0).any() else None
        cu, note = _to_freq(cu, fmt == "quarter", freq, column, ex)
    codes = np.append(cu.astype(np.int64), np.int64(-1))[idx]  # idx -1 (missing) -> -1
    return ParsedPeriods(codes, fmt, how, note)


def to_period_code(values, freq: str = "M", *, column: str = "month",
                   date_format: str | None = None) -> np.ndarray:
    """Parse a column of dates into integer period codes (one format for the column).

    Parameters
    ----------
    values : array-like
        Dates (``"2019-12"``, ``"2019-12-31"``, ``201912``, ``"2019Q4"``, ``datetime64``,
        ``Period`` ...) or already-encoded integer codes; see :func:`parse_periods` and
        the module docstring for the formats and the rules.
    freq : {"M", "Q"}
        Monthly or quarterly periods.
    column : str
        Column name used in error messages.
    date_format : str, optional
        The format, if it should not be detected.

    Returns
    -------
    numpy.ndarray
        ``int64`` codes, with ``-1`` marking values that are missing or do not fit the
        column's format. Callers report those rows.

    Raises
    ------
    DataValidationError
        When the column as a whole cannot be read (see :func:`parse_periods`).

    Examples
    --------
    >>> from apcfair.portfolio import to_period_code
    >>> to_period_code(["2019-12", "2020-01-15", "not a date"]).tolist()
    [24239, 24240, -1]
    >>> to_period_code(["2019Q4", "2020-Q1"], freq="Q").tolist()
    [8079, 8080]
    >>> to_period_code([201912, 202001]).tolist()
    [24239, 24240]
    """
    return parse_periods(values, freq, column=column, date_format=date_format).codes


def horizon_in_periods(months: int, freq: str = "M", *, name: str = "horizon") -> int:
    """A horizon given in months, in the data's periods (months, or quarters: months / 3).

    Horizons are written in months everywhere (``36`` is 12 quarters on quarterly data);
    the stages count periods. A number of months that is not a whole number of quarters
    is refused on quarterly data.

    Examples
    --------
    >>> horizon_in_periods(36, "M"), horizon_in_periods(36, "Q")
    (36, 12)
    """
    if freq == "M":
        return int(months)
    if months % 3:
        raise ValueError(f"{name}={months!r} months is not a whole number of quarters; "
                         "give a multiple of 3 on quarterly data (e.g. 36 = 12 quarters)")
    return int(months) // 3


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
