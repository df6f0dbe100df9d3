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


def _old_delong_components(preds, y):
    """The former implementation (three ``rankdata`` calls per forecast), for comparison."""
    from scipy import stats

    pos, neg = preds[:, y == 1], preds[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    tz = np.apply_along_axis(stats.rankdata, 1, np.hstack([pos, neg]))
    tx = np.apply_along_axis(stats.rankdata, 1, pos)
    ty = np.apply_along_axis(stats.rankdata, 1, neg)
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v01, v10 = (tz[:, :m] - tx) / n, 1.0 - (tz[:, m:] - ty) / m
    return aucs, np.atleast_2d(np.cov(v01)) / m + np.atleast_2d(np.cov(v10)) / n


def test_delong_components_from_one_sort_equal_the_three_rankings(sample):
    forecasts, attributes = sample
    y = attributes["g"]
    preds = np.vstack([forecasts["zero"], np.round(forecasts["credit"], 2)])  # the second with ties
    aucs, cov = dep._delong_components(preds, y)
    old_aucs, old_cov = _old_delong_components(preds, y)
    np.testing.assert_array_equal(aucs, old_aucs)  # the ranks are equal exactly
    np.testing.assert_allclose(cov, old_cov, rtol=1e-12, atol=0)  # np.cov's sums may round differently
