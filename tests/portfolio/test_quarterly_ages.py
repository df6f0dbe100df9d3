"""Quarterly age convention: accounts that leave within their origination quarter are kept.

Issue 11 §3: reading monthly loan dates as quarters dropped every account that defaulted
or closed inside the quarter it was opened in (666 of a 20k test). They are now counted at
age 1 (the first quarter after origination), with the count in the lineage.
"""

import numpy as np
import pandas as pd
import pytest

from apcfair.portfolio import Portfolio
from data_synth import SynthConfig, generate_portfolio


def _loans(**kw):
    return pd.DataFrame(kw)


def test_exit_in_origination_quarter_counts_at_age_one():
    df = _loans(account_id=[1, 2, 3, 4],
                origination=["2019-01", "2019-01", "2019-02", "2019-10"],
                last_month=["2019-03", "2019-02", "2019-12", "2019-12"],
                default=[1, 0, 0, 0])
    p = Portfolio.from_loans(df, freq="Q")
    got = p.loans.set_index("account_id")
    # 1 defaults in Mar 2019 (origination quarter) -> age 1, a default
    assert (got.loc[1, "last_month"] - got.loc[1, "vintage"], got.loc[1, "default"]) == (1, 1)
    # 2 closes in Feb 2019 -> a closure at age 1, not a default
    assert (got.loc[2, "last_month"] - got.loc[2, "vintage"], got.loc[2, "default"]) == (1, 0)
    # 3 is unaffected (3 quarters on book)
    assert got.loc[3, "last_month"] - got.loc[3, "vintage"] == 3
    # 4 opened in the data's last quarter and is still open: no performance quarter yet
    assert 4 not in got.index
    assert p.lineage.total_excluded == {
        "no performance month observed (last_month equals origination)": 1}
    assert any("2 accounts that left in their origination quarter (1 defaults, 1 closures)" in n
               for n in p.lineage.notes)


def test_monthly_data_is_unchanged():
    df = _loans(account_id=[1, 2], origination=["2019-01", "2019-01"],
                last_month=["2019-01", "2019-03"], default=[0, 1])
    p = Portfolio.from_loans(df)
    assert p.n_accounts == 1
    assert not any("quarterly ages" in n for n in p.lineage.notes)


def test_quarterly_keeps_every_account_that_performed():
    """A synthetic book read as quarters keeps every account except those still open in
    their origination quarter at the data's end (no performance quarter observed)."""
    sp = generate_portfolio(SynthConfig(n_accounts=4000, seed=5))
    loans = sp.loans
    monthly = Portfolio.from_loans(loans)
    quarterly = Portfolio.from_loans(loans, freq="Q")
    q_of = (pd.PeriodIndex(loans["origination"], freq="M").asfreq("Q"),
            pd.PeriodIndex(loans["last_month"], freq="M").asfreq("Q"))
    end_q = q_of[1].max()
    censored_at_start = int(((q_of[0] == q_of[1]) & (q_of[1] == end_q)
                             & (loans["default"] == 0)).sum())
    assert quarterly.n_accounts == monthly.n_accounts - censored_at_start
    # every default is kept, in the same account
    assert quarterly.n_defaults == monthly.n_defaults
    moved = (q_of[0] == q_of[1]) & ~((q_of[1] == end_q) & (loans["default"] == 0))
    assert moved.sum() > 0
    assert any(f"quarterly ages: {int(moved.sum())} accounts" in n for n in quarterly.lineage.notes)


@pytest.mark.parametrize("first", ["2019-02", "2019-03"])
def test_first_month_in_origination_quarter_starts_at_age_one(first):
    df = _loans(account_id=[1], origination=["2019-01"], first_month=[first],
                last_month=["2019-12"], default=[0])
    p = Portfolio.from_loans(df, freq="Q")
    s = p.spells()
    assert (int(s.first_age[0]), int(s.last_age[0])) == (1, 3)
    assert np.all(p.loans["first_month"] > p.loans["vintage"])


def test_horizon_in_months_becomes_quarters():
    from apcfair.portfolio.periods import horizon_in_periods

    assert horizon_in_periods(36, "M") == 36
    assert horizon_in_periods(36, "Q") == 12
    with pytest.raises(ValueError, match="whole number of quarters"):
        horizon_in_periods(35, "Q", name="--horizon")


def test_default_in_the_last_quarter_that_is_also_the_origination_quarter_is_counted_not_refused():
    df = _loans(account_id=[1, 2, 3], origination=["2019-01", "2019-10", "2019-11"],
                last_month=["2019-12", "2019-11", "2019-12"], default=[0, 1, 0])
    p = Portfolio.from_loans(df, freq="Q")
    assert p.loans["account_id"].tolist() == [1]
    assert p.lineage.total_excluded == {
        "default in the origination quarter, which is the data's last quarter (no performance quarter inside "
        "the data)": 1,
        "no performance month observed (last_month equals origination)": 1}
    with pytest.raises(Exception, match="default in the origination month itself"):
        Portfolio.from_loans(df.assign(origination=["2019-01", "2019-11", "2019-11"]))
