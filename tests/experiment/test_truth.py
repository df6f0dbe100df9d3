"""The experiment against the generator's truth (real procedure runs; slow).

Tolerances. A term's across-seed mean bias is "within noise" when
``|mean bias| <= 3 * mean(SE) / sqrt(seeds) + 0.08``: three standard errors of the mean
plus 0.08 logit for the attenuation that the cell-level APC offset causes (frailty
selection: measured up to 0.06 on 20,000 accounts with no proxy; see the procedure's
``backfit``). Only the numeric design terms are tested (subcategory levels are rare and
noisy). A bias is "detected" when ``|mean bias| > 3 * mean(SE) / sqrt(seeds)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from apcfair.experiment import ExperimentGrid, run_experiment

pytestmark = pytest.mark.slow

NULL = {"protected_effect.minority": 0.0, "protected_effect.male": 0.0, "protected_effect.age_per_decade": 0.0}


def _bias(table, model):
    t = table[table["model"] == model]
    bias = t[t["metric"].str.startswith("coef_bias_")].groupby("metric")["value"].mean()
    se = t[t["metric"].str.startswith("coef_se_")].groupby("metric")["value"].mean()
    se.index = se.index.str.replace("coef_se_", "coef_bias_")
    numeric = [m for m in bias.index if "subcategory" not in m]
    seeds = t["seed"].nunique()
    return bias[numeric], se[numeric] * 3 / np.sqrt(seeds)


def test_null_world_costs_and_biases_within_noise(tmp_path):
    g = ExperimentGrid({"proxy_strength": [0.0]}, seeds=3, accounts=4000, fixed=NULL)
    table = run_experiment(g, tmp_path, progress=False)["table"]
    for model in ("credit", "credit_with_restricted_offset"):
        bias, noise = _bias(table, model)
        assert (bias.abs() <= noise + 0.08).all(), (model, bias, noise)
    cost = table[table["metric"] == "cost_traditional_vs_zero_out"]["value"]
    lo = table[table["metric"] == "cost_traditional_vs_zero_out_lower"]["value"].to_numpy()
    hi = table[table["metric"] == "cost_traditional_vs_zero_out_upper"]["value"].to_numpy()
    half = np.mean(hi - lo) / 2
    # no direct effect: zeroing a (nearly) empty restricted term costs nothing beyond noise
    assert abs(cost.mean()) <= half / np.sqrt(len(cost)) * 3 / 1.96 + 1e-3


def test_strong_proxies_traditional_and_restricted_offset_biased_in_opposite_directions(tmp_path):
    """Measured (5,000 accounts x 3 seeds): bureau_score_z bias -0.10 traditional, +0.16
    restricted-offset. The traditional model loads the minority effect onto the bureau
    score (more negative); the restricted model, fitted without credit inputs, absorbs the
    proxied credit effect, so the restricted-offset credit coefficient is attenuated. The
    issue's expectation (restricted-offset unbiased) does not hold. Paired on the same
    accounts, the difference is far outside noise."""
    g = ExperimentGrid({"proxy_strength": [1.0]}, seeds=3, accounts=5000,
                       fixed={"protected_effect.minority": 0.8})
    table = run_experiment(g, tmp_path, progress=False)["table"]
    bias, _ = _bias(table, "credit")
    bias_r, _ = _bias(table, "credit_with_restricted_offset")
    assert bias["coef_bias_bureau_score_z"] < 0 < bias_r["coef_bias_bureau_score_z"]
    assert bias_r["coef_bias_bureau_score_z"] - bias["coef_bias_bureau_score_z"] > 0.1
