"""Shared small portfolios for the data_synth tests (module names are prefixed test_synth_)."""

from __future__ import annotations

import pytest

from data_synth import SynthConfig, generate_portfolio


@pytest.fixture(scope="session")
def small_default():
    """The default shape (2005-01..2019-12, all knobs at defaults) with 20,000 accounts."""
    return generate_portfolio(SynthConfig(n_accounts=20_000, seed=0))


@pytest.fixture(scope="session")
def pure_apc():
    """Pure APC data (s_i = 0) on a short window with a high intercept, for brute-force checks."""
    cfg = SynthConfig(n_accounts=8_000, seed=11, start="2007-01", end="2011-12",
                      credit_effect_scale=0.0, mu=-4.0)
    return generate_portfolio(cfg)

