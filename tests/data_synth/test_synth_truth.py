"""The simulated outcomes agree with the reported truth; proxies; scenarios; user macro.

Tolerance of the brute-force checks: under the true model, for any group of
account-months ``g`` the count of defaults ``D_g`` minus its expectation
``E_g = sum p`` over the rows at risk, divided by ``sqrt(V_g)`` with
``V_g = sum p (1 - p)``, is a martingale sum and approximately N(0, 1). The tests
require (i) every group ``|z| < 4.5`` (with ~60 groups per family the chance of a false
alarm is below 1e-3) and (ii) ``sum z^2`` below the 1e-4 upper quantile of the
chi-square with one degree of freedom per group. The data are fixed by the seed, so
the tests are deterministic; the tolerance only guards against seed luck. A power
check shows the same statistic rejects the lifecycle shifted by one month.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import chi2

from data_synth import SynthConfig, generate_portfolio


def _codes(labels) -> np.ndarray:
    s = pd.Series(labels, dtype=object).astype(str)
    return (s.str[:4].astype(int) * 12 + s.str[5:7].astype(int) - 1).to_numpy()


def _panel_with_truth(sp, shift_age: int = 0) -> pd.DataFrame:
    """The brute-force panel with the true hazard of each account-month."""
    t = sp.truth
    panel = sp.panel(attributes=False)
    v, m = _codes(panel["origination"]), _codes(panel["month"])
    age = m - v
    f = np.array(t["lifecycle"]["value"])
    g = pd.Series(t["vintage"]["value"], index=_codes(t["vintage"]["vintage"]))
    h = pd.Series(t["environment"]["value"], index=_codes(t["environment"]["month"]))
    score = sp.account_truth.set_index("account_id")["true_score"]
    eta = (t["mu"] + f[np.clip(age - 1 + shift_age, 0, len(f) - 1)] + g.loc[v].to_numpy()
           + h.loc[m].to_numpy() + score.loc[panel["account_id"]].to_numpy())
    return panel.assign(age=age, vintage=v, period=m, p=expit(eta))


def _z_scores(df: pd.DataFrame, by: str) -> pd.Series:
    grp = df.assign(var=df["p"] * (1 - df["p"])).groupby(by)
    d, e, var = grp["default"].sum(), grp["p"].sum(), grp["var"].sum()
    keep = var > 0
    return ((d - e) / np.sqrt(var))[keep]


def _consistent(z: pd.Series) -> bool:
    return bool(np.abs(z).max() < 4.5 and (z**2).sum() < chi2.isf(1e-4, len(z)))


def test_pure_apc_panel_matches_truth_by_age_period_vintage(pure_apc):
    df = _panel_with_truth(pure_apc)
    assert df["default"].sum() > 2_000  # enough events for a sharp test
    # the panel is the loan table expanded: one default row per defaulted account
    assert df["default"].sum() == pure_apc.loans["default"].sum()
    assert len(df) == (_codes(pure_apc.loans["last_month"]) - _codes(pure_apc.loans["origination"])).sum()
    df["year"] = df["period"] // 12
    df["age_band"] = (df["age"] - 1) // 6
    for by in ("age", "period", "vintage", "year", "age_band", ["year", "age_band"]):
        z = _z_scores(df, by)
        assert _consistent(z), (by, z.abs().max(), (z**2).sum(), len(z))


def test_brute_force_check_has_power(pure_apc):
    df = _panel_with_truth(pure_apc, shift_age=1)
    assert not _consistent(_z_scores(df, "age"))


def test_heterogeneous_scores_match_truth_per_account_month():
    sp = generate_portfolio(SynthConfig(n_accounts=6_000, seed=4, start="2007-01", end="2011-12",
                                        mu=-4.5, credit_effect_scale=1.0))
    df = _panel_with_truth(sp)
    bins = pd.qcut(sp.account_truth["true_score"], 10, labels=False).to_numpy()
    df["score_decile"] = bins[df["account_id"].to_numpy() - 1]
    for by in ("score_decile", "age", "period"):
        assert _consistent(_z_scores(df, by)), by
    # riskiest decile defaults far more often than the safest
    rates = df.groupby("score_decile")["default"].mean()
    assert rates.iloc[-1] > 4 * rates.iloc[0]


def test_payoff_hazard_matches_truth(pure_apc):
    loans = pure_apc.loans
    v, last = _codes(loans["origination"]), _codes(loans["last_month"])
    end = _codes(["2011-12"])[0]
    paid = (loans["default"].to_numpy() == 0) & (last < end)
    # payoff is decided after surviving default: expected payoffs = sum over non-default
    # account-months of q(a); compare in total (binomial tolerance, 5 sd)
    q = np.array(pure_apc.truth["payoff_hazard"]["value"])
    df = _panel_with_truth(pure_apc)
    alive = df[df["default"] == 0]
    e = q[alive["age"].to_numpy() - 1].sum()
    assert abs(paid.sum() - e) < 5 * np.sqrt(e)
    assert (v < last).all()


@pytest.mark.parametrize("strength", [0.0, 1.0])
def test_proxy_strength_controls_correlation(strength):
    n = 20_000
    sp = generate_portfolio(SynthConfig(n_accounts=n, seed=8, proxy_strength=strength,
                                        start="2015-01", end="2016-12"))
    loans = sp.loans
    corr = {c: np.corrcoef(loans["bureau_score"], loans[c])[0, 1]
            for c in ("minority", "black_frac", "hispanic_frac", "age")}
    if strength == 0.0:
        # independent: sample correlations are N(0, 1/n); 4/sqrt(n) = 0.028
        assert max(abs(r) for r in corr.values()) < 4 / np.sqrt(n), corr
        for c in ("total_deposits", "interest_rate"):
            assert abs(np.corrcoef(loans[c], loans["minority"])[0, 1]) < 4 / np.sqrt(n)
    else:
        assert corr["minority"] < -0.2 and corr["black_frac"] < -0.1 and corr["age"] > 0.1, corr
        assert np.corrcoef(loans["interest_rate"], loans["minority"])[0, 1] > 0.15


def test_census_proxies_track_individual_race(small_default):
    loans = small_default.loans
    black = loans["race_ethnicity"] == "Black"
    assert loans.loc[black, "black_frac"].mean() > 2 * loans.loc[~black, "black_frac"].mean()
    hisp = loans["race_ethnicity"] == "Hispanic"
    assert loans.loc[hisp, "hispanic_frac"].mean() > 1.5 * loans.loc[~hisp, "hispanic_frac"].mean()


def test_scenarios_adverse_worse_than_baseline(small_default):
    sc = small_default.scenarios
    assert list(sc.columns) == list(small_default.macro_history.columns.insert(0, "scenario"))
    assert set(sc["scenario"]) == {"baseline", "adverse", "severely_adverse"}
    per = sc.groupby("scenario")
    assert (per.size() >= 36).all()
    first = sc.loc[sc["scenario"] == "baseline", "month"].iloc[0]
    assert first == "2020-01"
    u = per["unemployment_change"].mean()
    g = per["gdp_growth"].mean()
    ur = per["unemployment_rate"].max()
    assert u["baseline"] < u["adverse"] < u["severely_adverse"]
    assert g["baseline"] > g["adverse"] > g["severely_adverse"]
    assert ur["baseline"] < ur["adverse"] < ur["severely_adverse"]
    env = {k: np.array(v["value"]) for k, v in small_default.truth["scenario_environment"].items()}
    first_year = slice(0, 24)
    assert env["baseline"][first_year].mean() < env["adverse"][first_year].mean() < \
        env["severely_adverse"][first_year].mean()
    assert env["severely_adverse"].max() > 0.5 + env["baseline"].max()


def test_user_macro_drives_environment():
    months = pd.period_range("2009-06", "2013-12", freq="M").astype(str)
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(len(months)) / 6.0) + rng.normal(0, 0.1, len(months))
    macro = pd.DataFrame({"month": months, "stress": x, "noise": rng.normal(size=len(months))})
    cfg = SynthConfig(n_accounts=1_000, seed=1, start="2010-01", end="2012-12", macro=macro,
                      macro_beta={"stress": 0.5}, seasonal_scale=0.0)
    sp = generate_portfolio(cfg)
    t = sp.truth
    assert list(sp.macro_history.columns) == ["month", "stress", "noise"]
    assert sp.macro_history["month"].iloc[0] == "2010-02"
    raw = 0.5 * sp.macro_history["stress"].to_numpy()
    h = np.array(t["environment"]["value"])
    resid = raw - h  # must be a straight line
    k = np.arange(len(h))
    np.testing.assert_allclose(resid, np.polyval(np.polyfit(k, resid, 1), k), atol=1e-10)
    assert np.allclose(t["environment"]["seasonal_part"], 0)
    sc = sp.scenarios
    hi = sc.groupby("scenario")["stress"].max()
    assert hi["adverse"] > hi["baseline"] and hi["severely_adverse"] > hi["adverse"]
    with pytest.raises(ValueError, match="cover"):
        generate_portfolio(SynthConfig(n_accounts=10, start="2008-01", end="2012-12", macro=macro,
                                       macro_beta={"stress": 0.5}))


# ---------------------------------------------------------------- truths with other conventions
def _slope(values) -> float:
    y = np.asarray(values, dtype=float)
    x = np.arange(len(y), dtype=float)
    return float(np.polyfit(x, y, 1)[0])


def test_environment_trend_is_a_true_trend_and_outcomes_follow_it():
    cfg = dict(n_accounts=8_000, seed=5, start="2007-01", end="2011-12", mu=-4.2,
               credit_effect_scale=0.0)
    flat = generate_portfolio(SynthConfig(**cfg))
    trended = generate_portfolio(SynthConfig(**cfg, environment_trend=0.3))
    h0, h1 = (np.array(sp.truth["environment"]["value"]) for sp in (flat, trended))
    # the truth reports H with the trend: the same detrended H plus 0.3/12 per month
    assert abs(_slope(h0)) < 1e-10
    assert _slope(h1) == pytest.approx(0.3 / 12, rel=1e-9)
    np.testing.assert_allclose(h1 - h0, 0.3 / 12 * np.arange(len(h0)), atol=1e-12)
    assert trended.truth["environment_line"]["true_trend_per_month"] == pytest.approx(0.025)
    # scenario months continue the trend
    s0 = np.array(flat.truth["scenario_environment"]["baseline"]["value"])
    s1 = np.array(trended.truth["scenario_environment"]["baseline"]["value"])
    np.testing.assert_allclose(s1 - s0, 0.3 / 12 * np.arange(len(h0), len(h0) + len(s0)), atol=1e-12)
    assert "true trend" in trended.truth["conventions"]["H"]
    # the outcomes are simulated from the reported (trended) truth
    df = _panel_with_truth(trended)
    df["year"] = df["period"] // 12
    for by in ("age", "year", "vintage"):
        assert _consistent(_z_scores(df, by)), by
    # and the trend is visible in the data: later years default more than under the flat truth
    assert trended.loans["default"].sum() > flat.loans["default"].sum()


def test_credit_mix_drift_moves_vintage_quality_through_attributes_not_g():
    cfg = dict(n_accounts=12_000, seed=6, start="2007-01", end="2011-12", mu=-4.5)
    drift = generate_portfolio(SynthConfig(**cfg, credit_mix_drift=0.4, score_centring="portfolio"))
    base = generate_portfolio(SynthConfig(**cfg))
    # G is the same shape; the vintage means of the true score now trend down (better vintages)
    np.testing.assert_allclose(drift.truth["vintage"]["value"], base.truth["vintage"]["value"])
    year = _codes(drift.loans["origination"]) // 12
    mean_score = drift.account_truth["true_score"].groupby(year).mean()
    assert mean_score.iloc[-1] < mean_score.iloc[0] - 0.3
    assert base.account_truth["true_score"].groupby(year).mean().abs().max() < 1e-9
    bureau = drift.loans["bureau_score"].groupby(year).mean()
    assert bureau.iloc[-1] > bureau.iloc[0] + 15
    # outcomes follow the reported truth
    df = _panel_with_truth(drift)
    for by in ("vintage", "age"):
        assert _consistent(_z_scores(df, by)), by


def test_credit_mix_drift_needs_portfolio_centring():
    with pytest.raises(ValueError, match="score_centring"):
        SynthConfig(credit_mix_drift=0.2)
