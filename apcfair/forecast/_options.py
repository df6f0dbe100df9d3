"""Option literals of the forecast subpackage (checked with :func:`apcfair._options.check_option`)."""

from __future__ import annotations

from typing import Literal

MacroMethod = Literal["ols", "arimax"]
Detrend = Literal["consistent", "none"]
ResidualProcess = Literal["ar1", "iid", "none"]
CovType = Literal["ar1", "HAC", "nonrobust"]
QuarterlyExpansion = Literal["hold", "interpolate"]
MacroFrequency = Literal["auto", "M", "Q"]
Attrition = Literal["observed", "none"]
OnExcess = Literal["clip", "error"]
Extrapolation = Literal["hold", "random_walk"]
OnIncomplete = Literal["error", "warn"]
OnWrongSign = Literal["warn", "drop", "error"]
DriverTrend = Literal["extend", "hold"]
#: Floating-point type of the draws x horizon x groups arrays of the stress paths.
Precision = Literal["float32", "float64"]
