"""Training-sample bookkeeping shared by the score models."""

from __future__ import annotations

from apcfair.portfolio.lineage import Lineage


def restore_fit_counts(obj, fit: dict, lineage: dict) -> None:
    """Set the training-sample attributes shared by the score models from a saved model."""
    obj.n_accounts_ = int(fit["n_accounts"])
    obj.n_account_months_ = int(fit["n_account_months"])
    obj.n_defaults_ = int(fit["n_defaults"])
    obj.has_account_offset_ = bool(fit["has_account_offset"])
    obj.lineage_ = Lineage.from_dict(lineage)
