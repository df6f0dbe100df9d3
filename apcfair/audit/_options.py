"""Option literals of the audit subpackage, checked with :func:`apcfair._options.check_option`.

The shared ``Polarity`` alias lives in :mod:`apcfair._options`; the aliases below are
specific to the audit tools.
"""

from __future__ import annotations

from typing import Literal

from apcfair._options import Polarity, check_option

#: How group differences are taken: between the best and worst group, to the overall
#: population, or to a named reference group.
GapMethod = Literal["between_groups", "to_overall", "to_reference"]
#: Group-wise calibration map.
CalibrationMethod = Literal["platt", "isotonic"]
#: What the threshold search maximises among the candidates that meet the constraints.
ThresholdObjective = Literal["accuracy", "approval_rate"]
#: What a human reviewer is assumed to decide for routed cases (expected values, no draws).
ReviewScenario = Literal["model", "oracle", "approve", "decline"]
#: How loan interest is computed: amortising annuity (monthly instalments) or bullet
#: (interest on the full principal for the whole term, as simple-interest sketches do).
InterestMethod = Literal["amortising", "bullet"]
#: SHAP explainer family.
ExplainerKind = Literal["auto", "tree", "linear"]
#: Calibration-curve binning.
BinStrategy = Literal["uniform", "quantile"]
#: How the CLI reads ``--data`` ("auto": by the file extension).
InputFormat = Literal["auto", "csv", "parquet"]
#: Which outputs the CLI writes.
OutputFormat = Literal["both", "json", "html"]

__all__ = [
    "BinStrategy",
    "CalibrationMethod",
    "ExplainerKind",
    "GapMethod",
    "InputFormat",
    "InterestMethod",
    "OutputFormat",
    "Polarity",
    "ReviewScenario",
    "ThresholdObjective",
    "check_option",
]
