"""Macro history and scenario tables, and projections of the environment H(t) per scenario.

File formats
------------
Both files are CSV (or Parquet) with one row per month and one numeric column per macro
driver. Driver names are free (``unemployment_change``, ``gdp_growth``, ``hpi_growth``,
``rate_10y``, ...); the same names must appear in both files.

**Macro history** — ``month, <driver columns>``::

    month,unemployment_change,gdp_growth
    2005-02,-0.39,3.48
    2005-03,-0.46,3.31

It should cover the APC fit window (plus ``max(lags)`` earlier months when lagged drivers
are used); months outside the window are ignored.

**Scenarios** — ``scenario, month, <driver columns>``; several named paths in one file::

    scenario,month,unemployment_change,gdp_growth
    baseline,2020-01,-0.54,2.62
    ...
    adverse,2020-01,0.10,1.20

Each scenario must cover the forecast months (the months after the APC window) without
gaps; together with the macro history it must also cover the lagged months. For a month
present in both files, the scenario value is used.

Months
------
``month`` may be ``"YYYY-MM"``, any date pandas parses (``"2008-01-01"``, as FRED exports
write them), or a quarter ``"YYYY-Qn"`` / ``"YYYYQn"``. A table is **quarterly** when its
months are quarters, or (``frequency="auto"``) when its dates are first months of quarters
three months apart, as in FRED's quarterly exports. Quarterly tables are expanded to
monthly values:

``quarterly="hold"`` (default)
    Every month of a quarter takes the quarter's value (a step path). Right for rates,
    levels averaged over the quarter and growth rates at an annual rate.
``quarterly="interpolate"``
    The quarter's value is placed on its middle month and months in between are linearly
    interpolated; before the first and after the last middle month the value is held.

Validation
----------
Errors name the table, the column or scenario, how many rows and a few examples: a
missing ``month``/``scenario`` column, unparseable months, a mix of monthly and quarterly
months, duplicated (overlapping) months, gaps, missing drivers, non-numeric or missing
values. All are :class:`ValueError`.

Without macro data the default scenario is the random-walk continuation of H from the
APC engine (:func:`random_walk_projection`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair._options import check_option
from apcfair.errors import DataValidationError
from apcfair.forecast._options import MacroFrequency, QuarterlyExpansion
from apcfair.portfolio.periods import detect_date_format, format_period, parse_periods

_RESERVED = ("scenario", "month", "code")
_N_EX = 3


def _examples(values) -> str:
    vals = list(values)[:_N_EX]
    return ", ".join(repr(v) for v in vals)


def _as_frame(source, what: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        return source.copy()
    if isinstance(source, str | Path):
        from apcfair.portfolio import read_table

        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
        return read_table(path)
    raise TypeError(f"{what}: expected a file path or a pandas DataFrame, got {type(source).__name__}")


def _parse_months(values: pd.Series, frequency: str, what: str) -> tuple[np.ndarray, str]:
    """Integer codes (monthly ``year*12+m-1`` or quarterly ``year*4+q-1``) and ``"M"``/``"Q"``.

    One date format per column, read by :func:`apcfair.portfolio.periods.parse_periods`
    (``2019-12``, ``2019-12-01``, ``201912``, ``2019Q4``, ``2019 Q4`` ...).
    """
    txt = values.astype("string").str.strip().fillna("")
    try:
        fmt = detect_date_format(txt, "M", column="month")
    except DataValidationError as exc:
        raise ValueError(f"{what}: {exc}. Fix: write months as 'YYYY-MM' (or quarters as 'YYYY-Qn')") from None
    kind = "Q" if fmt == "quarter" else "M"
    if kind == "Q" and frequency == "M":
        raise ValueError(f"{what}: frequency='M' but column 'month' holds quarters like {_examples(txt)}")
    codes = parse_periods(txt, kind, column="month", date_format=fmt).codes
    bad = codes < 0
    if bad.any():
        other = "quarter" if kind == "M" else "iso"
        try:
            mixed = (parse_periods(txt[bad], "Q", column="month", date_format=other).codes >= 0).any()
        except DataValidationError:
            mixed = False
        if mixed:
            raise ValueError(
                f"{what}: column 'month' mixes quarterly ('YYYY-Qn') and monthly values "
                f"(e.g. {_examples(txt[bad])}); use one frequency per file"
            )
        raise ValueError(
            f"{what}: {int(bad.sum())} value(s) in column 'month' are not months "
            f"(e.g. {_examples(values[bad])}). Fix: write months as 'YYYY-MM' (or quarters as 'YYYY-Qn')"
        )
    return codes, kind


def _looks_quarterly(codes: np.ndarray, groups: np.ndarray) -> bool:
    """First months of quarters, three months apart within every group (FRED quarterly dates)."""
    if len(codes) < 2 or (codes % 3 != 0).any():
        return False
    steps = []
    for g in np.unique(groups):
        c = np.sort(codes[groups == g])
        steps.append(np.diff(c))
    steps = np.concatenate(steps) if steps else np.array([])
    return len(steps) > 0 and bool((steps == 3).all())


def _check_sequence(codes: np.ndarray, freq: str, what: str) -> None:
    """No duplicated months and no gaps (``codes`` of one group, any order)."""
    uniq, counts = np.unique(codes, return_counts=True)
    dup = uniq[counts > 1]
    if len(dup):
        raise ValueError(
            f"{what}: {len(dup)} month(s) appear more than once (overlapping rows, e.g. "
            f"{_examples(format_period(dup, freq))}). Fix: keep one row per month"
        )
    gaps = np.nonzero(np.diff(uniq) > 1)[0]
    if len(gaps):
        i = gaps[0]
        missing = np.setdiff1d(np.arange(uniq[0], uniq[-1] + 1), uniq)
        raise ValueError(
            f"{what}: {len(missing)} month(s) missing between {format_period([uniq[0]], freq)[0]} and "
            f"{format_period([uniq[-1]], freq)[0]} (first gap after {format_period([uniq[i]], freq)[0]}: "
            f"{_examples(format_period(missing, freq))}). Fix: fill the gap; paths must be contiguous"
        )


#: FRED series that are the same variable, in the same unit, as a column of the Federal Reserve's
#: supervisory scenario tables (FRED monthly averages, the Fed's quarterly averages; held monthly
#: they agree). ``--drivers unemployment_rate`` finds ``UNRATE`` in a FRED download and
#: ``Unemployment rate`` in a supervisory table.
FRED_SERIES = {
    "UNRATE": ("unemployment_rate", "percent of the labour force, SA (BLS)"),
    "A191RL1Q225SBEA": ("real_gdp_growth", "percent change of real GDP at an annual rate, q/q SAAR (BEA)"),
    "A191RP1Q027SBEA": ("nominal_gdp_growth", "percent change of nominal GDP at an annual rate, q/q SAAR (BEA)"),
    "TB3MS": ("3_month_treasury_rate", "percent, 3-month Treasury bill, secondary market"),
    "GS5": ("5_year_treasury_yield", "percent, 5-year Treasury constant maturity"),
    "GS10": ("10_year_treasury_yield", "percent, 10-year Treasury constant maturity"),
    "MPRIME": ("prime_rate", "percent, bank prime loan rate"),
}
#: Units of other FRED series the examples use (recorded with the drivers; not renamed).
FRED_UNITS = {
    "GDPC1": "billions of chained 2017 dollars, SAAR (BEA)",
    "GDP": "billions of dollars, SAAR (BEA)",
    "CPIAUCSL": "index 1982-84 = 100, SA (BLS)",
}
#: Units of the supervisory scenario variables (Federal Reserve, "Supervisory Scenarios for
#: Annual Stress Tests", variable definitions; quarterly values).
SUPERVISORY_UNITS = {
    "real_gdp_growth": "percent change at an annual rate", "nominal_gdp_growth": "percent change at an annual rate",
    "real_disposable_income_growth": "percent change at an annual rate",
    "nominal_disposable_income_growth": "percent change at an annual rate",
    "unemployment_rate": "percent", "cpi_inflation_rate": "percent change at an annual rate",
    "3_month_treasury_rate": "percent", "5_year_treasury_yield": "percent", "10_year_treasury_yield": "percent",
    "bbb_corporate_yield": "percent", "mortgage_rate": "percent", "prime_rate": "percent",
    "dow_jones_total_stock_market_index_level": "index level",
    "house_price_index_level": "index level, January 2000 = 100",
    "commercial_real_estate_price_index_level": "index level", "market_volatility_index_level": "index level",
}
_DATE_COLUMNS = ("month", "date", "observation_date")  # FRED downloads: DATE or observation_date


def snake_name(name) -> str:
    """``"House Price Index (Level)"`` -> ``"house_price_index_level"`` (supervisory column names).

    Examples
    --------
    >>> snake_name("10-year Treasury yield"), snake_name("Supervisory Severely Adverse")
    ('10_year_treasury_yield', 'supervisory_severely_adverse')
    """
    return "_".join(w for w in "".join(ch if ch.isalnum() else " " for ch in str(name).lower()).split())


def _key(name) -> str:
    """Name under which columns are matched: the supervisory name of a FRED series, else snake case."""
    text = str(name).strip()
    return FRED_SERIES[text.upper()][0] if text.upper() in FRED_SERIES else snake_name(text)


def series_unit(name: str, source: str) -> str | None:
    """The known unit of a column (FRED series id or supervisory variable), ``None`` if unknown."""
    up = str(source).strip().upper()
    if up in FRED_SERIES:
        return FRED_SERIES[up][1]
    if up in FRED_UNITS:
        return FRED_UNITS[up]
    return SUPERVISORY_UNITS.get(snake_name(source)) or SUPERVISORY_UNITS.get(snake_name(name))


def match_columns(columns, drivers) -> dict[str, str]:
    """``{driver: column}`` for the requested drivers found among ``columns``.

    A column matches a driver of the same name, or of the same key: the supervisory name
    of a FRED series id (:data:`FRED_SERIES`) or the snake-case name
    (``Unemployment rate`` = ``unemployment_rate`` = ``UNRATE``).

    Examples
    --------
    >>> match_columns(["DATE", "UNRATE"], ["unemployment_rate", "hpi"])
    {'unemployment_rate': 'UNRATE'}
    """
    cols = [c for c in columns if str(c) not in _RESERVED]
    out = {}
    for d in drivers:
        if d in cols:
            out[d] = d
            continue
        found = [c for c in cols if _key(c) == _key(d)]
        if len(found) > 1:
            raise ValueError(f"driver {d!r} matches several columns {found}; keep one")
        if found:
            out[d] = found[0]
    return out


def _driver_columns(df: pd.DataFrame, drivers, what: str) -> list[str]:
    if drivers is None:
        cols = [c for c in df.columns if c not in _RESERVED]
        if not cols:
            raise ValueError(f"{what}: no driver columns besides {[c for c in df.columns if c in _RESERVED]}; "
                             "add one numeric column per macro driver")
        return [str(c) for c in cols]
    drivers = [drivers] if isinstance(drivers, str) else list(drivers)
    missing = [d for d in drivers if d not in df.columns]
    if missing:
        found = [c for c in df.columns if c not in _RESERVED]
        raise ValueError(f"{what}: missing driver column(s) {missing}; found {found}")
    return [str(d) for d in drivers]


def _standard_layout(df: pd.DataFrame, drivers, what: str) -> tuple[pd.DataFrame, dict]:
    """Rename a FRED download or a supervisory scenario table into ``[scenario,] month, <drivers>``.

    FRED: the date column ``DATE`` or ``observation_date`` becomes ``month``. Supervisory
    tables (a ``Scenario Name`` column, ``Date`` like ``2026 Q1``, one column per variable):
    ``Date`` becomes ``month``, ``Scenario Name`` becomes ``scenario`` with the names in snake
    case without ``Supervisory`` (``baseline``, ``severely_adverse``), and the variables take
    snake-case names (``Unemployment rate`` -> ``unemployment_rate``). Requested drivers are
    then matched by :func:`match_columns`. Returns the table and ``{driver: source column}``.
    """
    rename = {}
    lower = {str(c).strip().lower(): c for c in df.columns}
    supervisory = "scenario name" in lower and "scenario" not in df.columns
    if "month" not in df.columns:
        for name in _DATE_COLUMNS:
            if name in lower:
                rename[lower[name]] = "month"
                break
    if supervisory:
        rename[lower["scenario name"]] = "scenario"
        for c in df.columns:
            if c not in rename and str(c) not in _RESERVED:
                rename[c] = snake_name(c)
    df = df.rename(columns=rename)
    if supervisory:
        names = df["scenario"].astype("string").str.strip()
        df["scenario"] = names.map(lambda x: snake_name(x).removeprefix("supervisory_") if pd.notna(x) else x)
    source = {v: str(k) for k, v in rename.items() if v not in _RESERVED}
    if drivers is not None:
        found = match_columns(df.columns, [drivers] if isinstance(drivers, str) else drivers)
        df = df.rename(columns={c: d for d, c in found.items() if c != d})
        source = {d: source.get(c, str(c)) for d, c in found.items()}
    return df, source


def _numeric_drivers(df: pd.DataFrame, drivers: list[str], what: str, months: pd.Series) -> pd.DataFrame:
    out = {}
    for d in drivers:
        raw = df[d].replace(".", np.nan)  # FRED writes "." for a missing observation
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna() & raw.notna()
        if bad.any():
            raise ValueError(
                f"{what}: column {d!r} has {int(bad.sum())} non-numeric value(s) (e.g. "
                f"{_examples(raw[bad])}). Fix: drivers must be numbers"
            )
        na = num.isna()
        if na.any():
            raise ValueError(
                f"{what}: column {d!r} has {int(na.sum())} missing value(s) (e.g. months "
                f"{_examples(months[na])}). Fix: fill them or drop those months"
            )
        out[d] = num.astype(float).to_numpy()
    return pd.DataFrame(out, index=df.index)


def _expand_quarterly(qcodes: np.ndarray, values: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """Quarterly codes and values (sorted) -> monthly codes and values."""
    first_month = (qcodes // 4) * 12 + (qcodes % 4) * 3
    months = np.arange(first_month[0], first_month[-1] + 3)
    if how == "hold":
        pos = np.searchsorted(first_month, months, side="right") - 1
        return months, values[pos]
    mid = first_month + 1
    out = np.column_stack([np.interp(months, mid, values[:, j]) for j in range(values.shape[1])])
    return months, out


def _normalise(df: pd.DataFrame, *, group: str | None, drivers, frequency: str, quarterly: str,
               what: str) -> pd.DataFrame:
    check_option("frequency", frequency, MacroFrequency)
    check_option("quarterly", quarterly, QuarterlyExpansion)
    df, source = _standard_layout(df, drivers, what)
    if "month" not in df.columns:
        raise ValueError(f"{what}: no 'month' column; found {list(df.columns)[:12]}. "
                         "Fix: name the date column 'month' (YYYY-MM or YYYY-Qn)")
    if group is not None and group not in df.columns:
        raise ValueError(f"{what}: no {group!r} column; found {list(df.columns)[:12]}. "
                         "Fix: add a 'scenario' column naming each path (baseline, adverse, ...)")
    if len(df) == 0:
        raise ValueError(f"{what}: the table has no rows")
    df = df.reset_index(drop=True)
    cols = _driver_columns(df, drivers, what)
    codes, kind = _parse_months(df["month"], frequency, what)
    groups = (df[group].astype("string").fillna("").str.strip().to_numpy(dtype=object)
              if group is not None else np.zeros(len(df), dtype=object))
    if group is not None and (groups == "").any():
        raise ValueError(f"{what}: {int((groups == '').sum())} row(s) have an empty scenario name")
    if kind == "M" and (frequency == "Q" or (frequency == "auto" and _looks_quarterly(codes, groups))):
        codes = (codes // 12) * 4 + (codes % 12) // 3
        kind = "Q"
    values = _numeric_drivers(df, cols, what, df["month"])
    frames = []
    for g in pd.unique(groups):
        m = groups == g
        label = what if group is None else f"{what}, scenario {g!r}"
        _check_sequence(codes[m], kind, label)
        order = np.argsort(codes[m])
        c = codes[m][order]
        v = values.to_numpy()[m][order]
        if kind == "Q":
            c, v = _expand_quarterly(c, v, quarterly)
        fr = pd.DataFrame(v, columns=cols)
        fr.insert(0, "code", c.astype(np.int64))
        fr.insert(0, "month", format_period(c, "M"))
        if group is not None:
            fr.insert(0, "scenario", str(g))
        frames.append(fr)
    out = pd.concat(frames, ignore_index=True)
    out.attrs["source_frequency"] = kind
    out.attrs["drivers"] = cols
    out.attrs["sources"] = {c: {"file": what, "column": source.get(c, c)} for c in cols}
    return out


def _read_many(sources, *, group: str | None, drivers, frequency: str, quarterly: str,
               what: str) -> pd.DataFrame:
    """Read several files and merge them by month (and scenario): each driver from one file."""
    items = list(sources) if isinstance(sources, list | tuple) else [sources]
    if not items:
        raise ValueError(f"{what}: no file given")
    wanted = None if drivers is None else ([drivers] if isinstance(drivers, str) else list(drivers))
    frames, seen = [], {}
    for i, src in enumerate(items):
        label = f"{what} {Path(src).name}" if isinstance(src, str | Path) else (
            what if len(items) == 1 else f"{what} table {i + 1}")
        df = _as_frame(src, label)
        if group is None and "scenario" in df.columns:
            raise ValueError(f"{label}: has a 'scenario' column; this looks like a scenarios "
                             "file (pass it as scenarios, and the observed drivers as history)")
        if wanted is not None and len(items) > 1:
            here = list(match_columns(_standard_layout(df, None, label)[0].columns, wanted))
            seen[label] = [str(c) for c in df.columns]
            if not here:
                continue
        else:
            here = wanted
        fr = _normalise(df, group=group, drivers=here, frequency=frequency, quarterly=quarterly, what=label)
        known = df.attrs.get("sources", {}) if isinstance(src, pd.DataFrame) else {}
        fname = str(src) if isinstance(src, str | Path) else "table"
        fr.attrs["sources"] = {d: known.get(d, {**v, "file": fname}) for d, v in fr.attrs["sources"].items()}
        frames.append(fr)
    if wanted is not None:
        have = [d for f in frames for d in f.attrs["drivers"]]
        missing = [d for d in wanted if d not in have]
        if missing:
            where = "; ".join(f"{k}: {v}" for k, v in seen.items())
            raise ValueError(f"{what}: missing driver column(s) {missing}; found {where}")
    cols = [d for f in frames for d in f.attrs["drivers"]]
    dup = sorted({c for c in cols if cols.count(c) > 1})
    if dup and group is None:
        raise ValueError(f"{what}: driver(s) {dup} appear in more than one file; keep each in one file")
    if len(frames) == 1:
        return frames[0]
    key = ["month", "code"] if group is None else [group, "month", "code"]
    out = frames[0]
    for f in frames[1:]:
        if group is not None:
            a, b = set(out[group]), set(f[group])
            if a & b and a != b:  # the same scenarios split by variable: every file needs every scenario
                raise ValueError(f"{what}: scenarios {sorted(a ^ b)} lack some drivers (each file holds "
                                 f"{sorted(a)} or {sorted(b)})")
            if not a & b:  # different scenarios in different files (baseline, severely adverse)
                if list(f.attrs["drivers"]) != list(out.attrs["drivers"]):
                    raise ValueError(f"{what}: the scenario files have different drivers "
                                     f"({out.attrs['drivers']} and {f.attrs['drivers']})")
                attrs = {**out.attrs, "sources": {**f.attrs["sources"], **out.attrs["sources"]}}
                out = pd.concat([out, f], ignore_index=True)
                out.attrs = attrs
                continue
        both = sorted(set(out.attrs["drivers"]) & set(f.attrs["drivers"]))
        if both:
            raise ValueError(f"{what}: driver(s) {both} appear in more than one file for the same scenarios; "
                             "keep each in one file")
        attrs = {**out.attrs, "drivers": [*out.attrs["drivers"], *f.attrs["drivers"]],
                 "sources": {**out.attrs["sources"], **f.attrs["sources"]}}
        out = out.merge(f, on=key, how="inner")
        out.attrs = attrs
    if out.empty:
        raise ValueError(f"{what}: the files have no month in common")
    if group is None:
        _check_sequence(out["code"].to_numpy(), "M", what)
    out = out[[*key, *out.attrs["drivers"]]] if set(out.attrs["drivers"]) <= set(out.columns) else out
    return out


def read_macro_history(source, *, drivers=None, frequency: str = "auto",
                       quarterly: str = "hold") -> pd.DataFrame:
    """Read and validate a macro history (``month, <driver columns>``).

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A CSV/Parquet file or a table.
    drivers : sequence of str, optional
        Driver columns to keep (default: every column except ``month``).
    frequency : {"auto", "M", "Q"}
        Monthly or quarterly input; ``"auto"`` detects it (see the module docstring).
    quarterly : {"hold", "interpolate"}
        How quarterly values become monthly ones.

    Returns
    -------
    pandas.DataFrame
        ``month`` (``"YYYY-MM"``), ``code`` (integer month code) and the drivers, one row
        per month, sorted, without gaps.

    Raises
    ------
    ValueError
        With one message naming the problem (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.forecast import read_macro_history
    >>> history = pd.DataFrame({"month": ["2019-10", "2019-11", "2019-12"],
    ...                         "unemployment_change": [0.1, 0.0, -0.1]})
    >>> read_macro_history(history)  # doctest: +NORMALIZE_WHITESPACE
         month   code  unemployment_change
    0  2019-10  24237                  0.1
    1  2019-11  24238                  0.0
    2  2019-12  24239                 -0.1

    Quarterly values become monthly ones (held, or interpolated between mid-quarters):

    >>> quarterly = pd.DataFrame({"month": ["2019Q3", "2019Q4"], "gdp_growth": [2.0, 2.4]})
    >>> read_macro_history(quarterly)["gdp_growth"].tolist()
    [2.0, 2.0, 2.0, 2.4, 2.4, 2.4]
    >>> read_macro_history(quarterly, quarterly="interpolate")["gdp_growth"].round(2).tolist()
    [2.0, 2.0, 2.13, 2.27, 2.4, 2.4]
    """
    return _read_many(source, group=None, drivers=drivers, frequency=frequency, quarterly=quarterly,
                      what="macro history")


def read_scenarios(source, *, drivers=None, frequency: str = "auto",
                   quarterly: str = "hold") -> pd.DataFrame:
    """Read and validate macro scenarios (``scenario, month, <driver columns>``).

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A CSV/Parquet file or a table with a ``scenario`` column naming each path.
    drivers : sequence of str, optional
        Driver columns to keep (default: every column except ``scenario`` and ``month``).
    frequency : {"auto", "M", "Q"}
        Monthly or quarterly input; ``"auto"`` detects it (see the module docstring).
    quarterly : {"hold", "interpolate"}
        How quarterly values become monthly ones.

    Returns
    -------
    pandas.DataFrame
        ``scenario``, ``month`` (``"YYYY-MM"``), ``code`` and the drivers, sorted by
        scenario (in order of first appearance) and month; each scenario contiguous.

    Raises
    ------
    ValueError
        With one message naming the problem (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.forecast import read_scenarios
    >>> table = pd.DataFrame({"scenario": ["baseline", "baseline", "adverse", "adverse"],
    ...                       "month": ["2020-01", "2020-02", "2020-01", "2020-02"],
    ...                       "unemployment_change": [0.0, 0.1, 0.5, 1.0]})
    >>> read_scenarios(table)  # doctest: +NORMALIZE_WHITESPACE
       scenario    month   code  unemployment_change
    0  baseline  2020-01  24240                  0.0
    1  baseline  2020-02  24241                  0.1
    2   adverse  2020-01  24240                  0.5
    3   adverse  2020-02  24241                  1.0
    >>> gap = table.assign(month=["2020-01", "2020-03", "2020-01", "2020-02"])
    >>> read_scenarios(gap)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scenarios, scenario 'baseline': 1 month(s) missing between 2020-01 and 2020-03 ...
    """
    return _read_many(source, group="scenario", drivers=drivers, frequency=frequency, quarterly=quarterly,
                      what="scenarios")


def driver_path(history: pd.DataFrame | None, scenario: pd.DataFrame | None, drivers: list[str],
                codes: np.ndarray, what: str) -> np.ndarray:
    """Driver values at month ``codes``: from the scenario where it has the month, else history.

    Returns an array (len(codes), len(drivers)); raises ``ValueError`` naming the first
    uncovered months.
    """
    codes = np.asarray(codes, dtype=np.int64)
    out = np.full((len(codes), len(drivers)), np.nan)
    have = np.zeros(len(codes), dtype=bool)
    for table in (scenario, history):
        if table is None or len(table) == 0:
            continue
        missing_cols = [d for d in drivers if d not in table.columns]
        if missing_cols:
            src = "scenario" if table is scenario else "macro history"
            raise ValueError(f"{what}: the {src} lacks driver column(s) {missing_cols} used by the macro model")
        idx = pd.Index(table["code"].to_numpy(np.int64))
        pos = idx.get_indexer(codes)
        take = (pos >= 0) & ~have
        out[take] = table[drivers].to_numpy(float)[pos[take]]
        have |= take
    if not have.all():
        miss = codes[~have]
        raise ValueError(
            f"{what}: no driver values for {len(miss)} month(s) (e.g. "
            f"{_examples(format_period(miss, 'M'))}); the scenario and the macro history together "
            "must cover every forecast month and the lagged months before it"
        )
    return out


def to_model_frequency(table: pd.DataFrame, freq: str, drivers: list[str]) -> pd.DataFrame:
    """Monthly driver table -> the APC frequency (quarterly: mean over complete quarters)."""
    if freq == "M":
        return table
    key = ["scenario"] if "scenario" in table.columns else []
    t = table.copy()
    t["qcode"] = (t["code"] // 12) * 4 + (t["code"] % 12) // 3
    g = t.groupby([*key, "qcode"], sort=False)
    agg = g[drivers].mean()
    n = g.size()
    agg = agg[n.to_numpy() == 3].reset_index()
    agg = agg.rename(columns={"qcode": "code"})
    agg.insert(len(key), "month", format_period(agg["code"].to_numpy(), "Q"))
    return agg


# ---------------------------------------------------------------------------- projections
def environment_history(apc_result) -> pd.DataFrame:
    """Posterior mean and band of H over the APC window: ``month, code, mean, lower, upper``."""
    comp = apc_result.component("environment")
    return pd.DataFrame({"month": comp["index"], "code": comp["code"], "mean": comp["mean"],
                         "lower": comp["lower"], "upper": comp["upper"]})


@dataclass(frozen=True)
class ScenarioProjection:
    """Posterior draws of the environment H(t) over the forecast months, per scenario.

    Draw ``k`` of every scenario belongs to APC posterior draw ``draw_index[k]`` (so it
    can be combined with that draw's ``mu``, ``F`` and ``G``), and scenarios share their
    random numbers: differences between scenarios come from the drivers only.

    Parameters
    ----------
    codes, freq, draws, draw_index, source, credible_level, drivers, history, notes
        As the attributes.

    Attributes
    ----------
    codes : ndarray
        Forecast period codes (the months after the APC window).
    freq : {"M", "Q"}
        Period frequency.
    draws : dict of ndarray
        ``{scenario: (S, horizon)}`` draws of H on the logit scale.
    draw_index : ndarray
        APC draw behind each row of the draws.
    source : str
        ``"random_walk"`` or ``"macro (ols)"`` / ``"macro (arimax)"``.
    credible_level : float
        Width of the reported bands.
    drivers : pandas.DataFrame or None
        The scenario driver paths used (``scenario, month, <drivers>``).
    history : pandas.DataFrame or None
        H over the APC window (``month, code, mean, lower, upper`` and, for macro
        projections, the macro model's ``fitted`` values).
    notes : dict
        How the projection was made.

    Examples
    --------
    Projections come from :meth:`MacroModel.project` or :func:`random_walk_projection`:

    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> apc_result = APCModel(hyper="eb", n_draws=200, random_state=0).fit(portfolio).result_
    >>> from apcfair.forecast import random_walk_projection
    >>> proj = random_walk_projection(apc_result, 24, random_state=0)
    >>> proj.scenarios, proj.horizon, proj.source
    (['random_walk'], 24, 'random_walk')
    >>> proj["random_walk"].shape  # (draws, forecast months) on the logit scale
    (200, 24)
    >>> proj.truncate(12).months[-1]
    '2013-12'
    >>> list(proj.summary_frame().columns)
    ['scenario', 'month', 'code', 'mean', 'median', 'lower', 'upper']
    """

    codes: np.ndarray
    freq: str
    draws: dict
    draw_index: np.ndarray
    source: str
    credible_level: float = 0.95
    drivers: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    notes: dict = field(default_factory=dict)

    @property
    def scenarios(self) -> list[str]:
        """Scenario names in order."""
        return list(self.draws)

    @property
    def horizon(self) -> int:
        """Number of forecast periods."""
        return len(self.codes)

    @property
    def months(self) -> list[str]:
        """Forecast months as ``"YYYY-MM"`` (``"YYYY-Qn"`` for quarterly)."""
        return format_period(self.codes, self.freq)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.draws[name]

    def truncate(self, horizon: int) -> ScenarioProjection:
        """The first ``horizon`` forecast periods."""
        if horizon > self.horizon:
            raise ValueError(f"horizon={horizon} but the projection covers only {self.horizon} periods "
                             f"({self.months[0]} to {self.months[-1]})")
        return replace(self, codes=self.codes[:horizon],
                       draws={k: v[:, :horizon] for k, v in self.draws.items()})

    def select(self, names) -> ScenarioProjection:
        """Keep the named scenarios."""
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in self.draws]
        if unknown:
            raise ValueError(f"unknown scenario(s) {unknown}; have {self.scenarios}")
        return replace(self, draws={n: self.draws[n] for n in names})

    def summary_frame(self) -> pd.DataFrame:
        """Tidy summary: ``scenario, month, code, mean, median, lower, upper`` (logit scale)."""
        a = (1 - self.credible_level) / 2
        rows = []
        for name, d in self.draws.items():
            rows.append(pd.DataFrame({
                "scenario": name, "month": self.months, "code": self.codes,
                "mean": d.mean(axis=0), "median": np.median(d, axis=0),
                "lower": np.quantile(d, a, axis=0), "upper": np.quantile(d, 1 - a, axis=0)}))
        return pd.concat(rows, ignore_index=True)

    def plot(self, ax=None, history_months: int | None = 96):
        """H over the last ``history_months`` of the window and its projection per scenario."""
        from apcfair.forecast.plots import plot_environment_scenarios

        return plot_environment_scenarios(self, ax=ax, history_months=history_months)


def random_walk_projection(apc_result, horizon: int, *, random_state: int | None = None,
                           name: str = "random_walk", include_noise: bool = True) -> ScenarioProjection:
    """The default scenario: H continued by its random walk (:meth:`APCResult.extrapolate`).

    An RW2 environment continues the local trend of its last two points, an RW1 holds its
    last level; with ``include_noise`` each draw adds innovations with its own precision,
    so the band widens with the horizon.

    Parameters
    ----------
    apc_result : APCResult
        The fitted APC model.
    horizon : int
        Number of forecast periods after the APC window.
    random_state : int, optional
        Seed of the innovations.
    name : str
        Scenario name.
    include_noise : bool
        Add random-walk innovations.

    Returns
    -------
    ScenarioProjection
        One scenario, ``name``, over the ``horizon`` periods after the APC window.

    Examples
    --------
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> apc_result = APCModel(hyper="eb", n_draws=200, random_state=0).fit(portfolio).result_
    >>> from apcfair.forecast import random_walk_projection
    >>> proj = random_walk_projection(apc_result, 36, random_state=0)
    >>> proj.months[0], proj.months[-1], proj["random_walk"].shape
    ('2013-01', '2015-12', (200, 36))
    >>> band = proj.summary_frame()
    >>> width = band["upper"] - band["lower"]
    >>> bool(width.iloc[-1] > width.iloc[0])  # innovations widen the band with the horizon
    True
    >>> mean_path = random_walk_projection(apc_result, 36, include_noise=False)
    >>> mean_path.notes["method"]
    'RW2 continuation of the environment from the APC engine (mean path, no innovations)'
    """
    horizon = int(horizon)
    if horizon < 1:
        raise ValueError(f"horizon={horizon} must be at least 1")
    draws = apc_result.extrapolate("environment", horizon, random_state=random_state,
                                   include_noise=include_noise)
    last = int(apc_result.labels["environment"][-1])
    order = apc_result.settings["rw_orders"][2]
    return ScenarioProjection(
        codes=np.arange(last + 1, last + horizon + 1, dtype=np.int64), freq=apc_result.freq,
        draws={name: draws}, draw_index=np.arange(draws.shape[0]), source="random_walk",
        credible_level=apc_result.credible_level, history=environment_history(apc_result),
        notes={"method": f"RW{order} continuation of the environment from the APC engine"
                         + (" with innovations" if include_noise else " (mean path, no innovations)")},
    )
