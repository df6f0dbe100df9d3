"""Score models with fixed APC offsets: logistic regression and boosted trees.

The APC stage gives an :class:`OffsetTable` ``F(a) + H(t)``; :class:`OffsetLogit` and
:class:`OffsetGBM` estimate account-level effects of attributes around it (coefficient
1 on the offset), optionally with a second fixed per-account offset such as the
restricted model's score.
"""

from apcfair.offsets import OffsetTable
from apcfair.scoring._data import expand_account_months
from apcfair.scoring._engine import ConvergenceWarning
from apcfair.scoring.binning import AttributeBinner
from apcfair.scoring.gbm import OffsetGBM
from apcfair.scoring.logit import OffsetLogit

__all__ = [
    "AttributeBinner",
    "ConvergenceWarning",
    "OffsetGBM",
    "OffsetLogit",
    "OffsetTable",
    "expand_account_months",
]
