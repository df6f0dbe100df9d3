"""``apcfair.fairness`` is the deprecated name of :mod:`apcfair.unbiased` (kept for one release)."""

import importlib
import sys

import pytest


def test_old_package_name_warns_and_points_at_the_same_objects():
    import apcfair.unbiased as new

    sys.modules.pop("apcfair.fairness", None)
    with pytest.warns(DeprecationWarning, match="apcfair.unbiased"):
        old = importlib.import_module("apcfair.fairness")
    assert old.UnbiasedByDesign is new.UnbiasedByDesign
    assert set(old.__all__) == set(new.__all__)
    from apcfair.fairness.procedure import UnbiasedByDesign, UnbiasedResult
    from apcfair.fairness.stages import fit_score_models

    assert UnbiasedByDesign is new.UnbiasedByDesign and UnbiasedResult is new.UnbiasedResult
    assert fit_score_models is importlib.import_module("apcfair.unbiased.stages").fit_score_models
