"""Fixtures for the forecast tests: a synthetic portfolio with macro-driven truth, fake APC results."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from apcfair.apc import APCModel, APCResult
from apcfair.portfolio import Portfolio, format_period

DRIVERS = ["unemployment_change", "gdp_growth"]
START = 2005 * 12 + 1  # 2005-02


def fake_apc(H: np.ndarray, periods: np.ndarray, *, identification: str = "no_period_trend",
             credible_level: float = 0.95, freq: str = "M") -> APCResult:
    """An APCResult carrying only environment draws (enough for MacroModel)."""
    S = H.shape[0]
    return APCResult(
        draws={"intercept": np.full(S, -6.0), "lifecycle": np.zeros((S, 5)), "vintage": np.zeros((S, 5)),
               "environment": H},
        labels={"lifecycle": np.arange(1, 6), "vintage": periods[:5] - 1, "environment": periods},
        cells=pd.DataFrame(),
        settings={"likelihood": "binomial", "rw_orders": [2, 2, 2], "engine": "laplace",
                  "credible_level": credible_level, "freq": freq, "grid_offset": 0},
        identification={"assumption": identification, "period_slope": None, "text": "test"},
        diagnostics={},
    )


def simulate_environment(seed: int = 0, n: int = 180, S: int = 200, beta=(0.25, -0.05),
                         resid_sd: float = 0.03, draw_sd: float = 0.03, trend: float = 0.0):
    """Drivers with their own trends and cycles; H = beta . x + seasonal + AR(1), detrended.

    Returns (apc_result, history DataFrame, beta dict, line) where H's least-squares line
    over the window is removed (as the APC's no_period_trend does) unless ``trend`` adds
    one back.
    """
    rng = np.random.default_rng(seed)
    codes = np.arange(START, START + n)
    tt = np.arange(n)
    x1 = 1.5 * np.sin(2 * np.pi * tt / 96) + 0.01 * tt + rng.normal(0, 0.3, n)
    x2 = 2.0 + 2.0 * np.cos(2 * np.pi * tt / 70) - 0.01 * tt + rng.normal(0, 0.5, n)
    seas = 0.05 * np.cos(2 * np.pi * (codes % 12) / 12)
    u = np.zeros(n)
    for i in range(1, n):
        u[i] = 0.6 * u[i - 1] + rng.normal(0, resid_sd)
    h = beta[0] * x1 + beta[1] * x2 + seas + u
    coef = np.polyfit(tt, h, 1)
    h = h - np.polyval(coef, tt) + trend * (tt - tt.mean())
    H = h[None, :] + rng.normal(0, draw_sd, (S, n))
    hist = pd.DataFrame({"month": format_period(codes), "x1": x1, "x2": x2})
    return fake_apc(H, codes), hist, {"x1": beta[0], "x2": beta[1]}


@pytest.fixture(scope="session")
def synth():
    """20,000 synthetic accounts 2005-01..2019-12 whose environment is driven by macro drivers."""
    from data_synth import SynthConfig, generate_portfolio

    sp = generate_portfolio(SynthConfig(n_accounts=20_000, seed=1))
    pf = Portfolio.from_loans(sp.loans)
    apc = APCModel(hyper="eb", n_draws=300, random_state=0).fit(pf.cells()).result_
    return SimpleNamespace(sp=sp, portfolio=pf, apc=apc)


@pytest.fixture(scope="session")
def synth_macro(synth):
    """Macro model on the synthetic portfolio and its projection of the three scenarios."""
    from apcfair.forecast import MacroModel

    mm = MacroModel(drivers=DRIVERS, random_state=0).fit(synth.apc, synth.sp.macro_history)
    proj = mm.project(synth.sp.scenarios, 36, random_state=1)
    return mm, proj
