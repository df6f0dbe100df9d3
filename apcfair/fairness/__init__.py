"""Deprecated alias of :mod:`apcfair.unbiased` (the procedure is named after its command).

``import apcfair.fairness`` and ``from apcfair.fairness.procedure import ...`` keep working for
one release and warn; import from :mod:`apcfair.unbiased` instead.
"""

from __future__ import annotations

import importlib
import sys
import warnings

from apcfair.unbiased import *  # noqa: F403
from apcfair.unbiased import __all__  # noqa: F401

warnings.warn(
    "apcfair.fairness is renamed apcfair.unbiased; the old name will be removed in the next release",
    DeprecationWarning,
    stacklevel=2,
)

for _name in ("dependence", "plots", "procedure", "result", "stages"):
    sys.modules[f"{__name__}.{_name}"] = importlib.import_module(f"apcfair.unbiased.{_name}")
