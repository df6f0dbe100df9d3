"""Fixed offsets for the score models: lifecycle ``F(a)`` plus environment ``H(t)``.

An APC model gives, for each account-month, the log-odds offset ``o(a, t) = F(a) + H(t)``.
The score models take it as a fixed input (coefficient 1) and estimate only account-level
effects around it. :class:`OffsetTable` is the interface between the two stages: two
arrays on contiguous integer grids of ages and period codes, with a stated extrapolation
rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from apcfair.errors import DataValidationError


def _as_curve(values, name: str) -> np.ndarray:
    arr = np.array(values, dtype=np.float64, copy=True)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array; got shape {arr.shape}.")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataValidationError(
            [
                f"{name} has {int(bad.sum())} non-finite value(s) (first at position {first}). "
                "Fix: fill every age/period on the grid (e.g. extrapolate the APC curves) "
                "before building the OffsetTable."
            ]
        )
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class OffsetTable:
    """Lifecycle by age and environment by period, as arrays on contiguous grids.

    The offset of an account-month at age ``a`` in period ``t`` is
    ``F(a) + H(t)`` with ``F(a) = lifecycle[a - age_min]`` and
    ``H(t) = environment[t - period_min]``.

    **Extrapolation**: ages below ``age_min`` take ``lifecycle[0]`` and ages above the
    last tabulated age take ``lifecycle[-1]`` (hold the nearest value); periods likewise.
    Holding the last value is a neutral default for scoring on the estimation window;
    for forecasts, build the table with the extrapolation you want (e.g. the APC
    result's random-walk forecast or a macro scenario for ``H``) filled in.

    Parameters
    ----------
    age_min : int
        Age of ``lifecycle[0]`` (ages count from 1 = first performance period).
    lifecycle : array-like of float
        ``F(age_min + k)`` for ``k = 0 .. len - 1`` on the log-odds scale.
    period_min : int
        Period code of ``environment[0]`` (``year * 12 + month - 1`` for monthly data,
        see :mod:`apcfair.portfolio.periods`).
    environment : array-like of float
        ``H(period_min + k)`` on the log-odds scale.

    Examples
    --------
    >>> import numpy as np
    >>> tab = OffsetTable(age_min=1, lifecycle=[-6.0, -5.5, -5.0],
    ...                   period_min=24_108, environment=[0.1, -0.1])
    >>> tab(np.array([1, 3, 10]), np.array([24_108, 24_109, 24_200])).tolist()
    [-5.9, -5.1, -5.1]
    """

    age_min: int
    lifecycle: np.ndarray
    period_min: int
    environment: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "age_min", int(self.age_min))
        object.__setattr__(self, "period_min", int(self.period_min))
        object.__setattr__(self, "lifecycle", _as_curve(self.lifecycle, "lifecycle"))
        object.__setattr__(self, "environment", _as_curve(self.environment, "environment"))

    # ------------------------------------------------------------------ builders
    @classmethod
    def zeros(cls) -> OffsetTable:
        """The zero offset: ``F(a) + H(t) = 0`` for every age and period."""
        return cls(0, np.zeros(1), 0, np.zeros(1))

    @classmethod
    def constant(cls, value: float) -> OffsetTable:
        """A constant offset ``value`` for every age and period."""
        return cls(0, np.full(1, float(value)), 0, np.zeros(1))

    @classmethod
    def from_series(cls, lifecycle: pd.Series | Mapping[int, float],
                    environment: pd.Series | Mapping[int, float] | None = None) -> OffsetTable:
        """Build from ``{age: F}`` and ``{period_code: H}`` series.

        The index values must be integers without gaps (every age and period between
        the first and the last); ``environment=None`` means ``H = 0``.
        """
        parts = []
        for name, ser in (("lifecycle", lifecycle), ("environment", environment)):
            if ser is None:
                parts.append((0, np.zeros(1)))
                continue
            ser = pd.Series(ser).sort_index()
            idx = np.asarray(ser.index, dtype=np.int64)
            if len(idx) == 0:
                raise ValueError(f"{name} is empty.")
            if np.any(np.diff(idx) != 1):
                missing = sorted(set(range(int(idx[0]), int(idx[-1]) + 1)) - set(idx.tolist()))
                raise DataValidationError(
                    [
                        f"{name} index has gaps: {len(missing)} missing value(s), e.g. "
                        f"{missing[:3]}. Fix: give a value for every integer between "
                        f"{int(idx[0])} and {int(idx[-1])} (interpolate the curve)."
                    ]
                )
            parts.append((int(idx[0]), ser.to_numpy(dtype=np.float64)))
        return cls(parts[0][0], parts[0][1], parts[1][0], parts[1][1])

    # ------------------------------------------------------------------ properties
    @property
    def age_max(self) -> int:
        """Last tabulated age."""
        return self.age_min + len(self.lifecycle) - 1

    @property
    def period_max(self) -> int:
        """Last tabulated period code."""
        return self.period_min + len(self.environment) - 1

    # ------------------------------------------------------------------ evaluation
    def lifecycle_at(self, age) -> np.ndarray:
        """``F(age)``, holding the first/last value outside the table."""
        k = np.asarray(age, dtype=np.int64) - self.age_min
        return self.lifecycle[np.clip(k, 0, len(self.lifecycle) - 1)]

    def environment_at(self, period) -> np.ndarray:
        """``H(period)``, holding the first/last value outside the table."""
        k = np.asarray(period, dtype=np.int64) - self.period_min
        return self.environment[np.clip(k, 0, len(self.environment) - 1)]

    def __call__(self, age, period) -> np.ndarray:
        """Offset ``F(age) + H(period)`` for arrays of ages and period codes.

        Parameters
        ----------
        age, period : array-like of int
            Ages (1 = first performance period) and period codes, broadcastable.

        Returns
        -------
        numpy.ndarray
            ``float64`` offsets.
        """
        return self.lifecycle_at(age) + self.environment_at(period)

    def shifted(self, constant: float) -> OffsetTable:
        """The same table with ``constant`` added to the lifecycle."""
        return OffsetTable(self.age_min, self.lifecycle + float(constant), self.period_min,
                           self.environment)

    def equals(self, other: OffsetTable) -> bool:
        """Exact equality of grids and values."""
        return (
            isinstance(other, OffsetTable)
            and self.age_min == other.age_min
            and self.period_min == other.period_min
            and np.array_equal(self.lifecycle, other.lifecycle)
            and np.array_equal(self.environment, other.environment)
        )

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict:
        """JSON-ready dictionary."""
        return {
            "age_min": self.age_min,
            "lifecycle": self.lifecycle.tolist(),
            "period_min": self.period_min,
            "environment": self.environment.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> OffsetTable:
        """Rebuild from :meth:`to_dict` output."""
        return cls(d["age_min"], d["lifecycle"], d["period_min"], d["environment"])

    def __repr__(self) -> str:
        return (
            f"OffsetTable(ages {self.age_min}..{self.age_max}, "
            f"periods {self.period_min}..{self.period_max})"
        )
