"""Declared transformations of raw macro series (differences, growth rates, lags).

A driver is declared as ``NAME[:TRANSFORM...][:+|-]``; transformations apply left to right
to the raw monthly series ``NAME`` (quarterly series are first expanded to months, see
:mod:`apcfair.forecast.scenarios`), so a stress tester gives the series as published
(FRED downloads, supervisory scenario tables) and the model sees the transformed driver:

``diffN``     ``x(t) - x(t - N)``: change over N months, in the series' units (``diff`` = ``diff1``)
``pctN``      ``100 (x(t) / x(t - N) - 1)``: percent change over N months
``yoy``       ``pct12``: year-on-year percent change
``logdiffN``  ``100 (ln x(t) - ln x(t - N))``: log change over N months, in percent (log points)
``lagN``      ``x(t - N)``: the value N months earlier
``log``       ``ln x(t)``

``unemployment_rate:diff12:+`` is the 12-month change of the unemployment rate (percentage
points), expected to raise default risk; ``hpi:yoy,lag3`` (a transformation may also follow a
comma) is house-price growth over the year, three months earlier. The transformed driver's
column is ``NAME_TRANSFORM...`` (``unemployment_rate_diff12``). In scenarios the transform
runs over the macro history followed by the scenario path, so ``diff12`` in the first
scenario month compares with the history twelve months before.

Examples
--------
>>> from apcfair.forecast.transforms import parse_drivers
>>> specs = parse_drivers("unemployment_rate:diff12:+,hpi:yoy,lag3:-,gdp_growth")
>>> [(s.name, s.transforms, s.sign, s.column) for s in specs]  # doctest: +NORMALIZE_WHITESPACE
[('unemployment_rate', ('diff12',), '+', 'unemployment_rate_diff12'),
 ('hpi', ('yoy', 'lag3'), '-', 'hpi_yoy_lag3'),
 ('gdp_growth', (), None, 'gdp_growth')]
>>> specs[1].definition
'percent change over 12 months of hpi, 3 months earlier'
>>> import numpy as np
>>> specs[0].apply(np.arange(14.0))[-2:].tolist()  # x(t) - x(t - 12)
[12.0, 12.0]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

_TOKEN = re.compile(r"^(diff|pct|logdiff|lag)(\d*)$|^(yoy|log)$")


def _parse_token(token: str) -> tuple[str, int]:
    m = _TOKEN.match(token)
    if m is None:
        raise ValueError(f"unknown transform {token!r}: use diffN, pctN, yoy, logdiffN, lagN or log "
                         "(e.g. unemployment_rate:diff12, hpi:yoy,lag3)")
    if m.group(3):
        return (m.group(3), 12 if m.group(3) == "yoy" else 0)
    n = int(m.group(2) or 1)
    if n < 1 or n > 120:
        raise ValueError(f"transform {token!r}: N must be between 1 and 120 months")
    return m.group(1), n


def is_transform(token: str) -> bool:
    """Whether ``token`` names a transformation (``diff12``, ``yoy``, ``lag3`` ...)."""
    return _TOKEN.match(token) is not None


def _describe(kind: str, n: int, what: str) -> str:
    if kind == "diff":
        return f"change over {n} month{'s' * (n > 1)} of {what}"
    if kind in ("pct", "yoy"):
        return f"percent change over {n} months of {what}"
    if kind == "logdiff":
        return f"100 x log change over {n} month{'s' * (n > 1)} of {what} (log points, about %)"
    if kind == "log":
        return f"natural log of {what}"
    return f"{what}, {n} month{'s' * (n > 1)} earlier"


@dataclass(frozen=True)
class DriverSpec:
    """One declared driver: raw series ``name``, transformations and expected sign.

    Attributes
    ----------
    name : str
        Column of the raw macro series.
    transforms : tuple of str
        Transformations applied left to right.
    sign : {"+", "-"} or None
        Expected sign of the coefficient (``+``: a higher driver raises default risk).
    """

    name: str
    transforms: tuple = ()
    sign: str | None = None

    @property
    def column(self) -> str:
        """Name of the transformed driver (``NAME_TRANSFORM...``; ``NAME`` without transforms)."""
        return "_".join([self.name, *self.transforms])

    @property
    def transform(self) -> str:
        """The transformations as declared (``"yoy,lag3"``; ``""`` for the level)."""
        return ",".join(self.transforms)

    @property
    def declaration(self) -> str:
        """The entry that declares it (``"hpi:yoy:lag3:-"``), as :func:`parse_drivers` reads it."""
        return ":".join([self.name, *self.transforms, *([self.sign] if self.sign else [])])

    @property
    def definition(self) -> str:
        """What the transformed driver is, in words."""
        if not self.transforms:
            return f"{self.name} (level, units of the series)"
        text = self.name
        for token in self.transforms:
            text = _describe(*_parse_token(token), text)
        return text

    @property
    def history_months(self) -> int:
        """Months of raw history the transformations consume before the first value."""
        return sum(_parse_token(t)[1] for t in self.transforms)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Transform a contiguous monthly series (leading values without history become NaN)."""
        x = np.asarray(values, dtype=float)
        for token in self.transforms:
            kind, n = _parse_token(token)
            if kind in ("log", "logdiff") and np.nanmin(x, initial=np.inf) <= 0:
                raise ValueError(f"driver {self.name}:{self.transform}: {kind} needs positive values; "
                                 f"the series has a minimum of {np.nanmin(x):g}")
            prev = np.full_like(x, np.nan)
            if kind != "log" and n < len(x):
                prev[n:] = x[:-n]
            if kind == "diff":
                x = x - prev
            elif kind in ("pct", "yoy"):
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = np.where(prev != 0, 100.0 * (x / prev - 1.0), np.nan)
            elif kind == "logdiff":
                x = 100.0 * (np.log(x) - np.log(prev))
            elif kind == "log":
                x = np.log(x)
            else:
                x = prev
        return x

    def to_dict(self) -> dict:
        """``name, transform, expected_sign, column, definition`` (JSON-ready)."""
        return {"name": self.name, "transform": self.transform, "expected_sign": self.sign,
                "column": self.column, "definition": self.definition}


