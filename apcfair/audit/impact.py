"""Business impact: revenue foregone through false rejections, and an intervention's ROI.

The arithmetic is deliberately explicit, because the common sketches get it wrong:

* an instalment loan **amortises**: interest is earned on the outstanding balance, not on the
  full principal for the whole term (``principal x rate x years`` overstates a 3-year
  annuity's interest by about 1.9x);
* revenue is not profit: funding cost, and for loans that are not known to be good, expected
  credit losses (default rate x LGD x balance at default) come off;
* a false rejection is a creditworthy applicant (``y = 0``) who was rejected, so it carries no
  credit loss -- but additional approvals from an intervention are not all creditworthy;
* ROI is ``(benefit - cost) / cost`` with the **same** costs in numerator and denominator
  (ongoing costs included in both), over a stated horizon;
* lifetime income of one cohort is not "annual" income unless one cohort is booked per year
  (then, in steady state, it is).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from apcfair._io import to_jsonable
from apcfair._summary import Summary
from apcfair.audit._options import InterestMethod, check_option
from apcfair.audit._result import JSONResultMixin, frame, number
from apcfair.audit._validate import (
    as_1d,
    check_decision,
    check_groups,
    check_lengths,
    check_outcome,
)


def _annuity_payment(a, n, r):
    a, n, r = np.broadcast_arrays(np.asarray(a, float), np.asarray(n, float), np.asarray(r, float))
    with np.errstate(divide="ignore", invalid="ignore"):
        pay = np.where(r > 0, a * r / (1 - (1 + r) ** (-n)), a / n)
    return pay


def balance_after(amount, term_months, rate, months, *, method: InterestMethod = "amortising") -> np.ndarray:
    """Outstanding principal after ``months`` payments.

    Parameters
    ----------
    amount, term_months, rate, months : array-like
        Principal, term in months, annual nominal rate (e.g. 0.08), months elapsed.
    method : {"amortising", "bullet"}
        Annuity with monthly instalments, or principal repaid at the end.

    Returns
    -------
    numpy.ndarray
        Outstanding principal, broadcast over the inputs.

    Examples
    --------
    >>> from apcfair.audit import balance_after
    >>> balance_after(10_000, 36, 0.08, [0, 12, 36]).round(2).tolist()
    [10000.0, 6928.64, 0.0]
    >>> float(balance_after(10_000, 36, 0.08, 12, method="bullet"))
    10000.0
    """
    check_option("method", method, InterestMethod)
    a, n, rr, m = np.broadcast_arrays(*(np.asarray(v, float) for v in (amount, term_months, rate, months)))
    m = np.clip(m, 0, n)
    if method == "bullet":
        return np.where(m < n, a, 0.0)
    r = rr / 12
    pay = _annuity_payment(a, n, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        bal = np.where(r > 0, a * (1 + r) ** m - pay * ((1 + r) ** m - 1) / np.where(r > 0, r, 1), a - pay * m)
    return np.maximum(bal, 0.0)


def loan_interest(amount, term_months, rate, *, months=None, method: InterestMethod = "amortising") -> np.ndarray:
    """Interest earned over the first ``months`` (default: the whole term).

    ``amortising``: monthly annuity at ``rate / 12``; interest = payments - principal repaid.
    ``bullet``: ``amount x rate x months / 12`` (simple interest on the full principal).

    Parameters
    ----------
    amount, term_months, rate : array-like
        Principal, term in months, annual nominal rate.
    months : array-like, optional
        Months elapsed (e.g. up to default); default the full term.
    method : {"amortising", "bullet"}, default "amortising"
        Loan type.

    Returns
    -------
    numpy.ndarray
        Interest, broadcast over the inputs.

    Examples
    --------
    A 3-year annuity earns far less than ``principal x rate x years`` (the bullet figure):

    >>> from apcfair.audit import loan_interest
    >>> round(float(loan_interest(10_000, 36, 0.08)), 2)
    1281.09
    >>> round(float(loan_interest(10_000, 36, 0.08, method="bullet")), 2)
    2400.0
    >>> round(float(loan_interest(10_000, 36, 0.08, months=12)), 2)  # first year only
    689.0
    """
    check_option("method", method, InterestMethod)
    a, n, rr = np.broadcast_arrays(*(np.asarray(v, float) for v in (amount, term_months, rate)))
    m = n if months is None else np.clip(np.broadcast_to(np.asarray(months, float), a.shape), 0, n)
    if method == "bullet":
        return a * rr * m / 12
    pay = _annuity_payment(a, n, rr / 12)
    return pay * m - (a - balance_after(a, n, rr, m))


def _funding_cost(amount, term_months, rate, funding_rate, months, method):
    """Funding cost on the outstanding balance: sum of month-start balances x funding_rate / 12."""
    a, n, rr, f = np.broadcast_arrays(*(np.asarray(v, float) for v in (amount, term_months, rate, funding_rate)))
    m = n if months is None else np.clip(np.broadcast_to(np.asarray(months, float), a.shape), 0, n)
    if method == "bullet":
        return a * f * m / 12
    # sum of balances = interest / (r/12) for r > 0; for r = 0 it is sum of a - pay*t
    with np.errstate(divide="ignore", invalid="ignore"):
        bal_sum = np.where(rr > 0, loan_interest(a, n, np.where(rr > 0, rr, 1.0), months=m) / (rr / 12),
                           m * a - (a / n) * m * (m - 1) / 2)
    return bal_sum * f / 12


@dataclass(frozen=True)
class RevenueForegone(JSONResultMixin):
    """Revenue lost by rejecting creditworthy applicants, by group.

    Parameters
    ----------
    table, settings, notes
        As the attributes; produced by :func:`revenue_foregone`.

    Attributes
    ----------
    table : pandas.DataFrame
        Per group: ``n, creditworthy, false_rejections, false_rejection_rate`` (= 1 - TPR,
        share of the creditworthy rejected), ``interest, fees, funding_cost, net_revenue``
        (sample totals), ``net_revenue_per_application`` and, with
        ``applications_per_year``, ``net_revenue_per_year``; a final ``all`` row.
    settings : dict
        Rates, loan type and scaling used.
    notes : tuple of str
        Definitions carried into reports.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit import revenue_foregone
    >>> res = revenue_foregone(np.array([1, 0, 0, 1, 0, 1]), np.array([0, 0, 1, 0, 0, 1]),
    ...                        10_000, 36, rate=0.08)
    >>> res.table[["group", "creditworthy", "false_rejections"]].values.tolist()
    [['all', 4, 2]]
    >>> round(res.total, 2)  # two rejected good 3-year loans of 10,000 at 8%
    2562.18
    """

    table: pd.DataFrame
    settings: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        """Net revenue foregone in the sample (or per year when scaled)."""
        row = self.table[self.table["group"] == "all"].iloc[0]
        return float(row.get("net_revenue_per_year", row["net_revenue"]))

    def summary(self) -> Summary:
        """The table with the settings and notes.

        Returns
        -------
        apcfair._summary.Summary
            Text (a ``str``) that renders as an HTML table in a notebook.
        """
        return Summary.from_blocks("Revenue foregone through false rejections", [
            self.table, "\n".join([f"settings: {self.settings}", *[f"NOTE: {n}" for n in self.notes]]),
        ], float_format=",.2f")

    def to_json_dict(self) -> dict:
        """JSON-ready dictionary (NaN -> null)."""
        return to_jsonable({"table": self.table, "settings": self.settings, "notes": list(self.notes)})

    @classmethod
    def from_json_dict(cls, d) -> RevenueForegone:
        """Rebuild a result from :meth:`to_json_dict` output."""
        return cls(table=frame(d["table"]), settings=dict(d.get("settings") or {}), notes=tuple(d.get("notes") or ()))


def _foregone_row(group: str, member: np.ndarray, false_rejection: np.ndarray, y: np.ndarray,
                  revenue: dict[str, np.ndarray]) -> dict:
    """False rejections of one group and the revenue their loans would have earned."""
    f = false_rejection & member
    cw = int(np.sum(member & (y == 0)))
    sums = {k: float(v[f].sum()) for k, v in revenue.items()}
    return {"group": group, "n": int(member.sum()), "creditworthy": cw, "false_rejections": int(f.sum()),
            "false_rejection_rate": float(f.sum() / cw) if cw else np.nan, **sums,
            "net_revenue_per_application": float(revenue["net_revenue"][f].sum() / member.sum())}


def revenue_foregone(approved, y, amount, term_months, *, groups=None, rate: float = 0.08, fee_rate: float = 0.0,
                     funding_rate: float = 0.0, interest: InterestMethod = "amortising",
                     applications_per_year: float | None = None) -> RevenueForegone:
    """Revenue foregone through false rejections (creditworthy applicants who were rejected).

    Parameters
    ----------
    approved : array-like
        Decisions, ``1 = approved``.
    y : array-like
        Outcomes, ``1 = default``; a false rejection is ``approved == 0 and y == 0``.
    amount, term_months : array-like or float
        Requested principal and term per applicant.
    groups : array-like, optional
        One protected attribute for the breakdown.
    rate : float or array-like, default 0.08
        Annual nominal interest rate.
    fee_rate : float, default 0.0
        Up-front fee as a share of the principal.
    funding_rate : float, default 0.0
        Annual funding cost on the outstanding balance (0 gives gross revenue).
    interest : {"amortising", "bullet"}, default "amortising"
        Loan type (see :func:`loan_interest`).
    applications_per_year : float, optional
        Scale the sample to a yearly flow of applications (lifetime revenue of one year's
        cohort; equal to annual revenue in steady state).

    Returns
    -------
    RevenueForegone
        Per group and overall: false rejections and the net revenue they would have earned.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit import revenue_foregone
    >>> approved = np.array([1, 0, 0, 1, 0, 1])
    >>> y = np.array([0, 0, 1, 0, 0, 1])          # applicant 3 would have defaulted
    >>> group = np.array(["a", "a", "a", "b", "b", "b"])
    >>> res = revenue_foregone(approved, y, 10_000, 36, groups=group, rate=0.08)
    >>> res.table[["group", "false_rejections", "false_rejection_rate"]]  # doctest: +NORMALIZE_WHITESPACE
      group  false_rejections  false_rejection_rate
    0     a                 1                   0.5
    1     b                 1                   0.5
    2   all                 2                   0.5
    >>> round(float(res.table["net_revenue"].iloc[-1]), 2)
    2562.18
    >>> yearly = revenue_foregone(approved, y, 10_000, 36, rate=0.08, applications_per_year=60_000)
    >>> round(yearly.total)
    25621831
    """
    check_option("interest", interest, InterestMethod)
    a = check_decision(approved, "approved")
    yy = check_outcome(y)
    n = check_lengths(approved=a, y=yy)
    amt, term = (np.full(n, float(v)) if np.ndim(v) == 0 else as_1d(name, v, numeric=True)
                 for name, v in (("amount", amount), ("term_months", term_months)))
    check_lengths(approved=a, amount=amt, term_months=term)
    if np.any(amt < 0) or np.any(term <= 0):
        raise ValueError("amount must be >= 0 and term_months > 0.")
    labels = (check_groups({"group": groups}, n)["group"] if groups is not None
              else pd.Categorical(np.full(n, "all")))
    revenue = {"interest": loan_interest(amt, term, rate, method=interest), "fees": amt * fee_rate,
               "funding_cost": _funding_cost(amt, term, rate, funding_rate, None, interest)}
    revenue["net_revenue"] = revenue["interest"] + revenue["fees"] - revenue["funding_cost"]
    codes = np.asarray(labels.codes)
    members = [(g, codes == j) for j, g in enumerate(labels.categories)]
    if groups is not None:
        members.append(("all", np.ones(n, bool)))
    table = pd.DataFrame([_foregone_row(g, m, ~a & (yy == 0), yy, revenue) for g, m in members])
    notes = ["a false rejection is a creditworthy applicant (y = 0) who was rejected; revenue is the interest "
             "(+ fees - funding cost) of the loan they asked for, over its whole term",
             "false_rejection_rate = false rejections / creditworthy applicants (= 1 - TPR)"]
    if applications_per_year is not None:
        scale = float(applications_per_year) / n
        table["net_revenue_per_year"] = table["net_revenue"] * scale
        notes.append(f"scaled by {applications_per_year:,.0f} applications per year / {n:,} in the sample: the "
                     "lifetime revenue of one year's cohort (= annual revenue in steady state)")
    settings = {"rate": rate if np.ndim(rate) == 0 else "per applicant", "fee_rate": fee_rate,
                "funding_rate": funding_rate, "interest": interest, "applications_per_year": applications_per_year}
    return RevenueForegone(table=table, settings=settings, notes=tuple(notes))


@dataclass(frozen=True)
class ROIResult(JSONResultMixin):
    """Cost and benefit of an intervention over a horizon.

    Parameters
    ----------
    items, net_benefit, roi, payback_months, margin_per_loan, breakeven_default_rate, settings
        As the attributes; produced by :func:`intervention_roi`.

    Attributes
    ----------
    items : pandas.DataFrame
        Line items (``item, value, note``).
    net_benefit : float
        Total benefit minus total cost over the horizon.
    roi : float
        ``net_benefit / total cost``.
    payback_months : float
        One-time cost / monthly net run-rate (inf when the run-rate is not positive).
    margin_per_loan : float
        Expected lifetime margin of one additional loan.
    breakeven_default_rate : float
        Default rate among the additional loans at which their expected margin is zero
        (NaN when even a good loan loses money).
    settings : dict
        The inputs of :func:`intervention_roi`.

    Examples
    --------
    >>> from apcfair.audit import intervention_roi
    >>> res = intervention_roi(extra_approvals=200, default_rate=0.05, loan_amount=10_000,
    ...                        term_months=36, rate=0.08, one_time_cost=50_000)
    >>> res.items["item"].iloc[:3].tolist()
    ['additional loans per year', 'interest per good loan', 'fee per loan']
    >>> print(res.summary().splitlines()[-1])
    net benefit 178,955; ROI 357.9%; payback 2.6 months
    """

    items: pd.DataFrame
    net_benefit: float
    roi: float
    payback_months: float
    margin_per_loan: float
    breakeven_default_rate: float = float("nan")
    settings: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The line items and the bottom line.

        Returns
        -------
        apcfair._summary.Summary
            Text (a ``str``) that renders as an HTML table in a notebook.
        """
        return Summary.from_blocks("Intervention ROI", [
            self.items, f"net benefit {self.net_benefit:,.0f}; ROI {self.roi:.1%}; payback "
                        f"{self.payback_months:.1f} months",
        ], float_format=",.2f")

    def to_json_dict(self) -> dict:
        """JSON-ready dictionary (NaN and infinities -> null)."""
        return to_jsonable({"items": self.items, "net_benefit": self.net_benefit, "roi": self.roi,
                            "payback_months": self.payback_months, "margin_per_loan": self.margin_per_loan,
                            "breakeven_default_rate": self.breakeven_default_rate, "settings": self.settings})

    @classmethod
    def from_json_dict(cls, d) -> ROIResult:
        """Rebuild a result from :meth:`to_json_dict` output (infinities come back as NaN)."""
        return cls(items=frame(d["items"]), net_benefit=number(d["net_benefit"]), roi=number(d["roi"]),
                   payback_months=number(d["payback_months"]), margin_per_loan=number(d["margin_per_loan"]),
                   breakeven_default_rate=number(d.get("breakeven_default_rate")),
                   settings=dict(d.get("settings") or {}))


