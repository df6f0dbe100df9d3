"""The attrition APC model (issue 12 §2): fitted on the cells' non-default exits.

Truth that does not share the model's assumptions: accounts simulated one by one with a
heterogeneous default hazard and a payoff hazard that is *multiplicative* (log-linear) in
an age curve and a rate-driven calendar cycle, not the APC logit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from apcfair import load_portfolio
from apcfair.apc import APCModel
from apcfair.apc.attrition import (
    attrition_cells,
    attrition_count,
    attrition_json,
    attrition_offsets,
    fit_attrition,
)
from apcfair.apc.basis import split_linear
from apcfair.errors import DataValidationError

START = pd.Period("2010-01", "M")


def payoff_age(a):
    return np.log(0.6 + 0.8 * np.exp(-np.asarray(a, float) / 18.0))


def payoff_env(t):
    return 0.4 * np.sin(2 * np.pi * np.asarray(t, float) / 30.0 + 1.0)


def simulate(seed=0, n=40_000, months=96):
    """Loans with default and payoff as competing exits; month ``t = 1..months`` after START."""
    rng = np.random.default_rng(seed)
    vintage = np.sort(rng.integers(0, months - 1, n))
    score = rng.normal(0, 0.8, n)
    exit_t = np.full(n, months)
    default = np.zeros(n, np.int8)
    alive = np.zeros(n, bool)
    for t in range(1, months + 1):
        alive |= vintage == t - 1
        idx = np.flatnonzero(alive)
        a = t - vintage[idx]
        p = 1 / (1 + np.exp(-(-5.0 + 0.8 * np.exp(-(a - 12.0) ** 2 / 200) + 0.3 * np.sin(2 * np.pi * t / 40)
                              + score[idx])))
        q = 0.02 * np.exp(payoff_age(a) + payoff_env(t))
        u = rng.random(len(idx))
        dft, gone = u < p, u < p + (1 - p) * q
        exit_t[idx[gone]] = t
        default[idx[dft]] = 1
        alive[idx[gone]] = False
    fmt = np.vectorize(lambda k: str(START + int(k)))
    return pd.DataFrame({"account_id": np.arange(n), "origination": fmt(vintage), "last_month": fmt(exit_t),
                         "default": default})


@pytest.fixture(scope="module")
def fitted():
    portfolio = load_portfolio(simulate())
    cells = portfolio.cells()
    model = APCModel(n_draws=200, random_state=0)
    # payoff inferred from last_month: the last month's exits look like censoring, so the
    # last period is left out; expected, so recorded as a note (no warning)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        res = fit_attrition(model, cells)
    assert res.labels["environment"][-1] == cells.table["period"].max() - 1
    assert "last period has no non-default exits" in res.diagnostics["notes"][0]
    return cells, model, res


def test_a_last_period_without_recorded_exits_is_warned():
    """Recorded exits (an exit column) should reach the last period: its absence is warned."""
    loans = simulate(n=3000, months=36)
    end = loans["last_month"].max()
    loans["exit"] = np.where((loans["default"] == 0) & (loans["last_month"] < end), "payoff", "")
    recorded = load_portfolio(loans).cells()
    with pytest.warns(UserWarning, match="last period has no non-default exits"):
        left = attrition_cells(recorded)
    assert left.table["period"].max() == recorded.table["period"].max() - 1
    # a bare table: its lineage cannot say the exits were inferred, so it is warned too
    with pytest.warns(UserWarning, match="last period has no non-default exits"):
        attrition_cells(recorded.table)
    # inferred exits (no exit column): the same cells left out, no warning
    inferred = load_portfolio(loans.drop(columns="exit")).cells()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert len(attrition_cells(inferred).table) == len(left.table)


def _detrended_corr(result, name, truth_fn):
    grid = np.asarray(result.labels[name])
    # period codes (year * 12 + month - 1) -> months after START
    labels = grid - (START.year * 12 + START.month - 1) if name == "environment" else grid
    _, _, est = split_linear(result.draws[name].mean(axis=0)[None, :])
    _, _, true = split_linear(truth_fn(labels)[None, :])
    return float(np.corrcoef(est[0], true[0])[0, 1])


def test_recovers_attrition_lifecycle_and_environment(fitted):
    cells, model, res = fitted
    assert int(res.cells["defaults"].sum()) == attrition_count(cells) > 5_000
    life = _detrended_corr(res, "lifecycle", payoff_age)
    env = _detrended_corr(res, "environment", payoff_env)
    # measured (seed 0, 40,000 accounts, ~24,000 payoffs): lifecycle 0.98, environment 0.98
    assert life >= 0.9, life
    assert env >= 0.75, env
    # the model given is not changed (fitted on a copy): the default fit is separate
    with pytest.raises(Exception, match="fit"):
        _ = model.result_


def test_attrition_json_has_the_default_record_layout(fitted):
    cells, model, res = fitted
    block = attrition_json(res)
    for name in ("lifecycle", "vintage", "environment"):
        assert block[name] and set(block[name][0]) == {"index", "mean", "lower", "upper"}
        assert len(block[name]) == len(res.labels[name])
    assert block["events"]["non_default_exits"] == attrition_count(cells)
    assert "non-default" in block["definition"] or "other than default" in block["definition"]
    assert "left out of the attrition fit" in block["note"]


def test_attrition_offsets_give_the_cell_hazard(fitted):
    cells, _, res = fitted
    q = attrition_offsets(res, max_age=120, last_period=int(res.labels["environment"][-1]) + 24)
    tab = res.cells
    eta = q(tab["age"].to_numpy(), tab["period"].to_numpy())
    rate = 1 / (1 + np.exp(-eta))
    # posterior-mean logits vs the fitted cell rates (posterior mean of expit): close
    assert np.corrcoef(rate, tab["fitted"] if "fitted" in tab else res.predict_cells(tab).mean(axis=0))[0, 1] > 0.99
    observed = tab["defaults"].sum() / tab["at_risk"].sum()
    expected = (rate * tab["at_risk"]).sum() / tab["at_risk"].sum()
    assert expected == pytest.approx(observed, rel=0.03)
    # beyond the data: finite, held
    far = q(np.array([200]), np.array([int(res.labels["environment"][-1]) + 24]))
    assert np.isfinite(far).all()


def test_no_attrition_is_refused_not_fitted_to_zeros():
    rng = np.random.default_rng(0)
    cells = pd.DataFrame([(v, a, v + a) for v in range(24) for a in range(1, 25 - v)],
                         columns=["vintage", "age", "period"])
    cells["at_risk"] = 500
    cells["defaults"] = rng.binomial(500, 0.01, size=len(cells))
    with pytest.raises(DataValidationError, match="no attrition"):
        fit_attrition(APCModel(n_draws=50), cells.assign(attrition=0), freq="M")
    with pytest.raises(DataValidationError, match="no 'attrition' column"):
        attrition_cells(cells)
    assert attrition_count(cells) is None
    with pytest.raises(DataValidationError, match="more exits"):
        attrition_cells(cells.assign(attrition=500))


def test_attrition_environment_tied_to_a_rate_driver_through_the_macro_model(fitted):
    """Rates drive prepayment: the existing MacroModel regresses H_q on a driver as it does H."""
    from apcfair.forecast import MacroModel

    _, _, res = fitted
    months = np.arange(1, 97)
    history = pd.DataFrame({"month": [str(START + int(t)) for t in months],
                            "rate": np.sin(2 * np.pi * months / 30.0 + 1.0)})
    macro = MacroModel(drivers=["rate:+"], seasonality=False, random_state=0).fit(res, history).result_
    row = macro.coefficients.set_index("term").loc["rate"]
    # truth: H_q = 0.4 * rate on the log-hazard scale (logit ~ log at 2% a month); measured 0.424 (SE 0.019)
    assert row["estimate"] == pytest.approx(0.4, abs=0.06), row
