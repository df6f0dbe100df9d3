"""Unequal widths: age groups ``M`` periods wide (bamp's ``periods_per_agegroup``).

Reference for the cohort index: bamp's ``coh()`` (R/coh.R, bamp 2.1.3 on CRAN) is
``cohort <- (noa - agegroup) * periods_per_agegroup + period`` with 1-based indices; its
documented examples give ``coh(10, 1, 10, 5) == 1`` (oldest age group, first period: first
cohort) and ``coh(1, 8, 10, 5) == 53`` (youngest age group, last period: last cohort), so a
full 10 x 8 table with M = 5 has 5 * (10 - 1) + 8 = 53 cohorts. R and bamp are not installed
here (bamp is on CRAN, not in Debian); the formula and its examples were taken from bamp's
source and documentation and are checked below cell by cell.

Truth for the recovery test: Poisson counts simulated from smooth age, period and cohort
effects (not random walks, so the truth does not share the model's prior), on bamp's index.
"""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from apcfair.apc import APCModel
from apcfair.apc._submodels import design, fit_glm
from apcfair.apc.basis import split_linear
from apcfair.apc.identification import allocate_trend
from apcfair.portfolio import read_cell_table


def bamp_coh(agegroup, period, noa, periods_per_agegroup):
    """bamp's coh(): the cohort index of 1-based age group and period."""
    return (noa - agegroup) * periods_per_agegroup + period


def simulate(n_age=10, n_period=25, per_age=5, seed=0, exposure=2e5):
    """Poisson table (5-year ages from 40, 1-year periods from 1990) and the true effects."""
    rng = np.random.default_rng(seed)
    n_cohort = per_age * (n_age - 1) + n_period
    a, p, c = np.arange(n_age), np.arange(n_period), np.arange(n_cohort)
    truth = {"lifecycle": -9 + 0.35 * a - 0.01 * a**2 + 0.4 * np.sin(a / 1.5),
             "environment": 0.15 * np.sin(p / 4),
             "vintage": 0.3 * np.cos(c / 9) + 0.005 * c}
    rows = []
    for i in range(n_age):
        for j in range(n_period):
            k = bamp_coh(i + 1, j + 1, n_age, per_age) - 1
            rate = np.exp(truth["lifecycle"][i] + truth["environment"][j] + truth["vintage"][k])
            rows.append((40 + per_age * i, 1990 + j, rng.poisson(rate * exposure), exposure))
    return pd.DataFrame(rows, columns=["age", "period", "events", "exposure"]), truth


def test_cohort_index_and_count_follow_bamp():
    assert bamp_coh(10, 1, 10, 5) == 1 and bamp_coh(1, 8, 10, 5) == 53  # bamp's documented examples
    df, _ = simulate(n_age=10, n_period=8)
    ct = read_cell_table(df)
    assert ct.periods_per_age == 5 and ct.age_width == 5 and ct.width == 1
    t = ct.table
    i = t["age"].to_numpy() - t["age"].min() + 1  # 1-based age group
    j = t["period"].to_numpy() - t["period"].min() + 1
    k = t["vintage"].to_numpy() - t["vintage"].min() + 1
    np.testing.assert_array_equal(k, bamp_coh(i, j, 10, 5))
    assert t["vintage"].nunique() == 53
    # cohort label = period - age (left ends, table units), one year apart
    np.testing.assert_array_equal(t["cohort_label"], t["period_label"] - t["age_label"])
    assert sorted(ct.labels("vintage", np.unique(t["vintage"]))) == list(range(1990 - 85, 1997 - 40 + 1))
    assert any("periods_per_agegroup" in note for note in ct.notes)
    # explicit widths give the same table
    same = read_cell_table(df, age_width=5, period_width=1)
    pd.testing.assert_frame_equal(same.table, t)


def test_periods_fewer_than_periods_per_age_group_are_refused():
    df, _ = simulate(n_age=4, n_period=3)
    with pytest.raises(Exception, match="cohort grid would have gaps"):
        read_cell_table(df)


@pytest.fixture(scope="module")
def table_and_truth():
    df, truth = simulate(seed=1)
    return read_cell_table(df), truth


def test_laplace_fit_has_bamp_cohort_count_and_labels(table_and_truth):
    ct, _ = table_and_truth
    res = APCModel(n_draws=200, random_state=0).fit(ct).result_
    n_cohort = 5 * (10 - 1) + 25
    assert res.draws["vintage"].shape == (200, n_cohort) and len(res.lifecycle) == 10 and len(res.environment) == 25
    assert res.vintage["index"].tolist() == list(range(1990 - 85, 2014 - 40 + 1))  # period - age, step 1
    assert res.lifecycle["index"].tolist() == list(range(40, 90, 5))
    uw = res.diagnostics["unequal_widths"]
    assert uw["periods_per_age_group"] == 5 and uw["n_cohorts"] == n_cohort
    assert "5 periods per age group" in res.summary()
    payload = res.to_json_dict()
    assert [r["index"] for r in payload["vintage"]][:2] == [1905, 1906]
    assert payload["settings"]["age_step"] == 5
    idata = res.to_inference_data()
    assert idata.posterior["G"].sizes["cohort"] == n_cohort


