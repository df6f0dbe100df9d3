"""A given APC fit: used as it is (warned, recorded) or refitted on the estimation accounts only (issue 11 §2)."""

import warnings

import numpy as np
import pytest

from apcfair import load_portfolio
from apcfair.apc import APCModel
from apcfair.unbiased import UnbiasedByDesign
from data_synth import SynthConfig, generate_portfolio

KW = {"restricted": ["minority", "sex"], "credit": ["bureau_score", "total_deposits"], "gbm": False, "n_boot": 10,
      "random_state": 0}


@pytest.fixture(scope="module")
def fits():
    portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=0)).loans)
    on_all = APCModel(hyper="eb", n_draws=400, random_state=0).fit(portfolio.cells()).result_  # every account
    plain = UnbiasedByDesign(**KW).fit(portfolio).result_
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        refit = UnbiasedByDesign(**KW, apc_refit="training").fit(portfolio, apc_result=on_all,
                                                                 apc_source="/fits/apc").result_
    assert not [w for w in seen if "REUSED APC FIT" in str(w.message)]  # the refit is not the leaky reuse
    with pytest.warns(UserWarning, match="REUSED APC FIT"):
        reused = UnbiasedByDesign(**KW).fit(portfolio, apc_result=on_all, apc_source="/fits/apc").result_
    return on_all, plain, refit, reused


@pytest.mark.slow  # four fits of a 3,000-account portfolio: ~25 s CPU
def test_refit_on_training_is_the_fit_made_without_a_given_one(fits):
    """With the default settings, refitting the given (all-accounts) fit on the estimation accounts gives exactly
    the APC fit the procedure makes itself: the held-out outcomes are out of F and H again."""
    on_all, plain, refit, reused = fits
    for part in ("lifecycle", "environment"):
        np.testing.assert_allclose(getattr(refit.offsets, part), getattr(plain.offsets, part), rtol=0, atol=1e-12)
    assert refit.calibrating_constant == pytest.approx(plain.calibrating_constant, abs=1e-12)
    assert reused.apc_result is on_all and refit.apc_result is not on_all
    # the leaky reuse moves the numbers (held-out outcomes in F and H)
    assert abs(reused.calibrating_constant - plain.calibrating_constant) > 1e-6


@pytest.mark.slow
def test_what_was_done_is_recorded(fits):
    _, plain, refit, reused = fits
    d = {name: r.settings["design"] for name, r in (("plain", plain), ("refit", refit), ("reused", reused))}
    assert d["plain"]["apc"] == "fitted on the estimation accounts only" and d["plain"]["apc_source"] is None
    assert d["refit"]["apc_refit"] == "training" and d["refit"]["apc"].startswith("given, refitted on the estimation")
    assert d["reused"]["apc_refit"] == "none" and d["reused"]["apc"].startswith("given: reused as it is")
    assert refit.settings["apc_source"] == reused.settings["apc_source"] == "/fits/apc"
    assert "(source: /fits/apc)" in str(reused.summary())


def test_apc_refit_is_checked():
    with pytest.raises(ValueError, match="apc_refit='all'"):
        UnbiasedByDesign(**KW, apc_refit="all")._check(
            load_portfolio(generate_portfolio(SynthConfig(n_accounts=300, seed=0)).loans))
