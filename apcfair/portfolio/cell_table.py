"""Cell-table input: an aggregated events/exposure table read into the APC engine's cells.

Epidemiological tables (and aggregated credit tables) come as one row per age group x
period group with a count of events and an exposure (person-years, or accounts at risk).
:func:`read_cell_table` reads such a table (CSV, Parquet or a DataFrame) into a
:class:`CellTable`, which :meth:`apcfair.apc.APCModel.fit` accepts directly.

Rules
-----
- Labels are the **left ends** of the intervals in the table's own units (years, months,
  ...): ``25`` for ages 25-29, ``1955`` for 1955-59. Text labels such as ``"25-29"`` are
  read by their first number. Float columns holding whole numbers are fine; fractional
  labels are refused.
- The grid width is the greatest common divisor of the steps between labels (so year labels
  on a 5-year grid are detected), or ``age_width`` / ``period_width`` when given.
- The cohort is ``period - age`` (for equal widths: the middle year of birth of the cell's
  cohort, as in ``Epi``); with a cohort column and no period column, ``period = cohort + age``.
- Age groups may be a whole multiple ``M`` of the period width (5-year age groups with
  1-year periods: ``M = 5``, bamp's ``periods_per_agegroup``). The cohort code then steps
  by one period: ``cohort = period - age`` in table units, and bamp's cohort index
  ``M * (I - i) + j`` (age group ``i`` of ``I``, period ``j``, both from 1) gives
  ``M * (I - 1) + J`` cohorts for ``J`` periods. The cohort random walk runs on that
  one-period grid, the age random walk on the age groups. With ``M > 1``, ``M - 1``
  patterns that repeat every ``M`` periods can move between cohort and period effects
  without changing a rate (Holford 2006): the factor (ML) model cannot separate them and the
  Bayesian engines separate them by the random walks' smoothness alone. Periods wider than
  age groups, or widths that are not multiples, are refused with what to do.
- Without an exposure column the events are modelled as counts with exposure 1
  (a response-only table).
- The default likelihood of a cell table is Poisson (events with exposure); say
  ``likelihood="binomial"`` when the exposure counts accounts at risk.

Examples
--------
>>> import pandas as pd
>>> from apcfair.portfolio import read_cell_table
>>> df = pd.DataFrame({"age": [25.0, 25.0, 30.0, 30.0, 35.0, 35.0],
...                    "period": [1955, 1960] * 3, "events": [3, 2, 11, 10, 20, 22],
...                    "exposure": [1.5e6, 1.5e6, 1.4e6, 1.4e6, 1.3e6, 1.3e6]})
>>> cells = read_cell_table(df)
>>> cells
CellTable(6 cells, width 5, ages 25..35, periods 1955..1960, cohorts 1920..1935, likelihood='poisson')
>>> cells.table[["age", "vintage", "period"]].iloc[0].tolist()  # engine codes: period = cohort + age
[5, 386, 391]
>>> cells.labels("vintage", [386]).tolist()  # cohort label: period - age, table units
[1930]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import reduce
from math import gcd
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair._options import Likelihood, check_option
from apcfair.errors import DataValidationError

_LEADING_NUMBER = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)")
#: The engine's component names and the words used for them in a cell table.
COMPONENT_WORDS = {"lifecycle": "age", "vintage": "cohort", "environment": "period"}


@dataclass(frozen=True)
class CellTable:
    """An events/exposure table on a common age/period grid, ready for the APC engine.

    Attributes
    ----------
    table : pandas.DataFrame
        Engine cells: integer codes ``age``, ``vintage`` (the cohort), ``period`` with
        ``period = vintage + age``, counts ``defaults`` (events) and ``at_risk`` (exposure),
        plus the labels ``age_label``, ``cohort_label`` and ``period_label`` in table units.
    width : int
        Grid width of periods (and cohorts) in table units; also of ages unless
        ``periods_per_age > 1``.
    origins : dict
        ``label = code * step + origin`` for ``lifecycle``, ``vintage`` and ``environment``,
        with step ``age_width`` for ages and ``width`` for cohorts and periods.
    likelihood : {"poisson", "binomial"}
        The likelihood this table calls for (Poisson unless told otherwise).
    notes : tuple of str
        How the table was read (defaults used, labels converted).
    source : str
        Where it came from.
    columns : dict
        The column names read.
    periods_per_age : int
        ``M``: periods per age group (bamp's ``periods_per_agegroup``); 1 for equal widths.
        Engine codes obey ``period = vintage + M * age``.
    """

    table: pd.DataFrame
    width: int
    origins: dict
    likelihood: str = "poisson"
    notes: tuple[str, ...] = ()
    source: str = "DataFrame"
    columns: dict = field(default_factory=dict)
    periods_per_age: int = 1

    @property
    def age_width(self) -> int:
        """Width of the age groups in table units (``periods_per_age * width``)."""
        return self.width * self.periods_per_age

    def steps(self) -> dict:
        """Label step of each component's engine code, in table units."""
        return {"lifecycle": self.age_width, "vintage": self.width, "environment": self.width}

    def labels(self, component: str, codes) -> np.ndarray:
        """Left ends (cohort: period - age) in table units of engine ``codes`` of a component."""
        return np.asarray(codes, dtype=np.int64) * self.steps()[component] + int(self.origins[component])

    def label_map(self) -> dict:
        """What a result stores to print its labels in table units."""
        return {"width": self.width, "widths": self.steps(), "periods_per_age": self.periods_per_age,
                "origins": {k: int(v) for k, v in self.origins.items()},
                "names": dict(COMPONENT_WORDS), "columns": dict(self.columns), "notes": list(self.notes),
                "source": self.source}

    def __repr__(self) -> str:
        t = self.table
        span = {k: (int(t[f"{w}_label"].min()), int(t[f"{w}_label"].max())) for k, w in COMPONENT_WORDS.items()}
        width = (f"width {self.width}" if self.periods_per_age == 1 else
                 f"age width {self.age_width}, period width {self.width}")
        return (f"CellTable({len(t)} cells, {width}, ages {span['lifecycle'][0]}..{span['lifecycle'][1]}, "
                f"periods {span['environment'][0]}..{span['environment'][1]}, cohorts "
                f"{span['vintage'][0]}..{span['vintage'][1]}, likelihood={self.likelihood!r})")


def _labels(frame: pd.DataFrame, col: str, notes: list[str]) -> np.ndarray:
    """Integer labels of a column: whole numbers, or text whose first number is the left end."""
    s = frame[col]
    if s.isna().any():
        raise DataValidationError([f"column {col!r} has {int(s.isna().sum())} missing labels; every cell needs one"])
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        first = s.astype(str).str.extract(_LEADING_NUMBER, expand=False)
        if first.isna().any():
            bad = s[first.isna()].astype(str).unique()[:3].tolist()
            raise DataValidationError([f"column {col!r}: {int(first.isna().sum())} labels have no leading number "
                                       f"(e.g. {bad}); use the left end of each interval (25 for '25-29')"])
        if not s.astype(str).str.fullmatch(r"\s*[+-]?\d+(\.\d+)?\s*").all():
            notes.append(f"{col}: text labels read by their first number (left end of the interval)")
        values = first.astype(float).to_numpy()
    else:
        values = pd.to_numeric(s).to_numpy(float)
    frac = np.abs(values - np.round(values)) > 1e-9
    if frac.any():
        bad = values[frac][:3].tolist()
        raise DataValidationError([f"column {col!r}: {int(frac.sum())} labels are not whole numbers (e.g. {bad}); "
                                   "labels are the left ends of the intervals in the table's units (use "
                                   "integers, e.g. months instead of fractional years)"])
    return np.round(values).astype(np.int64)


def _width(values: np.ndarray, given: int | None, what: str, option: str) -> int:
    """The grid width: the gcd of the steps between distinct labels, or the one given (checked)."""
    steps = np.diff(np.unique(values))
    found = int(reduce(gcd, steps.tolist(), 0)) or None
    if given is None:
        if found is None:
            raise DataValidationError([f"the {what} column has a single value; an APC model needs at least 3"])
        return found
    given = int(given)
    if given < 1:
        raise ValueError(f"{option}={given}: must be a positive integer")
    if found is not None and found % given:
        raise DataValidationError([f"{what} labels step by {found}, which is not a multiple of {option}={given}"])
    return given


def read_cell_table(data, *, age: str = "age", period: str | None = "period", cohort: str | None = None,
                    events: str = "events", exposure: str | None = "exposure", age_width: int | None = None,
                    period_width: int | None = None, likelihood: str | None = None) -> CellTable:
    """Read an events/exposure table (path or DataFrame) into a :class:`CellTable`.

    Parameters
    ----------
    data : str, Path or pandas.DataFrame
        CSV or Parquet file, or a frame; one row per age group x period group.
    age, period, cohort, events, exposure : str
        Column names. Give ``period`` or ``cohort`` (``period=None`` to use the cohort
        column); the cohort is computed when absent. Without the ``exposure`` column (or
        with ``exposure=None``) exposure is 1 for every cell.
    age_width, period_width : int, optional
        Interval widths in table units (default: detected from the labels). The age width
        must be the period width or a whole multiple of it (see the module docstring).
    likelihood : {"poisson", "binomial"}, optional
        Default Poisson (events with person-time exposure); binomial when the exposure
        counts accounts at risk.

    Returns
    -------
    CellTable

    Examples
    --------
    A response-only table (no exposure) with text labels:

    >>> import pandas as pd
    >>> from apcfair.portfolio import read_cell_table
    >>> df = pd.DataFrame({"age": ["20-24", "25-29", "30-34"] * 3,
    ...                    "period": [1970] * 3 + [1975] * 3 + [1980] * 3, "events": range(9)})
    >>> ct = read_cell_table(df)
    >>> float(ct.table["at_risk"].iloc[0]), ct.width
    (1.0, 5)
    >>> any("exposure 1" in note for note in ct.notes)
    True

    Five-year age groups with one-year periods (bamp's ``periods_per_agegroup = 5``): the
    cohort steps by one year, and 3 age groups x 6 periods give 5 * (3 - 1) + 6 = 16 cohorts:

    >>> df = pd.DataFrame({"age": [25, 30, 35] * 6, "period": sorted([1970, 1971, 1972, 1973, 1974, 1975] * 3),
    ...                    "events": 1})
    >>> ct = read_cell_table(df)
    >>> ct
    CellTable(18 cells, age width 5, period width 1, ages 25..35, periods 1970..1975, cohorts 1935..1950, likelihood='poisson')
    >>> ct.periods_per_age, ct.table["vintage"].nunique()
    (5, 16)

    Periods wider than age groups are refused with what to do:

    >>> df = pd.DataFrame({"age": [25, 26, 27] * 3, "period": [1970, 1975, 1980] * 3, "events": 1})
    >>> read_cell_table(df)
    Traceback (most recent call last):
    ...
    apcfair.errors.DataValidationError: age groups are 1 wide but periods 5 wide: ...
    """
    if likelihood is not None:
        check_option("likelihood", likelihood, Likelihood)
    if isinstance(data, str | Path):
        from apcfair.portfolio.portfolio import read_table

        source = str(data)
        frame = read_table(data)
    elif isinstance(data, pd.DataFrame):
        source, frame = "DataFrame", data
    else:
        raise TypeError(f"read_cell_table expects a path or a DataFrame, got {type(data).__name__}")
    notes: list[str] = []
    if period is not None and period not in frame and cohort is None and "cohort" in frame:
        period, cohort = None, "cohort"
    needed = [age, events] + [c for c in (period if period is not None else cohort,) if c is not None]
    if period is None and cohort is None:
        raise ValueError("give the period or the cohort column")
    missing = [c for c in needed if c not in frame]
    if missing:
        raise DataValidationError([f"cell table has no column(s) {missing}; columns are {list(frame.columns)[:12]} "
                                   "(map yours with age=, period=, cohort=, events=, exposure=)"])
    a = _labels(frame, age, notes)
    if period is not None and period in frame:
        p = _labels(frame, period, notes)
        if cohort is not None and cohort in frame:
            c_given = _labels(frame, cohort, notes)
            bad = c_given != p - a
            if bad.any():
                raise DataValidationError([f"{int(bad.sum())} rows have {cohort} != {period} - {age}; "
                                           "drop the cohort column to compute it"])
    else:
        p = _labels(frame, cohort, notes) + a
        notes.append(f"period computed as {cohort} + {age}")
    wa = _width(a, age_width, "age", "age_width")
    wp = _width(p, period_width, "period", "period_width")
    if wa % wp:
        raise DataValidationError([
            f"age groups are {wa} wide but periods {wp} wide: the age width must be the period width or a "
            f"whole multiple of it (bamp's periods_per_agegroup); aggregate the table to a common width (e.g. "
            f"sum events and exposure over period groups of {wa}: period // {wa} * {wa}), or give single-year "
            "ages, then refit"])
    width, per_age = wp, wa // wp
    n_periods = len(np.unique(p))
    if per_age > 1:
        if n_periods < per_age:
            raise DataValidationError([
                f"{n_periods} periods of width {wp} but {per_age} periods per age group ({wa} wide): the cohort grid "
                "would have gaps; give at least as many periods as periods per age group, or aggregate the periods"])
        notes.append(f"age groups {wa} wide, periods {wp} wide: {per_age} periods per age group (bamp's "
                     f"periods_per_agegroup); cohort index {per_age} * (I - i) + j, cohort label = period - age")
    ev = pd.to_numeric(frame[events], errors="coerce").to_numpy(float)
    if exposure is not None and exposure in frame:
        ex = pd.to_numeric(frame[exposure], errors="coerce").to_numpy(float)
    elif exposure is not None and exposure != "exposure":
        raise DataValidationError([f"cell table has no exposure column {exposure!r}; columns are "
                                   f"{list(frame.columns)[:12]} (omit exposure for a response-only table)"])
    else:
        ex = np.ones(len(frame))
        notes.append("no exposure column: response-only table, exposure 1 (counts are modelled)")
    for name, values in ((events, ev), ("exposure" if exposure is None else exposure, ex)):
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise DataValidationError([f"column {name!r}: {int(bad.sum())} values are missing, not numbers or "
                                       "negative; counts and exposures must be finite and >= 0"])
    keys = pd.DataFrame({"a": a, "p": p})
    dup = keys.duplicated(keep=False)
    if dup.any():
        raise DataValidationError([
            f"{int(dup.sum())} rows share an (age, period) pair: one row per cell. Lexis triangles "
            "(upper/lower) are not supported as a layout; sum the two triangles of each age x period square"])
    origin_a, origin_p = int(a.min() % wa), int(p.min() % width)
    age_code, period_code = (a - origin_a) // wa, (p - origin_p) // width
    table = pd.DataFrame({
        "age": age_code, "vintage": period_code - per_age * age_code, "period": period_code,
        "defaults": ev, "at_risk": ex, "age_label": a, "cohort_label": p - a, "period_label": p})
    origins = {"lifecycle": origin_a, "vintage": origin_p - origin_a, "environment": origin_p}
    columns = {"age": age, "period": period, "cohort": cohort, "events": events, "exposure": exposure}
    return CellTable(table=table, width=width, origins=origins, likelihood=likelihood or "poisson",
                     notes=tuple(notes), source=source, columns=columns, periods_per_age=per_age)
