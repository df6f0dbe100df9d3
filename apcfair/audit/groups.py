"""Group metrics (Fairlearn's ``MetricFrame`` definitions), fairness gaps and their intervals.

Disaggregation follows Fairlearn: every per-group rate is that of a ``MetricFrame`` whose
``y_true`` is *creditworthy* (``1 = non-default``) and whose ``y_pred`` is *approved*, so
Fairlearn's "positive" is the favourable outcome and its TPR is equal opportunity in the
credit sense. The audit computes the rates, gaps, bootstrap intervals and tests from the
confusion cells (one ``bincount``), which give the frame's rates bit for bit (tested against
:func:`metric_frame` and against Fairlearn on the raw rows) without a frame per attribute
and stratum.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from apcfair.audit._validate import risk_key
from apcfair.audit.metrics import (
    brier,
    cell_counts,
    expected_calibration_error,
    highest_and_lowest,
    impact_ratio,
    rates,
    roc_auc,
)
from apcfair.audit.stats import bca_interval, contingency_test, min_detectable_gap

#: Gap name -> (rate compared, kind). ``kind`` is "difference" (fails if |value| > threshold),
#: "ratio" (fails if value < threshold) or "max_difference" (equalized odds: the larger of
#: the TPR and FPR gaps).
GAP_SPECS: dict[str, tuple[str | tuple[str, str], str]] = {
    "dir": ("approval_rate", "ratio"),
    "spd": ("approval_rate", "difference"),
    "eod": ("tpr", "difference"),
    "eo": (("tpr", "fpr"), "max_difference"),
    "ppd": ("precision", "difference"),
    "accuracy_gap": ("accuracy", "difference"),
}
#: Default pass/fail thresholds (seed 001): ratio < 0.80 or |difference| > 0.10 fails.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "dir": 0.80, "spd": 0.10, "eod": 0.10, "eo": 0.10, "ppd": 0.10, "accuracy_gap": 0.10,
}
GAP_LABELS: dict[str, str] = {
    "dir": "disparate (adverse) impact ratio: lowest / highest approval rate (four-fifths rule)",
    "spd": "statistical parity difference: approval-rate gap",
    "eod": "equal opportunity difference: gap in P(approved | creditworthy)",
    "eo": "equalized odds: larger of the TPR gap and the FPR gap",
    "ppd": "predictive parity difference: gap in P(creditworthy | approved)",
    "accuracy_gap": "accuracy gap",
}
RATE_COLUMNS = ("n", "n_default", "base_rate", "approval_rate", "tpr", "fpr", "precision",
                "accuracy", "default_rate_approved")
#: Rate -> (count it is a share of, the by_group column holding that count). A rate enters a
#: gap only when this count reaches ``min_rate_denominator`` (see :func:`compute_gaps`).
RATE_DENOMINATORS: dict[str, tuple[str, str]] = {
    "approval_rate": ("applicants", "n"),
    "accuracy": ("applicants", "n"),
    "tpr": ("creditworthy applicants", "n_creditworthy"),
    "fpr": ("defaulters", "n_default"),
    "precision": ("approved applicants", "n_approved"),
}
#: The conditional rates whose denominator is not the group size; ``by_group`` says for each
#: whether it rests on enough applicants (``<rate>_status``: ok / insufficient / undefined).
CONDITIONAL_RATES = ("tpr", "fpr", "precision")
#: Gap status when groups have a rate but fewer than two rest on enough data: no verdict.
INSUFFICIENT = "INSUFFICIENT"


def denominators(counts: np.ndarray) -> dict[str, np.ndarray]:
    """The count each rate is a share of, per group (last axis of ``counts``: TP, FP, FN, TN).

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit.groups import denominators
    >>> d = denominators(np.array([[50.0, 2.0, 10.0, 0.0]]))  # 60 creditworthy, 2 defaulters
    >>> {k: int(v[0]) for k, v in d.items()}
    {'approval_rate': 62, 'accuracy': 62, 'tpr': 60, 'fpr': 2, 'precision': 52}
    """
    tp, fp, fn, tn = (counts[..., i] for i in range(4))
    n = tp + fp + fn + tn
    return {"approval_rate": n, "accuracy": n, "tpr": tp + fn, "fpr": fp + tn, "precision": tp + fp}


def rate_status(denominator: np.ndarray, minimum: int) -> np.ndarray:
    """``"ok"`` where a rate rests on at least ``minimum`` applicants, ``"insufficient"`` below
    it, ``"undefined"`` where its denominator is 0."""
    d = np.asarray(denominator, dtype=float)
    return np.where(d <= 0, "undefined", np.where(d < minimum, "insufficient", "ok")).astype(object)


def check_thresholds(thresholds) -> dict[str, float]:
    """Merge user thresholds into the defaults; unknown names raise."""
    out = dict(DEFAULT_THRESHOLDS)
    if thresholds:
        unknown = sorted(set(thresholds) - set(out))
        if unknown:
            raise ValueError(f"thresholds has unknown gap name(s) {unknown}; known: {sorted(out)}.")
        for k, v in thresholds.items():
            v = float(v)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"thresholds[{k!r}]={v} must be a finite non-negative number.")
            out[k] = v
    return out


# ---------------------------------------------------------------------------------------
# Fairlearn disaggregation
# The metric functions MetricFrame applies per group (and stratum) are weighted means in numpy:
# the same values as scikit-learn's (tested against Fairlearn with scikit-learn metrics on the
# raw rows), without scikit-learn's input validation, which cost ~1 ms per call and dominated
# audits with strata (groups x strata x metrics calls). NaN where a rate is undefined.
def _weighted_mean(x, w, where=None) -> float:
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    if where is not None:
        x, w = x[where], w[where]
    total = w.sum()
    return float(np.dot(w, x) / total) if total > 0 else float("nan")


def _weighted_n(y_true, y_pred, sample_weight):
    return float(np.sum(sample_weight))


def _base_rate(y_true, y_pred, sample_weight):
    return 1.0 - _weighted_mean(y_true, sample_weight)


def _approval_rate(y_true, y_pred, sample_weight):
    return _weighted_mean(y_pred, sample_weight)


def _tpr(y_true, y_pred, sample_weight):
    return _weighted_mean(y_pred, sample_weight, np.asarray(y_true) == 1)


def _fpr(y_true, y_pred, sample_weight):
    return _weighted_mean(y_pred, sample_weight, np.asarray(y_true) == 0)


def _precision(y_true, y_pred, sample_weight):
    return _weighted_mean(y_true, sample_weight, np.asarray(y_pred) == 1)


def _accuracy(y_true, y_pred, sample_weight):
    return _weighted_mean(np.asarray(y_true) == np.asarray(y_pred), sample_weight)


def _distinct_cells(codes, strata, creditworthy, approved, k: int):
    """The distinct (group, stratum, outcome, decision) cells and their counts."""
    key = ((strata * k + codes) * 2 + creditworthy) * 2 + approved
    uniq, counts = np.unique(key, return_counts=True)
    ap_u, rest = uniq % 2, uniq // 2
    cw_u, rest = rest % 2, rest // 2
    return rest % k, rest // k, cw_u, ap_u, counts


def metric_frame(inp, labels: pd.Categorical, *, control: pd.Categorical | None = None,
                 mask: np.ndarray | None = None):
    """A Fairlearn ``MetricFrame`` of the decision metrics for one attribute.

    ``y_true`` is creditworthy (the favourable outcome) and ``y_pred`` is approved (the
    favourable decision), so Fairlearn's ``true_positive_rate`` is equal opportunity in the
    credit sense. The frame is built on the distinct (group, stratum, outcome, decision)
    cells with their counts as ``sample_weight`` -- the same numbers as on the applicant
    rows (tested), at a cost independent of the number of applicants.
    """
    from fairlearn.metrics import MetricFrame  # heavy import: loaded on first use

    codes = np.asarray(labels.codes, dtype=np.int64)
    cw = inp.creditworthy.astype(np.int64)
    ap = inp.approved.astype(np.int64)
    ctrl = np.zeros_like(codes) if control is None else np.asarray(control.codes, dtype=np.int64)
    if mask is not None:
        codes, cw, ap, ctrl = codes[mask], cw[mask], ap[mask], ctrl[mask]
    g_u, c_u, cw_u, ap_u, cnt = _distinct_cells(codes, ctrl, cw, ap, len(labels.categories))
    sf = pd.Series(np.asarray(labels.categories)[g_u], name="group")
    cf = None if control is None else pd.Series(np.asarray(control.categories)[c_u], name="stratum")
    metrics = {
        "n": _weighted_n, "base_rate": _base_rate, "approval_rate": _approval_rate,
        "tpr": _tpr, "fpr": _fpr, "precision": _precision, "accuracy": _accuracy,
    }
    w = cnt.astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MetricFrame(metrics=metrics, y_true=cw_u, y_pred=ap_u, sensitive_features=sf,
                           control_features=cf, sample_params={m: {"sample_weight": w} for m in metrics})


def score_metrics(inp, labels: pd.Categorical, *, n_bins: int = 10,
                  mask: np.ndarray | None = None) -> pd.DataFrame:
    """Average score, AUC, ECE and Brier per group (NaN columns without a score)."""
    cols = ("avg_score", "auc", "ece", "brier")
    codes = np.asarray(labels.codes)
    keep = np.ones(len(codes), bool) if mask is None else mask
    rows = []
    for k, g in enumerate(labels.categories):
        m = keep & (codes == k)
        if not m.any():
            continue
        if inp.score is None:
            rows.append({"group": g, **{c: np.nan for c in cols}})
            continue
        y = inp.y[m]
        p = None if inp.pd is None else inp.pd[m]
        rows.append({"group": g, "avg_score": float(np.mean(inp.score[m])),
                     "auc": roc_auc(y, risk_key(inp.score[m], inp.polarity)),
                     "ece": expected_calibration_error(y, p, n_bins), "brier": brier(y, p)})
    return pd.DataFrame(rows, columns=["group", *cols])


# ---------------------------------------------------------------------------------------
# gaps from confusion cells
def _range(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """max - min over eligible groups along the last axis (NaN-aware)."""
    v = np.where(ok, x, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fin = np.sum(np.isfinite(v), axis=-1)
        out = np.nanmax(v, axis=-1) - np.nanmin(v, axis=-1)
    return np.where(fin >= 2, out, np.nan)


def _equalized_odds_gap(counts: np.ndarray, boot: dict | None, groups: list[str], eligible: np.ndarray,
                        ci: float) -> dict:
    """The larger of the TPR and FPR gaps; its interval is that of the statistic itself.

    ``boot`` is the rates of the bootstrap replicates (``rates(replicates)``), shared by the gaps."""
    r = rates(counts)
    tpr_r, fpr_r = _range(r["tpr"], eligible), _range(r["fpr"], eligible)
    out = {}
    if np.isfinite(tpr_r) and np.isfinite(fpr_r):
        which = "tpr" if tpr_r >= fpr_r else "fpr"
        hi, lo = highest_and_lowest(r[which], eligible)
        out.update(value=float(max(tpr_r, fpr_r)), high_group=groups[hi], low_group=groups[lo],
                   n_groups=int(np.sum(eligible & np.isfinite(r["tpr"]) & np.isfinite(r["fpr"]))),
                   note=f"attained by the {which.upper()} gap")
        if boot is not None:
            def of(rc):
                return np.fmax(_range(rc["tpr"], eligible), _range(rc["fpr"], eligible))

            def stat(c):
                return of(rates(c))

            out["ci_low"], out["ci_high"] = bca_interval(stat, counts, of(boot), ci)
    return out


def _pair_gap(metric: str, kind: str, counts: np.ndarray, boot: dict | None, groups: list[str],
              eligible: np.ndarray, ci: float) -> dict:
    """Highest minus lowest group (a difference) or lowest over highest (the impact ratio).

    The interval is that of the same pair's difference or ratio across the replicates
    (``boot``: their rates, ``rates(replicates)``).
    """
    x = rates(counts)[metric]
    out = {"n_groups": int(np.sum(eligible & np.isfinite(x)))}
    pair = highest_and_lowest(x, eligible)
    if pair is None:
        return out
    hi, lo = pair
    out.update(high_group=groups[hi], low_group=groups[lo])

    def of(v):
        return impact_ratio(v[..., lo], v[..., hi]) if kind == "ratio" else v[..., hi] - v[..., lo]

    def stat(c):
        return of(rates(c)[metric])

    out["value"] = float(stat(counts))
    if boot is not None:
        out["ci_low"], out["ci_high"] = bca_interval(stat, counts, of(boot[metric]), ci)
    return out


def _judge(row: dict) -> dict:
    """Pass/fail against the threshold, significance from the interval, or why there is no value."""
    v, kind, thr = row["value"], row["kind"], row["threshold"]
    if np.isfinite(v):
        ok = v >= thr if kind == "ratio" else abs(v) <= thr
        row["passed"], row["status"] = bool(ok), ("PASS" if ok else "FAIL")
        lo, hi = row["ci_low"], row["ci_high"]
        if np.isfinite(lo) and kind != "max_difference":
            null = 1.0 if kind == "ratio" else 0.0
            row["significant"] = bool(lo > null or hi < null)
    elif row["n_groups"] < 2:
        row["note"] = "fewer than two groups with n >= min_group_size and a defined rate"
    return row


_RATE_NAMES = {"approval_rate": "approval rate", "accuracy": "accuracy", "tpr": "TPR", "fpr": "FPR",
               "precision": "precision"}


def _excluded(metrics: tuple[str, ...], r: dict, den: dict, groups: list[str], eligible: np.ndarray,
              minimum: int) -> tuple[np.ndarray, list[dict]]:
    """Groups whose rates all rest on enough applicants, and a record of every group left out."""
    ok = eligible.copy()
    out = []
    for m in metrics:
        enough = den[m] >= minimum
        ok &= enough & np.isfinite(r[m])
        for g in np.flatnonzero(~(eligible & enough & np.isfinite(r[m]))):
            reason = ("small" if not eligible[g] else "undefined" if den[m][g] <= 0 else "insufficient")
            out.append({"group": groups[g], "rate": m, "value": float(r[m][g]), "denominator": int(den[m][g]),
                        "denominator_is": RATE_DENOMINATORS[m][0], "reason": reason})
    return ok, out


def excluded_text(excluded, minimum: int | None = None) -> str:
    """One line naming the groups a gap left out and why (e.g. ``F & Other: FPR 0.000 on 1 defaulters``).

    Examples
    --------
    >>> from apcfair.audit.groups import excluded_text
    >>> excluded_text([{"group": "Asian", "rate": "fpr", "value": 1.0, "denominator": 2,
    ...                 "denominator_is": "defaulters", "reason": "insufficient"}], 30)
    'insufficient data (< 30): Asian: FPR 1.000 on 2 defaulters'
    """
    if not isinstance(excluded, list | tuple) or not excluded:
        return ""
    parts: dict[str, list[str]] = {}
    for e in excluded:
        v = e.get("value")
        value = "undefined" if v is None or not np.isfinite(v) else f"{v:.3f}"
        parts.setdefault(e["reason"], []).append(f"{e['group']}: {_RATE_NAMES.get(e['rate'], e['rate'])} {value} "
                                                 f"on {e['denominator']:,} {e['denominator_is']}")
    heads = {"insufficient": "insufficient data" + (f" (< {minimum})" if minimum else ""),
             "small": "small group (n < min_group_size)", "undefined": "rate undefined"}
    return "; ".join(f"{heads.get(k, k)}: {', '.join(v)}" for k, v in parts.items())


def compute_gaps(counts: np.ndarray, groups: list[str], eligible: np.ndarray,
                 thresholds: dict[str, float], boot: np.ndarray | None = None,
                 ci: float = 0.95, min_rate_denominator: int = 1) -> list[dict]:
    """Fairness gaps between eligible groups, with BCa bootstrap intervals.

    A group's rate enters a gap only when the group is eligible (``n >= min_group_size``) and
    the rate's own denominator (:data:`RATE_DENOMINATORS`: applicants for the approval rate
    and accuracy, creditworthy applicants for TPR, defaulters for FPR, approved applicants for
    precision) is at least ``min_rate_denominator``; equalized odds needs both the TPR's and
    the FPR's. Every group left out is recorded in the row's ``excluded`` list with its value,
    denominator and reason. When groups have the rate but fewer than two rest on enough data,
    the gap gets no value and no verdict: status ``"INSUFFICIENT"``.

    Parameters
    ----------
    counts : numpy.ndarray, shape (n_groups, 4)
        Confusion cells per group.
    groups : list of str
        Group labels.
    eligible : numpy.ndarray of bool
        Groups large enough to enter the gaps.
    thresholds : dict
        Pass/fail thresholds by gap name.
    boot : numpy.ndarray, shape (n_boot, n_groups, 4), optional
        Bootstrap replicates of the cells.
    ci : float
        Interval level.
    min_rate_denominator : int, default 1
        Smallest denominator of a rate that enters a gap.

    Returns
    -------
    list of dict
        One row per gap: ``gap, kind, value, ci_low, ci_high, threshold, passed, status,
        significant, low_group, high_group, n_groups, note, excluded, n_excluded``. For
        differences the value is ``highest - lowest`` and its interval is that of the same
        pair's difference; for the ratio (``dir``, :func:`~apcfair.audit.metrics.impact_ratio`)
        it is ``lowest / highest``; for equalized odds the interval is that of the statistic itself.

    Examples
    --------
    Equalized odds between two groups whose FPRs rest on 2 and 1 defaulters gets no verdict:

    >>> import numpy as np
    >>> from apcfair.audit.groups import DEFAULT_THRESHOLDS, compute_gaps
    >>> counts = np.array([[100.0, 2, 30, 0], [110.0, 0, 25, 1]])   # TP, FP, FN, TN
    >>> eo = compute_gaps(counts, ["F & Black", "F & Other"], np.array([True, True]), DEFAULT_THRESHOLDS,
    ...                   min_rate_denominator=30)[3]
    >>> eo["gap"], eo["status"], eo["value"], eo["n_excluded"]
    ('eo', 'INSUFFICIENT', nan, 2)
    >>> compute_gaps(counts, ["F & Black", "F & Other"], np.array([True, True]), DEFAULT_THRESHOLDS)[3]["status"]
    'FAIL'
    """
    r, den = rates(counts), denominators(counts)
    boot_rates = None if boot is None else rates(boot)  # once for every gap
    rows = []
    for name, (metric, kind) in GAP_SPECS.items():
        metrics = metric if isinstance(metric, tuple) else (metric,)
        ok, excluded = _excluded(metrics, r, den, groups, eligible, min_rate_denominator)
        row = {"gap": name, "kind": kind, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan,
               "threshold": thresholds[name], "passed": None, "status": "N/A", "significant": None,
               "low_group": None, "high_group": None, "n_groups": 0, "note": ""}
        if kind == "max_difference":
            row.update(_equalized_odds_gap(counts, boot_rates, groups, ok, ci))
        else:
            row.update(_pair_gap(metric, kind, counts, boot_rates, groups, ok, ci))
        row = _judge(row)
        insufficient = [e for e in excluded if e["reason"] == "insufficient"]
        defined = np.logical_and.reduce([np.isfinite(r[m]) for m in metrics])
        if not np.isfinite(row["value"]) and insufficient and int(np.sum(eligible & defined)) >= 2:
            row["status"] = INSUFFICIENT
            what = " and ".join(f"{_RATE_NAMES[m]} on >= {min_rate_denominator} {RATE_DENOMINATORS[m][0]}"
                                for m in metrics)
            row["note"] = f"no verdict: fewer than two groups with {what}"
        elif insufficient:
            row["note"] = "; ".join(x for x in (row["note"], "groups with insufficient data left out") if x)
        row["excluded"], row["n_excluded"] = excluded, len(excluded)
        rows.append(row)
    return rows


def _group_interval(metric: str, g: int, counts: np.ndarray, boot_rate: np.ndarray,
                    ci: float) -> tuple[float, float]:
    """BCa interval of one group's rate; ``boot_rate`` is the rate of every group on every
    replicate (``rates(boot)[metric]``, computed once for all groups)."""
    def stat(c):
        return rates(c)[metric][..., g]

    return bca_interval(stat, counts, boot_rate[..., g], ci)


def group_rows(counts: np.ndarray, groups: list[str], boot: np.ndarray | None, ci: float,
               min_group_size: int, min_rate_denominator: int = 1) -> pd.DataFrame:
    """Count-based group table with BCa bootstrap intervals for approval rate and TPR.

    ``n_creditworthy``, ``n_default`` and ``n_approved`` are the denominators of TPR, FPR and
    precision; ``tpr_status`` etc. say whether each rests on at least ``min_rate_denominator``
    applicants (:func:`rate_status`).
    """
    r = rates(counts)
    df = pd.DataFrame({"group": groups, **{k: r[k] for k in RATE_COLUMNS if k in r}})
    df["n"] = counts.sum(1).astype(int)
    df["n_default"] = (counts[:, 1] + counts[:, 3]).astype(int)
    df["n_creditworthy"] = (counts[:, 0] + counts[:, 2]).astype(int)
    df["n_approved"] = (counts[:, 0] + counts[:, 1]).astype(int)
    df["small"] = df["n"] < min_group_size
    den = denominators(counts)
    for m in CONDITIONAL_RATES:
        df[f"{m}_status"] = rate_status(den[m], min_rate_denominator)
    if boot is not None:
        boot_rates = rates(boot)
        for m in ("approval_rate", "tpr"):
            lo, hi = zip(*(_group_interval(m, g, counts, boot_rates[m], ci) for g in range(len(groups))),
                         strict=True)
            df[f"{m}_ci_low"], df[f"{m}_ci_high"] = lo, hi
    return df


def tests_rows(counts: np.ndarray, random_state) -> list[dict]:
    """Decision-vs-group tests: all applicants, and among the creditworthy (equal opportunity)."""
    approved = counts[:, 0] + counts[:, 1]
    rejected = counts[:, 2] + counts[:, 3]
    out = []
    for outcome, table in (
        ("approval", np.column_stack([approved, rejected])),
        ("approval_among_creditworthy", counts[:, [0, 2]]),
    ):
        res = contingency_test(table, random_state=random_state)
        out.append({"outcome": outcome, **res})
    return out


def power_rows(counts: np.ndarray, groups: list[str], threshold_spd: float,
               threshold_eod: float, alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """Minimum detectable approval-rate and TPR gaps of each group against all others."""
    n = counts.sum(1)
    cw = counts[:, 0] + counts[:, 2]
    appr = counts[:, 0] + counts[:, 1]
    p_app = appr.sum() / n.sum()
    p_tpr = counts[:, 0].sum() / cw.sum() if cw.sum() else np.nan
    rows = []
    for g, lab in enumerate(groups):
        mde_a = min_detectable_gap(n[g], n.sum() - n[g], p_app, alpha=alpha, power=power)
        mde_t = min_detectable_gap(cw[g], cw.sum() - cw[g], p_tpr, alpha=alpha, power=power)
        notes = []
        if not mde_a <= threshold_spd:
            notes.append(f"an approval-rate gap of {threshold_spd:.2f} is not reliably detectable")
        if not mde_t <= threshold_eod:
            notes.append(f"a TPR gap of {threshold_eod:.2f} is not reliably detectable")
        rows.append({"group": lab, "n": int(n[g]), "n_creditworthy": int(cw[g]),
                     "mde_approval_rate": mde_a, "mde_tpr": mde_t,
                     "detectable": bool(mde_a <= threshold_spd and mde_t <= threshold_eod),
                     "note": "; ".join(notes) + (f" (alpha {alpha}, power {power}, vs all other applicants)"
                                                 if notes else "")})
    return pd.DataFrame(rows)


def counts_for(inp, labels: pd.Categorical, mask: np.ndarray | None = None) -> np.ndarray:
    """Confusion cells per category of ``labels`` (optionally within ``mask``)."""
    codes = np.asarray(labels.codes)
    approved, y = inp.approved, inp.y
    if mask is not None:
        codes, approved, y = codes[mask], approved[mask], y[mask]
    return cell_counts(approved, y, codes, len(labels.categories))