@pytest.mark.parametrize("rw_order", [2, 1])
def test_laplace_recovers_smooth_truth_on_unequal_widths(table_and_truth, rw_order):
    """Detrended (identified) shapes against the truth: correlation and RMSE per function.

    Measured (seed 1, 31,809 events on average per seed): correlations >= 0.998 (age), >= 0.994
    (cohort), >= 0.958 (period) with RW2 or RW1; tolerances leave room for other seeds.
    """
    ct, truth = table_and_truth
    res = APCModel(n_draws=400, random_state=0, rw_order=rw_order).fit(ct).result_
    limits = {"lifecycle": (0.98, 0.05), "vintage": (0.97, 0.05), "environment": (0.9, 0.03)}
    for name, (min_corr, max_rmse) in limits.items():
        _, _, est = split_linear(res.draws[name].mean(axis=0))
        _, _, true = split_linear(truth[name])
        assert np.corrcoef(est, true)[0, 1] > min_corr, name
        assert np.sqrt(np.mean((est - true) ** 2)) < max_rmse, name
    # second differences: identified, and inside their bands for most points
    for name in ("vintage", "environment"):
        d2 = res.second_differences(name)
        inside = (d2["lower"] <= np.diff(truth[name], 2)) & (np.diff(truth[name], 2) <= d2["upper"])
        assert inside.mean() > 0.8, name


def test_trend_allocation_keeps_rates_with_unequal_widths(table_and_truth):
    ct, _ = table_and_truth
    fits = {ident: APCModel(n_draws=100, random_state=0, identification=ident).fit(ct).result_
            for ident in ("no_period_trend", "no_vintage_trend")}
    np.testing.assert_allclose(fits["no_vintage_trend"].eta_draws(), fits["no_period_trend"].eta_draws(),
                               rtol=0, atol=1e-9)
    _, slope_g, _ = split_linear(fits["no_vintage_trend"].draws["vintage"])
    np.testing.assert_allclose(slope_g, 0, atol=1e-10)
    # the age function moves by M = 5 times the slope per period
    rng = np.random.default_rng(0)
    funcs = {"intercept": np.zeros(1), "lifecycle": rng.normal(size=(1, 4)), "vintage": rng.normal(size=(1, 3 * 5 + 6)),
             "environment": rng.normal(size=(1, 6))}
    moved = allocate_trend(funcs, np.array([0.3]), grid_offset=-15, age_step=5)  # t = 5 a + v - 15

    def eta(f, a, v):
        return f["intercept"][0] + f["lifecycle"][0, a] + f["vintage"][0, v] + f["environment"][0, 5 * a + v - 15]

    assert np.isclose(eta(moved, 3, 2), eta(funcs, 3, 2)) and np.isclose(eta(moved, 0, 20), eta(funcs, 0, 20))


def test_ml_on_unequal_widths_is_the_factor_model(table_and_truth):
    ct, _ = table_and_truth
    res = APCModel(engine="ml", n_draws=100, random_state=0).fit(ct).result_
    cells = res.cells
    # the engine's MLE is the factor APC GLM's (rank-deficient design, least squares on the null space)
    table = res.deviance_table().set_index("model")
    assert res.diagnostics["deviance"] == pytest.approx(table.loc["APC", "deviance"], abs=1e-6)
    n_age, n_period, n_cohort = 10, 25, 70
    # rank: 1 + 9 + 24 + 69 factor columns, minus the linear and the M - 1 = 4 periodic dependences
    assert res.diagnostics["df_residual"] == len(cells) - (1 + (n_age - 1) + (n_period - 1) + (n_cohort - 1) - 1 - 4)
    assert table.loc["APC", "df"] == res.diagnostics["df_residual"]
    assert (cells["fitted_rate"] * cells["at_risk"]).sum() == pytest.approx(cells["defaults"].sum(), rel=1e-9)
    # H carries no pattern repeating every 5 periods (the ML constraint stated in the result)
    h = res.draws["environment"].mean(axis=0)
    phase = np.arange(n_period) % 5
    x = np.column_stack([np.ones(n_period), np.arange(n_period), phase[:, None] == np.arange(1, 5)])
    coef = np.linalg.lstsq(x, h, rcond=None)[0]
    assert np.abs(coef[2:]).max() < 1e-8
    assert "cannot separate" in res.diagnostics["unequal_widths"]["note"]
    _, eta, _ = fit_glm(design(_cell_data(ct), ("age", "period", "cohort")),
                        cells["defaults"].to_numpy(float), cells["at_risk"].to_numpy(float), "poisson")
    np.testing.assert_allclose(cells["fitted_rate"], np.exp(eta), rtol=1e-6)


def _cell_data(ct):
    from apcfair.apc._design import cell_data_from_table

    return cell_data_from_table(ct.table, "cells", age_step=ct.periods_per_age)


@pytest.mark.slow
def test_cli_age_and_period_widths(tmp_path):
    df, _ = simulate(n_age=6, n_period=12, seed=2)
    src = tmp_path / "cells.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "apc"
    args = [sys.executable, "-m", "apcfair.cli", "apc", "--cells", str(src), "--age-width", "5", "--period-width", "1",
            "--draws", "100", "--out", str(out)]
    run = subprocess.run(args, capture_output=True, text=True, env={"MPLBACKEND": "Agg", **__import__("os").environ})
    assert run.returncode == 0, run.stderr
    payload = json.loads((out / "apc.json").read_text())
    assert len(payload["vintage"]) == 5 * (6 - 1) + 12
    assert payload["vintage"][0]["index"] == 1990 - 65 and payload["lifecycle"][1]["index"] == 45
    assert payload["settings"]["cell_table"]["widths"] == {"lifecycle": 5, "vintage": 1, "environment": 1}
