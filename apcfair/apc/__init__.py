"""Bayesian age-period-cohort engine: lifecycle F(a), vintage G(v), environment H(t)."""

from apcfair.apc.identification import identification_text
from apcfair.apc.model import APCModel
from apcfair.apc.results import APCResult

__all__ = ["APCModel", "APCResult", "identification_text"]
