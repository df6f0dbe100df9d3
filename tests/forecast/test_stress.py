"""Stress test: exact aggregation, scenario ordering, layout, invariance, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone

from apcfair import layout
from apcfair._summary import Summary
from apcfair.apc import APCModel
from apcfair.errors import NotFittedError
from apcfair.forecast import MacroModel, StressResult, StressTest, random_walk_projection
from tests.forecast.conftest import DRIVERS


@pytest.fixture(scope="module")
def stress(synth, synth_macro):
    _, proj = synth_macro
    return StressTest(horizon=36, random_state=0).fit(synth.portfolio, synth.apc, proj).result_


def _brute_force(portfolio, apc, proj, scores=None):
    """Per account, draw and month with loops over months: no attrition, existing book."""
    loans = portfolio.loans
    t_end = int(apc.labels["environment"][-1])
    book = loans[(loans["default"] == 0) & (loans["last_month"] == t_end)]
    v = book["vintage"].to_numpy()
    horizon = proj.horizon
    ages = t_end + np.arange(1, horizon + 1)[None, :] - v[:, None]
    F = apc.draws["lifecycle"][:, ages - apc.labels["lifecycle"][0]]  # (S, n, horizon)
    mu = apc.draws["intercept"]
    if scores is None:
        term = apc.draws["vintage"][:, v - apc.labels["vintage"][0]][:, :, None]
    else:  # scores sit on the invariant offsets mu' + F' + H' (G's linear trend moved into F + H)
        inv = apc.invariant_offset_draws()
        H_shift = inv["environment"] - apc.draws["environment"]  # linear in t: continue it
        step = H_shift[:, 1] - H_shift[:, 0]
        t = t_end + np.arange(1, horizon + 1) - apc.labels["environment"][0]
        F = inv["lifecycle"][:, ages - apc.labels["lifecycle"][0]]
        mu = inv["intercept"]
        term = (scores[book.index.to_numpy()][None, :, None]
                + (H_shift[:, :1] + step[:, None] * t[None, :])[:, None, :])
    name = proj.scenarios[0]
    p = expit(mu[:, None, None] + F + term + proj[name][:, None, :])
    alive = np.ones(p.shape[:2])
    exp_def, at_risk = np.zeros((p.shape[0], horizon)), np.zeros((p.shape[0], horizon))
    for h in range(horizon):
        exp_def[:, h] = (alive * p[:, :, h]).sum(axis=1)
        at_risk[:, h] = alive.sum(axis=1)
        alive = alive * (1 - p[:, :, h])
    cum = 1 - np.prod(1 - p, axis=2)  # (S, n)
    return book, exp_def, at_risk, cum


@pytest.mark.parametrize("with_scores", [False, True])
def test_grouped_computation_equals_brute_force(synth, with_scores):
    pf = synth.portfolio
    # accounts whose ages stay on the APC grid over the horizon (no extrapolation involved)
    pf = pf.subset(pf.loans["vintage"].to_numpy() >= 2006 * 12, "test", "early vintage")
    proj = random_walk_projection(synth.apc, 6, random_state=3)
    scores = None
    if with_scores:
        scores = np.array([-0.5, 0.0, 0.7])[pf.loans["account_id"].to_numpy() % 3] - 0.3
    res = StressTest(horizon=6, new_vintages=False, attrition="none", precision="float64").run(
        pf, synth.apc, proj, account_scores=scores)  # exact arithmetic checked in float64
    book, exp_def, at_risk, cum = _brute_force(pf, synth.apc, proj, scores)
    t = res.tables["random_walk"]
    np.testing.assert_allclose(t["expected_defaults"], exp_def.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(t["at_risk"], at_risk.mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(t["pd"], (exp_def / at_risk).mean(axis=0), rtol=1e-9)
    port = cum.mean(axis=1)
    assert res.cumulative["random_walk"]["cumulative_pd"] == pytest.approx(port.mean(), rel=1e-9)
    acc = res.account_pd.set_index("account_id").loc[book["account_id"], "cumulative_pd"]
    np.testing.assert_allclose(acc.to_numpy(), cum.mean(axis=0), rtol=1e-6)


def test_json_layout_and_bands(stress):
    d = json.loads(json.dumps(stress.to_json_dict()))
    assert list(d["scenarios"]) == ["baseline", "adverse", "severely_adverse"]
    for sc in d["scenarios"].values():
        for key in ("month", "pd", "pd_lower", "pd_upper", "expected_defaults"):
            assert len(sc[key]) == 36, key
        assert sc["month"][0] == "2020-01" and sc["month"][-1] == "2022-12"
        pdv, lo, hi = map(np.asarray, (sc["pd"], sc["pd_lower"], sc["pd_upper"]))
        assert np.all(lo <= pdv) and np.all(pdv <= hi) and np.all(pdv > 0)
        assert np.all(np.asarray(sc["pd_lower_50"]) >= lo) and np.all(np.asarray(sc["pd_upper_50"]) <= hi)
        assert 0 < sc["cumulative_pd_lower"] <= sc["cumulative_pd"] <= sc["cumulative_pd_upper"] < 1
    assert d["horizon"] == 36 and d["forecast_start"] == "2020-01"


def test_adverse_scenarios_give_higher_pd(stress):
    pd24 = {k: t["pd"].iloc[:24].mean() for k, t in stress.tables.items()}
    cum = {k: c["cumulative_pd"] for k, c in stress.cumulative.items()}
    assert pd24["baseline"] < pd24["adverse"] < pd24["severely_adverse"]
    assert cum["baseline"] < cum["adverse"] < cum["severely_adverse"]
    peak = {k: t["pd"].max() for k, t in stress.tables.items()}
    assert peak["severely_adverse"] > 1.5 * peak["baseline"]


def test_cumulative_pd_close_to_truth(synth, synth_macro):
    """Existing-book cumulative PD under each scenario vs the generator's true hazards."""
    _, proj = synth_macro
    res = StressTest(horizon=36).run(synth.portfolio, synth.apc, proj)
    tr, loans = synth.sp.truth, synth.portfolio.loans
    t_end = int(loans["last_month"].max())
    book = loans[(loans["default"] == 0) & (loans["last_month"] == t_end)]
    g = dict(zip(range(2005 * 12, 2005 * 12 + len(tr["vintage"]["value"])), tr["vintage"]["value"], strict=True))
    s = synth.sp.account_truth.set_index("account_id").loc[book["account_id"], "true_score"].to_numpy()
    F = np.asarray(tr["lifecycle"]["value"] + tr["lifecycle_beyond_window"]["value"])
    a = t_end + np.arange(1, 37)[None, :] - book["vintage"].to_numpy()[:, None]
    base = tr["mu"] + F[a - 1] + np.array([g[v] for v in book["vintage"]])[:, None] + s[:, None]
    for name, c in res.cumulative.items():
        H = np.asarray(tr["scenario_environment"][name]["value"][:36])
        true = np.mean(1 - np.prod(1 - expit(base + H[None, :]), axis=1))
        assert c["cumulative_pd_lower"] <= true <= c["cumulative_pd_upper"], (name, true, c)


