"""The result protocol shared by the audit's result objects: JSON save/load and tidy frames back.

A result defines ``to_json_dict()`` (plain JSON values, NaN and infinities as ``null``)
and ``from_json_dict(d)``; :class:`JSONResultMixin` adds ``save(path)`` and
``load(path)`` on top (strict JSON, never pickle).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd


class JSONResultMixin:
    """``save()``/``load()`` as strict JSON for results with ``to_json_dict``/``from_json_dict``."""

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json_dict` as JSON (NaN and infinities as ``null``)."""
        path = Path(path)
        path.write_text(json.dumps(self.to_json_dict(), indent=2, allow_nan=False))
        return path

    @classmethod
    def load(cls, path: str | Path):
        """Read a result written by :meth:`save`."""
        return cls.from_json_dict(json.loads(Path(path).read_text()))


def _numeric_or_null(column: pd.Series) -> bool:
    values = column.map(lambda v: v is None or isinstance(v, int | float) and not isinstance(v, bool))
    return column.dtype == object and bool(values.all())


def nulls_to_nan(df: pd.DataFrame) -> pd.DataFrame:
    """Columns that hold only numbers and ``null`` (JSON's NaN) become float columns with NaN."""
    return df.apply(lambda c: c.astype(float) if _numeric_or_null(c) else c)


def frame(records: Sequence[Mapping] | None) -> pd.DataFrame:
    """A DataFrame from JSON records, with ``null`` read back as NaN in numeric columns."""
    return nulls_to_nan(pd.DataFrame(list(records or [])))


def number(value) -> float:
    """A JSON number, with ``null`` (NaN or an infinity when written) read back as NaN."""
    return float("nan") if value is None else float(value)
