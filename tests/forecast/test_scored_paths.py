"""Scored stress paths use the scores' own (identification-invariant) offsets; distributions;
refusal of histories that cannot support a projection."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from apcfair.apc import APCModel
from apcfair.forecast import MacroModel, StressResult, StressTest
from apcfair.portfolio import Portfolio
from apcfair.scoring import OffsetLogit

IDENTIFICATIONS = [("no_period_trend", {}), ("no_vintage_trend", {}),
                   ("fixed_period_slope", {"period_slope": 0.005})]
ATTRIBUTES = ["bureau_score", "total_deposits", "age", "sex", "black_frac", "vintage_year"]


@pytest.fixture(scope="module")
def trended():
    """6,000 accounts 2005-2019 with a true environment trend of +0.1 logit per year."""
    from data_synth import SynthConfig, generate_portfolio

    sp = generate_portfolio(SynthConfig(n_accounts=6000, seed=3, environment_trend=0.1))
    return sp, Portfolio.from_loans(sp.loans)


def _truth(sp, pf, horizon=36):
    """Existing-book cumulative PD per scenario from the generator's true hazards."""
    tr, loans = sp.truth, pf.loans
    t_end = int(loans["last_month"].max())
    book = loans[(loans["default"] == 0) & (loans["last_month"] == t_end)]
    g = dict(zip(range(2005 * 12, 2005 * 12 + len(tr["vintage"]["value"])), tr["vintage"]["value"], strict=True))
    s = sp.account_truth.set_index("account_id").loc[book["account_id"], "true_score"].to_numpy()
    F = np.asarray(tr["lifecycle"]["value"] + tr["lifecycle_beyond_window"]["value"])
    a = t_end + np.arange(1, horizon + 1)[None, :] - book["vintage"].to_numpy()[:, None]
    base = tr["mu"] + F[a - 1] + np.array([g[v] for v in book["vintage"]])[:, None] + s[:, None]
    return {name: float(np.mean(1 - np.prod(1 - expit(
        base + np.asarray(tr["scenario_environment"][name]["value"][:horizon])[None, :]), axis=1)))
        for name in ("baseline", "adverse", "severely_adverse")}


