"""Post-processing what-if tools: group thresholds, group calibration, review routing.

.. warning::
   Every tool here uses the protected attribute **at decision time**. In credit, deciding
   on it can itself be unlawful disparate treatment (e.g. ECOA / Regulation B in the US,
   Directive 2004/113/EC and the AGG in Germany). They are audit instruments: they size what
   a fairer decision rule would cost and gain, next to models that are fair by construction
   (pass their scores in ``compare``). They never randomise a decision.

Each tool follows the estimator contract (settings in ``__init__`` stored unchanged and
checked in ``fit``, ``fit`` returns self, fitted attributes end in ``_``; ``get_params``/
``set_params`` from :class:`apcfair._base.ParamsMixin`, so ``sklearn.base.clone`` works) and
has ``report(...)`` returning an :class:`InterventionReport` with before/after metrics and
the accuracy cost.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from apcfair._base import ParamsMixin
from apcfair._io import to_jsonable
from apcfair._summary import Summary
from apcfair.audit import plots as audit_plots
from apcfair.audit._options import (
    CalibrationMethod,
    Polarity,
    ReviewScenario,
    ThresholdObjective,
    check_option,
)
from apcfair.audit._result import JSONResultMixin, frame, number
from apcfair.audit._validate import (
    approve,
    check_cutoff,
    check_groups,
    check_lengths,
    check_outcome,
    check_score,
    risk_key,
    to_pd,
)
from apcfair.audit.groups import DEFAULT_THRESHOLDS, compute_gaps
from apcfair.audit.html import report_html
from apcfair.audit.metrics import brier, expected_calibration_error, rates, roc_auc
from apcfair.errors import NotFittedError

#: The legal caveat printed with every post-processing what-if output.
WHAT_IF_NOTE = (
    "WHAT-IF ONLY: this tool uses the protected attribute at decision time. In credit, deciding on a "
    "protected attribute can itself be unlawful disparate treatment (e.g. ECOA/Regulation B in the US, "
    "Directive 2004/113/EC and the AGG in Germany). Use it to size the cost and gain of a fairer decision "
    "rule, not to decide on applicants."
)


# ---------------------------------------------------------------------------------------
# report
@dataclass(frozen=True)
class InterventionReport(JSONResultMixin):
    """Before/after metrics of a post-processing what-if.

    Parameters
    ----------
    name, overall, by_group, accuracy_cost, what_if_note, details
        As the attributes; produced by the tools' ``report`` methods.

    Attributes
    ----------
    name : str
        The intervention.
    overall : pandas.DataFrame
        One row per variant (``before``, ``after`` or scenarios, extra scores):
        approval rate, default rate among approved, accuracy, TPR, the gaps, score metrics,
        and changes against ``before``.
    by_group : pandas.DataFrame
        One row per variant and group.
    accuracy_cost : float
        ``accuracy(before) - accuracy(after)`` (positive = accuracy lost).
    what_if_note : str
        The legal caveat; printed with every output.
    details : dict
        Tool-specific facts (thresholds, calibration maps, routing band, ...).

    Examples
    --------
    Reports come from the ``report`` method of the post-processing tools:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["A", "B"], 4000, p=[0.7, 0.3])
    >>> risk = rng.normal(0, 1, 4000) + 0.4 * (group == "B")
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-(risk - 2)))).astype(int)
    >>> pd_ = 1 / (1 + np.exp(-(risk - 2)))     # a calibrated PD
    >>> from apcfair.audit import EqualOpportunityThresholds
    >>> eo = EqualOpportunityThresholds(cutoff=0.2).fit(pd_[:2000], y[:2000], group[:2000])
    >>> report = eo.report(pd_[2000:], y[2000:], group[2000:])
    >>> report.overall["variant"].tolist(), report.by_group["group"].tolist()
    (['before', 'after'], ['A', 'B', 'A', 'B'])
    >>> print(report.summary().splitlines()[2][:13])
    WHAT-IF ONLY:
    >>> sorted(report.to_json_dict())
    ['accuracy_cost', 'by_group', 'details', 'name', 'overall', 'what_if_note']
    """

    name: str
    overall: pd.DataFrame
    by_group: pd.DataFrame
    accuracy_cost: float
    what_if_note: str = WHAT_IF_NOTE
    details: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The what-if note, overall and group rows per variant, and the accuracy cost.

        Returns
        -------
        apcfair._summary.Summary
            Text (a ``str``) that renders as HTML tables in a notebook.
        """
        cols = [c for c in ("variant", "approval_rate", "default_rate_approved", "accuracy", "eod", "spd", "dir",
                            "ece", "routed_share") if c in self.overall.columns]
        g = [c for c in ("variant", "group", "n", "approval_rate", "tpr", "fpr", "default_rate_approved", "ece",
                         "routed_share") if c in self.by_group.columns]
        return Summary.from_blocks(self.name, [
            self.what_if_note, ("Overall", self.overall[cols]), ("By group", self.by_group[g]),
            f"accuracy cost (before - after): {self.accuracy_cost:+.4f}",
        ], float_format=".4f")

    def to_json_dict(self) -> dict:
        """JSON-ready dictionary (NaN and infinities -> null)."""
        return to_jsonable({"name": self.name, "what_if_note": self.what_if_note, "accuracy_cost": self.accuracy_cost,
                            "overall": self.overall, "by_group": self.by_group, "details": self.details})

    @classmethod
    def from_json_dict(cls, d) -> InterventionReport:
        """Rebuild a report from :meth:`to_json_dict` output."""
        return cls(name=d["name"], overall=frame(d["overall"]), by_group=frame(d["by_group"]),
                   accuracy_cost=number(d["accuracy_cost"]), what_if_note=d.get("what_if_note", WHAT_IF_NOTE),
                   details=dict(d.get("details") or {}))

    def to_html(self) -> str:
        """Self-contained HTML."""
        return report_html(self)

    def plot_by_group(self, metric: str = "tpr", ax=None):
        """Grouped bars of a group rate per variant.

        Returns
        -------
        matplotlib.axes.Axes
        """
        return audit_plots.plot_intervention(self, metric=metric, ax=ax)


