"""Performance metrics and the confusion-cell arithmetic behind every group rate.

Conventions (stated once, used everywhere):

* outcome ``y``: ``1 = default`` (unfavourable), ``0 = creditworthy`` (favourable);
* decision: ``approved`` is the favourable decision; for a PD score, approved means
  PD **below** the cut-off;
* "positive" means creditworthy and "predicted positive" means approved, so
  ``TPR = P(approved | creditworthy)`` (equal opportunity), ``FPR = P(approved | default)``,
  ``precision = P(creditworthy | approved)``; ``base_rate`` is the default rate.

The four confusion cells per group are, in this order,
``TP`` = approved creditworthy, ``FP`` = approved defaulter, ``FN`` = rejected creditworthy
(a false rejection), ``TN`` = rejected defaulter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apcfair.audit._options import BinStrategy, check_option
from apcfair.audit._validate import check_lengths, check_outcome, check_score, risk_key, to_pd

#: Machine-readable statement of the conventions; travels in every JSON output.
CONVENTIONS: dict[str, str] = {
    "outcome": "y = 1 means default (unfavourable); y = 0 means creditworthy (favourable)",
    "positive_class": "creditworthy (non-default, y = 0)",
    "predicted_positive": "approved (the favourable decision)",
    "decision_rule_pd": "approved iff PD < cutoff (polarity 'pd': higher score = riskier)",
    "decision_rule_approval": "approved iff score >= cutoff (polarity 'approval': higher score = better)",
    "tpr": "P(approved | creditworthy) -- equal opportunity compares this",
    "fpr": "P(approved | default)",
    "precision": "P(creditworthy | approved); 1 - precision is the default rate among the approved",
    "base_rate": "default rate P(y = 1) in the group",
    "approval_rate": "P(approved) -- statistical parity and the disparate impact ratio compare this",
    "accuracy": "P(decision matches outcome): approved creditworthy or rejected defaulter",
    "false_rejection": "a creditworthy applicant who is rejected (FN)",
    "auc": "P(a random defaulter is scored riskier than a random non-defaulter)",
    "gaps": "between the groups with the highest and lowest value (groups below min_group_size and rates "
    "below min_rate_denominator excluded); "
    "dir = lowest / highest approval rate",
    "denominators": "approval rate and accuracy: applicants (n); TPR: creditworthy applicants (n_creditworthy); "
    "FPR: defaulters (n_default); precision: approved applicants (n_approved)",
    "insufficient_data": "a group's rate enters a gap only when its denominator is >= min_rate_denominator; "
    "rates below it are shown with their denominator (by_group <rate>_status = 'insufficient'), left out of "
    "the gap and listed in the gap's 'excluded'; a gap with fewer than two groups left has status "
    "'INSUFFICIENT': no value and no pass/fail verdict",
}

CELLS = ("tp", "fp", "fn", "tn")


def cell_counts(approved: np.ndarray, y: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Confusion cells per group, shape ``(n_groups, 4)`` in the order TP, FP, FN, TN.

    Parameters
    ----------
    approved : numpy.ndarray of bool
        The favourable decision.
    y : numpy.ndarray of int
        Outcome, ``1 = default``.
    codes : numpy.ndarray of int
        Group code of each applicant, ``0 .. n_groups - 1``.
    n_groups : int
        Number of groups.
    """
    cell = np.where(approved, np.where(y == 0, 0, 1), np.where(y == 0, 2, 3))
    # int64: categorical codes are int8 and codes * 4 overflows past 31 groups (intersections)
    return np.bincount(np.asarray(codes, dtype=np.int64) * 4 + cell, minlength=n_groups * 4).reshape(n_groups, 4).astype(float)


def rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Group rates from confusion cells (last axis TP, FP, FN, TN); NaN where undefined."""
    tp, fp, fn, tn = (counts[..., i] for i in range(4))
    n = tp + fp + fn + tn
    with np.errstate(divide="ignore", invalid="ignore"):
        out = {
            "n": n,
            "base_rate": (fp + tn) / n,
            "approval_rate": (tp + fp) / n,
            "tpr": tp / (tp + fn),
            "fpr": fp / (fp + tn),
            "precision": tp / (tp + fp),
            "accuracy": (tp + tn) / n,
            "default_rate_approved": fp / (tp + fp),
        }
    return out


def highest_and_lowest(values: np.ndarray, eligible: np.ndarray | None = None) -> tuple[int, int] | None:
    """Positions of the highest and the lowest value among eligible entries with a finite value.

    Parameters
    ----------
    values : numpy.ndarray
        One value per group (e.g. approval rates).
    eligible : numpy.ndarray of bool, optional
        Groups allowed into the comparison (default: all).

    Returns
    -------
    tuple of int or None
        ``(highest, lowest)``; the first position wins ties; ``None`` when fewer than two
        groups qualify.
    """
    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x) if eligible is None else eligible & np.isfinite(x)
    idx = np.flatnonzero(ok)
    if idx.size < 2:
        return None
    return int(idx[np.argmax(x[idx])]), int(idx[np.argmin(x[idx])])


def impact_ratio(low, high):
    """The adverse impact ratio of two approval rates: ``low / high``, NaN where ``high`` is not positive.

    The one place where the ratio is taken: :func:`adverse_impact_ratio`, the audit's
    ``dir`` gap (value and bootstrap replicates) and :meth:`AuditResult.ratio` all use it.

    Parameters
    ----------
    low, high : float or numpy.ndarray
        Approval rates of the lowest and the highest group (arrays: one per replicate).

    Returns
    -------
    float or numpy.ndarray
        The ratio (the four-fifths rule flags values below 0.8).

    Examples
    --------
    >>> from apcfair.audit.metrics import impact_ratio
    >>> round(impact_ratio(0.6, 0.8), 4)
    0.75
    >>> impact_ratio(0.0, 0.0)
    nan
    """
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(high > 0, low / high, np.nan)
    return float(out) if out.ndim == 0 else out


def adverse_impact_ratio(forecast, groups, approval_rate: float = 0.8) -> dict:
    """Approval rates by group when the ``approval_rate`` share with the lowest PD is approved.

    The ratio is the lowest group's approval rate over the highest group's (four-fifths
    rule: below 0.8 is flagged). The audit's ``dir`` gap is the same ratio, taken on the
    decisions it is given (:func:`impact_ratio`).

    Parameters
    ----------
    forecast : array-like
        PD (or any risk score, lower = better) per applicant.
    groups : array-like
        Group label per applicant; missing labels form the group ``"NA"``.
    approval_rate : float, default 0.8
        Share approved overall: applicants with a forecast at or below the
        ``approval_rate`` quantile.

    Returns
    -------
    dict
        ``cutoff_pd``, ``approval_rate``, ``group_approval_rates`` (by group, in order of
        appearance), ``air`` (adverse impact ratio), ``lowest_group`` and
        ``four_fifths_pass``.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit.metrics import adverse_impact_ratio
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["a", "b"], 500)
    >>> pd_forecast = np.where(group == "b", 0.10, 0.05) + rng.uniform(0, 0.02, 500)
    >>> res = adverse_impact_ratio(pd_forecast, group, approval_rate=0.8)
    >>> {g: round(r, 2) for g, r in sorted(res["group_approval_rates"].items())}
    {'a': 1.0, 'b': 0.64}
    >>> round(res["air"], 2), res["lowest_group"], res["four_fifths_pass"]
    (0.64, 'b', False)
    """
    f = np.asarray(forecast, dtype=float)
    # labels as the string dtype writes them (missing -> "NA"); the distinct raw values are
    # converted once and mapped back, groups in order of appearance
    raw, uniq = pd.factorize(pd.Series(groups), use_na_sentinel=True)
    labels = pd.Series(uniq, dtype=object).astype("string").to_numpy(dtype=object) if len(uniq) else np.array([], object)
    labels = np.append(labels, "NA")  # code -1 (missing) -> the last entry
    # groups in order of appearance: the raw codes' order (integers, cheap to hash), then
    # their labels (few), instead of hashing every account's label
    seen, first_raw = pd.factorize(np.where(raw < 0, len(uniq), raw))
    label_codes, names = pd.factorize(labels[first_raw])
    codes = label_codes[seen]
    cut = float(np.quantile(f, approval_rate))
    approved = f <= cut
    count = np.bincount(codes, minlength=len(names))
    rate = np.bincount(codes, weights=approved.astype(float), minlength=len(names)) / count
    group_rates = {str(k): float(r) for k, r in zip(names, rate, strict=True)}
    names, values = list(group_rates), np.fromiter(group_rates.values(), dtype=float)
    high, low = int(np.argmax(values)), int(np.argmin(values))
    ratio = impact_ratio(values[low], values[high])
    return {"cutoff_pd": cut, "approval_rate": approval_rate, "group_approval_rates": group_rates,
            "air": ratio, "lowest_group": names[low], "four_fifths_pass": bool(ratio >= 0.8)}


def roc_auc(y: np.ndarray, risk: np.ndarray) -> float:
    """AUC with defaults as the event and ``risk`` increasing with risk; NaN for one class.

    The Mann-Whitney form on mid-ranks (ties count one half), equal to scikit-learn's
    ``roc_auc_score`` (tested) at a fraction of its cost on the many small groups of an audit.
    """
    from scipy.stats import rankdata

    y = np.asarray(y)
    n_event = int(np.sum(y == 1))
    n_other = y.size - n_event
    if n_event == 0 or n_other == 0:
        return float("nan")
    ranks = rankdata(np.asarray(risk, dtype=float))
    return float((ranks[y == 1].sum() - n_event * (n_event + 1) / 2) / (n_event * n_other))


def ks_statistic(y: np.ndarray, risk: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the score distributions of defaulters and others.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome, ``1 = default``.
    risk : numpy.ndarray
        Score increasing with risk (a PD, or ``-score`` for an approval score).

    Returns
    -------
    float
        ``max |TPR - FPR|`` over the ROC curve, in [0, 1]; NaN with one outcome class.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pd_ = rng.uniform(0.01, 0.4, 1000)          # predicted PD
    >>> y = (rng.random(1000) < pd_).astype(int)    # outcomes drawn from it: well calibrated
    >>> from apcfair.audit import ks_statistic
    >>> round(ks_statistic(y, pd_), 2)
    0.32
    >>> ks_statistic(np.zeros(5, dtype=int), np.arange(5.0))
    nan
    """
    from sklearn.metrics import roc_curve  # heavy (~1 s): loaded on first use

    if len(np.unique(y)) < 2:
        return float("nan")
    fpr, tpr, _ = roc_curve(y, risk)
    return float(np.max(np.abs(tpr - fpr)))


