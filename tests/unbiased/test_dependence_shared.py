"""Shared work across attributes and models in the dependence measures (issue 19): equal to
the separate calls (the bootstrap exactly, the AUC to 1e-12)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

dep = importlib.import_module("apcfair.unbiased.dependence")


@pytest.fixture
def sample():
    rng = np.random.default_rng(5)
    n = 1500
    g = rng.binomial(1, 0.3, n)
    base = 0.05 + 0.02 * g + rng.uniform(0, 0.05, n)
    forecasts = {"zero": base - 0.015 * g, "other": base + rng.normal(0, 0.01, n), "credit": base}
    age = np.round(rng.uniform(18, 80, n)).astype(float)
    age_missing = age.copy()
    age_missing[rng.choice(n, 50, replace=False)] = np.nan
    attributes = {"g": g, "age": age, "age_missing": age_missing,
                  "region": rng.choice(["north", "south", "east"], n)}
    return forecasts, attributes


def test_corr_changes_by_attribute_equals_one_call_per_attribute(sample):
    forecasts, attributes = sample
    shared = dep.corr_changes_by_attribute(forecasts, "credit", attributes, n_boot=60, random_state=3)
    for attr, values in attributes.items():
        assert shared[attr] == dep.corr_changes(forecasts, "credit", values, n_boot=60, random_state=3), attr


def test_binary_auc_equals_scikit_learn(sample):
    forecasts, attributes = sample
    g = attributes["g"]
    for f in (*forecasts.values(), np.round(forecasts["credit"], 2)):  # with ties
        assert dep._auc_binary(g, f) == pytest.approx(roc_auc_score(g, f), abs=1e-12)