def _loan_margins(amount: float, term: float, rate: float, *, fee_rate: float, lgd: float, funding_rate: float,
                  default_month: float, interest: str) -> dict[str, float]:
    """Lifetime margin of one loan that stays good and of one that defaults at ``default_month``."""
    good_interest = float(loan_interest(amount, term, rate, method=interest))
    good_funding = float(_funding_cost(amount, term, rate, funding_rate, None, interest))
    bad_interest = float(loan_interest(amount, term, rate, months=default_month, method=interest))
    bad_funding = float(_funding_cost(amount, term, rate, funding_rate, default_month, interest))
    bad_loss = float(lgd * balance_after(amount, term, rate, default_month, method=interest))
    fee = amount * fee_rate
    return {"good_interest": good_interest, "good_funding": good_funding, "bad_loss": bad_loss, "fee": fee,
            "good": good_interest + fee - good_funding, "bad": bad_interest + fee - bad_funding - bad_loss}


def intervention_roi(*, extra_approvals: float, default_rate: float, loan_amount: float, term_months: float,
                     rate: float, fee_rate: float = 0.0, lgd: float = 0.45, funding_rate: float = 0.0,
                     default_month: float | None = None, one_time_cost: float = 0.0, annual_cost: float = 0.0,
                     years: int = 1, interest: InterestMethod = "amortising") -> ROIResult:
    """Return on an intervention that adds approvals, done with consistent arithmetic.

    Each year books ``extra_approvals`` additional loans. A loan that stays good earns its
    interest over the term plus fees minus funding cost; a loan that defaults (share
    ``default_rate``) earns interest until ``default_month`` and loses ``lgd`` x its balance
    then. The benefit of a year is the lifetime margin of that year's cohort (undiscounted).
    Over ``years``: benefit = years x cohort margin; cost = one-time + years x annual cost;
    ROI = (benefit - cost) / cost.

    Parameters
    ----------
    extra_approvals : float
        Additional loans per year.
    default_rate : float
        Default rate expected among the additional loans.
    loan_amount, term_months, rate : float
        Average principal, term in months and annual rate.
    fee_rate : float, default 0.0
        Up-front fee as a share of principal.
    lgd : float, default 0.45
        Loss given default (share of the balance at default).
    funding_rate : float, default 0.0
        Annual funding cost on the outstanding balance.
    default_month : float, optional
        Month of default (default: half the term).
    one_time_cost, annual_cost : float
        Implementation and running costs (running costs include e.g. human review).
    years : int, default 1
        Horizon.
    interest : {"amortising", "bullet"}, default "amortising"
        Loan type (see :func:`loan_interest`).

    Returns
    -------
    ROIResult
        Line items, net benefit, ROI, payback and break-even default rate.

    Examples
    --------
    200 extra 3-year loans of 10,000 a year for three years, 5% of them defaulting, with
    a 3% funding cost, 50,000 to implement and 20,000 a year to run:

    >>> from apcfair.audit import intervention_roi
    >>> res = intervention_roi(extra_approvals=200, default_rate=0.05, loan_amount=10_000,
    ...                        term_months=36, rate=0.08, funding_rate=0.03,
    ...                        one_time_cost=50_000, annual_cost=20_000, years=3)
    >>> round(res.margin_per_loan, 2), round(res.roi, 2), round(res.payback_months, 1)
    (670.78, 2.66, 5.3)
    >>> round(res.breakeven_default_rate, 2)  # the extra loans pay off up to this default rate
    0.31
    """
    check_option("interest", interest, InterestMethod)
    for name, v in (("default_rate", default_rate), ("lgd", lgd)):
        if not 0 <= v <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {v}.")
    if years < 1:
        raise ValueError(f"years must be >= 1, got {years}.")
    dm = term_months / 2 if default_month is None else float(default_month)
    n = float(term_months)
    lm = _loan_margins(float(loan_amount), n, rate, fee_rate=fee_rate, lgd=lgd, funding_rate=funding_rate,
                       default_month=dm, interest=interest)
    good_int, good_fund, bad_loss, fee, good, bad = (lm[k] for k in ("good_interest", "good_funding", "bad_loss",
                                                                     "fee", "good", "bad"))
    margin = (1 - default_rate) * good + default_rate * bad
    breakeven = good / (good - bad) if good > 0 and bad < good else float("nan")
    cohort = extra_approvals * margin
    benefit = years * cohort
    cost = one_time_cost + years * annual_cost
    net = benefit - cost
    roi = net / cost if cost > 0 else float("inf")
    run = (cohort - annual_cost) / 12
    payback = one_time_cost / run if run > 0 else float("inf")
    items = pd.DataFrame([
        {"item": "additional loans per year", "value": extra_approvals, "note": ""},
        {"item": "interest per good loan", "value": good_int, "note": f"{interest}, {n:g} months at {rate:.2%}"},
        {"item": "fee per loan", "value": fee, "note": f"{fee_rate:.2%} of principal"},
        {"item": "funding cost per good loan", "value": good_fund, "note": f"{funding_rate:.2%} on the balance"},
        {"item": "margin per good loan", "value": good, "note": ""},
        {"item": "credit loss per defaulting loan", "value": bad_loss,
         "note": f"LGD {lgd:.0%} x balance at month {dm:g}"},
        {"item": "margin per defaulting loan", "value": bad, "note": "interest until default + fee - funding - loss"},
        {"item": "expected margin per additional loan", "value": margin, "note": f"default rate {default_rate:.2%}"},
        {"item": "break-even default rate", "value": breakeven, "note": "expected margin is zero at this rate"},
        {"item": "benefit per year (cohort lifetime)", "value": cohort, "note": "undiscounted"},
        {"item": f"benefit over {years} year(s)", "value": benefit, "note": ""},
        {"item": f"cost over {years} year(s)", "value": cost,
         "note": f"one-time {one_time_cost:,.0f} + {years} x annual {annual_cost:,.0f}"},
        {"item": "net benefit", "value": net, "note": ""},
        {"item": "ROI", "value": roi, "note": "net benefit / cost"},
        {"item": "payback (months)", "value": payback, "note": "one-time cost / monthly net run-rate"},
    ])
    settings = {"extra_approvals": extra_approvals, "default_rate": default_rate, "loan_amount": loan_amount,
                "term_months": term_months, "rate": rate, "fee_rate": fee_rate, "lgd": lgd,
                "funding_rate": funding_rate, "default_month": dm, "one_time_cost": one_time_cost,
                "annual_cost": annual_cost, "years": years, "interest": interest}
    return ROIResult(items=items, net_benefit=float(net), roi=float(roi), payback_months=float(payback),
                     margin_per_loan=float(margin), breakeven_default_rate=float(breakeven), settings=settings)
