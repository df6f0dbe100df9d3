"""The unbiased-by-design procedure (Breeden & Leonova 2021) and dependence measures.

The procedure's stages are in :mod:`apcfair.unbiased.stages`, its result in
:mod:`apcfair.unbiased.result`. ``adverse_impact_ratio`` is the audit's
(:func:`apcfair.audit.metrics.adverse_impact_ratio`), re-exported here.
"""

from apcfair.audit.metrics import adverse_impact_ratio
from apcfair.unbiased.dependence import (
    auc_with_ci,
    delong_auc_difference,
    dependence,
)
from apcfair.unbiased.procedure import MODELS, UnbiasedByDesign
from apcfair.unbiased.result import UnbiasedResult

__all__ = [
    "MODELS",
    "UnbiasedByDesign",
    "UnbiasedResult",
    "adverse_impact_ratio",
    "auc_with_ci",
    "delong_auc_difference",
    "dependence",
]