def brier(y: np.ndarray, pd_: np.ndarray | None) -> float:
    """Brier score of a PD (identical for ``1 - PD`` against ``1 - y``)."""
    if pd_ is None:
        return float("nan")
    return float(np.mean((pd_ - y) ** 2))


def _bin_index(p: np.ndarray, n_bins: int, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.unique(np.quantile(p, np.linspace(0, 1, n_bins + 1)))
        edges[0], edges[-1] = 0.0, 1.0
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    return idx, edges


def calibration_table(y: np.ndarray, pd_: np.ndarray, n_bins: int = 10,
                      strategy: BinStrategy = "uniform") -> pd.DataFrame:
    """Reliability table: per PD bin the mean predicted PD, observed default rate and count.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome, ``1 = default``.
    pd_ : numpy.ndarray
        Predicted probability of default.
    n_bins : int, default 10
        Number of bins.
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on [0, 1] or equal-count bins.

    Returns
    -------
    pandas.DataFrame
        Columns ``bin, lower, upper, n, mean_predicted, observed``; empty bins are dropped.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pd_ = rng.uniform(0.01, 0.4, 1000)          # predicted PD
    >>> y = (rng.random(1000) < pd_).astype(int)    # outcomes drawn from it: well calibrated
    >>> from apcfair.audit import calibration_table
    >>> calibration_table(y, pd_, n_bins=4).round(2)  # doctest: +NORMALIZE_WHITESPACE
       bin  lower  upper    n  mean_predicted  observed
    0    0   0.00   0.25  596            0.13      0.16
    1    1   0.25   0.50  404            0.32      0.37
    """
    check_option("strategy", strategy, BinStrategy)
    idx, edges = _bin_index(pd_, n_bins, strategy)
    k = len(edges) - 1
    n = np.bincount(idx, minlength=k)
    sp = np.bincount(idx, weights=pd_, minlength=k)
    sy = np.bincount(idx, weights=y.astype(float), minlength=k)
    keep = n > 0
    return pd.DataFrame({
        "bin": np.arange(k)[keep], "lower": edges[:-1][keep], "upper": edges[1:][keep],
        "n": n[keep], "mean_predicted": sp[keep] / n[keep], "observed": sy[keep] / n[keep],
    })


def expected_calibration_error(y: np.ndarray, pd_: np.ndarray | None, n_bins: int = 10,
                               strategy: BinStrategy = "uniform") -> float:
    """ECE: count-weighted mean of ``|mean predicted PD - observed default rate|`` over bins.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome, ``1 = default``.
    pd_ : numpy.ndarray or None
        Predicted probability of default (``None`` gives NaN).
    n_bins : int, default 10
        Number of bins.
    strategy : {"uniform", "quantile"}, default "uniform"
        Equal-width bins on [0, 1] or equal-count bins.

    Returns
    -------
    float
        The expected calibration error (0 = perfectly calibrated bins).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pd_ = rng.uniform(0.01, 0.4, 1000)          # predicted PD
    >>> y = (rng.random(1000) < pd_).astype(int)    # outcomes drawn from it: well calibrated
    >>> from apcfair.audit import expected_calibration_error
    >>> round(expected_calibration_error(y, pd_), 2)
    0.03
    >>> round(expected_calibration_error(y, np.clip(2 * pd_, 0, 1)), 2)  # PDs twice too high
    0.18
    """
    if pd_ is None or len(y) == 0:
        return float("nan")
    t = calibration_table(y, pd_, n_bins, strategy)
    return float(np.sum(t["n"] * np.abs(t["mean_predicted"] - t["observed"])) / t["n"].sum())


def performance(y, score, *, polarity="pd", n_bins: int = 10) -> dict[str, float]:
    """Discrimination and calibration of a score against outcomes.

    Parameters
    ----------
    y : array-like
        Outcome, ``1 = default``.
    score : array-like
        The score; a PD (``polarity="pd"``) or an approval score (higher = better).
    polarity : {"pd", "approval"}, default "pd"
        Score direction. Approval scores in [0, 1] are read as ``1 - PD`` for the
        calibration metrics; other approval scores get NaN Brier/ECE.
    n_bins : int, default 10
        Equal-width bins for the ECE.

    Returns
    -------
    dict
        ``auc, gini, ks, brier, ece, n, default_rate``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> pd_ = rng.uniform(0.01, 0.4, 1000)          # predicted PD
    >>> y = (rng.random(1000) < pd_).astype(int)    # outcomes drawn from it: well calibrated
    >>> from apcfair.audit import performance
    >>> {k: round(float(v), 2) for k, v in performance(y, pd_).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'auc': 0.71, 'gini': 0.42, 'ks': 0.32, 'brier': 0.17, 'ece': 0.03, 'n': 1000.0,
     'default_rate': 0.24}
    >>> round(performance(y, 1 - pd_, polarity="approval")["auc"], 2)  # same ranking
    0.71
    """
    y = check_outcome(y)
    s = check_score(score, polarity)
    check_lengths(score=s, y=y)
    risk = risk_key(s, polarity)
    p = to_pd(s, polarity)
    auc = roc_auc(y, risk)
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(y, risk),
        "brier": brier(y, p),
        "ece": expected_calibration_error(y, p, n_bins),
        "n": int(len(y)),
        "default_rate": float(np.mean(y)),
    }


def roc_points(y: np.ndarray, risk: np.ndarray, max_points: int = 201) -> pd.DataFrame:
    """ROC curve as rejection shares, thinned to at most ``max_points`` points.

    Sweeping a cut-off over the score and rejecting the riskier side gives, at each point,
    ``rejected_creditworthy = 1 - TPR`` and ``rejected_defaulters = 1 - FPR`` in this
    package's conventions (named explicitly to avoid the usual TP/FN confusion).
    """
    from sklearn.metrics import roc_curve  # heavy (~1 s): loaded on first use

    if len(np.unique(y)) < 2:
        return pd.DataFrame({"rejected_creditworthy": [], "rejected_defaulters": []})
    fpr, tpr, _ = roc_curve(y, risk)
    if len(fpr) > max_points:
        keep = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[keep], tpr[keep]
    return pd.DataFrame({"rejected_creditworthy": fpr, "rejected_defaulters": tpr})
