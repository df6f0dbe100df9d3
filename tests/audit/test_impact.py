"""Business-impact arithmetic: amortising interest, revenue foregone, ROI."""

from __future__ import annotations

import numpy as np
import pytest

from apcfair.audit import audit, balance_after, intervention_roi, loan_interest, revenue_foregone


def test_annuity_interest_reference_values():
    # 10,000 at 12% a year over 12 months: instalment 888.49, total interest 661.85
    assert loan_interest(10000, 12, 0.12) == pytest.approx(661.85, abs=0.01)
    assert loan_interest(10000, 12, 0.12, method="bullet") == pytest.approx(1200.0)
    assert balance_after(10000, 12, 0.12, 12) == pytest.approx(0.0, abs=1e-6)
    assert balance_after(10000, 12, 0.12, 0) == pytest.approx(10000.0)
    assert loan_interest(10000, 12, 0.0) == pytest.approx(0.0)
    # a 3-year annuity earns about half the bullet interest
    ratio = loan_interest(18000, 36, 0.052, method="bullet") / loan_interest(18000, 36, 0.052)
    assert 1.8 < ratio < 2.0


def test_revenue_foregone_counts_false_rejections_by_group(scored):
    d = scored["test"]
    c = scored["cutoff"]
    approved = (d["pd"] < c).to_numpy()
    rf = revenue_foregone(approved, d["default"], 10000, 36, groups=d["group"], rate=0.08, fee_rate=0.01,
                          funding_rate=0.03, applications_per_year=50000)
    t = rf.table.set_index("group")
    fr = (~approved) & (d["default"].to_numpy() == 0)
    assert t.loc["all", "false_rejections"] == fr.sum()
    a = audit(d["pd"], d["default"], d["group"], cutoff=c, n_boot=0).by_group.set_index("group")
    assert t.loc["protected", "false_rejection_rate"] == pytest.approx(1 - a.loc["protected", "tpr"])
    per_loan = loan_interest(10000, 36, 0.08) * (1 - 0.03 / 0.08) + 100
    assert t.loc["all", "net_revenue"] == pytest.approx(fr.sum() * per_loan)
    assert t.loc["all", "net_revenue_per_year"] == pytest.approx(t.loc["all", "net_revenue"] * 50000 / len(d))
    assert rf.total == pytest.approx(t.loc["all", "net_revenue_per_year"])


def test_roi_is_consistent():
    # seed 002's inputs: 2,100 extra loans of $18,000 at 5.2% APR over 3 years, 2% fee
    bullet = intervention_roi(extra_approvals=2100, default_rate=0.0, loan_amount=18000, term_months=36, rate=0.052,
                              fee_rate=0.02, lgd=0.0, interest="bullet")
    assert bullet.margin_per_loan * 2100 == pytest.approx(37.8e6 * 0.052 * 3 + 37.8e6 * 0.02)  # seed's revenue
    r = intervention_roi(extra_approvals=2100, default_rate=0.032, loan_amount=18000, term_months=36, rate=0.052,
                         fee_rate=0.02, lgd=0.6, funding_rate=0.03, one_time_cost=42600, annual_cost=96000, years=1)
    items = r.items.set_index("item")["value"]
    cost = 42600 + 96000
    assert items["cost over 1 year(s)"] == pytest.approx(cost)
    assert r.net_benefit == pytest.approx(items["benefit over 1 year(s)"] - cost)
    assert r.roi == pytest.approx(r.net_benefit / cost)
    assert r.margin_per_loan < bullet.margin_per_loan / 2  # amortising, funding and losses
    good = loan_interest(18000, 36, 0.052) * (1 - 0.03 / 0.052) + 360
    assert items["margin per good loan"] == pytest.approx(good)
    with pytest.raises(ValueError, match="lgd must be in"):
        intervention_roi(extra_approvals=1, default_rate=0.1, loan_amount=1, term_months=12, rate=0.1, lgd=2)
    assert np.isfinite(r.payback_months)
    # at the break-even default rate the expected margin is zero
    z = intervention_roi(extra_approvals=2100, default_rate=r.breakeven_default_rate, loan_amount=18000,
                         term_months=36, rate=0.052, fee_rate=0.02, lgd=0.6, funding_rate=0.03)
    assert z.margin_per_loan == pytest.approx(0.0, abs=1e-6)