def parse_drivers(drivers, expected_signs=None) -> list[DriverSpec]:
    """Declared drivers from ``NAME[:TRANSFORM...][:+|-]`` entries (or a comma-separated string).

    A comma-separated item that is only transformations (and a sign), such as ``lag3`` in
    ``hpi:yoy,lag3``, continues the driver before it. ``expected_signs`` (``{name: sign}``)
    fills signs not given in the entries.

    Examples
    --------
    >>> [s.column for s in parse_drivers(["x:diff", "y:logdiff3:lag1"])]
    ['x_diff', 'y_logdiff3_lag1']
    >>> parse_drivers("x:diff12:?")
    Traceback (most recent call last):
    ...
    ValueError: unknown transform '?': use diffN, pctN, yoy, logdiffN, lagN or log (e.g. unemployment_rate:diff12, hpi:yoy,lag3)
    """
    signs = {str(k): str(v) for k, v in dict(expected_signs or {}).items()}
    items = [x.strip() for x in drivers.split(",")] if isinstance(drivers, str) else [str(x) for x in drivers]
    specs: list[DriverSpec] = []
    for item in filter(None, items):
        parts = item.split(":")
        head = parts[0]
        if specs and (is_transform(head) or head in ("+", "-")):  # "hpi:yoy,lag3": continues hpi
            prev = specs.pop()
            name, tokens, sign = prev.name, list(prev.transforms), prev.sign
            rest = parts
        else:
            name, tokens, sign, rest = head, [], None, parts[1:]
        for p in rest:
            if p in ("+", "-"):
                sign = p
            else:
                _parse_token(p)
                tokens.append(p)
        specs.append(DriverSpec(name, tuple(tokens), sign))
    out = []
    for s in specs:
        sign = s.sign or signs.get(s.name) or signs.get(s.column)
        if sign not in (None, "+", "-"):
            raise ValueError(f"expected signs: {sign!r} of {s.name}: use '+' (higher driver, higher default risk) "
                             "or '-'")
        out.append(DriverSpec(s.name, s.transforms, sign))
    columns = [s.column for s in out]
    dup = sorted({c for c in columns if columns.count(c) > 1})
    if dup:
        raise ValueError(f"driver(s) {dup} declared more than once")
    return out


def transform_history(history: pd.DataFrame, specs: list[DriverSpec]) -> pd.DataFrame:
    """``month, code`` and the transformed drivers of a contiguous monthly history.

    Months at the start without enough history for every transformation are dropped.
    """
    out = history[["month", "code"]].copy()
    for s in specs:
        out[s.column] = s.apply(history[s.name].to_numpy(float))
    cols = [s.column for s in specs]
    ok = out[cols].notna().all(axis=1).to_numpy()
    if not ok.any():
        raise ValueError(f"macro history: {len(out)} month(s) are too few for the transformations "
                         f"({', '.join(f'{s.name}:{s.transform}' for s in specs if s.transforms)})")
    first = int(np.argmax(ok))
    out = out.iloc[first:].reset_index(drop=True)
    bad = ~out[cols].notna().all(axis=1)
    if bad.any():
        raise ValueError(f"macro history: transformed drivers undefined in {int(bad.sum())} month(s) (e.g. "
                         f"{out['month'][bad].iloc[0]}): a percent change from zero or a log of a value <= 0")
    out.attrs = {**history.attrs, "drivers": cols}
    return out


def transform_scenarios(scenarios: pd.DataFrame, history: pd.DataFrame, specs: list[DriverSpec]) -> pd.DataFrame:
    """Transformed scenario paths: each path follows the raw history, then the transforms run.

    For a month in both, the scenario value is used. The scenario months must continue the
    history without a gap (or overlap it).
    """
    raw = [s.name for s in specs]
    frames = []
    for name, fr in scenarios.groupby("scenario", sort=False):
        first = int(fr["code"].min())
        before = history[history["code"] < first]
        if len(before) and int(before["code"].max()) != first - 1:
            raise ValueError(f"scenario {name!r} starts in {fr['month'].iloc[0]} but the macro history ends in "
                             f"{before['month'].iloc[-1]}: the transformations need a continuous path")
        path = pd.concat([before[["month", "code", *raw]], fr[["month", "code", *raw]]], ignore_index=True)
        out = fr[["scenario", "month", "code"]].reset_index(drop=True)
        for s in specs:
            out[s.column] = s.apply(path[s.name].to_numpy(float))[len(before):]
        cols = [s.column for s in specs]
        bad = ~out[cols].notna().all(axis=1)
        if bad.any():
            need = max(s.history_months for s in specs)
            raise ValueError(f"scenario {name!r}: transformed drivers undefined in {int(bad.sum())} month(s) (e.g. "
                             f"{out['month'][bad].iloc[0]}); the transformations need {need} month(s) of macro "
                             "history right before the scenario starts")
        frames.append(out)
    result = pd.concat(frames, ignore_index=True)
    result.attrs = {**scenarios.attrs, "drivers": [s.column for s in specs]}
    return result
