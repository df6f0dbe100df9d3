"""Stress test: PD paths of the book by scenario, with posterior bands.

For every posterior draw ``s`` and scenario, the monthly PD of account ``i`` of vintage
``v`` at age ``a`` in forecast month ``t = v + a`` is::

    PD_i(a, t) = expit(mu_s + F_s(a) + H_s,scenario(t) + score_i)

``score_i`` is, without account scores, the APC vintage effect ``G_s(v)``. With account
scores (``account_scores``: the credit model's logit score relative to the APC offset, the
restricted term zeroed or at its calibrating constant) it is ``G_lin,s(v) + score_i``, where
``G_lin`` is the linear trend of G: the score models were estimated against the
identification-invariant offsets ``mu' + F'(a) + H'(t)`` of
:func:`apcfair.apc.identification.invariant_offset_draws`, which carry G's linear trend, and
``mu' + F'(a) + H'(t) = mu + F(a) + H(t) + G_lin(v)`` exactly (``t = v + a``). Scored paths
therefore use the same offsets as the scores and do not depend on the identification choice
(:func:`vintage_trend_draws`; G's trend continues linearly for new vintages). Beyond the fitted ranges (older ages, new vintages) F and G are held at
the mean of their last 12 values per draw (``extrapolation="hold"``, default; the hold rule
of :mod:`apcfair.apc.identification`) or continued by their random walks
(``"random_walk"``). The **book at risk** evolves month by month: an account that
does not default leaves with the attrition probability of its age (``attrition=
"observed"``: closures / accounts at risk by age in the data), so
``n(t+1) = n(t) (1 - PD) (1 - q)``. New vintages (``new_vintages=True``) enter at the
portfolio's recent monthly origination volume with the recent score mix.

Reported per scenario and month: the **portfolio PD** (expected defaults / expected
accounts at risk, i.e. the mean monthly default rate of the book at risk), expected
defaults and accounts at risk, with credible bands over the draws (parameter, environment
and scenario-residual uncertainty; no binomial sampling noise). The **cumulative PD** of
an account is ``1 - prod_t (1 - PD_i(t))`` over the horizon from the forecast start
(conditional on the account staying open, no attrition); the portfolio's cumulative PD is
its average over the existing book (the accounts open at the end of the data). Beside it,
``cumulative_pd_unconditional`` is the probability of default before any other exit on the
book's own dynamics, ``sum_t n(t) PD(t) / n(0)`` (expected defaults of the existing book per
account open; equal to the net figure with ``attrition="none"``).

Computation never builds draws x accounts x months: accounts are grouped by vintage (and,
with scores, by score bin, using the bin's mean score) and aggregated per chunk of draws.
With scores, per-account cumulative PDs are interpolated on the logit scale between the
bins' mean scores within each vintage.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from apcfair._base import FittedResultMixin, ParamsMixin
from apcfair._io import to_jsonable
from apcfair._options import check_option
from apcfair._provenance import provenance
from apcfair._summary import Summary
from apcfair.apc.identification import HOLD_WINDOW, invariant_offset_draws
from apcfair.apc.results import check_window
from apcfair.forecast._extrapolate import function_draws
from apcfair.forecast._options import Extrapolation, OnIncomplete, Precision
from apcfair.forecast.macro import DRIVER_DEFINITIONS
from apcfair.forecast.scenarios import ScenarioProjection, random_walk_projection
from apcfair.layout import STRESS_JSON
from apcfair.portfolio.periods import format_period
from apcfair.portfolio.spells import Spells

FAN_LEVELS = (0.5, 0.8)
#: Quantiles reported over the posterior draws (PD paths, expected defaults, cumulative PD).
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Values per array per chunk of draws in :func:`book_paths` (3.2 MB in float64: cache-sized).
_CHUNK_ELEMENTS = 400_000
#: New vintages look like the recent ones: volume and score mix of the last ``RECENT_VINTAGES``
#: vintages, the same window over which G is held for new vintages (the APC hold rule).
RECENT_VINTAGES = HOLD_WINDOW


def _aligned_scores(account_scores, loans: pd.DataFrame) -> np.ndarray:
    if isinstance(account_scores, pd.Series):
        s = account_scores.reindex(loans["account_id"].to_numpy())
        miss = s.isna().to_numpy()
        if miss.any():
            ex = loans["account_id"].to_numpy()[miss][:3].tolist()
            raise ValueError(f"account_scores: no score for {int(miss.sum())} account(s) of the portfolio "
                             f"(e.g. account_id {ex}); index the Series by account_id")
        return s.to_numpy(float)
    s = np.asarray(account_scores, dtype=float).ravel()
    if len(s) != len(loans):
        raise ValueError(f"account_scores has {len(s):,} values; the portfolio has {len(loans):,} accounts "
                         "(give one logit score per row of portfolio.loans, or a Series indexed by account_id)")
    if not np.isfinite(s).all():
        raise ValueError(f"account_scores has {int((~np.isfinite(s)).sum())} missing or infinite value(s)")
    return s


def vintage_trend_draws(apc_result, vintages) -> np.ndarray:
    """Draws ``(S, len(vintages))`` of G's linear trend ``G_lin(v)``, the part of G that the
    identification-invariant offsets carry (continued linearly beyond the vintage grid).

    ``mu + F(a) + H(t) + G_lin(v)`` equals the invariant offset ``mu' + F'(a) + H'(t)`` of
    :func:`apcfair.apc.identification.invariant_offset_draws` (the offsets the score models
    were estimated against), so adding ``G_lin(v) + score_i`` to the raw predictor scores an
    account against the offsets its score was estimated with.

    Examples
    --------
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> G = np.array([[-1.0, 0.5, 0.5]])  # slope 0.75 per vintage, nonlinear rest
    >>> res = SimpleNamespace(draws={"intercept": np.zeros(1), "lifecycle": np.zeros((1, 3)),
    ...                              "vintage": G, "environment": np.zeros((1, 5))},
    ...                       labels={"vintage": np.array([10, 11, 12])}, settings={"grid_offset": 0})
    >>> vintage_trend_draws(res, [10, 11, 12, 13]).round(3).tolist()
    [[-0.75, 0.0, 0.75, 1.5]]
    """
    grid = np.asarray(apc_result.labels["vintage"], dtype=np.int64)
    lin = np.asarray(apc_result.draws["vintage"], dtype=float) - invariant_offset_draws(apc_result)["vintage"]
    if lin.shape[1] == 1:
        return np.zeros((lin.shape[0], len(np.atleast_1d(vintages))))
    slope = lin[:, 1] - lin[:, 0]
    pos = np.asarray(vintages, dtype=np.int64) - grid[0]
    return lin[:, :1] + slope[:, None] * pos[None, :]


def _recent(vintage: np.ndarray, t_end: int) -> np.ndarray:
    """Accounts of the last :data:`RECENT_VINTAGES` vintages before ``t_end``."""
    return (vintage >= t_end - RECENT_VINTAGES) & (vintage < t_end)


def attrition_by_age(spells: Spells, t_end: int, max_age: int, min_exposure: float = 200.0
                     ) -> tuple[np.ndarray, float]:
    """Monthly closure probability by age (index = age) and the pooled rate.

    Closures are accounts leaving without default before the last data month (leaving in
    the last month is indistinguishable from censoring); the denominator is the accounts
    at risk that did not default in that month.
    """
    last_age = spells.last_age
    before_end = spells.last_period < t_end
    closed = ~spells.defaulted & before_end
    n = int(max(spells.last_period.max() - spells.vintage.min(), max_age)) + 2
    closures = np.bincount(last_age[closed], minlength=n)[:n].astype(float)
    # exposure: at risk and not defaulting, over ages first_age .. min(last, t_end-1) - vintage
    a0 = spells.first_age
    a1 = np.minimum(spells.last_period, t_end - 1) - spells.vintage
    ok = a1 >= a0
    diff = np.bincount(a0[ok], minlength=n + 1)[: n + 1] - np.bincount(a1[ok] + 1, minlength=n + 1)[: n + 1]
    at_risk = np.cumsum(diff)[:n].astype(float)
    defaults = np.bincount(last_age[spells.defaulted & before_end], minlength=n)[:n].astype(float)
    expo = np.maximum(at_risk - defaults, 0)
    pooled = closures.sum() / expo.sum() if expo.sum() > 0 else 0.0
    q = np.where(expo >= min_exposure, closures / np.maximum(expo, 1), pooled)
    q = np.clip(q, 0, 0.5)
    out = np.full(max_age + 2, pooled)
    m = min(len(q), len(out))
    out[:m] = q[:m]
    out[0] = 0.0
    return out, float(pooled)


# ---------------------------------------------------------------------------- can the data support it?
#: Most accounts seen in one period only (among those with time for two) means a row sample.
MAX_SINGLE_PERIOD_SHARE = 0.5
#: A pooled closure rate per period above this is implausible for a book of full histories.
MAX_CLOSURE_RATE = {"M": 0.2, "Q": 0.45}
#: Rows excluded for gaps (missing periods inside an account's history) above this share.
MAX_GAP_SHARE = 0.2


def _incomplete_message(why: str) -> str:
    """The refusal of a portfolio whose histories cannot support a projection."""
    return (f"the portfolio cannot support a projection: {why}. Give complete account histories "
            "(every period from first to last row), or force with on_incomplete='warn' (CLI --force)")


def history_problems(portfolio, spells: Spells, t_end: int, freq: str) -> tuple[list[str], dict]:
    """Why the portfolio's histories cannot support a projection (empty list: they can).

    A projection needs complete account histories: every period of every account from its
    first to its last row. Three signs of a row sample (e.g. 1-5 rows drawn per loan of a
    panel) or of a broken extract are checked:

    - more than :data:`MAX_SINGLE_PERIOD_SHARE` of the accounts that had time for two periods
      (vintage at least two periods before the data end) are seen in one period only, without
      defaulting;
    - a pooled closure rate per period above :data:`MAX_CLOSURE_RATE` (0.2 monthly, 0.45
      quarterly), which would empty the book within a few periods;
    - more than :data:`MAX_GAP_SHARE` of the input rows were excluded for gaps when the panel
      was read (``on_invalid="exclude"``).

    Returns the problems (one sentence each) and the measured quantities.

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair.portfolio import Portfolio
    >>> loans = pd.DataFrame({"account_id": range(4), "origination": ["2019-01"] * 4,
    ...                       "last_month": ["2019-02", "2019-02", "2019-02", "2019-12"],
    ...                       "default": [0, 0, 0, 0]})
    >>> pf = Portfolio.from_loans(loans)
    >>> problems, stats = history_problems(pf, pf.spells(), pf.window[1], "M")
    >>> stats["single_period_share"]
    0.75
    >>> problems[0].startswith("75% of the accounts")
    True
    """
    unit = "month" if freq == "M" else "quarter"
    old = spells.vintage <= t_end - 2
    single = old & (spells.last_age == spells.first_age) & ~spells.defaulted
    share = float(single.sum() / max(old.sum(), 1))
    _, pooled = attrition_by_age(spells, t_end, 1)
    rows_in = gap_rows = 0
    for step in getattr(getattr(portfolio, "lineage", None), "steps", ()):
        gaps = sum(v for k, v in step.excluded.items() if "gap" in k)
        if gaps:
            rows_in, gap_rows = max(rows_in, step.rows_in), gap_rows + gaps
    gap_share = gap_rows / rows_in if rows_in else 0.0
    problems = []
    if share > MAX_SINGLE_PERIOD_SHARE:
        problems.append(f"{share:.0%} of the accounts that had time for two {unit}s are seen in one {unit} only "
                        f"(at most {MAX_SINGLE_PERIOD_SHARE:.0%} expected of complete histories: is this a row "
                        "sample?)")
    if pooled > MAX_CLOSURE_RATE[freq]:
        problems.append(f"pooled closure rate per {unit} {pooled:.4f} (above {MAX_CLOSURE_RATE[freq]}: the book "
                        "would empty within a few periods; histories look incomplete)")
    if gap_share > MAX_GAP_SHARE:
        problems.append(f"{gap_share:.0%} of the input rows were excluded for gaps in account histories "
                        f"(above {MAX_GAP_SHARE:.0%})")
    stats = {"single_period_share": share, "pooled_closure_rate": float(pooled), "gap_excluded_share": gap_share}
    return problems, stats


# ---------------------------------------------------------------------------- the book
@dataclass
class _Groups:
    vintage: np.ndarray        # (n_groups,)
    count: np.ndarray          # (n_groups,) accounts at the start (existing) or per vintage (new)
    centre: np.ndarray | None  # (n_groups,) fixed score, or None: G(v) draws


@dataclass
class Book:
    """The book grouped for projection: the existing accounts and the new vintages.

    ``account_group`` is each account's group in ``existing`` (-1 when not open at the end
    of the data).
    """

    existing: _Groups
    new: _Groups
    account_group: np.ndarray

    @property
    def vintage(self) -> np.ndarray:
        """Vintage of every group (existing first)."""
        return np.concatenate([self.existing.vintage, self.new.vintage]).astype(np.int64)

    @property
    def count(self) -> np.ndarray:
        """Accounts of every group at entry."""
        return np.concatenate([self.existing.count, self.new.count])

    @property
    def n_existing(self) -> int:
        """Number of existing groups."""
        return len(self.existing.vintage)


def book_by_vintage(vintage: np.ndarray, is_open: np.ndarray, volume: np.ndarray,
                    new_codes: np.ndarray) -> Book:
    """Without scores: one group per vintage of the open book, one per new vintage."""
    account_group = np.full(len(vintage), -1)
    gv, inv, gn = np.unique(vintage[is_open], return_inverse=True, return_counts=True)
    account_group[is_open] = inv
    return Book(_Groups(gv, gn.astype(float), None), _Groups(new_codes, volume, None), account_group)


def book_by_score(vintage: np.ndarray, is_open: np.ndarray, scores: np.ndarray, volume: np.ndarray,
                  new_codes: np.ndarray, t_end: int, score_bins: int, new_vintages: bool) -> Book:
    """With scores: groups by (vintage, score quantile bin), each at its mean score.

    New vintages take the recent vintages' score mix (bin shares and bin means).
    """
    account_group = np.full(len(vintage), -1)
    recent = _recent(vintage, t_end)
    pool = scores[is_open | recent]
    edges = np.unique(np.quantile(pool, np.linspace(0, 1, int(score_bins) + 1)[1:-1]))
    b = np.searchsorted(edges, scores, side="right")
    n_bins = len(edges) + 1
    key = vintage[is_open] * n_bins + b[is_open]
    uk, inv, gn = np.unique(key, return_inverse=True, return_counts=True)
    account_group[is_open] = inv
    centre = np.bincount(inv, weights=scores[is_open]) / gn
    existing = _Groups(uk // n_bins, gn.astype(float), centre)
    if not new_vintages:
        return Book(existing, _Groups(np.zeros(0, np.int64), np.zeros(0), np.zeros(0)), account_group)
    bw = np.bincount(b[recent], minlength=n_bins).astype(float)
    bc = np.bincount(b[recent], weights=scores[recent], minlength=n_bins) / np.maximum(bw, 1)
    bw = bw / bw.sum() if bw.sum() > 0 else np.full(n_bins, 1 / n_bins)
    keep = bw > 0
    nv = np.repeat(new_codes, keep.sum())
    new = _Groups(nv, (volume[:, None] * bw[keep][None, :]).ravel(), np.tile(bc[keep], len(new_codes)))
    return Book(existing, new, account_group)


@dataclass
class _Paths:
    """Draws over one scenario: expected defaults and at risk ``(draws, horizon)``, and the
    cumulative PD of every existing group ``(draws, n_existing)``."""

    expected_defaults: np.ndarray
    at_risk: np.ndarray
    cumulative: np.ndarray
    #: Probability of default before any other exit per existing group ``(draws, n_existing)``.
    unconditional: np.ndarray | None = None

    @property
    def rate(self) -> np.ndarray:
        """Portfolio PD draws: expected defaults / expected accounts at risk."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.expected_defaults / self.at_risk