def test_identification_does_not_change_the_forecast(synth):
    """Under either driver_trend (extend or hold the drivers' window lines), PD paths do not
    depend on the identification: H's own line, set by the identification, always extends."""
    out = {}
    for ident in ("no_period_trend", "no_vintage_trend"):
        apc = APCModel(hyper="eb", n_draws=100, random_state=1, identification=ident).fit(
            synth.portfolio.cells()).result_
        for trend in ("extend", "hold"):
            mm = MacroModel(drivers=DRIVERS, driver_trend=trend, random_state=0).fit(apc, synth.sp.macro_history)
            proj = mm.project(synth.sp.scenarios, 24, random_state=1)
            # float64: the invariance is exact; float32 holds it to ~1e-6 (test_stress_speed.py)
            out[ident, trend] = StressTest(horizon=24, precision="float64").run(synth.portfolio, apc, proj)
    for trend in ("extend", "hold"):
        a, b = out["no_period_trend", trend], out["no_vintage_trend", trend]
        for name in a.scenarios:
            np.testing.assert_allclose(a.tables[name]["pd"], b.tables[name]["pd"], rtol=1e-8)
            assert a.cumulative[name]["cumulative_pd"] == pytest.approx(b.cumulative[name]["cumulative_pd"],
                                                                        rel=1e-8)
    # the assumption matters: the synthetic drivers trend over the window
    ext, hold = out["no_period_trend", "extend"], out["no_period_trend", "hold"]
    assert ext.cumulative["baseline"]["cumulative_pd"] != pytest.approx(hold.cumulative["baseline"]["cumulative_pd"],
                                                                        rel=1e-3)


