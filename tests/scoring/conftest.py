"""Simulated loan portfolios with known offsets and coefficients for the scoring tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from apcfair.scoring import OffsetTable

START = 2015 * 12  # 2015-01


def true_offset(horizon: int = 48, n_periods: int = 96) -> OffsetTable:
    """A lifecycle peaking around month 18 and a seasonal, declining environment."""
    age = np.arange(1, horizon + 1)
    life = -6.0 + 1.2 * np.exp(-((age - 18) / 14.0) ** 2) + 0.8 * (age == 1)
    per = np.arange(n_periods)
    env = 0.3 * np.sin(per / 5.0) - 0.004 * per
    return OffsetTable(1, life, START + 1, env)


def simulate_loans(n: int, seed: int, *, n_vintages: int = 24, horizon: int = 36,
                   offset: OffsetTable | None = None, beta_g=(0.0, 0.6, -0.5),
                   beta_x: float = 0.8, x_na_rate: float = 0.1, closure: float = 0.01,
                   extra=None, end=None):
    """Loan-level accounts whose monthly default log-odds is offset + b0 + g + x effects.

    Returns the loans frame (Portfolio.loans layout) and the true per-account score.
    """
    rng = np.random.default_rng(seed)
    offset = offset or true_offset()
    v = START + rng.integers(0, n_vintages, n)
    g = rng.choice(np.array(["a", "b", "c"]), size=n, p=[0.5, 0.3, 0.2])
    x = rng.normal(size=n)
    x_obs = np.where(rng.random(n) < x_na_rate, np.nan, x)
    k = rng.integers(0, 4, n)
    s = -0.2 + np.select([g == "a", g == "b"], [beta_g[0], beta_g[1]], beta_g[2])
    s = s + beta_x * np.where(np.isnan(x_obs), 0.3, (x_obs > 0).astype(float))
    if extra is not None:
        s = s + extra
    end = end or START + n_vintages + horizon - 6
    last = np.full(n, -1)
    dflt = np.zeros(n, dtype=int)
    alive = np.ones(n, dtype=bool)
    for a in range(1, horizon + 1):
        t = v + a
        at_risk = alive & (t <= end)
        p = expit(offset(np.full(n, a), t) + s)
        dd = at_risk & (rng.random(n) < p)
        cl = at_risk & ~dd & (rng.random(n) < closure)
        last[at_risk] = t[at_risk]
        dflt[dd] = 1
        alive &= ~(dd | cl) & at_risk
    loans = pd.DataFrame({
        "account_id": np.arange(n) + 1000,
        "vintage": v.astype(np.int64),
        "first_month": (v + 1).astype(np.int64),
        "last_month": last.astype(np.int64),
        "default": dflt,
        "g": g,
        "x": x_obs,
        "k": k,
    })
    return loans, s


@pytest.fixture(scope="session")
def sim_small():
    """About 3,000 accounts, about 60,000 account-months."""
    loans, s = simulate_loans(3000, seed=11, closure=0.03)
    return loans, s, true_offset()


@pytest.fixture(scope="session")
def sim_large():
    """About 40,000 accounts for recovery and boosting tests."""
    loans, s = simulate_loans(40_000, seed=5)
    return loans, s, true_offset()
