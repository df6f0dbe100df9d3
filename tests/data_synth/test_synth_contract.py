"""Determinism, the loan-level data contract, the truth layout and the config checks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from data_synth import SynthConfig, generate_portfolio, write_portfolio
from data_synth.generate import LOAN_ATTRIBUTES

CENSUS = ["median_age", "mf_ratio", "persons_per_household", "asian_frac", "black_frac",
          "native_american_frac", "native_hawaiian_frac", "hispanic_frac"]


def _codes(labels) -> np.ndarray:
    s = pd.Series(labels, dtype=object).astype(str)
    return (s.str[:4].astype(int) * 12 + s.str[5:7].astype(int) - 1).to_numpy()


def test_same_seed_identical_different_seed_differs():
    cfg = SynthConfig(n_accounts=3_000, seed=5)
    a, b = generate_portfolio(cfg), generate_portfolio(SynthConfig(n_accounts=3_000, seed=5))
    pd.testing.assert_frame_equal(a.loans, b.loans)
    pd.testing.assert_frame_equal(a.account_truth, b.account_truth)
    pd.testing.assert_frame_equal(a.macro_history, b.macro_history)
    pd.testing.assert_frame_equal(a.scenarios, b.scenarios)
    assert json.dumps(a.truth) == json.dumps(b.truth)
    c = generate_portfolio(SynthConfig(n_accounts=3_000, seed=6))
    assert not a.loans["last_month"].equals(c.loans["last_month"])
    assert not a.loans["bureau_score"].equals(c.loans["bureau_score"])
    assert a.truth["environment"]["value"] != c.truth["environment"]["value"]


def test_default_rate_of_default_shape(small_default):
    # 20,000 accounts: binomial sd of the realised fraction is sqrt(.06 * .94 / 20000) = 0.0017,
    # so [0.05, 0.07] is about +-6 sd; the expected fraction is calibrated to 1e-6.
    rate = small_default.loans["default"].mean()
    assert 0.05 <= rate <= 0.07
    assert small_default.truth["default_rate"]["expected"] == pytest.approx(0.06, abs=1e-6)
    assert small_default.truth["default_rate"]["realised"] == pytest.approx(rate)


def test_loans_follow_the_contract(small_default):
    sp = small_default
    loans = sp.loans
    assert list(loans.columns) == ["account_id", "origination", "last_month", "default", *LOAN_ATTRIBUTES]
    assert loans["account_id"].dtype == np.int64 and loans["account_id"].is_unique
    assert set(loans["default"].unique()) <= {0, 1}
    for col in ("origination", "last_month", "zip5", "subcategory", "sex", "race_ethnicity"):
        assert loans[col].map(type).eq(str).all(), col
    assert loans["origination"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert loans["last_month"].str.fullmatch(r"\d{4}-\d{2}").all()
    v, last = _codes(loans["origination"]), _codes(loans["last_month"])
    start, end = _codes(["2005-01"])[0], _codes(["2019-12"])[0]
    assert v.min() == start and v.max() == end - 1  # origination no later than end-1
    assert (last > v).all() and (last <= end).all()
    # all three exits occur: default, payoff before the end, censoring at the end
    paid_off = (loans["default"] == 0) & (last < end)
    assert loans["default"].sum() > 0 and paid_off.sum() > 0 and (last == end).sum() > 0
    assert loans["zip5"].str.fullmatch(r"\d{5}").all()
    assert 2_000 <= loans["zip5"].nunique() <= 5_000
    assert set(loans["subcategory"]) == {"CLASSIC", "GOLD", "PLATINUM", "PREFERRED", "SIGNATURE"}
    assert set(loans["sex"]) == {"F", "M"}
    assert set(loans["race_ethnicity"]) == {"White", "Black", "Hispanic", "Asian", "Other"}
    assert (loans["minority"] == (loans["race_ethnicity"] != "White")).all()
    assert (loans["bureau_score"] < 700).mean() > 0.9
    assert loans["credit_limit"].isna().any() and loans["total_loan_balance"].isna().any()
    for col in ("bureau_score", "interest_rate", "total_deposits", "balance_transfer", "age", *CENSUS):
        assert pd.api.types.is_numeric_dtype(loans[col]) and loans[col].notna().all(), col
    # census proxies are zip-level: one value per zip
    assert (loans.groupby("zip5")[CENSUS].nunique() == 1).all().all()
    # loans carry no truth
    assert "true_score" not in loans and "pd36" not in loans
    assert (sp.account_truth["account_id"] == loans["account_id"]).all()


def test_portfolio_validator_accepts_the_loans(small_default):
    portfolio = pytest.importorskip("apcfair.portfolio")
    p = portfolio.Portfolio.from_loans(small_default.loans)
    assert p.n_accounts == len(small_default.loans)
    assert p.n_defaults == int(small_default.loans["default"].sum())


def test_truth_layout_and_identification(small_default):
    t = small_default.truth
    json.dumps(t)  # serialisable
    n_win = 15 * 12 - 1
    assert t["lifecycle"]["age"] == list(range(1, n_win + 1))
    assert len(t["lifecycle_beyond_window"]["age"]) == 60
    assert t["vintage"]["vintage"][0] == "2005-01" and t["vintage"]["vintage"][-1] == "2019-11"
    assert t["environment"]["month"][0] == "2005-02" and t["environment"]["month"][-1] == "2019-12"
    assert len(t["vintage"]["value"]) == len(t["environment"]["value"]) == n_win
    g = np.array(t["vintage"]["value"])
    h = np.array(t["environment"]["value"])
    f = np.array(t["lifecycle"]["value"])
    assert abs(g.mean()) < 1e-12 and abs(h.mean()) < 1e-12 and abs(f.mean()) < 1e-12
    assert abs(np.polyfit(np.arange(n_win), h, 1)[0]) < 1e-12
    parts = np.array(t["environment"]["macro_part"]) + np.array(t["environment"]["seasonal_part"])
    np.testing.assert_allclose(parts, h, atol=1e-12)
    # H is the detrended sum of beta * driver
    x = small_default.macro_history
    raw = sum(b * x[k].to_numpy() for k, b in t["macro_beta"].items())
    line = t["environment_line"]["macro"]
    np.testing.assert_allclose(t["environment"]["macro_part"],
                               raw - line["intercept"] - line["slope"] * np.arange(n_win), atol=1e-9)
    assert list(x["month"]) == t["environment"]["month"]
    # shapes: 2009 recession peak in H, 2007-08 and 2017-19 peaks in G, 36-month lifecycle hump
    months = pd.Series(h, index=t["environment"]["month"])
    assert months.idxmax()[:4] in {"2009", "2010"}
    vint = pd.Series(g, index=t["vintage"]["vintage"])
    assert vint["2007-01":"2008-12"].mean() > 0.1 and vint["2018-06":].mean() > 0.1
    assert vint["2011-01":"2015-12"].mean() < 0
    assert 24 <= int(np.argmax(f[12:])) + 13 <= 48 and f[0] > f[6]
    assert set(t) >= {"mu", "macro_beta", "credit_coefficients", "protected_effects",
                      "proxy_strength", "config", "scenario_environment", "payoff_hazard"}
    assert t["config"]["n_accounts"] == 20_000


def test_score_centred_within_vintage_and_scaled():
    sp = generate_portfolio(SynthConfig(n_accounts=2_000, seed=2))
    s = sp.account_truth.assign(v=sp.loans["origination"]).groupby("v")["true_score"].mean()
    assert np.abs(s.to_numpy()).max() < 1e-10
    at = sp.account_truth
    np.testing.assert_allclose(at["credit_part"] + at["protected_part"], at["true_score"])
    zero = generate_portfolio(SynthConfig(n_accounts=2_000, seed=2, credit_effect_scale=0.0))
    assert (zero.account_truth["true_score"] == 0).all()
    assert all(v == 0 for v in zero.truth["protected_effects"].values())
    assert zero.truth["credit_coefficients"]["bureau_score_z"] == 0
    half = generate_portfolio(SynthConfig(n_accounts=2_000, seed=2, credit_effect_scale=0.5))
    np.testing.assert_allclose(half.account_truth["true_score"], 0.5 * at["true_score"], atol=1e-12)
    assert half.truth["protected_effects"]["minority"] == pytest.approx(0.15)


def test_pd36_is_a_probability(small_default):
    pd36 = small_default.account_truth["pd36"]
    assert pd36.between(0, 1).all()
    # within a vintage the 36-month PD is increasing in the true score
    df = small_default.account_truth.assign(v=small_default.loans["origination"])
    sub = df[df["v"] == "2012-06"].sort_values("true_score")
    assert len(sub) > 50 and (np.diff(sub["pd36"].to_numpy()) >= 0).all()
    # and it matches 1 - prod(1 - expit(mu + F + G + H + s)) for one account by hand
    t = small_default.truth
    row = sub.iloc[len(sub) // 2]
    g = dict(zip(t["vintage"]["vintage"], t["vintage"]["value"], strict=True))["2012-06"]
    h = dict(zip(t["environment"]["month"], t["environment"]["value"], strict=True))
    months = pd.period_range("2012-07", periods=36, freq="M").astype(str)
    eta = [t["mu"] + t["lifecycle"]["value"][a] + g + h[m] + row["true_score"]
           for a, m in enumerate(months)]
    assert row["pd36"] == pytest.approx(1 - np.prod(1 - 1 / (1 + np.exp(-np.array(eta)))))


def test_write_portfolio_round_trip(tmp_path):
    cfg = SynthConfig(n_accounts=400, seed=3, start="2015-01", end="2017-12")
    paths = write_portfolio(tmp_path / "out", cfg, panel=True)
    assert set(paths) == {"loans", "account_truth", "truth", "macro_history", "scenarios", "panel"}
    sp = generate_portfolio(cfg)
    pd.testing.assert_frame_equal(pd.read_parquet(paths["loans"]), sp.loans, check_dtype=False)
    assert json.loads(paths["truth"].read_text()) == json.loads(json.dumps(sp.truth))
    macro = pd.read_csv(paths["macro_history"])
    assert list(macro["month"]) == list(sp.macro_history["month"])
    assert len(pd.read_csv(paths["scenarios"])) == 3 * 60
    assert len(pd.read_parquet(paths["panel"])) == len(sp.panel())


def test_fixed_mu_and_validation():
    sp = generate_portfolio(SynthConfig(n_accounts=500, seed=1, mu=-6.0))
    assert sp.truth["mu"] == -6.0 and sp.truth["default_rate"]["target"] is None
    with pytest.raises(ValueError, match="start"):
        SynthConfig(start="2005-13")
    with pytest.raises(ValueError, match="after start"):
        SynthConfig(start="2010-01", end="2010-01")
    with pytest.raises(ValueError, match="proxy_strength"):
        SynthConfig(proxy_strength=1.5)
    with pytest.raises(ValueError, match="unknown key"):
        SynthConfig(protected_effect={"religion": 1.0})
    with pytest.raises(ValueError, match="scenario_horizon"):
        SynthConfig(scenario_horizon=12)
    with pytest.raises(ValueError, match="driver column"):
        SynthConfig(macro=pd.DataFrame({"month": ["2019-01"], "x": [1.0]}))


def test_imports_nothing_from_apcfair():
    code = ("import sys, data_synth; data_synth.generate_portfolio(data_synth.SynthConfig(n_accounts=50, "
            "start='2018-01', end='2018-12')); "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'apcfair']; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_panel_columns_and_attribute_selection():
    sp = generate_portfolio(SynthConfig(n_accounts=300, seed=1, start="2015-01", end="2016-12"))
    full = sp.panel()
    assert list(full.columns[:4]) == ["account_id", "month", "origination", "default"]
    assert set(LOAN_ATTRIBUTES) - {"age"} | {"borrower_age"} <= set(full.columns)
    assert "age" not in full.columns  # the account age is the contract's `age` in a panel
    assert (full.groupby("account_id")["borrower_age"].first().to_numpy() == sp.loans["age"].to_numpy()).all()
    assert list(sp.panel(attributes=False).columns) == ["account_id", "month", "origination", "default"]
    some = sp.panel(attributes=["bureau_score", "minority", "age"])
    assert list(some.columns[4:]) == ["bureau_score", "minority", "borrower_age"]
    assert (full.groupby("account_id")["month"].max().to_numpy() == sp.loans["last_month"].to_numpy()).all()
    with pytest.raises(ValueError, match="unknown attribute"):
        sp.panel(attributes=["true_score"])
    with pytest.raises(ValueError, match="max_rows"):
        sp.panel(max_rows=10)
