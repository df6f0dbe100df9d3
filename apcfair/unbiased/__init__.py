"""The unbiased-by-design procedure (Breeden & Leonova 2021) and dependence measures."""

from apcfair.unbiased.dependence import (
    adverse_impact_ratio,
    auc_with_ci,
    delong_auc_difference,
    dependence,
)
from apcfair.unbiased.procedure import MODELS, UnbiasedByDesign, UnbiasedResult

__all__ = [
    "MODELS",
    "UnbiasedByDesign",
    "UnbiasedResult",
    "adverse_impact_ratio",
    "auc_with_ci",
    "delong_auc_difference",
    "dependence",
]