def _soft_counts(p_approve: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """Expected confusion cells per group when case i is approved with weight p_approve[i]."""
    cw = (y == 0).astype(float)
    p = np.asarray(p_approve, dtype=float)
    out = np.zeros((k, 4))
    out[:, 0] = np.bincount(codes, p * cw, k)
    out[:, 1] = np.bincount(codes, p * (1 - cw), k)
    out[:, 2] = np.bincount(codes, (1 - p) * cw, k)
    out[:, 3] = np.bincount(codes, (1 - p) * (1 - cw), k)
    return out


def _variant(variant: str, p_approve, y, labels: pd.Categorical, min_group_size: int, *, pd_=None, risk=None,
             n_bins: int = 10, extra: dict | None = None, mask=None):
    """Overall row and group rows of one variant (decisions possibly fractional = expected values)."""
    codes = np.asarray(labels.codes)
    if mask is not None:
        p_approve, y, codes = np.asarray(p_approve)[mask], y[mask], codes[mask]
        pd_ = None if pd_ is None else pd_[mask]
        risk = None if risk is None else risk[mask]
    k = len(labels.categories)
    counts = _soft_counts(p_approve, y, codes, k)
    r = rates(counts)
    groups = list(labels.categories)
    eligible = counts.sum(1) >= min_group_size
    # a rate enters a gap only on >= min_group_size applicants of its own denominator (as in audit())
    floor = min_group_size
    if eligible.sum() < 2:
        eligible, floor = counts.sum(1) > 0, 1
    gaps = {g["gap"]: g["value"] for g in compute_gaps(counts, groups, eligible, dict(DEFAULT_THRESHOLDS),
                                                        min_rate_denominator=floor)}
    tot = rates(counts.sum(0))
    row = {"variant": variant, "n": float(counts.sum()), "approval_rate": float(tot["approval_rate"]),
           "default_rate_approved": float(tot["default_rate_approved"]), "accuracy": float(tot["accuracy"]),
           "tpr": float(tot["tpr"]), "fpr": float(tot["fpr"]), **{k_: float(v) for k_, v in gaps.items()}}
    if risk is not None:
        row["auc"] = roc_auc(y, risk)
    if pd_ is not None:
        row["brier"] = brier(y, pd_)
        row["ece"] = expected_calibration_error(y, pd_, n_bins)
    if extra:
        row.update(extra)
    bg = pd.DataFrame({"variant": variant, "group": groups, "n": counts.sum(1),
                       **{m: r[m] for m in ("approval_rate", "tpr", "fpr", "precision", "default_rate_approved",
                                            "accuracy")}})
    if pd_ is not None:
        bg["ece"] = [expected_calibration_error(y[codes == j], pd_[codes == j], n_bins) if (codes == j).any()
                     else np.nan for j in range(k)]
        bg["brier"] = [brier(y[codes == j], pd_[codes == j]) if (codes == j).any() else np.nan for j in range(k)]
    return row, bg[bg["n"] > 0]


def _finish(name, rows, bgs, details, after="after") -> InterventionReport:
    overall = pd.DataFrame(rows)
    base = overall.iloc[0]
    overall["accuracy_change"] = overall["accuracy"] - base["accuracy"]
    overall["approval_change"] = overall["approval_rate"] - base["approval_rate"]
    sel = overall[overall["variant"] == after]
    cost = float(base["accuracy"] - sel["accuracy"].iloc[0]) if not sel.empty else float("nan")
    return InterventionReport(name=name, overall=overall, by_group=pd.concat(bgs, ignore_index=True),
                              accuracy_cost=cost, details=details)


def _inputs(score, y, group, polarity):
    s = check_score(score, polarity)
    labels = check_groups({"group": group}, len(s))["group"] if group is not None else None
    if y is not None:
        y = check_outcome(y)
        check_lengths(score=s, y=y)
    return s, y, labels


def _compare(compare, y, labels, cutoff, polarity, min_group_size, n_bins):
    rows, bgs = [], []
    for name, sc in (compare or {}).items():
        s = check_score(sc, polarity, name=f"compare[{name!r}]")
        check_lengths(**{f"compare[{name!r}]": s, "y": y})
        row, bg = _variant(str(name), approve(s, cutoff, polarity).astype(float), y, labels, min_group_size,
                           pd_=to_pd(s, polarity), risk=risk_key(s, polarity), n_bins=n_bins)
        rows.append(row)
        bgs.append(bg)
    return rows, bgs


def _check_fitted(est, attr):
    if not hasattr(est, attr):
        raise NotFittedError(f"{type(est).__name__} is not fitted yet: call fit(...) first.")


def _map_labels(est, group, n):
    labels = check_groups({"group": group}, n)["group"]
    unknown = sorted(set(labels.categories) - set(est.groups_))
    if unknown:
        raise ValueError(f"group has label(s) {unknown} not seen in fit; fitted groups: {est.groups_}.")
    return labels


# ---------------------------------------------------------------------------------------
# group thresholds
def _cutoff_candidates(key: np.ndarray, y: np.ndarray, codes: np.ndarray, k: int) -> list[dict]:
    """Per group: every distinct cut-off (in risk-key space) with the approved creditworthy (``tp``)
    and approved defaulters (``fp``) below it, and the TPR it gives."""
    out = []
    for j in range(k):
        m = codes == j
        kv, yv = key[m], y[m]
        u, inv = np.unique(kv, return_inverse=True)
        cw = np.bincount(inv, weights=(yv == 0).astype(float), minlength=len(u))
        df = np.bincount(inv, weights=(yv == 1).astype(float), minlength=len(u))
        tp = np.concatenate([[0.0], np.cumsum(cw)])
        fp = np.concatenate([[0.0], np.cumsum(df)])
        span = max(float(u[-1] - u[0]), 1.0)
        mids = (u[:-1] + u[1:]) / 2
        thr = np.concatenate([[u[0] - 1e-9 * span], mids, [u[-1] + 1e-9 * span]])
        n_cw = cw.sum()
        tpr = tp / n_cw if n_cw > 0 else np.full_like(tp, np.nan)
        out.append({"thr": thr, "tp": tp, "fp": fp, "tpr": tpr, "n": m.sum(), "n_cw": n_cw, "n_def": df.sum()})
    return out


def _cutoffs_for_targets(cand: list[dict], targets: np.ndarray, cutoff_key: float) -> tuple[np.ndarray, np.ndarray]:
    """For each group and target TPR, the lowest cut-off whose TPR is nearest the target.

    Returns the cut-off positions ``(n_groups, n_targets)`` and the TPRs reached (NaN for a
    group without creditworthy applicants, which keeps the single cut-off ``cutoff_key``).
    """
    k, n_targets = len(cand), len(targets)
    idx = np.zeros((k, n_targets), dtype=np.int64)
    tprs = np.full((k, n_targets), np.nan)
    for j, c in enumerate(cand):
        if c["n_cw"] == 0:  # no creditworthy applicant: keep the single cut-off
            idx[j] = min(int(np.searchsorted(c["thr"], cutoff_key)), len(c["thr"]) - 1)
            continue
        levels, first = np.unique(c["tpr"], return_index=True)
        pos = np.clip(np.searchsorted(levels, targets), 0, len(levels) - 1)
        prev = np.clip(pos - 1, 0, len(levels) - 1)
        use_prev = np.abs(levels[prev] - targets) < np.abs(levels[pos] - targets)
        lev = np.where(use_prev, prev, pos)
        idx[j] = first[lev]
        tprs[j] = levels[lev]
    return idx, tprs


def _outcomes_at_targets(cand: list[dict], idx: np.ndarray, compared_tprs: np.ndarray, y: np.ndarray) -> dict:
    """Overall approval rate, default rate among the approved, accuracy and TPR gap per target."""
    tp = sum(c["tp"][idx[j]] for j, c in enumerate(cand))
    fp = sum(c["fp"][idx[j]] for j, c in enumerate(cand))
    n, n_default = len(y), float(np.sum(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        dra = fp / (tp + fp)
    return {"approval_rate": (tp + fp) / n, "default_rate_approved": dra, "accuracy": (tp + (n_default - fp)) / n,
            "eod": np.nanmax(compared_tprs, axis=0) - np.nanmin(compared_tprs, axis=0)}


class EqualOpportunityThresholds(ParamsMixin):
    """Deterministic group-specific cut-offs that equalise TPR = P(approved | creditworthy).

    What-if tool (see the module warning). For a common target TPR ``t``, each group gets the
    cut-off whose TPR is nearest to ``t`` (the lowest such cut-off, approving the fewest
    defaulters); every achievable ``t`` is scanned and the best one meeting the constraints is
    kept. Unlike Fairlearn's ``ThresholdOptimizer`` (randomised between two thresholds by
    default), every applicant gets a deterministic decision.

    Parameters
    ----------
    cutoff : float, default 0.5
        The single cut-off in use (the "before").
    polarity : {"pd", "approval"}, default "pd"
        Score direction (PD: approved iff score < cut-off; approval: iff score >= cut-off).
    tolerance : float, default 0.02
        Largest acceptable equal-opportunity difference (max - min TPR over groups).
    max_approval_change : float or None, default 0.02
        Largest change of the overall approval rate against the single cut-off.
    max_default_rate : "baseline", float or None, default "baseline"
        Cap on the default rate among the approved; "baseline" = no increase.
    objective : {"accuracy", "approval_rate"}, default "accuracy"
        Maximised among the candidates that meet the constraints.
    min_group_size : int, default 30
        Groups with fewer creditworthy applicants than this (the TPR's denominator) are
        thresholded but not counted in the TPR gap; in the report a rate enters a gap only on
        at least this many applicants of its own denominator.

    Attributes
    ----------
    thresholds_ : dict
        Group label -> cut-off in the score's own units.
    target_tpr_ : float
        The common TPR aimed at.
    feasible_ : bool
        Whether all constraints were met on the fit data.
    status_ : str
        What was met or relaxed.
    baseline_, fitted_ : dict
        Overall metrics with the single cut-off and with the group cut-offs (fit data).
    groups_ : list of str
        Group labels seen in ``fit``.

    Examples
    --------
    Group B is riskier on average, so one PD cut-off of 0.2 approves fewer of its
    creditworthy applicants (lower TPR). Search group cut-offs on one half, evaluate on
    the other:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["A", "B"], 4000, p=[0.7, 0.3])
    >>> risk = rng.normal(0, 1, 4000) + 0.4 * (group == "B")
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-(risk - 2)))).astype(int)
    >>> pd_ = 1 / (1 + np.exp(-(risk - 2)))     # a calibrated PD
    >>> from apcfair.audit import EqualOpportunityThresholds
    >>> eo = EqualOpportunityThresholds(cutoff=0.2).fit(pd_[:2000], y[:2000], group[:2000])
    >>> {g: round(t, 2) for g, t in eo.thresholds_.items()}, eo.feasible_
    ({'A': 0.18, 'B': 0.23}, True)
    >>> eo.predict(np.array([0.2, 0.2]), np.array(["A", "B"])).tolist()
    [False, True]
    >>> gaps = eo.report(pd_[2000:], y[2000:], group[2000:]).overall.set_index("variant")["eod"]
    >>> round(float(gaps["before"]), 2), round(float(gaps["after"]), 2)  # equal-opportunity difference
    (0.11, 0.01)
    """

    def __init__(self, cutoff: float = 0.5, *, polarity: Polarity = "pd", tolerance: float = 0.02,
                 max_approval_change: float | None = 0.02, max_default_rate: str | float | None = "baseline",
                 objective: ThresholdObjective = "accuracy", min_group_size: int = 30):
        self.cutoff = cutoff
        self.polarity = polarity
        self.tolerance = tolerance
        self.max_approval_change = max_approval_change
        self.max_default_rate = max_default_rate
        self.objective = objective
        self.min_group_size = min_group_size

    def _check(self):
        check_option("polarity", self.polarity, Polarity)
        check_option("objective", self.objective, ThresholdObjective)
        if not (isinstance(self.max_default_rate, (int, float)) or self.max_default_rate in ("baseline", None)):
            raise ValueError(f"max_default_rate={self.max_default_rate!r}: use 'baseline', a rate or None.")
        if not self.tolerance >= 0:
            raise ValueError(f"tolerance must be >= 0, got {self.tolerance!r}.")
        return check_cutoff(self.cutoff, self.polarity)

    def fit(self, score, y, group) -> EqualOpportunityThresholds:
        """Search the group cut-offs on (validation) data.

        Parameters
        ----------
        score : array-like
            Scores.
        y : array-like
            Outcomes, ``1 = default``.
        group : array-like
            Protected attribute (one column; pass combined labels for an intersection).

        Returns
        -------
        EqualOpportunityThresholds
        """
        cutoff = self._check()
        s, y, labels = _inputs(score, y, group, self.polarity)
        codes = np.asarray(labels.codes)
        groups = list(labels.categories)
        baseline = rates(_soft_counts(approve(s, cutoff, self.polarity).astype(float), y, codes, len(groups)).sum(0))
        cand = _cutoff_candidates(risk_key(s, self.polarity), y, codes, len(groups))
        with_creditworthy = [j for j, c in enumerate(cand) if c["n_cw"] > 0]
        # TPR rests on the creditworthy: that count, not the group size, must reach min_group_size
        compared = [j for j in with_creditworthy if cand[j]["n_cw"] >= self.min_group_size]
        if len(compared) < 2:
            compared = with_creditworthy
        targets = np.unique(np.concatenate([cand[j]["tpr"] for j in with_creditworthy]))
        idx, tprs = _cutoffs_for_targets(cand, targets, cutoff if self.polarity == "pd" else -cutoff)
        at = _outcomes_at_targets(cand, idx, tprs[compared], y)
        t, feasible, status = self._choose_target(at, baseline)

        sign = 1.0 if self.polarity == "pd" else -1.0
        self.groups_ = groups
        self.thresholds_ = {g: float(sign * cand[j]["thr"][idx[j, t]]) for j, g in enumerate(groups)}
        self.target_tpr_ = float(targets[t])
        self.feasible_ = feasible
        self.status_ = status
        self.baseline_ = {k: float(baseline[k]) for k in ("approval_rate", "default_rate_approved", "accuracy")}
        self.fitted_ = {k: float(at[k][t]) for k in ("approval_rate", "default_rate_approved", "accuracy", "eod")}
        self.cutoff_ = cutoff
        return self

    def _choose_target(self, at: dict, baseline: dict) -> tuple[int, bool, str]:
        """The target TPR: best objective among the candidates meeting every constraint.

        Without one, the equal-opportunity tolerance is kept (or the TPR gap minimised) and
        the scaled violation of the approval-rate / default-rate constraints minimised.
        Ties: best objective, then smaller gap, then smaller approval change.
        """
        approval, dra, eod = at["approval_rate"], at["default_rate_approved"], at["eod"]
        n_targets = len(approval)
        approval_change = np.abs(approval - baseline["approval_rate"])
        cap = baseline["default_rate_approved"] if self.max_default_rate == "baseline" else self.max_default_rate
        ok_eod = eod <= self.tolerance + 1e-12
        ok_app = (np.ones(n_targets, bool) if self.max_approval_change is None
                  else approval_change <= self.max_approval_change + 1e-12)
        ok_dr = np.ones(n_targets, bool) if cap is None else np.nan_to_num(dra, nan=0.0) <= cap + 1e-12
        feasible = ok_eod & ok_app & ok_dr
        if feasible.any():
            pick = np.flatnonzero(feasible)
            status = "all constraints met"
        else:
            v_app = (0.0 if self.max_approval_change is None
                     else np.maximum(approval_change - self.max_approval_change, 0))
            v_dr = 0.0 if cap is None else np.maximum(np.nan_to_num(dra) - cap, 0)
            violation = np.asarray(v_app + v_dr, dtype=float) * np.ones(n_targets)
            pool = np.flatnonzero(ok_eod) if ok_eod.any() else np.flatnonzero(eod == np.nanmin(eod))
            pick = pool[violation[pool] <= violation[pool].min() + 1e-12]
            status = ("infeasible: no target meets every constraint; kept the equal-opportunity tolerance and "
                      "minimised the violation of the approval-rate / default-rate constraints"
                      if ok_eod.any() else "infeasible: the equal-opportunity tolerance cannot be met; "
                      "minimised the TPR gap")
        objective = at["accuracy"] if self.objective == "accuracy" else approval
        order = np.lexsort((approval_change[pick], eod[pick], -objective[pick]))
        return int(pick[order[0]]), bool(feasible.any()), status

    def predict(self, score, group) -> np.ndarray:
        """Approval decisions (``True`` = approved) with the group cut-offs.

        Parameters
        ----------
        score : array-like
            Scores.
        group : array-like
            Group labels (as in ``fit``).

        Returns
        -------
        numpy.ndarray of bool
        """
        _check_fitted(self, "thresholds_")
        s = check_score(score, self.polarity)
        labels = _map_labels(self, group, len(s))
        thr = np.array([self.thresholds_[g] for g in labels.categories])[np.asarray(labels.codes)]
        return s < thr if self.polarity == "pd" else s >= thr

    def report(self, score, y, group, *, compare: Mapping[str, object] | None = None,
               n_bins: int = 10) -> InterventionReport:
        """Before (single cut-off) vs after (group cut-offs), plus extra scores at the single cut-off.

        Parameters
        ----------
        score, y, group : array-like
            Evaluation data (ideally not the data used in ``fit``).
        compare : dict of array-likes, optional
            Extra scores (same polarity), e.g. an unbiased-by-design model.
        n_bins : int, default 10
            Bins for the ECE.

        Returns
        -------
        InterventionReport
        """
        _check_fitted(self, "thresholds_")
        s, y, _ = _inputs(score, y, group, self.polarity)
        labels = _map_labels(self, group, len(s))
        p, rk = to_pd(s, self.polarity), risk_key(s, self.polarity)
        mg = self.min_group_size
        r0, b0 = _variant("before", approve(s, self.cutoff_, self.polarity).astype(float), y, labels, mg,
                          pd_=p, risk=rk, n_bins=n_bins)
        r1, b1 = _variant("after", self.predict(s, group).astype(float), y, labels, mg, pd_=p, risk=rk,
                          n_bins=n_bins)
        rc, bc = _compare(compare, y, labels, self.cutoff_, self.polarity, mg, n_bins)
        details = {"thresholds": self.thresholds_, "target_tpr": self.target_tpr_, "feasible": self.feasible_,
                   "status": self.status_, "cutoff": self.cutoff_, "polarity": self.polarity,
                   "tolerance": self.tolerance, "max_approval_change": self.max_approval_change,
                   "max_default_rate": self.max_default_rate, "objective": self.objective,
                   "fit_baseline": self.baseline_, "fit_after": self.fitted_}
        return _finish("Equal-opportunity group thresholds", [r0, r1, *rc], [b0, b1, *bc], details)


# ---------------------------------------------------------------------------------------
# group calibration
def _platt_fit(x: np.ndarray, y: np.ndarray, n_iter: int = 50) -> tuple[float, float]:
    """Unpenalised logistic fit of y on (1, x) by Newton's method with step halving.

    Returns the intercept and slope on the original scale of ``x``.
    """
    x_mean, x_sd = float(np.mean(x)), float(np.std(x)) or 1.0
    z = (x - x_mean) / x_sd
    design = np.column_stack([np.ones_like(z), z])
    beta = np.array([np.log((y.mean() + 1e-9) / (1 - y.mean() + 1e-9)), 1.0])

    def nll(b):
        eta = design @ b
        return float(np.sum(np.logaddexp(0, eta) - y * eta))

    current = nll(beta)
    for _ in range(n_iter):
        prob = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (prob - y)
        hessian = design.T @ (design * (prob * (1 - prob))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        size = 1.0
        while size > 1e-6:
            proposal = beta - size * step
            new = nll(proposal)
            if new <= current + 1e-12:
                break
            size /= 2
        converged = abs(current - new) < 1e-10
        beta, current = proposal, new
        if converged:
            break
    intercept, slope = beta[0] - beta[1] * x_mean / x_sd, beta[1] / x_sd
    return float(intercept), float(slope)


class GroupCalibrator(ParamsMixin):
    """Group-wise calibration of a score to a PD (Platt or isotonic).

    What-if tool (see the module warning): a separate map per group uses the protected
    attribute at decision time.

    Parameters
    ----------
    method : {"platt", "isotonic"}, default "platt"
        Platt: logistic regression of default on ``logit(PD)`` (PD scores) or on the raw
        score (approval scores). Isotonic: monotone step map (``sklearn``), clipped to [0, 1].
    polarity : {"pd", "approval"}, default "pd"
        Direction of the input score.
    cutoff : float, default 0.5
        Cut-off of the input score (the "before" decisions).
    calibrated_cutoff : float, optional
        PD cut-off applied to the calibrated PDs; default ``cutoff`` for PD scores and
        ``1 - cutoff`` for approval scores in [0, 1].
    min_group_size : int, default 30
        Smallest group fitted; smaller groups raise (a per-group map would be noise).

    Attributes
    ----------
    calibrators_ : dict
        Group -> ``("platt", (a, b))`` or ``("isotonic", IsotonicRegression)``.
    groups_ : list of str
        Group labels seen in ``fit``.

    Examples
    --------
    A score that overstates group B's PD, recalibrated per group:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["A", "B"], 4000, p=[0.7, 0.3])
    >>> risk = rng.normal(0, 1, 4000) + 0.4 * (group == "B")
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-(risk - 2)))).astype(int)
    >>> pd_ = 1 / (1 + np.exp(-(risk - 2)))     # a calibrated PD
    >>> from apcfair.audit import GroupCalibrator
    >>> biased = np.where(group == "B", 1 / (1 + np.exp(-(risk - 1.5))), pd_)
    >>> gc = GroupCalibrator(cutoff=0.2).fit(biased, y, group)
    >>> calibrated = gc.transform(biased, group)
    >>> in_b = group == "B"
    >>> [round(float(x[in_b].mean()), 2) for x in (biased, calibrated, y)]
    [0.29, 0.21, 0.21]
    >>> ece = gc.report(biased, y, group).overall.set_index("variant")["ece"]
    >>> bool(ece["after"] < ece["before"])
    True
    """

    def __init__(self, method: CalibrationMethod = "platt", *, polarity: Polarity = "pd", cutoff: float = 0.5,
                 calibrated_cutoff: float | None = None, min_group_size: int = 30):
        self.method = method
        self.polarity = polarity
        self.cutoff = cutoff
        self.calibrated_cutoff = calibrated_cutoff
        self.min_group_size = min_group_size

    def _feature(self, s):
        if self.polarity == "pd":
            p = np.clip(s, 1e-6, 1 - 1e-6)
            return np.log(p / (1 - p))
        return s

    def fit(self, score, y, group) -> GroupCalibrator:
        """Fit one calibration map per group.

        Parameters
        ----------
        score, y, group : array-like
            Scores, outcomes (``1 = default``) and group labels of calibration data.

        Returns
        -------
        GroupCalibrator
        """
        check_option("method", self.method, CalibrationMethod)
        check_option("polarity", self.polarity, Polarity)
        cutoff = check_cutoff(self.cutoff, self.polarity)
        s, y, labels = _inputs(score, y, group, self.polarity)
        calibrated_cutoff = self._calibrated_cutoff(cutoff)
        codes = np.asarray(labels.codes)
        self.calibrators_ = {g: self._fit_map(g, s[codes == j], y[codes == j])
                             for j, g in enumerate(labels.categories)}
        self.groups_ = list(labels.categories)
        self.cutoff_ = cutoff
        self.calibrated_cutoff_ = calibrated_cutoff
        return self

    def _calibrated_cutoff(self, cutoff: float) -> float:
        """The PD cut-off for the calibrated PDs (see ``calibrated_cutoff``)."""
        if self.calibrated_cutoff is not None:
            cc = float(self.calibrated_cutoff)
        elif self.polarity == "pd":
            cc = cutoff
        elif 0 <= cutoff <= 1:
            cc = 1.0 - cutoff
        else:
            raise ValueError("calibrated_cutoff is required: the approval score's cutoff is not a probability.")
        return check_cutoff(cc, "pd")

    def _fit_map(self, group: str, s: np.ndarray, y: np.ndarray) -> tuple:
        """The calibration map of one group: ``("platt", (a, b))`` or ``("isotonic", fitted map)``."""
        if len(s) < self.min_group_size:
            raise ValueError(f"group {group!r} has {len(s)} applicants, fewer than min_group_size="
                             f"{self.min_group_size}: a separate calibration map would be noise. Merge it "
                             "with another group or lower min_group_size deliberately.")
        if len(np.unique(y)) < 2:
            raise ValueError(f"group {group!r} has only one outcome class: cannot calibrate it.")
        if self.method == "platt":
            return "platt", _platt_fit(self._feature(s), y.astype(float))
        from sklearn.isotonic import IsotonicRegression  # heavy: only for this method

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        return "isotonic", iso.fit(risk_key(s, self.polarity), y.astype(float))

    def transform(self, score, group) -> np.ndarray:
        """Calibrated probabilities of default.

        Parameters
        ----------
        score, group : array-like
            Scores and group labels.

        Returns
        -------
        numpy.ndarray
            PD per applicant.
        """
        _check_fitted(self, "calibrators_")
        s = check_score(score, self.polarity)
        labels = _map_labels(self, group, len(s))
        codes = np.asarray(labels.codes)
        out = np.empty(len(s))
        for j, g in enumerate(labels.categories):
            m = codes == j
            kind, cal = self.calibrators_[g]
            if kind == "platt":
                a, b = cal
                out[m] = 1 / (1 + np.exp(-(a + b * self._feature(s[m]))))
            else:
                out[m] = cal.predict(risk_key(s[m], self.polarity))
        return out

    def report(self, score, y, group, *, compare: Mapping[str, object] | None = None,
               n_bins: int = 10) -> InterventionReport:
        """Calibration (ECE, Brier) and decisions before vs after group calibration.

        "before" decides with the input score at ``cutoff``; "after" with the calibrated PD
        at ``calibrated_cutoff``.

        Returns
        -------
        InterventionReport
        """
        _check_fitted(self, "calibrators_")
        s, y, _ = _inputs(score, y, group, self.polarity)
        labels = _map_labels(self, group, len(s))
        mg = self.min_group_size
        pc = self.transform(s, group)
        r0, b0 = _variant("before", approve(s, self.cutoff_, self.polarity).astype(float), y, labels, mg,
                          pd_=to_pd(s, self.polarity), risk=risk_key(s, self.polarity), n_bins=n_bins)
        r1, b1 = _variant("after", (pc < self.calibrated_cutoff_).astype(float), y, labels, mg, pd_=pc, risk=pc,
                          n_bins=n_bins)
        rc, bc = _compare(compare, y, labels, self.cutoff_, self.polarity, mg, n_bins)
        maps = {g: ({"a": c[0], "b": c[1]} if k == "platt" else "isotonic step map")
                for g, (k, c) in self.calibrators_.items()}
        details = {"method": self.method, "maps": maps, "cutoff": self.cutoff_,
                   "calibrated_cutoff": self.calibrated_cutoff_, "polarity": self.polarity}
        return _finish(f"Group-wise {self.method} calibration", [r0, r1, *rc], [b0, b1, *bc], details)


# ---------------------------------------------------------------------------------------
# reject-option routing to human review
def _routing_band(distances: np.ndarray, k: int) -> float:
    """Half-width of the band around the cut-off that holds the ``k`` closest eligible cases.

    The band sits midway between the ``k``-th and the next distance (ties: at the ``k``-th),
    so it routes ``k`` cases on these data; ``inf`` when every eligible case fits.
    """
    d = np.sort(distances)
    if k >= len(d):
        return float("inf")
    if k == 0:
        return 0.0
    return float((d[k - 1] + d[k]) / 2) if d[k] > d[k - 1] else float(d[k - 1])


class ReviewRouter(ParamsMixin):
    """Route borderline cases of fairness-sensitive groups to human review, within a capacity.

    What-if tool (see the module warning) when ``sensitive_groups`` selects groups. Cases are
    ranked by their distance to the cut-off; the closest cases of the eligible groups are
    routed until ``capacity`` (a share of **all** applications) is used. The band learned in
    ``fit`` is applied unchanged to new data, so the realised share is reported.

    Parameters
    ----------
    capacity : float, default 0.15
        Share of all applications that reviewers can take.
    cutoff : float, default 0.5
        Cut-off of the score.
    polarity : {"pd", "approval"}, default "pd"
        Score direction.
    sensitive_groups : sequence of str, "auto" or None, default None
        Groups whose borderline cases are eligible. ``None``: every group (plain borderline
        review, no protected attribute used). ``"auto"``: groups whose TPR at the cut-off is
        more than ``tolerance`` below the best group's on the fit data.
    tolerance : float, default 0.02
        Used by ``"auto"``.
    scenarios : sequence of {"model", "oracle", "approve", "decline"}
        Assumptions about reviewer decisions to report: follow the model, decide perfectly
        (upper bound), approve all, decline all.
    reviewer_accuracy : float, optional
        Adds a scenario where reviewers approve creditworthy cases and decline defaulters
        with this probability; reported as expected values (no random draws). When given,
        it is the "after" of the accuracy cost; otherwise the first scenario is.
    min_group_size : int, default 30
        Groups below this size are not counted in the gaps, nor a rate whose own denominator
        (creditworthy for TPR, defaulters for FPR, approved for precision) is below it.

    Attributes
    ----------
    band_ : float
        Routed iff eligible and ``|score - cutoff| < band_``.
    eligible_groups_ : list of str
        Groups whose borderline cases may be routed.
    routed_share_ : float
        Share routed on the fit data.
    groups_ : list of str
        Group labels seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["A", "B"], 4000, p=[0.7, 0.3])
    >>> risk = rng.normal(0, 1, 4000) + 0.4 * (group == "B")
    >>> y = (rng.random(4000) < 1 / (1 + np.exp(-(risk - 2)))).astype(int)
    >>> pd_ = 1 / (1 + np.exp(-(risk - 2)))     # a calibrated PD
    >>> from apcfair.audit import ReviewRouter
    >>> router = ReviewRouter(capacity=0.1, cutoff=0.2).fit(pd_, group)  # no protected attribute used
    >>> router.eligible_groups_, round(router.routed_share_, 2)
    (['A', 'B'], 0.1)
    >>> round(float(router.route(pd_, group).mean()), 2)
    0.1

    Route only groups whose TPR lags (a what-if), and compare reviewer scenarios:

    >>> router = ReviewRouter(capacity=0.1, cutoff=0.2, sensitive_groups="auto").fit(pd_, group, y)
    >>> router.eligible_groups_
    ['B']
    >>> report = router.report(pd_, y, group)
    >>> report.overall["variant"].tolist()
    ['before', 'automated only', 'review: model', 'review: oracle']
    """

    def __init__(self, capacity: float = 0.15, *, cutoff: float = 0.5, polarity: Polarity = "pd",
                 sensitive_groups: Sequence[str] | str | None = None, tolerance: float = 0.02,
                 scenarios: Sequence[ReviewScenario] = ("model", "oracle"), reviewer_accuracy: float | None = None,
                 min_group_size: int = 30):
        self.capacity = capacity
        self.cutoff = cutoff
        self.polarity = polarity
        self.sensitive_groups = sensitive_groups
        self.tolerance = tolerance
        self.scenarios = scenarios
        self.reviewer_accuracy = reviewer_accuracy
        self.min_group_size = min_group_size

    def fit(self, score, group, y=None) -> ReviewRouter:
        """Learn the routing band on (validation) data.

        Parameters
        ----------
        score, group : array-like
            Scores and group labels.
        y : array-like, optional
            Outcomes; needed for ``sensitive_groups="auto"``.

        Returns
        -------
        ReviewRouter
        """
        check_option("polarity", self.polarity, Polarity)
        for sc in self.scenarios:
            check_option("scenarios", sc, ReviewScenario)
        if not 0 < float(self.capacity) < 1:
            raise ValueError(f"capacity must be a share in (0, 1), e.g. 0.15; got {self.capacity!r}.")
        if self.reviewer_accuracy is not None and not 0 <= float(self.reviewer_accuracy) <= 1:
            raise ValueError(f"reviewer_accuracy must be in [0, 1], got {self.reviewer_accuracy!r}.")
        cutoff = check_cutoff(self.cutoff, self.polarity)
        s, y, labels = _inputs(score, y, group, self.polarity)
        eligible = self._eligible_groups(s, y, labels, cutoff)
        self.groups_ = list(labels.categories)
        self.eligible_groups_ = eligible
        self.cutoff_ = cutoff
        in_eligible = np.isin(np.asarray(labels.astype(str)), self.eligible_groups_)
        self.band_ = _routing_band(np.abs(s - cutoff)[in_eligible], int(np.floor(self.capacity * len(s))))
        self.routed_share_ = float(np.mean(self.route(s, group)))
        return self

    def _eligible_groups(self, s: np.ndarray, y, labels: pd.Categorical, cutoff: float) -> list[str]:
        """The groups whose borderline cases may be routed (see ``sensitive_groups``)."""
        groups = list(labels.categories)
        if self.sensitive_groups is None:
            return groups
        if isinstance(self.sensitive_groups, str) and self.sensitive_groups == "auto":
            if y is None:
                raise ValueError("sensitive_groups='auto' needs y in fit to find the groups with the lowest TPR.")
            codes = np.asarray(labels.codes)
            r = rates(_soft_counts(approve(s, cutoff, self.polarity).astype(float), y, codes, len(groups)))
            n_cw = np.bincount(codes, weights=(y == 0).astype(float), minlength=len(groups))  # TPR's denominator
            ok = (n_cw >= self.min_group_size) & np.isfinite(r["tpr"])
            best = np.nanmax(np.where(ok, r["tpr"], np.nan))
            lagging = [g for j, g in enumerate(groups) if ok[j] and r["tpr"][j] < best - self.tolerance]
            return lagging or groups
        if isinstance(self.sensitive_groups, str):
            raise ValueError("sensitive_groups must be a list of group labels, 'auto' or None.")
        chosen = [str(g) for g in self.sensitive_groups]
        unknown = sorted(set(chosen) - set(groups))
        if unknown:
            raise ValueError(f"sensitive_groups has label(s) {unknown} not in the data; groups: {groups}.")
        return chosen

    def route(self, score, group) -> np.ndarray:
        """Which cases go to human review (``True``).

        Returns
        -------
        numpy.ndarray of bool
        """
        _check_fitted(self, "band_")
        s = check_score(score, self.polarity)
        labels = _map_labels(self, group, len(s))
        em = np.isin(np.asarray(labels.astype(str)), self.eligible_groups_)
        return em & (np.abs(s - self.cutoff_) < self.band_)

    def report(self, score, y, group, *, compare: Mapping[str, object] | None = None,
               n_bins: int = 10) -> InterventionReport:
        """Decisions before routing and under each reviewer scenario, plus the automated part alone.

        Returns
        -------
        InterventionReport
        """
        _check_fitted(self, "band_")
        s, y, _ = _inputs(score, y, group, self.polarity)
        labels = _map_labels(self, group, len(s))
        mg = self.min_group_size
        auto = approve(s, self.cutoff_, self.polarity).astype(float)
        routed = self.route(s, group)
        cw = (y == 0).astype(float)
        p, rk = to_pd(s, self.polarity), risk_key(s, self.polarity)
        share = float(routed.mean())
        variants = [
            _variant("before", auto, y, labels, mg, pd_=p, risk=rk, n_bins=n_bins, extra={"routed_share": 0.0}),
            _variant("automated only", auto, y, labels, mg, n_bins=n_bins, mask=~routed,
                     extra={"routed_share": 0.0}),
        ]
        variants += [_variant(f"review: {name}", np.where(routed, dec, auto), y, labels, mg, n_bins=n_bins,
                              extra={"routed_share": share})
                     for name, dec in self._reviewer_decisions(auto, cw).items()]
        rows, bgs = (list(part) for part in zip(*variants, strict=True))
        rc, bc = _compare(compare, y, labels, self.cutoff_, self.polarity, mg, n_bins)
        codes = np.asarray(labels.codes)
        per_group = {g: float(routed[codes == j].mean()) for j, g in enumerate(labels.categories)}
        for b in bgs:
            b["routed_share"] = b["group"].map(per_group) if b["variant"].iloc[0].startswith("review") else 0.0
        after = (f"review: reviewer@{float(self.reviewer_accuracy):g}" if self.reviewer_accuracy is not None
                 else f"review: {list(self.scenarios)[0]}")
        details = {"capacity": self.capacity, "band": self.band_, "eligible_groups": self.eligible_groups_,
                   "routed": int(routed.sum()), "routed_share": share, "routed_share_by_group": per_group,
                   "cutoff": self.cutoff_, "polarity": self.polarity, "after_variant": after,
                   "scenarios": "reviewer decisions are assumptions; 'oracle' is an upper bound, 'model' a "
                                "lower bound on what review can change"}
        return _finish("Reject-option routing to human review", rows + rc, bgs + bc, details, after=after)

    def _reviewer_decisions(self, auto: np.ndarray, creditworthy: np.ndarray) -> dict[str, np.ndarray]:
        """Approval probability of each case under each reviewer scenario (expected values, no draws)."""
        options = {"model": auto, "oracle": creditworthy, "approve": np.ones_like(creditworthy),
                   "decline": np.zeros_like(creditworthy)}
        out = {sc: options[sc] for sc in self.scenarios}
        if self.reviewer_accuracy is not None:
            a = float(self.reviewer_accuracy)
            out[f"reviewer@{a:g}"] = creditworthy * a + (1 - creditworthy) * (1 - a)
        return out
