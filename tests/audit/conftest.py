"""Fixtures for the audit tests: a seed-000-style synthetic lending dataset (numpy only)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest


def make_lending(n: int = 5000, seed: int = 42) -> pd.DataFrame:
    """Seed 000's data-generating process, with defaults drawn as Bernoulli(sigmoid(logit)).

    Group 1 (30%) has lower income, credit score and employment years; the model never sees
    the group, only these proxies.
    """
    rng = np.random.default_rng(seed)
    g = (rng.random(n) < 0.3).astype(int)
    income = np.clip(np.where(g == 0, rng.normal(75000, 25000, n), rng.normal(55000, 20000, n)), 20000, 200000)
    credit = np.clip(np.where(g == 0, rng.normal(700, 60, n), rng.normal(660, 70, n)), 300, 850)
    emp = np.clip(np.where(g == 0, rng.normal(12, 6, n), rng.normal(8, 5, n)), 0, 40)
    dti = np.clip(rng.normal(0.35, 0.15, n), 0, 1)
    loan = np.clip(rng.normal(150000, 80000, n), 5000, 500000)
    lines = np.clip(rng.poisson(5.0, n), 1, 20)
    late = np.clip(rng.poisson(1.5, n), 0, 10)
    logit = (-0.00003 * income - 0.005 * credit + 2.0 * dti - 0.05 * emp + 0.000002 * loan + 0.2 * late + 3.0
             + 0.5 * rng.normal(size=n))
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({
        "income": income, "dti": dti, "credit_score": credit, "employment_years": emp, "loan_amount": loan,
        "credit_lines": lines, "late_payments": late,
        "group": np.where(g == 1, "protected", "reference"),
        "age_band": rng.choice(["18-25", "26-40", "41-60", "61+"], n, p=[0.15, 0.4, 0.35, 0.1]),
        "vintage": rng.choice([2019, 2020, 2021], n),
        "default": y,
    })


FEATURES = ["income", "dti", "credit_score", "employment_years", "loan_amount", "credit_lines", "late_payments"]


@pytest.fixture(scope="session")
def scored():
    """Train a logistic PD model on 4,000 rows; return validation (4,000) and test (4,000) frames with ``pd``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = make_lending(12000, seed=7)
    train, val, test = df.iloc[:4000], df.iloc[4000:8000].reset_index(drop=True), df.iloc[8000:].reset_index(drop=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(train[FEATURES], train["default"])
    val = val.assign(pd=model.predict_proba(val[FEATURES])[:, 1])
    test = test.assign(pd=model.predict_proba(test[FEATURES])[:, 1])
    return {"model": model, "val": val, "test": test, "cutoff": 0.3, "features": FEATURES}


@pytest.fixture()
def small():
    """A small random dataset for validation tests."""
    rng = np.random.default_rng(0)
    n = 400
    return {"score": rng.random(n), "y": rng.integers(0, 2, n), "g": rng.choice(["a", "b", "c"], n)}