def book_paths(mu: np.ndarray, lifecycle: np.ndarray, term: np.ndarray, environment: np.ndarray, *,
               age_idx: np.ndarray, active: np.ndarray, attrition: np.ndarray, count: np.ndarray,
               n_existing: int, precision: str = "float64") -> _Paths:
    """Run the grouped book through one scenario, per chunk of draws.

    ``mu (S,)``, ``lifecycle (S, ages)``, ``term (S or 1, n_groups)`` (G(v) draws or fixed
    scores), ``environment (S, horizon)``; ``age_idx``, ``active`` and ``attrition`` are
    ``(n_groups, horizon)``. The book at risk evolves as ``n(t+1) = n(t) (1 - PD) (1 - q)``.
    Per existing group: the cumulative PD net of attrition, ``1 - prod(1 - PD)``, and the
    unconditional one (default before any other exit) on the same book dynamics,
    ``sum_t n(t) PD(t) / n(0)``.

    The unconditional figure is read off the book's own survival: attrition ``q`` applies to
    accounts that did not default in the month, so the month's two exits are ``PD`` and
    ``q (1 - PD)`` and the survival from both, ``1 - PD - q (1 - PD) = (1 - PD)(1 - q)``, is
    the book's step; ``n(t) / n(0)`` is therefore the survival ``S(t - 1)`` of
    :func:`apcfair.forecast.cumulative.unconditional_cumulative_pd` (equal to rounding).

    The PD is computed from the odds, factored as ``exp(mu + term) exp(F(a)) exp(H(t))``:
    three small exponentials per chunk instead of one per draw, group and month (groups of
    the same vintage share ``exp(F(a)) exp(H(t))``), then ``1 - PD = 1 / (1 + odds)`` and
    ``PD = odds (1 - PD)``. Where the components could overflow the factored
    exponentials (``max|mu| + max|term| + max|F| + max|H|`` above ``log`` of the largest
    number of ``precision``, less 3) the predictor is summed first. The net cumulative PD comes
    from the odds without cancellation: ``X(t) = prod_(u<=t) (1 + odds(u)) - 1`` by
    ``X(t) = X(t - 1) + odds(t) (1 + X(t - 1))`` and ``1 - prod(1 - PD) = X / (1 + X)``.

    ``precision="float32"`` holds the draws x horizon x groups arrays of a chunk in float32
    (half the memory traffic); sums over months are accumulated in float64 and the results
    are float64. Its relative error is about 1e-6, far below the Monte Carlo error of any
    reported quantile (see :class:`StressTest`).
    Arrays are laid out ``(draws, horizon, groups)`` so the running product over the horizon
    and the sums over groups run on contiguous rows.

    Examples
    --------
    One group of 100 accounts, one draw, two months of PD 10% and 20% and attrition 50%:

    >>> import numpy as np
    >>> from scipy.special import logit
    >>> paths = book_paths(np.zeros(1), np.zeros((1, 2)), np.zeros((1, 1)), logit(np.array([[0.1, 0.2]])),
    ...                    age_idx=np.array([[0, 1]]), active=np.ones((1, 2), bool),
    ...                    attrition=np.full((1, 2), 0.5), count=np.array([100.0]), n_existing=1)
    >>> paths.expected_defaults.round(6).tolist(), paths.at_risk.round(6).tolist()
    ([[10.0, 9.0]], [[100.0, 45.0]])
    >>> round(float(paths.cumulative[0, 0]), 12), round(float(paths.unconditional[0, 0]), 12)
    (0.28, 0.19)
    """
    n_draws, horizon = environment.shape
    n_groups = len(count)
    exp_def = np.empty((n_draws, horizon))
    at_risk = np.empty((n_draws, horizon))
    cum_ex = np.empty((n_draws, n_existing))
    cum_unc = np.empty((n_draws, n_existing))
    # groups of one vintage share their ages, activity and attrition: one column per distinct age path
    age_rows, group_row = np.unique(np.asarray(age_idx), axis=0, return_inverse=True)
    group_row = group_row.ravel()
    row_active = np.zeros(age_rows.shape, dtype=bool)
    row_active[group_row] = np.asarray(active, dtype=bool)
    age_t, active_t = age_rows.T, row_active.T                          # (horizon, rows)
    keep_t = np.ascontiguousarray(1.0 - np.asarray(attrition, dtype=float).T)  # (horizon, groups)
    check_option("precision", precision, Precision)
    dt = np.dtype(precision)
    keep_t = keep_t.astype(dt, copy=False)
    count = np.asarray(count, dtype=float)
    count_dt = count.astype(dt)
    risk_w = (count[None, :] * np.asarray(active, dtype=bool).T)[:, :, None].astype(dt)  # (horizon, groups, 1)
    log_max = float(np.log(np.finfo(dt).max))
    factored = float(np.abs(mu).max() + np.abs(term).max() + np.abs(lifecycle).max()
                     + np.abs(environment).max()) <= log_max - 3.0
    chunk = max(1, _CHUNK_ELEMENTS // max(n_groups * horizon, 1))
    for c0 in range(0, n_draws, chunk):
        c = slice(c0, min(c0 + chunk, n_draws))
        lc = mu[c, None] + (term[c] if term.shape[0] > 1 else term)     # (draws, groups)
        if factored:
            by_row = np.exp(lifecycle[c]).astype(dt, copy=False)[:, age_t]  # (draws, horizon, rows)
            by_row *= np.exp(environment[c]).astype(dt, copy=False)[:, :, None]
            by_row *= active_t
            odds = np.take(by_row, group_row, axis=2)                   # (draws, horizon, groups)
            odds *= np.exp(lc).astype(dt, copy=False)[:, None, :]
        else:
            eta = np.take(lifecycle[c][:, age_t], group_row, axis=2)
            eta += lc[:, None, :]
            eta += environment[c][:, :, None]
            odds = np.exp(np.minimum(eta, log_max - 1.0), out=eta).astype(dt, copy=False)
            odds *= np.take(active_t, group_row, axis=1)
        # net cumulative PD of the existing groups: X = prod(1 + odds) - 1, summed without cancellation
        x = np.zeros((odds.shape[0], n_existing), dtype=dt)
        tmp = np.empty_like(x)
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(horizon):
                np.add(x, 1.0, out=tmp)
                tmp *= odds[:, t, :n_existing]
                x += tmp
            x64 = x.astype(float)
            cum_ex[c] = np.where(np.isinf(x64), 1.0, x64 / (1.0 + x64))
        del x, tmp
        step = odds + dt.type(1.0)
        np.reciprocal(step, out=step)                                   # 1 - PD
        p = odds
        p *= step                                                       # PD
        step *= keep_t                                                  # (1 - PD)(1 - q)
        # survival S(t) = n(t + 1) / n(0) in place: the running product over the horizon
        for t in range(1, horizon):
            step[:, t] *= step[:, t - 1]
        at_risk[c, 0] = risk_w[0].sum()
        at_risk[c, 1:] = np.matmul(step[:, :-1].transpose(1, 0, 2), risk_w[1:])[:, :, 0].T
        p[:, 1:] *= step[:, :-1]                                        # defaults per account at entry
        del step
        cum_unc[c] = p[:, :, :n_existing].sum(axis=1, dtype=float)
        exp_def[c] = (p.reshape(-1, n_groups) @ count_dt).reshape(-1, horizon)
    return _Paths(exp_def, at_risk, cum_ex, cum_unc)


def scenario_table(paths: _Paths, codes: np.ndarray, freq: str, credible_level: float) -> pd.DataFrame:
    """Monthly portfolio PD with fan bands, expected defaults with band, accounts at risk."""
    rate = paths.rate
    tab = {"month": format_period(codes, freq), "code": codes, "pd": rate.mean(axis=0)}
    for lev in sorted({*FAN_LEVELS, credible_level}):
        lo, hi = np.quantile(rate, [(1 - lev) / 2, (1 + lev) / 2], axis=0)
        suffix = "" if lev == credible_level else f"_{int(round(lev * 100))}"
        tab[f"pd_lower{suffix}"], tab[f"pd_upper{suffix}"] = lo, hi
    a = (1 - credible_level) / 2
    exp_def = paths.expected_defaults
    tab["expected_defaults"] = exp_def.mean(axis=0)
    tab["expected_defaults_lower"] = np.quantile(exp_def, a, axis=0)
    tab["expected_defaults_upper"] = np.quantile(exp_def, 1 - a, axis=0)
    tab["at_risk"] = paths.at_risk.mean(axis=0)
    for key, draws in (("pd", rate), ("expected_defaults", exp_def)):
        qs = np.quantile(draws, QUANTILES, axis=0)
        for q, row in zip(QUANTILES, qs, strict=True):
            tab[f"{key}_{'median' if q == 0.5 else _qname(q)}"] = row
    return pd.DataFrame(tab)


def _qname(q: float) -> str:
    """Column suffix of a quantile: 0.05 -> ``q05``."""
    return f"q{int(round(q * 100)):02d}"


def quantile_mc_error(draws: np.ndarray, q: float) -> float:
    """Monte Carlo standard error of the ``q`` quantile of ``draws`` (same unit as the draws).

    From the order statistics: the sample quantile's rank has binomial standard deviation
    ``sqrt(S q (1 - q))``; the standard error is half the spread of the values between the
    ranks ``S q -/+ 1.96 sqrt(S q (1 - q))`` divided by 1.96 (no density estimate needed).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=4000)
    >>> se = quantile_mc_error(x, 0.5)  # theory: sqrt(0.25 / 4000) / 0.399 = 0.020
    >>> bool(0.015 < se < 0.025)
    True
    """
    x = np.sort(np.asarray(draws, dtype=float).ravel())
    n = len(x)
    if n < 2:
        return float("nan")
    half = 1.96 * np.sqrt(n * q * (1 - q))
    lo = int(np.clip(np.floor(n * q - half), 0, n - 1))
    hi = int(np.clip(np.ceil(n * q + half), 0, n - 1))
    return float((x[hi] - x[lo]) / (2 * 1.96))


def cumulative_summary(paths: _Paths, existing_count: np.ndarray, credible_level: float) -> dict:
    """Cumulative PD of the existing book and expected defaults over the horizon, with bands."""
    a = (1 - credible_level) / 2
    n_book = float(existing_count.sum())
    n_draws = paths.expected_defaults.shape[0]
    port = ((paths.cumulative * existing_count[None, :]).sum(axis=1) / n_book if n_book > 0
            else np.full(n_draws, np.nan))
    tot = paths.expected_defaults.sum(axis=1)
    qkeys = [f"{q:g}" for q in QUANTILES if q != 0.5]
    unc = {}
    if paths.unconditional is not None:
        u = ((paths.unconditional * existing_count[None, :]).sum(axis=1) / n_book if n_book > 0
             else np.full(n_draws, np.nan))
        unc = {"cumulative_pd_unconditional": float(np.mean(u)),
               "cumulative_pd_unconditional_lower": float(np.quantile(u, a)),
               "cumulative_pd_unconditional_upper": float(np.quantile(u, 1 - a))}
    return {
        "cumulative_pd": float(np.mean(port)), "cumulative_pd_lower": float(np.quantile(port, a)),
        "cumulative_pd_upper": float(np.quantile(port, 1 - a)), **unc,
        "expected_defaults_total": float(tot.mean()),
        "expected_defaults_total_lower": float(np.quantile(tot, a)),
        "expected_defaults_total_upper": float(np.quantile(tot, 1 - a)),
        "cumulative_pd_median": float(np.median(port)),
        "cumulative_pd_quantiles": {k: float(np.quantile(port, float(k))) for k in qkeys},
        "cumulative_pd_quantiles_mc_error": {k: quantile_mc_error(port, float(k)) for k in ["0.5", *qkeys]},
        "expected_defaults_total_median": float(np.median(tot)),
        "expected_defaults_total_quantiles": {k: float(np.quantile(tot, float(k))) for k in qkeys},
        "n_draws": int(n_draws),
    }


def _interp_linear_ends(x: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Linear interpolation, extended linearly beyond the end points (slope 1 with one point)."""
    if len(xs) == 1:
        return ys[0] + (x - xs[0])
    out = np.interp(x, xs, ys)
    lo, hi = x < xs[0], x > xs[-1]
    s_lo = (ys[1] - ys[0]) / max(xs[1] - xs[0], 1e-12)
    s_hi = (ys[-1] - ys[-2]) / max(xs[-1] - xs[-2], 1e-12)
    out[lo] = ys[0] + s_lo * (x[lo] - xs[0])
    out[hi] = ys[-1] + s_hi * (x[hi] - xs[-1])
    return out


def _interpolate_scores(stats: dict, existing: _Groups, vintage: np.ndarray, scores: np.ndarray) -> dict:
    """Per-account values within each vintage, interpolated on the logit scale between the
    score groups' mean scores."""
    vals = {k: np.empty(len(scores)) for k in stats}
    order = np.argsort(existing.vintage, kind="stable")
    gv = existing.vintage[order]
    starts = np.searchsorted(gv, np.unique(gv))
    bounds = [*starts, len(gv)]
    for j in range(len(starts)):
        gidx = order[bounds[j]:bounds[j + 1]]
        m = vintage == existing.vintage[gidx[0]]
        xs = existing.centre[gidx]
        srt = np.argsort(xs)
        xs, gidx = xs[srt], gidx[srt]
        for k, arr in stats.items():
            ys = logit(np.clip(arr[gidx], 1e-12, 1 - 1e-12))
            vals[k][m] = expit(_interp_linear_ends(scores[m], xs, ys))
    return vals


def group_cumulative_stats(cumulative: np.ndarray, credible_level: float) -> dict:
    """Mean and central ``credible_level`` band over the draws of each existing group's
    cumulative PD (``cumulative``: draws x groups), as :func:`account_table` takes them (the
    draws need not be kept).

    Examples
    --------
    >>> import numpy as np
    >>> draws = np.linspace(0.01, 0.03, 101)[:, None]  # 101 draws, one group
    >>> {k: round(float(v[0]), 4) for k, v in group_cumulative_stats(draws, 0.9).items()}
    {'cumulative_pd': 0.02, 'lower': 0.011, 'upper': 0.029}
    """
    a = (1 - credible_level) / 2
    lower, upper = np.quantile(cumulative, [a, 1 - a], axis=0)
    return {"cumulative_pd": cumulative.mean(axis=0), "lower": lower, "upper": upper}


def account_table(loans: pd.DataFrame, vintage: np.ndarray, is_open: np.ndarray, book: Book,
                  scores: np.ndarray | None, stats_by_group: dict, freq: str) -> pd.DataFrame:
    """``account_id, vintage, scenario, cumulative_pd, lower, upper`` for the existing book
    (``stats_by_group``: per scenario, :func:`group_cumulative_stats` of its groups)."""
    ids = loans["account_id"].to_numpy()[is_open]
    vint = vintage[is_open]
    grp = book.account_group[is_open]
    uv, v_inv = np.unique(vint, return_inverse=True)
    vint_label = np.asarray(format_period(uv, freq), dtype=object)[v_inv.ravel()]  # formatted once
    frames = []
    for name, stats in stats_by_group.items():
        if scores is None:
            vals = {k: v[grp] for k, v in stats.items()}
        else:
            vals = _interpolate_scores(stats, book.existing, vint, scores[is_open])
        frames.append(pd.DataFrame({"account_id": ids, "vintage": vint_label,
                                    "scenario": name, **vals}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def environment_summary(draws: np.ndarray, codes: np.ndarray, freq: str, credible_level: float) -> dict:
    """The scenario's environment path H(t) (logit): ``month, mean, median, lower, upper``
    over the draws (credible band)."""
    a = (1 - credible_level) / 2
    return {"month": format_period(codes, freq), "mean": draws.mean(axis=0).tolist(),
            "median": np.median(draws, axis=0).tolist(), "lower": np.quantile(draws, a, axis=0).tolist(),
            "upper": np.quantile(draws, 1 - a, axis=0).tolist()}


def observed_history(cells: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Observed portfolio default rate per period of the APC window."""
    hist = cells.groupby("period")[["defaults", "at_risk"]].sum().reset_index()
    hist = hist.assign(observed_rate=hist["defaults"] / hist["at_risk"],
                       month=format_period(hist["period"].to_numpy(), freq)).rename(columns={"period": "code"})
    return hist[["month", "code", "defaults", "at_risk", "observed_rate"]]


# ---------------------------------------------------------------------------- the estimator
class StressTest(ParamsMixin, FittedResultMixin):
    """Monthly PD of the book by scenario, with expected defaults and cumulative PDs.

    ``StressTest(settings).fit(portfolio, apc_result, projection)`` returns the estimator;
    the :class:`StressResult` is ``result_``.

    Parameters
    ----------
    horizon : int
        Forecast months (default 36).
    new_vintages : bool
        Add new originations during the horizon.
    new_volume : int, float or array-like, optional
        New accounts per month (scalar or one per forecast month); default: the average
        monthly origination of the last 12 vintages.
    attrition : "observed", "none" or float
        Monthly closure probability of accounts that do not default: by age as observed in
        the data (default), none, or a constant.
    extrapolation : {"hold", "random_walk"}
        F at ages beyond the APC grid and G of new vintages (without account scores): the
        mean of the last 12 grid values per draw (default), or the random-walk continuation
        with innovations. In the synthetic backtest "hold" has about a fifth of the error
        of "random_walk" (whose RW2 continues the noisy slope at the edge of the grid).
    score_bins : int
        Quantile bins of account scores used to group accounts (with ``account_scores``).
    credible_level : float
        Width of the reported bands (fan charts also show 50% and 80% bands).
    on_incomplete : {"error", "warn"}
        A portfolio whose histories cannot support a projection (a row sample of a panel,
        gaps, implausible closure rates; :func:`history_problems`) raises ``ValueError``
        (default) or, with ``"warn"``, is projected with a loud warning recorded in the
        result (``warnings``; CLI ``--force``).
    precision : {"float32", "float64"}
        Floating-point type of the draws x horizon x groups arrays of :func:`book_paths`
        (sums over months and all results in float64). ``"float32"`` (default) is about
        twice as fast; on the paper-scale demo book its reported quantiles and means differ
        from ``"float64"`` by at most about 1e-6 relative, some 10^4 times below their Monte
        Carlo standard error (``cumulative_pd_quantiles_mc_error``). ``"float64"`` equals
        the float64 computation before issue 19 to 1e-10.
    random_state : int, optional
        Seed of every random step (random-walk extrapolations).

    Attributes
    ----------
    result_ : StressResult
        The projection of the last :meth:`fit` (raises
        :class:`~apcfair.errors.NotFittedError` before it).

    Examples
    --------
    Fit the APC model on a small synthetic book (2006-2012), project H(t) under three
    macro scenarios and run the book through them:

    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> apc_result = APCModel(hyper="eb", n_draws=200, random_state=0).fit(portfolio).result_
    >>> from apcfair.forecast import MacroModel, StressTest
    >>> macro = MacroModel(drivers=["unemployment_change", "gdp_growth"], random_state=0)
    >>> macro_result = macro.fit(apc_result, synth.macro_history).result_
    >>> proj = macro_result.project(synth.scenarios, horizon=36)
    >>> stress = StressTest(horizon=36).fit(portfolio, apc_result, proj).result_
    >>> stress.scenarios, stress.months[0], stress.months[-1]
    (['baseline', 'adverse', 'severely_adverse'], '2013-01', '2015-12')
    >>> cum = {s: stress.cumulative[s]["cumulative_pd"] for s in stress.scenarios}
    >>> bool(cum["baseline"] < cum["adverse"] < cum["severely_adverse"])
    True

    Without a projection, H(t) continues by its random walk:

    >>> StressTest(horizon=12, new_vintages=False).fit(portfolio, apc_result).result_.scenarios
    ['random_walk']
    """

    def __init__(self, horizon: int = 36, new_vintages: bool = True, new_volume=None,
                 attrition="observed", extrapolation: str = "hold", score_bins: int = 20,
                 credible_level: float = 0.95, on_incomplete: str = "error", precision: str = "float32",
                 random_state: int | None = 0):
        self.horizon = horizon
        self.new_vintages = new_vintages
        self.new_volume = new_volume
        self.attrition = attrition
        self.extrapolation = extrapolation
        self.score_bins = score_bins
        self.credible_level = credible_level
        self.on_incomplete = on_incomplete
        self.precision = precision
        self.random_state = random_state

    # ------------------------------------------------------------------ stages
    def _check(self) -> None:
        check_option("extrapolation", self.extrapolation, Extrapolation)
        check_option("on_incomplete", self.on_incomplete, OnIncomplete)
        check_option("precision", self.precision, Precision)
        if int(self.horizon) != self.horizon or self.horizon < 1:
            raise ValueError(f"horizon={self.horizon!r} must be a positive integer")
        if not 0 < self.credible_level < 1:
            raise ValueError(f"credible_level={self.credible_level!r} must be between 0 and 1")
        if not (self.attrition in ("observed", "none") or
                (isinstance(self.attrition, int | float) and 0 <= self.attrition < 1)):
            raise ValueError(f"attrition={self.attrition!r}: use 'observed', 'none' or a monthly rate in [0, 1)")
        if int(self.score_bins) < 1:
            raise ValueError(f"score_bins={self.score_bins!r} must be at least 1")

    def _history_check(self, portfolio, spells: Spells, t_end: int, freq: str) -> None:
        """Refuse (or, with ``on_incomplete="warn"``, warn loudly about) incomplete histories."""
        problems, self._history_stats = history_problems(portfolio, spells, t_end, freq)
        if not problems:
            return
        why = "; ".join(problems)
        if self.on_incomplete == "error":
            raise ValueError(_incomplete_message(why))
        text = f"FORCED PROJECTION ON INCOMPLETE HISTORIES: {why}; the projection is not supported by the data"
        warnings.warn(text, UserWarning, stacklevel=3)
        self._warnings.append(text)

    def check_history(self, portfolio) -> None:
        """Refuse a portfolio with incomplete histories before any model is fitted.

        The same check runs in :meth:`fit`; calling it first (as ``apcfair stress`` does)
        refuses a row-sampled panel before the APC fit. With ``on_incomplete="warn"`` it
        does nothing here (the warning is raised and recorded by :meth:`fit`).

        Parameters
        ----------
        portfolio : Portfolio
        """
        if self.on_incomplete != "error":
            return
        problems, _ = history_problems(portfolio, portfolio.spells(), portfolio.window[1], portfolio.freq)
        if problems:
            raise ValueError(_incomplete_message("; ".join(problems)))

    @staticmethod
    def _data_end(portfolio, spells: Spells, apc_result) -> int:
        """Last period of the APC window, checked against the portfolio's data."""
        return check_window(apc_result, portfolio.freq, int(spells.last_period.max()))

    @staticmethod
    def _projection(apc_result, projection: ScenarioProjection | None, t_end: int, horizon: int,
                    seed: int) -> ScenarioProjection:
        """The scenarios of H over the horizon (default: the random-walk continuation)."""
        freq = apc_result.freq
        if projection is None:
            projection = random_walk_projection(apc_result, horizon, random_state=seed)
        if projection.freq != freq:
            raise ValueError(f"the projection has frequency {projection.freq!r} but the APC result {freq!r}")
        if int(projection.codes[0]) != t_end + 1:
            raise ValueError(f"the projection starts in {projection.months[0]}; the forecast must start right "
                             f"after the APC window, in {format_period([t_end + 1], freq)[0]}")
        return projection.truncate(horizon)

    def _new_volume(self, vintage: np.ndarray, t_end: int, horizon: int) -> np.ndarray:
        if self.new_volume is None:
            recent = _recent(vintage, t_end)
            n_months = max(len(np.unique(vintage[recent])), 1)
            return np.full(horizon, recent.sum() / n_months)
        vol = np.asarray(self.new_volume, dtype=float)
        if vol.ndim == 0:
            vol = np.full(horizon, float(vol))
        if vol.shape != (horizon,) or (vol < 0).any() or not np.isfinite(vol).all():
            raise ValueError(f"new_volume must be a non-negative number or {horizon} numbers "
                             "(one per forecast month)")
        return vol

    def _attrition(self, spells: Spells, t_end: int, max_age: int) -> tuple[np.ndarray, float]:
        """Closure probability by age ``0..max_age+1`` and the pooled rate."""
        if self.attrition == "observed":
            return attrition_by_age(spells, t_end, max_age)
        if self.attrition == "none":
            return np.zeros(max_age + 2), 0.0
        return np.full(max_age + 2, float(self.attrition)), float(self.attrition)

    # ------------------------------------------------------------------ fit
    def fit(self, portfolio, apc_result, projection: ScenarioProjection | None = None,
            account_scores=None) -> StressTest:
        """Project the book under every scenario of ``projection``.

        Stages: check the inputs and the projection, group the book (:func:`book_by_vintage`
        or :func:`book_by_score`), draw mu, F and the score term, run every scenario
        (:func:`book_paths`), then tables (:func:`scenario_table`,
        :func:`cumulative_summary`, :func:`account_table`).

        Parameters
        ----------
        portfolio : Portfolio
            The book (its data must end where the APC window ends).
        apc_result : APCResult
            The APC fit on that portfolio.
        projection : ScenarioProjection, optional
            H per scenario (from :meth:`MacroResult.project`); default: the random-walk
            continuation of H (:func:`random_walk_projection`), scenario ``"random_walk"``.
        account_scores : array-like or pandas.Series, optional
            Logit score per account (rows of ``portfolio.loans``, or a Series indexed by
            ``account_id``), replacing ``G(v)``.

        Returns
        -------
        StressTest
            ``self``, with the :class:`StressResult` in ``result_``.
        """
        self._check()
        horizon = int(self.horizon)
        freq = apc_result.freq
        spells = portfolio.spells()
        t_end = self._data_end(portfolio, spells, apc_result)
        self._warnings = []
        self._history_check(portfolio, spells, t_end, freq)
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31, size=4)
        projection = self._projection(apc_result, projection, t_end, horizon, int(seeds[0]))
        loans = portfolio.loans
        vintage = spells.vintage
        is_open = ~spells.defaulted & (spells.last_period == t_end)
        scores = None if account_scores is None else _aligned_scores(account_scores, loans)
        volume = self._new_volume(vintage, t_end, horizon) if self.new_vintages else np.zeros(0)
        if not is_open.any() and not self.new_vintages:
            raise ValueError("no account is open at the end of the data and new_vintages=False: nothing to project")

        new_codes = (np.arange(t_end, t_end + horizon, dtype=np.int64) if self.new_vintages
                     else np.zeros(0, np.int64))
        if scores is None:
            book = book_by_vintage(vintage, is_open, volume, new_codes)
        else:
            book = book_by_score(vintage, is_open, scores, volume, new_codes, t_end, self.score_bins,
                                 self.new_vintages)
        group_vintage = book.vintage
        ages = t_end + np.arange(1, horizon + 1)[None, :] - group_vintage[:, None]  # (n_groups, horizon)
        active = ages >= 1
        max_age = int(max(ages.max(), 1))

        # draws of mu, F and the score term
        idx = np.asarray(projection.draw_index)
        mu = np.asarray(apc_result.draws["intercept"], dtype=float)[idx]
        ext = {"extrapolation": self.extrapolation}
        lifecycle = function_draws(apc_result, "lifecycle", np.arange(1, max_age + 1),
                                   random_state=int(seeds[1]), **ext)[idx]
        if scores is None:
            term = function_draws(apc_result, "vintage", group_vintage, random_state=int(seeds[2]),
                                  **ext)[idx]  # (S, n_groups)
        else:
            # the scores' own offsets: the invariant mu' + F' + H' = mu + F + H + G_lin(v)
            term = (np.concatenate([book.existing.centre, book.new.centre])[None, :]
                    + vintage_trend_draws(apc_result, group_vintage)[idx])  # (S, n_groups)
        q_age, pooled_q = self._attrition(spells, t_end, max_age)
        attrition = np.where(active, q_age[np.clip(ages, 0, max_age + 1)], 0.0)
        age_idx = np.clip(ages, 1, max_age) - 1

        cl = float(self.credible_level)
        tables, cumulative, pd_draws, cum_groups, environment = {}, {}, {}, {}, {}
        for name in projection.scenarios:
            paths = book_paths(mu, lifecycle, term, projection.draws[name], age_idx=age_idx, active=active,
                               attrition=attrition, count=book.count, n_existing=book.n_existing,
                               precision=self.precision)
            pd_draws[name] = paths.rate
            cum_groups[name] = group_cumulative_stats(paths.cumulative, cl)  # not the draws: memory
            tables[name] = scenario_table(paths, projection.codes, freq, cl)
            cumulative[name] = cumulative_summary(paths, book.existing.count, cl)
            environment[name] = environment_summary(projection.draws[name], projection.codes, freq, cl)

        settings = {**self.get_params(), "new_volume": None if self.new_volume is None else
                    to_jsonable(np.asarray(self.new_volume).tolist())}
        notes = self._notes(freq, t_end, horizon, float(book.existing.count.sum()), scores is not None,
                            pooled_q, volume, projection)
        self._result = StressResult(
            codes=np.asarray(projection.codes), freq=freq, tables=tables, cumulative=cumulative,
            account_pd=account_table(loans, vintage, is_open, book, scores, cum_groups, freq),
            history=observed_history(apc_result.cells, freq), credible_level=cl, settings=settings,
            notes=notes, provenance=provenance(settings), pd_draws=pd_draws, environment=environment,
            drivers=list(projection.notes.get("drivers", [])),
            warnings=[*projection.notes.get("warnings", []), *self._warnings])
        return self

    def _key_definitions(self, freq: str) -> dict:
        """Definition and unit of every key of a scenario record in ``stress.json``."""
        per = "month" if freq == "M" else "quarter"
        cl = f"{self.credible_level:.0%}"
        rate = f"fraction per {per} (0.01 = 1%)"
        return {
            "month": f"forecast {per} ({'YYYY-MM' if freq == 'M' else 'YYYY-Qn'})",
            "pd": f"mean over the posterior draws of the portfolio PD (definitions.pd); {rate}",
            "pd_lower, pd_upper": f"central {cl} credible band of the portfolio PD over the draws; {rate}",
            "pd_lower_50, pd_upper_50, pd_lower_80, pd_upper_80": f"central 50% and 80% bands (fan chart); {rate}",
            "pd_q05, pd_q25, pd_median, pd_q75, pd_q95": f"quantiles of the portfolio PD over the draws; {rate}",
            "expected_defaults (and _lower, _upper, _q05, _q25, _median, _q75, _q95)": f"expected number of defaults in the {per}: "
                                                                     f"mean, {cl} band and quantiles over the draws; "
                                                                     f"accounts per {per}",
            "at_risk": f"expected accounts at risk in the {per} (mean over the draws); accounts",
            "cumulative_pd (and _lower, _upper, _median)": "cumulative PD of the existing book over the horizon "
                                                           f"(definitions.cumulative_pd): mean, {cl} band, median; "
                                                           "fraction (0.05 = 5%)",
            "cumulative_pd_unconditional (and _lower, _upper)": "probability of default before any other exit "
                                                               "(payoff, closure) over the horizon, existing book "
                                                               "(definitions.cumulative_pd_unconditional): mean and "
                                                               f"{cl} band; fraction (0.05 = 5%)",
            "cumulative_pd_quantiles": "quantiles 0.05, 0.25, 0.75, 0.95 over the draws; fraction",
            "cumulative_pd_quantiles_mc_error": "Monte Carlo standard error of each quantile; fraction",
            "expected_defaults_total (and _lower, _upper, _median, _quantiles)": "expected defaults over the horizon "
                                                                                 "(existing book and new vintages); "
                                                                                 "accounts",
            "n_draws": "posterior draws behind every band and quantile",
            "environment": f"the scenario's environment H(t) per {per}: mean, median and {cl} band over the draws; "
                           "logit (log-odds) scale, added to mu + F(a) + G(v)",
        }

    def _notes(self, freq: str, t_end: int, horizon: int, n_book: float, with_scores: bool,
               pooled_q: float, volume: np.ndarray, projection: ScenarioProjection) -> dict:
        """The definitions written with the result."""
        return {
            "pd": "mean monthly default rate of the book at risk: expected defaults / expected accounts at "
                  "risk (existing book and, if enabled, new vintages); bands over posterior draws",
            "cumulative_pd": f"average over the {int(n_book):,} accounts open at "
                             f"{format_period([t_end], freq)[0]} of 1 - prod(1 - PD) over the {horizon} "
                             f"forecast {'months' if freq == 'M' else 'quarters'} (NET of attrition: conditional "
                             "on staying open)",
            "cumulative_pd_unconditional": f"average over the same accounts of the probability of default before "
                                           f"any other exit (payoff, closure) within the {horizon} forecast "
                                           f"{'months' if freq == 'M' else 'quarters'}, with the book's attrition "
                                           f"({self.attrition}): sum_t n(t) PD(t) / n(0), n(t+1) = n(t) (1 - PD) "
                                           "(1 - q); at most cumulative_pd, equal without attrition. Expected "
                                           "defaults of the existing book / its accounts",
            "score": ("account scores from the credit model, added to the identification-invariant APC "
                      "offsets they were estimated against (mu + F(a) + H(t) + G's linear trend)")
            if with_scores else "APC vintage effect G(v)",
            "extrapolation": f"F beyond the APC ages and G of new vintages: {self.extrapolation}",
            "attrition": f"{self.attrition} (pooled closure rate per period {pooled_q:.4f})",
            "new_volume_per_month": float(volume.mean()) if len(volume) else 0.0,
            "environment": projection.source,
            "environment_method": projection.notes.get("method", ""),
            "driver_trend": projection.notes.get("driver_trend", ""),
            **({"drivers": DRIVER_DEFINITIONS,
                "driver_transforms": projection.notes.get("driver_specs", [])} if projection.notes.get("drivers")
               else {}),
            "history_check": self._history_stats,
            "quantiles": "cumulative_pd_quantiles and the per-month *_q05/_q25/_median/_q75/_q95 columns are "
                         "quantiles over the posterior draws; cumulative_pd_quantiles_mc_error is the Monte Carlo "
                         "standard error of each quantile from the finite number of draws (n_draws)",
            "environment_path": "environment: the scenario's H(t) on the logit scale, mean, median and credible "
                                "band over the draws",
            "scenario_keys": self._key_definitions(freq),
        }

    def run(self, portfolio, apc_result, projection: ScenarioProjection | None = None,
            account_scores=None) -> StressResult:
        """``fit(...).result_`` in one call (kept for existing scripts)."""
        return self.fit(portfolio, apc_result, projection, account_scores).result_


@dataclass(frozen=True)
class StressResult:
    """PD paths by scenario with bands, expected defaults and cumulative PDs.

    Parameters
    ----------
    codes, freq, tables, cumulative, account_pd, history, credible_level, settings, notes, provenance, pd_draws
        As the attributes; produced by :meth:`StressTest.fit`.

    Attributes
    ----------
    codes : ndarray
        Forecast period codes.
    freq : {"M", "Q"}
    tables : dict of pandas.DataFrame
        Per scenario: ``month, code, pd, pd_lower, pd_upper`` (credible band),
        ``pd_lower_50/upper_50/lower_80/upper_80`` (fan bands), ``expected_defaults``
        (with band) and ``at_risk`` (expected accounts at risk).
    cumulative : dict of dict
        Per scenario: ``cumulative_pd`` of the existing book with band and the expected
        defaults over the horizon with band.
    account_pd : pandas.DataFrame
        ``account_id, vintage, scenario, cumulative_pd, lower, upper`` for the existing
        book.
    history : pandas.DataFrame
        Observed monthly portfolio default rate over the APC window.
    credible_level : float
    settings, notes, provenance : dict
    pd_draws : dict of ndarray, optional
        Draws of the portfolio PD ``(S, horizon)`` per scenario (not saved).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> apc_result = APCModel(hyper="eb", n_draws=200, random_state=0).fit(portfolio).result_
    >>> from apcfair.forecast import StressResult, StressTest
    >>> result = StressTest(horizon=24).fit(portfolio, apc_result).result_
    >>> result.tables["random_walk"].columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['month', 'code', 'pd', 'pd_lower_50', 'pd_upper_50', 'pd_lower_80', 'pd_upper_80',
     'pd_lower', 'pd_upper', 'expected_defaults', 'expected_defaults_lower',
     'expected_defaults_upper', 'at_risk', 'pd_q05', 'pd_q25', 'pd_median', 'pd_q75', 'pd_q95',
     'expected_defaults_q05', 'expected_defaults_q25', 'expected_defaults_median',
     'expected_defaults_q75', 'expected_defaults_q95']
    >>> result.table().shape
    (24, 24)
    >>> sorted(result.cumulative["random_walk"]["cumulative_pd_quantiles"])
    ['0.05', '0.25', '0.75', '0.95']
    >>> c = result.cumulative["random_walk"]
    >>> bool(c["cumulative_pd_lower"] < c["cumulative_pd"] < c["cumulative_pd_upper"])
    True
    >>> list(result.account_pd.columns)
    ['account_id', 'vintage', 'scenario', 'cumulative_pd', 'lower', 'upper']

    Saved into a folder, the file takes its layout name (``stress.json``):

    >>> path = result.save(tempfile.mkdtemp())
    >>> path.name
    'stress.json'
    >>> StressResult.load(path).months == result.months
    True
    """

    codes: np.ndarray
    freq: str
    tables: dict
    cumulative: dict
    account_pd: pd.DataFrame | None
    history: pd.DataFrame
    credible_level: float
    settings: dict
    notes: dict
    provenance: dict = field(default_factory=dict)
    pd_draws: dict | None = None
    environment: dict = field(default_factory=dict)
    drivers: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    @property
    def scenarios(self) -> list[str]:
        """Scenario names."""
        return list(self.tables)

    @property
    def months(self) -> list[str]:
        """Forecast months as strings."""
        return format_period(self.codes, self.freq)

    def table(self) -> pd.DataFrame:
        """All scenarios in one tidy table (``scenario`` first)."""
        return pd.concat([t.assign(scenario=k)[["scenario", *t.columns]] for k, t in self.tables.items()],
                         ignore_index=True)

    def summary(self) -> Summary:
        """Summary per scenario (text and HTML)."""
        setup = "\n".join([
            f"Forecast {self.months[0]} to {self.months[-1]} ({len(self.codes)} periods); environment: "
            f"{self.notes.get('environment', '')}",
            f"Score: {self.notes.get('score', '')}; attrition: {self.notes.get('attrition', '')}",
            f"PD: {self.notes['pd']}", f"Cumulative PD: {self.notes['cumulative_pd']}"])
        cl = int(round(self.credible_level * 100))
        unit = "monthly" if self.freq == "M" else "quarterly"
        lines = []
        for name, t in self.tables.items():
            c = self.cumulative[name]
            lines.append(
                f"{name:20s} mean {unit} PD {t['pd'].mean():.4%} (peak {t['pd'].max():.4%} in "
                f"{t['month'].iloc[int(t['pd'].idxmax())]}); expected defaults "
                f"{c['expected_defaults_total']:,.0f}; cumulative PD {c['cumulative_pd']:.3%} "
                f"[{cl}%: {c['cumulative_pd_lower']:.3%}, {c['cumulative_pd_upper']:.3%}] net of attrition"
                + (f"; {c['cumulative_pd_unconditional']:.3%} [{c['cumulative_pd_unconditional_lower']:.3%}, "
                   f"{c['cumulative_pd_unconditional_upper']:.3%}] before any other exit"
                   if "cumulative_pd_unconditional" in c else ""))
        blocks = [setup, "\n".join(lines)]
        if self.drivers:
            blocks.append("Drivers (environment H(t), logit per unit of the transformed driver):\n" + "\n".join(
                f"  {d['name']:28s} {d['transform'] or 'level':10s} {d['coefficient']:+.4f} "
                f"[{d['lower']:+.4f}, {d['upper']:+.4f}] p={d['p_value']:.3g} expected "
                f"{d['expected_sign'] or '?'}" + (f"  WARNING: {d['warning']}" if d.get("warning") else "")
                for d in self.drivers))
        if self.notes.get("driver_trend"):
            blocks.append(f"Driver trend beyond the window: {self.notes['driver_trend']}")
        if self.warnings:
            blocks.append("WARNINGS:\n" + "\n".join(f"  ! {w}" for w in self.warnings))
        return Summary.from_blocks("Stress test", blocks)

    def to_json_dict(self) -> dict:
        """The ``stress.json`` layout.

        ``{"scenarios": {NAME: {"month", "pd", "pd_lower", "pd_upper", "expected_defaults",
        "cumulative_pd", ...}}, ...}`` with monthly lists; extra keys give the fan bands,
        bands of expected defaults and cumulative PD, and the definitions used.
        """
        out = {}
        for name, t in self.tables.items():
            d = {"month": list(t["month"])}
            for col in t.columns:
                if col not in ("month", "code"):
                    d[col] = [float(x) for x in t[col]]
            d.update(self.cumulative[name])
            if name in self.environment:
                d["environment"] = self.environment[name]
            out[name] = d
        return to_jsonable({
            "scenarios": out, "horizon": len(self.codes),
            "horizon_unit": "months" if self.freq == "M" else "quarters",
            "horizon_months": len(self.codes) * (1 if self.freq == "M" else 3), "forecast_start": self.months[0],
            "credible_level": self.credible_level, "definitions": self.notes, "settings": self.settings,
            "provenance": self.provenance, "drivers": self.drivers, "warnings": self.warnings,
        })

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json_dict` plus the observed history as JSON (account table not included).

        ``path`` is a file, or an existing folder (the file is then ``stress.json`` in it).
        """
        path = Path(path)
        if path.is_dir():
            path = path / STRESS_JSON
        d = self.to_json_dict()
        d["history"] = to_jsonable(self.history.to_dict(orient="list"))
        path.write_text(json.dumps(d, indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> StressResult:
        """Read a result written by :meth:`save` (without draws and account table).

        ``path`` is a file, or a folder holding ``stress.json``.
        """
        from apcfair.portfolio.periods import to_period_code

        path = Path(path)
        if path.is_dir():
            path = path / STRESS_JSON
        d = json.loads(path.read_text())
        freq = "Q" if "Q" in d["forecast_start"] else "M"
        tables, cumulative, environment = {}, {}, {}
        for name, sd in d["scenarios"].items():
            sd = dict(sd)
            if "environment" in sd:
                environment[name] = sd.pop("environment")
            cols = {k: v for k, v in sd.items() if isinstance(v, list)}
            t = pd.DataFrame(cols)
            t.insert(1, "code", to_period_code(t["month"], freq))
            tables[name] = t
            cumulative[name] = {k: v for k, v in sd.items() if not isinstance(v, list)}
        hist = pd.DataFrame(d.get("history", {"month": [], "code": [], "defaults": [], "at_risk": [],
                                              "observed_rate": []}))
        first = next(iter(tables.values()))
        return cls(codes=first["code"].to_numpy(np.int64), freq=freq, tables=tables, cumulative=cumulative,
                   account_pd=None, history=hist, credible_level=float(d["credible_level"]),
                   settings=d.get("settings", {}), notes=d.get("definitions", {}),
                   provenance=d.get("provenance", {}), environment=environment, drivers=d.get("drivers", []),
                   warnings=d.get("warnings", []))

    # ------------------------------------------------------------------ plots
    def plot_fan_chart(self, ax=None, scenarios=None, history_months: int | None = 48):
        """Monthly portfolio PD per scenario: mean path with nested 50/80/credible bands."""
        from apcfair.forecast.plots import plot_fan_chart

        return plot_fan_chart(self, ax=ax, scenarios=scenarios, history_months=history_months)

    def plot_fan_charts(self, axes=None, history_months: int | None = 48):
        """One fan-chart panel per scenario (shared y axis)."""
        from apcfair.forecast.plots import plot_fan_charts

        return plot_fan_charts(self, axes=axes, history_months=history_months)