def test_book_dynamics_options(synth):
    proj = random_walk_projection(synth.apc, 12, random_state=0)
    closed = StressTest(horizon=12, new_vintages=False, attrition="none").run(synth.portfolio, synth.apc, proj)
    attr = StressTest(horizon=12, new_vintages=False).run(synth.portfolio, synth.apc, proj)
    grow = StressTest(horizon=12, new_volume=500).run(synth.portfolio, synth.apc, proj)
    n0 = closed.tables["random_walk"]["at_risk"]
    assert n0.iloc[0] == pytest.approx(attr.tables["random_walk"]["at_risk"].iloc[0])
    assert attr.tables["random_walk"]["at_risk"].iloc[-1] < n0.iloc[-1]
    assert grow.tables["random_walk"]["at_risk"].iloc[-1] > n0.iloc[-1] + 4000
    # the default scenario: random walk when no projection is given
    rw = StressTest(horizon=12).run(synth.portfolio, synth.apc)
    assert rw.scenarios == ["random_walk"]


def test_scores_as_series_and_errors(synth, synth_macro):
    _, proj = synth_macro
    pf = synth.portfolio
    s = pd.Series(0.1, index=pf.loans["account_id"])
    res = StressTest(horizon=12).run(pf, synth.apc, proj, account_scores=s)
    assert "credit model" in res.notes["score"]
    with pytest.raises(ValueError, match="no score for 1 account"):
        StressTest(horizon=12).run(pf, synth.apc, proj, account_scores=s.iloc[1:])
    with pytest.raises(ValueError, match="has 3 values"):
        StressTest(horizon=12).run(pf, synth.apc, proj, account_scores=[0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="covers only 36"):
        StressTest(horizon=48).run(pf, synth.apc, proj)
    with pytest.raises(ValueError, match="horizon"):
        StressTest(horizon=0).run(pf, synth.apc, proj)
    with pytest.raises(ValueError, match="extrapolation='linear'"):
        StressTest(extrapolation="linear").run(pf, synth.apc, proj)
    short = pf.subset(pf.loans["last_month"].to_numpy() < pf.window[1], "test", "drop the open book")
    with pytest.raises(ValueError, match="APC result ends in 2019-12"):
        StressTest(horizon=12).run(short, synth.apc, proj)


def test_save_load_summary_and_plots(stress, tmp_path):
    path = stress.save(tmp_path / "stress.json")
    back = StressResult.load(path)
    assert back.scenarios == stress.scenarios
    pd.testing.assert_frame_equal(back.tables["adverse"], stress.tables["adverse"], check_dtype=False)
    assert back.cumulative["adverse"]["cumulative_pd"] == pytest.approx(stress.cumulative["adverse"]["cumulative_pd"])
    assert "severely_adverse" in stress.summary()
    assert len(stress.table()) == 3 * 36
    ax = back.plot_fan_chart()
    assert len(ax.get_lines()) == 4  # observed + three scenarios
    axes = stress.plot_fan_charts()
    assert len(axes) == 3


# Pinned numbers of the pre-renovation code (commit afc2f9b, where MacroModel was estimator and
# result in one and StressTest had fit and run) on the session fixture: 20,000 synthetic
# accounts (seed 1), APC eb with 300 draws (random_state 0), macro model on DRIVERS
# (random_state 0), scenarios projected over 36 months (random_state 1).
PINNED_CUMULATIVE_PD = {"baseline": 0.05368196476527425, "adverse": 0.06836569158504835,
                        "severely_adverse": 0.08476381390957563}
PINNED_EXPECTED_DEFAULTS = {"baseline": 427.61026078643386, "adverse": 534.9671031649514,
                            "severely_adverse": 657.6284836372973}
PINNED_PD_MONTHS_1_12_36 = {
    "baseline": [0.0011948788537801212, 0.0012354868626151085, 0.0015353224002567709],
    "adverse": [0.0012582814805090139, 0.0025897045897021855, 0.0012428658244804014],
    "severely_adverse": [0.001302151472223872, 0.004115823436435808, 0.0010892151180183958],
}


def test_old_and_new_call_paths_give_the_pinned_stress_numbers(synth):
    """Estimator -> result (new) and the kept one-object calls (old) agree with the old code."""
    macro = MacroModel(drivers=DRIVERS, random_state=0).fit(synth.apc, synth.sp.macro_history)
    new_proj = macro.result_.project(synth.sp.scenarios, 36, random_state=1)
    # pinned in float64 (the default float32 stays within 1e-3 of the Monte Carlo error: test_stress_speed.py)
    new = StressTest(horizon=36, precision="float64", random_state=0).fit(synth.portfolio, synth.apc,
                                                                          new_proj).result_
    old_proj = MacroModel(drivers=DRIVERS, random_state=0).fit(
        synth.apc, synth.sp.macro_history).project(synth.sp.scenarios, 36, random_state=1)
    old = StressTest(horizon=36, precision="float64", random_state=0).run(synth.portfolio, synth.apc, old_proj)
    for name in old.scenarios:
        np.testing.assert_array_equal(new_proj[name], old_proj[name])
        pd.testing.assert_frame_equal(new.tables[name], old.tables[name], check_exact=True)
        assert new.cumulative[name] == old.cumulative[name]
        c = new.cumulative[name]
        assert c["cumulative_pd"] == pytest.approx(PINNED_CUMULATIVE_PD[name], rel=1e-9)
        assert c["expected_defaults_total"] == pytest.approx(PINNED_EXPECTED_DEFAULTS[name], rel=1e-9)
        np.testing.assert_allclose(new.tables[name]["pd"].iloc[[0, 11, 35]], PINNED_PD_MONTHS_1_12_36[name],
                                   rtol=1e-9)
    pd.testing.assert_frame_equal(new.account_pd, old.account_pd, check_exact=True)
    coef = macro.result_.coefficients.set_index("term").loc["unemployment_change"]
    assert coef["estimate"] == pytest.approx(0.237264289827162, rel=1e-9)
    assert coef["mean"] == pytest.approx(0.2378315696676402, rel=1e-9)


def test_estimator_and_result_protocol(synth, stress, tmp_path):
    est = StressTest(horizon=12, score_bins=10, random_state=5)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    assert repr(twin) == "StressTest(horizon=12, score_bins=10, random_state=5)"
    with pytest.raises(NotFittedError):
        _ = twin.result_
    assert est.fit(synth.portfolio, synth.apc, random_walk_projection(synth.apc, 12)) is est
    assert isinstance(est.result_, StressResult)
    summary = stress.summary()
    assert isinstance(summary, Summary) and summary.startswith("Stress test")
    assert "severely_adverse" in summary._repr_html_()
    path = stress.save(tmp_path)  # a folder: the layout's file name
    assert path == tmp_path / layout.STRESS_JSON
    back = StressResult.load(tmp_path)
    assert back.to_json_dict()["scenarios"] == json.loads(json.dumps(stress.to_json_dict()))["scenarios"]
    pd.testing.assert_frame_equal(back.history, stress.history, check_dtype=False)


def test_every_scenario_key_of_stress_json_has_a_definition_and_unit():
    """Every number written per scenario says what it is and in which unit (definitions.scenario_keys)."""
    import re

    from apcfair import load_portfolio
    from data_synth import SynthConfig, generate_portfolio

    sp = generate_portfolio(SynthConfig(n_accounts=2000, seed=0, start="2006-01", end="2012-12"))
    pf = load_portfolio(sp.loans)
    apc = APCModel(hyper="eb", n_draws=60, random_state=0).fit(pf).result_
    d = StressTest(horizon=6).fit(pf, apc).result_.to_json_dict()
    defs = d["definitions"]["scenario_keys"]

    def covered(key):
        for dk in defs:
            words = re.findall(r"[a-z0-9_]+", dk)
            if key in words or (key.startswith(words[0] + "_") and f"_{key[len(words[0]) + 1:]}" in words):
                return True
        return False

    keys = list(d["scenarios"]["random_walk"])
    assert len(keys) > 30
    missing = [k for k in keys if not covered(k)]
    assert not missing, missing
    assert all(any(u in v for u in ("fraction", "accounts", "logit", "YYYY", "draws")) for v in defs.values())
