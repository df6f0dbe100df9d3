"""Synthetic credit-card portfolios with known age-period-cohort truth.

Imports nothing from ``apcfair``. Typical use::

    from data_synth import SynthConfig, generate_portfolio, write_portfolio

    sp = generate_portfolio(SynthConfig(n_accounts=20_000, seed=1))
    sp.loans            # one row per account (the loan-level data contract)
    sp.truth            # JSON-ready truth: mu, F, G, H, betas, coefficients, config
    sp.account_truth    # true score s_i and 36-month PD per account
    sp.macro_history    # drivers of H over the performance months
    sp.scenarios        # baseline / adverse / severely_adverse drivers after the window
    sp.panel()          # account-month panel (small portfolios)

See :mod:`data_synth.generate` for the model and its identification conventions.
"""

from data_synth.config import SynthConfig
from data_synth.generate import SynthPortfolio, __version__, generate_portfolio, write_portfolio

__all__ = ["SynthConfig", "SynthPortfolio", "generate_portfolio", "write_portfolio", "__version__"]
