"""The proxy diagnostic (paper's Table 1) against scipy and pandas.

Tolerances: Pearson r and the Fisher z interval are closed forms, checked against
``scipy.stats.pearsonr`` (and ``DataFrame.corr``) to 1e-12. The bootstrap interval is
Monte Carlo: checked against ``scipy.stats.bootstrap`` (percentile, 2,000 replicates
each) to 0.01 on 800 rows, about 3 Monte Carlo standard errors of a 2.5% quantile there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from apcfair.unbiased.proxy import DEFINITIONS, proxy_correlations, proxy_table


@pytest.fixture
def book():
    rng = np.random.default_rng(7)
    n = 800
    black = rng.beta(1, 6, n)                      # zip-level census fraction
    sex = rng.choice(["F", "M"], n)
    region = rng.choice(["north", "south", "west"], n)
    score = 650 - 80 * black + rng.normal(0, 40, n)
    rate = 20 + 10 * black + (sex == "M") * 0.5 + rng.normal(0, 3, n)
    df = pd.DataFrame({"black_fraction": black, "sex": sex, "region": region, "bureau_score": score,
                       "interest_rate": rate})
    df.loc[[3, 10], "bureau_score"] = np.nan
    return df


def test_fisher_matches_scipy_and_pandas(book):
    t = proxy_correlations(book, ["black_fraction", "sex"], ["bureau_score", "interest_rate"])
    assert list(t.columns) == list(DEFINITIONS)
    assert t[["restricted", "credit"]].values.tolist() == [
        ["black_fraction", "bureau_score"], ["black_fraction", "interest_rate"],
        ["sex=M", "bureau_score"], ["sex=M", "interest_rate"]]
    male = (book["sex"] == "M").astype(float)
    for row in t.itertuples():
        x = book[row.restricted] if row.restricted in book else male
        y = book[row.credit]
        ok = x.notna() & y.notna()
        ref = stats.pearsonr(x[ok], y[ok])
        lo, hi = ref.confidence_interval(0.95)
        assert row.n == ok.sum()
        assert row.corr == pytest.approx(ref.statistic, abs=1e-12)
        assert row.corr == pytest.approx(pd.concat([x, y], axis=1).corr().iloc[0, 1], abs=1e-12)
        assert (row.lower, row.upper) == pytest.approx((lo, hi), abs=1e-12)
        assert row.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    # the planted proxy: census fraction lowers the score, raises the rate
    assert t.loc[0, "upper"] < 0 < t.loc[1, "lower"]


def test_level_and_multilevel_categories(book):
    t = proxy_correlations(book, ["region"], ["interest_rate"], level=0.9)
    assert t["restricted"].tolist() == ["region=north", "region=south", "region=west"]
    x = (book["region"] == "south").astype(float)
    lo, hi = stats.pearsonr(x, book["interest_rate"]).confidence_interval(0.9)
    assert (t.loc[1, "lower"], t.loc[1, "upper"]) == pytest.approx((lo, hi), abs=1e-12)
    assert (t["level"] == 0.9).all()


def test_bootstrap_matches_scipy_bootstrap(book):
    t = proxy_correlations(book, ["black_fraction"], ["interest_rate"], method="bootstrap", n_boot=2000,
                           random_state=1)
    x, y = book["black_fraction"].to_numpy(), book["interest_rate"].to_numpy()
    ref = stats.bootstrap((x, y), lambda a, b: stats.pearsonr(a, b).statistic, paired=True, vectorized=False,
                          n_resamples=2000, method="percentile", random_state=np.random.default_rng(2))
    assert t.loc[0, "lower"] == pytest.approx(ref.confidence_interval.low, abs=0.01)
    assert t.loc[0, "upper"] == pytest.approx(ref.confidence_interval.high, abs=0.01)
    assert t.loc[0, "method"] == "bootstrap"


def test_refusals_and_warnings(book):
    with pytest.raises(KeyError, match="zip"):
        proxy_correlations(book, ["zip"], ["bureau_score"])
    with pytest.raises(ValueError, match="method"):
        proxy_correlations(book, ["sex"], ["bureau_score"], method="spearman")
    with pytest.warns(UserWarning, match="constant"):
        t = proxy_correlations(book.assign(k=1.0), ["k"], ["bureau_score"])
    assert np.isnan(t.loc[0, "corr"])


def test_table_layout(book):
    wide = proxy_table(proxy_correlations(book, ["black_fraction", "sex"], ["bureau_score", "interest_rate"]))
    assert list(wide.index) == ["black_fraction", "sex=M"] and list(wide.columns) == ["bureau_score", "interest_rate"]
    assert wide.iloc[0, 0].startswith("-0.")


@pytest.mark.slow
def test_unbiased_cli_writes_proxy_file_and_report_section(tmp_path):
    """``apcfair unbiased`` writes ``proxy_correlations.csv``; the report shows it as a section."""
    from apcfair import layout
    from apcfair.cli import main
    from apcfair.report import write_report

    data = tmp_path / "data"
    assert main(["synth", "--accounts", "2000", "--seed", "3", "--out", str(data)]) == 0
    out = tmp_path / "unbiased"
    assert main(["unbiased", "--data", str(data / "loans.parquet"), "--restricted", "sex,black_frac",
                 "--credit", "bureau_score,total_deposits", "--out", str(out), "--no-gbm", "--horizon", "24"]) == 0
    t = pd.read_csv(out / layout.PROXY_CORRELATIONS)
    assert len(t) == 4 and list(t.columns) == list(DEFINITIONS)
    loans = pd.read_parquet(data / "loans.parquet")
    ref = stats.pearsonr(loans["black_frac"], loans["bureau_score"])
    row = t[(t["restricted"] == "black_frac") & (t["credit"] == "bureau_score")].iloc[0]
    assert row["corr"] == pytest.approx(ref.statistic, abs=1e-12)
    html = write_report(out).read_text()
    assert 'id="proxy"' in html and "Proxy diagnostic" in html and "black_frac" in html
