"""Model comparison (DIC, WAIC) and the pointwise log-likelihood in blocks of draws (issue 19).

The fast path (one pass over blocks of draws, WAIC without ArviZ, cached on the result)
must give the numbers of the former implementation, kept here verbatim (deviance over the
full draws x cells matrix, ``az.waic`` on the InferenceData): relative tolerance 1e-10
(the sums run in another order).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, gammaln

from apcfair.apc import APCModel
from apcfair.apc import results as results_module


def _old_deviance(d, n, eta, likelihood):
    with np.errstate(divide="ignore", invalid="ignore"):
        if likelihood == "binomial":
            mu = n * expit(eta)
            t1 = np.where(d > 0, d * np.log(d / mu), 0.0)
            t2 = np.where(n - d > 0, (n - d) * np.log((n - d) / (n - mu)), 0.0)
            return float(2 * np.sum(t1 + t2))
        mu = n * np.exp(eta)
        t1 = np.where(d > 0, d * np.log(d / mu), 0.0)
        return float(2 * np.sum(t1 - (d - mu)))


def _old_pointwise(d, n, eta, likelihood):
    if likelihood == "binomial":
        const = gammaln(n + 1) - gammaln(d + 1) - gammaln(n - d + 1)
        return const + d * eta - n * np.logaddexp(0.0, eta)
    log_mu = eta + np.log(np.where(n > 0, n, 1.0))
    return d * log_mu - np.exp(log_mu) - gammaln(d + 1)


def _old_eta(res):
    pos = res._cell_positions()
    return (res.draws["intercept"][:, None] + res.draws["lifecycle"][:, pos["lifecycle"]]
            + res.draws["vintage"][:, pos["vintage"]] + res.draws["environment"][:, pos["environment"]])


def _old_model_comparison(res):
    """The implementation before issue 19 (commit a446fbe), with ArviZ's WAIC."""
    import arviz as az

    cells = res.cells
    d, n = cells["defaults"].to_numpy(float), cells["at_risk"].to_numpy(float)
    eta = _old_eta(res)
    lik = res.settings["likelihood"]
    d_mean = _old_deviance(d, n, eta.mean(axis=0), lik)
    d_bar = _old_deviance(d, n, eta, lik) / len(eta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        waic = az.waic(res.to_inference_data(), scale="deviance")
    p_d = d_bar - d_mean
    return {"deviance_at_mean": d_mean, "mean_deviance": d_bar, "pd": p_d, "dic": d_mean + 2 * p_d,
            "waic": float(waic.elpd_waic), "p_waic": float(waic.p_waic)}


def _cells(seed=0, n_vintage=30):
    rng = np.random.default_rng(seed)
    cells = pd.DataFrame([(v, a, v + a) for v in range(n_vintage) for a in range(1, n_vintage + 1 - v)],
                         columns=["vintage", "age", "period"])
    cells["at_risk"] = rng.integers(50, 3000, len(cells))
    rate = expit(-4.5 + 0.6 * np.exp(-((cells["age"] - 8.0) ** 2) / 30) + 0.2 * np.sin(cells["period"] / 5))
    cells["defaults"] = rng.binomial(cells["at_risk"], rate)
    return cells


@pytest.fixture(scope="module", params=["binomial", "poisson"])
def fit(request):
    return APCModel(n_draws=300, likelihood=request.param, random_state=0).fit(_cells(), freq="M").result_


def test_model_comparison_equals_the_former_implementation(fit, monkeypatch):
    old = _old_model_comparison(fit)
    # small blocks: several blocks of draws, the last one short
    monkeypatch.setattr(results_module, "_BLOCK_VALUES", 7 * len(fit.cells))
    assert len(fit._draw_blocks()) > 40
    new = fit._model_comparison(None)
    for key, value in old.items():
        assert new[key] == pytest.approx(value, rel=1e-10, abs=1e-10), key
    # the full matrix handed in: the same numbers
    again = fit._model_comparison(fit.pointwise_loglik())
    for key, value in old.items():
        assert again[key] == pytest.approx(value, rel=1e-10, abs=1e-10), key


def test_pointwise_loglik_and_eta_blocks_equal_the_full_matrix(fit, monkeypatch):
    cells = fit.cells
    d, n = cells["defaults"].to_numpy(float), cells["at_risk"].to_numpy(float)
    old = _old_pointwise(d, n, _old_eta(fit), fit.settings["likelihood"])
    monkeypatch.setattr(results_module, "_BLOCK_VALUES", 11 * len(cells))
    np.testing.assert_allclose(fit.pointwise_loglik(), old, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fit.eta_draws(), _old_eta(fit))
    np.testing.assert_array_equal(fit.eta_draws(5, 17), _old_eta(fit)[5:17])
    idata = fit.to_inference_data()
    np.testing.assert_allclose(idata.log_likelihood["y"].values[0], old, rtol=1e-12, atol=1e-12)


def test_model_comparison_is_computed_once_and_returned_as_a_copy(fit, monkeypatch):
    res = APCModel(n_draws=100, random_state=1).fit(_cells(1), freq="M").result_
    first = res.model_comparison()
    first["waic"] = None  # the caller's copy
    calls = []
    monkeypatch.setattr(type(res), "_model_comparison", lambda self, pointwise: calls.append(1))
    assert res.model_comparison()["waic"] is not None and not calls
    assert res.to_json_dict()["model_comparison"] == res.model_comparison()


def test_to_json_dict_without_fit_statistics_keeps_the_function_keys(fit):
    full = fit.to_json_dict()
    light = fit.to_json_dict(fit_statistics=False)
    assert set(full) - set(light) == {"model_comparison", "drift"}
    assert {k: full[k] for k in light} == light


@pytest.mark.parametrize("likelihood", ["binomial", "poisson"])
def test_fitted_cell_rates_in_blocks_equal_the_full_matrix(likelihood, monkeypatch):
    """build_result's cell rates and bands, block by block of cells, equal the former
    computation over the whole draws x cells matrix exactly."""
    monkeypatch.setattr(results_module, "_BLOCK_VALUES", 300 * 13)  # 13 cells a block, the last short
    res = APCModel(n_draws=500, likelihood=likelihood, random_state=2).fit(_cells(2), freq="M").result_
    inverse_link = expit if likelihood == "binomial" else np.exp
    eta = _old_eta(res)
    alpha = (1 - res.credible_level) / 2
    np.testing.assert_array_equal(res.cells["fitted_rate"], inverse_link(eta).mean(axis=0))
    np.testing.assert_array_equal(res.cells["fitted_lower"], inverse_link(np.quantile(eta[:400], alpha, axis=0)))
    np.testing.assert_array_equal(res.cells["fitted_upper"],
                                  inverse_link(np.quantile(eta[:400], 1 - alpha, axis=0)))