def _scores(pf, apc):
    """Credit model (with vintage-year dummies) against the APC's invariant offsets."""
    data = pf.loans.assign(vintage_year=(pf.loans["vintage"] // 12).astype(str))
    return OffsetLogit(bins=5).fit(data, ATTRIBUTES, offset=apc.offset_table()).predict_account_score(data)


def _stress(sp, pf, apc, scores, horizon=36):
    mm = MacroModel(drivers=["unemployment_change", "gdp_growth"], random_state=0).fit(apc, sp.macro_history)
    proj = mm.project(sp.scenarios, horizon, random_state=1)
    # float64: the identification invariance below is exact (float32 holds it to ~1e-6)
    return StressTest(horizon=horizon, precision="float64", random_state=0).fit(
        pf, apc, proj, account_scores=scores).result_


def test_scored_paths_do_not_depend_on_identification_and_match_truth(trended):
    """Same scores, APC fitted under each identification: identical scored result (1e-8),
    and the baseline/adverse truths lie in their 95% bands."""
    sp, pf = trended
    fits = {ident: APCModel(hyper="eb", n_draws=150, random_state=0, identification=ident, **kw).fit(
        pf.cells()).result_ for ident, kw in IDENTIFICATIONS}
    scores = _scores(pf, fits["no_period_trend"])
    out = {ident: _stress(sp, pf, apc, scores) for ident, apc in fits.items()}
    ref = out["no_period_trend"]
    for ident, res in out.items():
        for name in ref.scenarios:
            np.testing.assert_allclose(res.tables[name]["pd"], ref.tables[name]["pd"], rtol=1e-8)
            assert res.cumulative[name]["cumulative_pd"] == pytest.approx(
                ref.cumulative[name]["cumulative_pd"], rel=1e-8), (ident, name)
    truth = _truth(sp, pf)
    for name in ("baseline", "adverse"):
        c = ref.cumulative[name]
        assert c["cumulative_pd_lower"] <= truth[name] <= c["cumulative_pd_upper"], (name, truth[name], c)
    cum = {k: c["cumulative_pd"] for k, c in ref.cumulative.items()}
    assert cum["baseline"] < cum["adverse"] < cum["severely_adverse"]


@pytest.mark.slow
def test_refitted_scores_under_each_identification_give_the_same_calibrated_result(trended):
    """Scores re-estimated against each fit's own offsets: the same result (offsets are invariant)."""
    sp, pf = trended
    truth = _truth(sp, pf)
    cum = {}
    for ident, kw in IDENTIFICATIONS:
        apc = APCModel(hyper="eb", n_draws=150, random_state=0, identification=ident, **kw).fit(pf.cells()).result_
        res = _stress(sp, pf, apc, _scores(pf, apc))
        c = res.cumulative["baseline"]
        assert c["cumulative_pd_lower"] <= truth["baseline"] <= c["cumulative_pd_upper"], (ident, c)
        cum[ident] = c["cumulative_pd"]
    assert max(cum.values()) - min(cum.values()) < 1e-6, cum


def test_distributions_quantiles_and_environment_in_json(synth, synth_macro, tmp_path):
    _, proj = synth_macro
    res = StressTest(horizon=12, new_vintages=False).fit(synth.portfolio, synth.apc, proj.truncate(12)).result_
    d = json.loads(json.dumps(res.to_json_dict()))
    for name, sc in d["scenarios"].items():
        q = sc["cumulative_pd_quantiles"]
        assert list(q) == ["0.05", "0.25", "0.75", "0.95"]
        assert q["0.05"] <= q["0.25"] <= sc["cumulative_pd_median"] <= q["0.75"] <= q["0.95"]
        assert set(sc["cumulative_pd_quantiles_mc_error"]) == {"0.5", *q}
        assert all(0 <= e < 0.1 * sc["cumulative_pd"] for e in sc["cumulative_pd_quantiles_mc_error"].values())
        env = sc["environment"]
        assert list(env) == ["month", "mean", "median", "lower", "upper"] and len(env["month"]) == 12
        assert np.all(np.asarray(env["lower"]) <= np.asarray(env["upper"]))
        np.testing.assert_allclose(env["mean"], proj[name][:, :12].mean(axis=0))
        for key in ("pd", "expected_defaults"):
            cols = [f"{key}_q05", f"{key}_q25", f"{key}_median", f"{key}_q75", f"{key}_q95"]
            arr = np.asarray([sc[c] for c in cols])
            assert np.all(np.diff(arr, axis=0) >= 0), key
    back = StressResult.load(res.save(tmp_path))
    assert back.environment == json.loads(json.dumps(res.environment))
    assert back.cumulative["baseline"]["cumulative_pd_median"] == res.cumulative["baseline"]["cumulative_pd_median"]


def _row_sampled_panel(loans: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """1-5 rows drawn per loan of the full account-month panel (not full histories)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in loans.itertuples(index=False):
        months = np.arange(r.vintage + 1, r.last_month + 1)
        k = min(len(months), int(rng.integers(1, 6)))
        pick = np.sort(rng.choice(months, size=k, replace=False))
        for m in pick:
            rows.append((r.account_id, r.vintage, m, int(r.default and m == r.last_month)))
    df = pd.DataFrame(rows, columns=["account_id", "orig", "m", "default"])
    from apcfair.portfolio import format_period

    return pd.DataFrame({"account_id": df["account_id"], "origination": format_period(df["orig"].to_numpy()),
                         "month": format_period(df["m"].to_numpy()), "default": df["default"]})


def test_a_row_sampled_panel_is_refused_and_forcing_is_recorded(synth):
    loans = synth.portfolio.loans.sample(3000, random_state=0)
    panel = Portfolio.from_panel(_row_sampled_panel(loans), on_invalid="exclude")
    apc = APCModel(hyper="eb", n_draws=50, random_state=0).fit(panel.cells()).result_
    with pytest.raises(ValueError, match="cannot support a projection: .*seen in one month only"):
        StressTest(horizon=6).fit(panel, apc)
    with pytest.warns(UserWarning, match="FORCED PROJECTION ON INCOMPLETE HISTORIES"):
        res = StressTest(horizon=6, on_incomplete="warn").fit(panel, apc).result_
    d = res.to_json_dict()
    assert d["warnings"] and "closure rate" in d["warnings"][0]
    assert d["definitions"]["history_check"]["pooled_closure_rate"] > 0.2
    assert "WARNINGS" in res.summary()
    # complete histories pass
    assert not StressTest(horizon=6).fit(synth.portfolio, synth.apc).result_.warnings
