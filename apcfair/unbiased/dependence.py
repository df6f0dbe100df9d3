"""How much a forecast depends on protected status, and AUC comparisons (DeLong).

Used by the unbiased-by-design comparison: for each model and each restricted
attribute it reports Pearson correlation, distance correlation (which also catches
nonlinear dependence), for binary attributes the AUC of the forecast as a
discriminator of the attribute (0.5 = no information), and the adverse impact ratio
at an approval cut-off (:func:`apcfair.audit.metrics.adverse_impact_ratio`, the audit's
``dir``; re-exported here as ``apcfair.unbiased.adverse_impact_ratio``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from apcfair.audit.metrics import adverse_impact_ratio


class _DeLongRows(NamedTuple):
    """Midranks of one or more forecasts (rows) on the same accounts, positives first: among
    all accounts (``tz``), among the positives (``tx``) and among the negatives (``ty``)."""

    tz: np.ndarray  # (rows, positives + negatives)
    tx: np.ndarray  # (rows, positives)
    ty: np.ndarray  # (rows, negatives)

    def stack(self, other: _DeLongRows) -> _DeLongRows:
        """Both forecasts' rows, this one's first: the midranks of ranking them together (in the
        column-major layout of :func:`_delong_rows`' arrays, so the covariance's sums run alike)."""
        return _DeLongRows(*(np.asfortranarray(np.vstack([a, b])) for a, b in zip(self, other, strict=True)))

    def components(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows' AUCs and their DeLong covariance (Sun & Xu 2014)."""
        tz, tx, ty = self
        m, n = tx.shape[1], ty.shape[1]
        aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
        v01 = (tz[:, :m] - tx) / n
        v10 = 1.0 - (tz[:, m:] - ty) / m
        sx = np.atleast_2d(np.cov(v01))
        sy = np.atleast_2d(np.cov(v10))
        return aucs, sx / m + sy / n


def _delong_rows(preds: np.ndarray, y: np.ndarray, orders: list | None = None) -> _DeLongRows:
    """The midranks behind the DeLong covariance, each row of ``preds`` ranked alone.

    The rows of several calls on the same accounts stack (:meth:`_DeLongRows.stack`) into
    exactly those of one call: a forecast compared with several others is ranked once.
    ``orders`` are the rows' stable argsorts with the positives first
    (:func:`_positives_first`), when already known.
    """
    pos = preds[:, y == 1]
    neg = preds[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    allp = np.hstack([pos, neg])
    is_pos = np.arange(m + n) < m
    tz, tx, ty = np.empty_like(allp), np.empty_like(pos), np.empty_like(neg)
    for r, row in enumerate(allp):
        tz[r], within = _midranks_with_subsets(row, is_pos, None if orders is None else orders[r])
        tx[r], ty[r] = within[:m], within[m:]
    return _DeLongRows(tz, tx, ty)


def _positives_first(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``values`` of the positives (``y == 1``), then of the negatives: the layout the DeLong
    midranks rank."""
    return np.concatenate([values[y == 1], values[y == 0]])


def _delong_components(preds: np.ndarray, y: np.ndarray):
    """AUCs and their DeLong covariance (Sun & Xu 2014, midranks)."""
    return _delong_rows(preds, y).components()


def _midranks_with_subsets(values: np.ndarray, first: np.ndarray,
                           order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Midranks (``scipy.stats.rankdata``'s ``"average"``) of ``values``, and of each value
    within its own subset (``first`` or not), from one sort (``order``: ``values``' stable
    argsort, when already known).

    Within a run of ties starting after ``b`` values and ending at ``e``, the midrank is
    ``(b + 1 + e) / 2``; counted among all values, or among the values of the same subset.

    Examples
    --------
    >>> ranks, within = _midranks_with_subsets(np.array([3.0, 1.0, 3.0, 2.0]), np.array([True, True, False, False]))
    >>> ranks.tolist(), within.tolist()
    ([3.5, 1.0, 3.5, 2.0], [2.0, 1.0, 2.0, 1.0])
    """
    order = np.argsort(values, kind="stable") if order is None else order
    v = values[order]
    new = np.empty(len(v), dtype=bool)
    new[:1] = True
    np.not_equal(v[1:], v[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], len(v))
    group = np.cumsum(new) - 1
    ranks = np.empty(len(v))
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    within = np.empty(len(v))
    f = first[order]
    for members in (f, ~f):
        run = np.concatenate([[0], np.cumsum(members)])
        mid = (run[starts] + 1 + run[ends]) / 2.0
        within[order[members]] = mid[group[members]]
    return ranks, within


def delong_auc_difference(y, score_a, score_b, alpha: float = 0.05) -> dict:
    """DeLong test and confidence interval for ``AUC(a) - AUC(b)`` on the same accounts.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcome, 1 = default (scores are risk scores: higher = riskier).
    score_a, score_b : array-like
        Two forecasts for the same accounts.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    dict
        ``auc_a``, ``auc_b``, ``difference``, ``se``, ``lower``, ``upper``, ``z``,
        ``p_value``, ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.unbiased import delong_auc_difference
    >>> rng = np.random.default_rng(0)
    >>> y = rng.binomial(1, 0.2, 500)
    >>> sharp = y + rng.normal(0, 1, 500)   # a good risk score
    >>> blunt = y + rng.normal(0, 3, 500)   # a weaker one
    >>> res = delong_auc_difference(y, sharp, blunt)
    >>> round(res["auc_a"], 2), round(res["auc_b"], 2), round(res["difference"], 2)
    (0.79, 0.61, 0.19)
    >>> bool(res["lower"] > 0), res["p_value"] < 0.001, res["method"]
    (True, True, 'DeLong (paired)')
    """
    y = np.asarray(y).astype(int)
    if y.min() == y.max():
        raise ValueError("the AUC needs both defaulters and non-defaulters")
    preds = np.vstack([np.asarray(score_a, float), np.asarray(score_b, float)])
    return _delong_difference(_delong_rows(preds, y), alpha)


def _delong_difference(rows: _DeLongRows, alpha: float = 0.05) -> dict:
    """:func:`delong_auc_difference` from the two forecasts' DeLong rows (a first)."""
    aucs, cov = rows.components()
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    zq = stats.norm.ppf(1 - alpha / 2)
    z = diff / se if se > 0 else 0.0
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": diff, "se": se,
            "lower": diff - zq * se, "upper": diff + zq * se, "z": z,
            "p_value": float(2 * stats.norm.sf(abs(z))), "method": "DeLong (paired)"}


def auc_with_ci(y, score, alpha: float = 0.05) -> dict:
    """AUC, Gini and the DeLong confidence interval of the AUC.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcome, 1 = default.
    score : array-like
        Risk score (higher = riskier), e.g. a cumulative PD.
    alpha : float
        One minus the confidence level.

    Returns
    -------
    dict
        ``auc``, ``gini`` (``2 * auc - 1``), ``auc_lower``, ``auc_upper``.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.unbiased import auc_with_ci
    >>> rng = np.random.default_rng(0)
    >>> y = rng.binomial(1, 0.2, 500)
    >>> res = auc_with_ci(y, y + rng.normal(0, 1, 500))
    >>> {k: round(float(v), 2) for k, v in res.items()}
    {'auc': 0.79, 'gini': 0.59, 'auc_lower': 0.75, 'auc_upper': 0.84}
    """
    y = np.asarray(y).astype(int)
    return _auc_ci(_delong_rows(np.asarray(score, float)[None, :], y), alpha)


def _auc_ci(rows: _DeLongRows, alpha: float = 0.05) -> dict:
    """:func:`auc_with_ci` from one forecast's DeLong rows."""
    aucs, cov = rows.components()
    se = float(np.sqrt(cov[0, 0]))
    zq = stats.norm.ppf(1 - alpha / 2)
    auc = float(aucs[0])
    return {"auc": auc, "gini": 2 * auc - 1, "auc_lower": auc - zq * se, "auc_upper": auc + zq * se}


def _dominance_sums(ry: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``out[q] = sum(c[p] for p < q if ry[p] < ry[q])`` in O(n log n) numpy passes.

    ``ry`` is a permutation of ``0..n-1`` (the y-ranks of points listed in x order) and ``c``
    an ``(n, k)`` array of values. The rank range is split dyadically (Huo & Szekely 2016,
    section 3): at level ``l`` every block of ``2**(l+1)`` ranks is held in x order and, for
    each point in its upper half, the values of the preceding points in its lower half are
    added. Blocks are then stably partitioned into halves for the next level. Sums run within
    blocks only (no global prefix sums differenced), so no precision is lost to cancellation.
    """
    n, k = c.shape
    levels = max(1, int(np.ceil(np.log2(n))))
    size_all = 1 << levels
    rr = np.concatenate([ry, np.arange(n, size_all)])          # padding: highest ranks, last in x order
    cc = np.concatenate([c, np.zeros((size_all - n, k))])
    pos = np.arange(size_all)                                   # original x position of each slot
    out = np.zeros((size_all, k))
    for level in range(levels - 1, -1, -1):
        size = 1 << (level + 1)
        upper = ((rr >> level) & 1).astype(bool)               # upper half of its block (higher y)
        lower_vals = np.where(upper[:, None], 0.0, cc)
        run = np.cumsum(lower_vals.reshape(-1, size, k), axis=1).reshape(size_all, k)
        out[pos[upper]] += run[upper]                           # lower-half points before it, same block
        up2 = upper.reshape(-1, size)
        ones_before = np.cumsum(up2, axis=1) - up2
        within = np.where(up2, (size >> 1) + ones_before, np.arange(size) - ones_before)
        dest = (within + np.arange(0, size_all, size)[:, None]).ravel()
        rr_new, cc_new, pos_new = np.empty_like(rr), np.empty_like(cc), np.empty_like(pos)
        rr_new[dest], cc_new[dest], pos_new[dest] = rr, cc, pos
        rr, cc, pos = rr_new, cc_new, pos_new
    return out[:n]


def _sum_distance_products_discrete(x: np.ndarray, y: np.ndarray, levels: np.ndarray,
                                    codes: np.ndarray, order: np.ndarray | None = None) -> float:
    """``sum_ij |x_i - x_j| |y_i - y_j|`` when ``x`` takes few values (``levels[codes]``), O(K n).

    For each level ``u`` of ``x``, ``sum_{j: x_j = u} |y_i - y_j|`` is read for every ``i`` from
    counts and sums of the level's members up to ``i`` in y order (ties in ``y`` add 0). Each
    pair of levels is counted once, from the level taken first (largest first); its points then
    leave the arrays, so the passes shrink (about half the work of a pass over every point per
    level, with the same accuracy: ~1e-15 relative against long double at n = 73,000, 73 levels).
    ``order`` is ``y``'s stable argsort when already known.
    """
    order = np.argsort(y, kind="stable") if order is None else order
    ys, xs, cs = y[order], x[order], codes[order]
    sizes = np.bincount(cs, minlength=len(levels))
    total = 0.0
    for u in np.argsort(-sizes, kind="stable")[:-1]:
        member = cs == u
        count_upto = np.cumsum(member)
        sum_upto = np.cumsum(np.where(member, ys, 0.0))
        to_level = ys * (2 * count_upto - count_upto[-1]) + sum_upto[-1] - 2 * sum_upto
        total += float(np.abs(xs - levels[u]) @ to_level)
        keep = ~member                                   # the level's pairs with the rest are counted
        ys, xs, cs = ys[keep], xs[keep], cs[keep]
    return 2 * total


def _dcov_terms_1d(x: np.ndarray, order: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """Row sums ``a_i. = sum_j |x_i - x_j|`` (in input order), ``a..`` and ``sum_ij a_ij**2``
    (``order``: ``x``'s stable argsort when already known)."""
    n = len(x)
    order = np.argsort(x, kind="stable") if order is None else order
    xs = x[order]
    before = np.concatenate([[0.0], np.cumsum(xs)[:-1]])
    rows = np.empty(n)
    rows[order] = (2 * np.arange(n) - n) * xs + xs.sum() - 2 * before
    xc = x - x.mean()
    return rows, float(rows.sum()), float(2 * n * (xc @ xc))


def _dcov_sqr(mean_prod: float, a_rows, a_total: float, b_rows, b_total: float, n: int) -> float:
    """The biased (V-statistic) squared distance covariance from its terms (as ``dcor``)."""
    return mean_prod / n / n - 2 * (a_rows / n @ b_rows) / n / n + a_total / n * b_total / n / n / n


class _Sample1d(NamedTuple):
    """A 1-D sample sorted once: its stable order, distinct values and level codes (as
    :func:`_sorted_1d`), its midranks and its distance-covariance terms (as
    :func:`_dcov_terms_1d`), shared by every distance correlation and AUC it enters."""

    values: np.ndarray
    order: np.ndarray
    levels: np.ndarray
    codes: np.ndarray
    rows: np.ndarray
    total: float
    sq: float

    @classmethod
    def of(cls, v: np.ndarray) -> _Sample1d:
        order, levels, codes = _sorted_1d(v)
        return cls(v, order, levels, codes, *_dcov_terms_1d(v, order))

    def midranks(self) -> np.ndarray:
        """``scipy.stats.rankdata(values)`` (``"average"``): ties share the mean of their ranks."""
        ends = np.cumsum(np.bincount(self.codes, minlength=len(self.levels)))
        starts = ends - np.diff(ends, prepend=0)
        return ((starts + 1 + ends) / 2.0)[self.codes]


def _distance_correlation_1d(x: np.ndarray, y: np.ndarray) -> float:
    """Distance correlation of two 1-D samples in O(n log n) (the V-statistic ``dcor`` reports)."""
    return _distance_correlation_sorted(_Sample1d.of(np.asarray(x, float)), _Sample1d.of(np.asarray(y, float)))


def _distance_correlation_sorted(sx: _Sample1d, sy: _Sample1d) -> float:
    """:func:`_distance_correlation_1d` of two samples already sorted (each sorted once)."""
    n = len(sx.values)
    if not _discrete_is_cheaper(len(sx.levels), n):
        sx, sy = sy, sx                                           # symmetric: the discrete one first
    x, y = sx.values, sy.values
    if _discrete_is_cheaper(len(sx.levels), n):
        mean_prod = _sum_distance_products_discrete(x, y, sx.levels, sx.codes, sy.order)
    else:
        mean_prod = _sum_distance_products(x, y, sx.rows, sy.order)
    return _correlation_from_dcov(_dcov_sqr(mean_prod, sx.rows, sx.total, sy.rows, sy.total, n),
                                  _dcov_sqr(sx.sq, sx.rows, sx.total, sx.rows, sx.total, n),
                                  _dcov_sqr(sy.sq, sy.rows, sy.total, sy.rows, sy.total, n))


def _discrete_is_cheaper(levels: int, n: int) -> bool:
    """Whether the O(K n) pass over ``levels`` distinct values beats the O(n log n) one.

    Measured at n = 73,000 (one core): about 20 ns per value and level for the discrete
    pass, 320 ns per value and halving level (``log2 n``) for the dominance sums, so the
    discrete pass wins below ~16 log2(n) levels (272 there); 12 log2(n) leaves a margin
    (an age in years, ~70 levels, takes the discrete pass).
    """
    return levels <= 12 * max(1.0, np.log2(max(n, 2)))


def _sorted_1d(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stable argsort of ``v``, its distinct values and each value's level code (as ``np.unique``)."""
    order = np.argsort(v, kind="stable")
    vs = v[order]
    new = np.empty(len(v), dtype=bool)
    new[:1] = True
    np.not_equal(vs[1:], vs[:-1], out=new[1:])
    codes = np.empty(len(v), dtype=np.intp)
    codes[order] = np.cumsum(new) - 1
    return order, vs[new], codes


def _sum_distance_products(x: np.ndarray, y: np.ndarray, x_rows: np.ndarray,
                           order: np.ndarray | None = None) -> float:
    """``sum_ij |x_i - x_j| |y_i - y_j|`` for two 1-D samples in O(n log n).

    With the samples in y order and ``g_t`` the gap between the t-th and next y,
    ``|y_i - y_j| = sum of g_t for i <= t < j``, so the sum is ``2 sum_t g_t A_t`` with ``A_t``
    the x-distances across the cut after ``t``; ``A`` is a running sum of each point's
    distances to the points after it minus those to the points before it (``x_rows`` minus
    twice the latter), and the distances to earlier points come from dominance sums (count
    and x-sum of the earlier points with smaller x). Ties add 0 whichever side they fall.
    """
    n = len(x)
    order = np.argsort(y, kind="stable") if order is None else order     # y's stable argsort
    xs, ys = x[order], y[order]
    rx = np.empty(n, dtype=np.int64)
    rx[np.argsort(xs, kind="stable")] = np.arange(n)
    dom = _dominance_sums(rx, np.column_stack([np.ones(n), xs]))
    prefix = np.concatenate([[0.0], np.cumsum(xs)[:-1]])
    to_earlier = xs * (2 * dom[:, 0] - np.arange(n)) - 2 * dom[:, 1] + prefix
    across = np.cumsum(x_rows[order] - 2 * to_earlier)
    return 2 * float(np.diff(ys) @ across[:-1])


def _correlation_from_dcov(cov_xy: float, var_x: float, var_y: float) -> float:
    den = np.sqrt(abs(var_x * var_y))
    r2 = cov_xy / den if den != 0.0 else 0.0
    return float(np.sqrt(max(r2, 0.0)))


def _distance_matrix(x: np.ndarray) -> np.ndarray:
    """Euclidean distances between the rows of ``x`` (``(n, d)``), column by column."""
    d2 = np.zeros((len(x), len(x)))
    for col in x.T:
        d2 += (col[:, None] - col[None, :]) ** 2
    return np.sqrt(d2)


def distance_correlation(x, y) -> float:
    """Distance correlation (Szekely, Rizzo & Bakirov 2007; the biased V-statistic).

    Zero only under independence (in the population); catches nonlinear dependence that
    Pearson's correlation misses. Two 1-D samples take O(n log n) time and O(n) memory
    (Huo & Szekely 2016); multi-column samples take O(n^2) (the distance matrices).
    Equal to ``dcor.distance_correlation`` (tested to 1e-10) without its JIT compilation.

    Parameters
    ----------
    x, y : array-like
        Samples of equal length: 1-D, or ``(n, d)`` for a random vector.

    Returns
    -------
    float
        Distance correlation in [0, 1] (0 if either sample is constant).

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.unbiased.dependence import distance_correlation
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=1000)
    >>> round(distance_correlation(x, x ** 2), 2), round(float(np.corrcoef(x, x ** 2)[0, 1]), 2)
    (0.54, -0.11)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) != len(y):
        raise ValueError(f"x and y need the same number of rows, got {len(x)} and {len(y)}")
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if x.ndim == 1 and y.ndim == 1:
        return _distance_correlation_1d(x, y) if len(x) > 1 else 0.0
    a = _distance_matrix(x.reshape(len(x), -1))
    b = _distance_matrix(y.reshape(len(y), -1))
    n = len(a)
    a_rows, b_rows = a.sum(axis=1), b.sum(axis=1)
    a_total, b_total = float(a_rows.sum()), float(b_rows.sum())
    return _correlation_from_dcov(_dcov_sqr(float(np.sum(a * b)), a_rows, a_total, b_rows, b_total, n),
                                  _dcov_sqr(float(np.sum(a * a)), a_rows, a_total, a_rows, a_total, n),
                                  _dcov_sqr(float(np.sum(b * b)), b_rows, b_total, b_rows, b_total, n))


def _encode(attr: pd.Series) -> tuple[np.ndarray, str]:
    """Numeric matrix for an attribute and its kind (numeric, binary, categorical)."""
    s = pd.Series(attr)
    levels = s.dropna().unique()
    if len(levels) == 2:
        ref = sorted(levels, key=str)[0]
        return (s != ref).astype(float).to_numpy()[:, None], "binary"
    if pd.api.types.is_numeric_dtype(s):
        return s.to_numpy(float)[:, None], "numeric"
    return pd.get_dummies(s, dtype=float).to_numpy(), "categorical"


def dependence(forecast, attribute, *, approval_rate: float = 0.8, max_dcor_n: int = 2_000,
               random_state: int | None = 0) -> dict:
    """Dependence of a forecast on one restricted attribute.

    Parameters
    ----------
    forecast : array-like
        Forecast (e.g. cumulative PD) per account.
    attribute : array-like
        Restricted attribute (numeric, binary or categorical). Missing values are
        dropped for ``corr`` and ``dcor``.
    approval_rate : float
        Share approved (lowest PD first) for the adverse impact ratio; applied to
        binary and categorical attributes and to numeric ones split at their median.
    max_dcor_n : int
        Subsample size for the distance correlation of multi-column (categorical)
        attributes (the exact algorithm needs O(n^2) memory there).
    random_state : int, optional
        Seed of the ``dcor`` subsample.

    Returns
    -------
    dict
        ``kind``, ``n``, ``corr`` (Pearson; for categorical attributes the correlation
        ratio), ``dcor``, ``auc_group`` and ``group_positive`` (binary only), ``air``
        (adverse impact ratio details, see
        :func:`~apcfair.audit.metrics.adverse_impact_ratio`).

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.unbiased import dependence
    >>> rng = np.random.default_rng(0)
    >>> minority = rng.binomial(1, 0.3, 500)
    >>> forecast = 0.05 + 0.02 * minority + rng.uniform(0, 0.02, 500)  # depends on status
    >>> res = dependence(forecast, minority)
    >>> res["kind"], round(res["corr"], 2), round(res["auc_group"], 2)
    ('binary', 0.85, 1.0)
    >>> res["air"]["four_fifths_pass"]
    False
    >>> independent = dependence(rng.uniform(size=500), rng.choice(["x", "y", "z"], 500))
    >>> independent["kind"], independent["dcor"] < 0.2
    ('categorical', True)
    """
    return _dependence(_PreparedForecast(forecast), _PreparedAttribute(attribute), approval_rate=approval_rate,
                       max_dcor_n=max_dcor_n, random_state=random_state)


def _subset_key(ok: np.ndarray) -> bytes | None:
    """Cache key of a subset of accounts (``None``: all of them)."""
    return None if ok.all() else ok.tobytes()


class _PreparedForecast:
    """A forecast sorted once for :func:`dependence` with several attributes.

    Its stable order, midranks and distance-covariance terms are computed on first use per
    subset of accounts (the accounts where an attribute is known) and shared by the distance
    correlation, the group AUC and every attribute with the same missing accounts.

    Parameters
    ----------
    forecast : array-like
        Forecast (e.g. cumulative PD) per account.
    """

    def __init__(self, forecast):
        self.values = np.asarray(forecast, float)
        self.finite = np.isfinite(self.values)
        self._sorted: dict = {}

    def sorted(self, ok: np.ndarray) -> tuple[_Sample1d, np.ndarray]:
        """The sorted forecast on the accounts ``ok`` and its midranks."""
        key = _subset_key(ok)
        if key not in self._sorted:
            sample = _Sample1d.of(self.values[ok])
            self._sorted[key] = (sample, sample.midranks())
        return self._sorted[key]


class _PreparedAttribute:
    """A restricted attribute encoded once for :func:`dependence` with several forecasts.

    Its encoding (numeric, binary or categorical), sorted values and distance-covariance
    terms, and the groups of the adverse impact ratio are computed on first use and shared
    by every forecast of the same accounts.

    Parameters
    ----------
    attribute : array-like
        Restricted attribute (numeric, binary or categorical) per account.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.unbiased.dependence import _PreparedAttribute, _PreparedForecast, _dependence, dependence
    >>> rng = np.random.default_rng(0)
    >>> group = rng.binomial(1, 0.3, 500)
    >>> attr = _PreparedAttribute(group)              # encoded and sorted once ...
    >>> forecasts = [rng.uniform(size=500) + k * group for k in range(3)]
    >>> shared = [_dependence(_PreparedForecast(f), attr) for f in forecasts]   # ... for each forecast
    >>> shared == [dependence(f, group) for f in forecasts]
    True
    """

    def __init__(self, attribute):
        self.series = pd.Series(attribute).reset_index(drop=True)
        self.notna = self.series.notna().to_numpy()
        self._encoded: dict = {}
        self._groups: dict = {}

    def encoded(self, ok: np.ndarray) -> dict:
        """``X``, ``kind`` (:func:`_encode`) on the accounts ``ok``; for categorical attributes
        ``codes`` (as ``pd.factorize``), else the sorted values ``sample``, ``varies`` (standard
        deviation > 0) and for binary ones ``group_positive``."""
        key = _subset_key(ok)
        if key not in self._encoded:
            s = self.series[ok]
            X, kind = _encode(s)
            enc = {"X": X, "kind": kind}
            if kind == "categorical":
                enc["codes"] = pd.factorize(s)[0]
            else:
                enc["sample"] = _Sample1d.of(X[:, 0]) if len(X) > 1 else None
                enc["varies"] = bool(np.std(X[:, 0]) > 0)
            if kind == "binary":
                enc["group_positive"] = str(sorted(s.unique(), key=str)[1])
            self._encoded[key] = enc
        return self._encoded[key]

    def groups(self, kind: str) -> pd.Series:
        """The groups of the adverse impact ratio: the values, or a numeric attribute split at its median."""
        if kind not in self._groups:
            s = self.series
            self._groups[kind] = s if kind != "numeric" else pd.Series(
                np.where(s.isna(), "NA", np.where(s > s.median(), "above median", "at or below median")))
        return self._groups[kind]


def _dependence(forecast: _PreparedForecast, attribute: _PreparedAttribute, *, approval_rate: float = 0.8,
                max_dcor_n: int = 2_000, random_state: int | None = 0) -> dict:
    """:func:`dependence` of a prepared forecast on a prepared attribute (each sorted once)."""
    fc = forecast.values
    ok = attribute.notna & forecast.finite
    enc = attribute.encoded(ok)
    X, kind = enc["X"], enc["kind"]
    y = fc[ok]
    out: dict = {"kind": kind, "n": int(ok.sum())}
    if kind == "categorical":
        means = pd.Series(y).groupby(enc["codes"]).transform("mean").to_numpy()
        out["corr"] = float(np.sqrt(np.var(means) / np.var(y))) if np.var(y) > 0 else 0.0
        rng = np.random.default_rng(random_state)
        idx = rng.choice(len(y), size=min(len(y), max_dcor_n), replace=False)
        out["dcor"] = distance_correlation(y[idx], X[idx])
        out["dcor_subsample"] = int(len(idx))
    else:
        x = X[:, 0]
        out["corr"] = float(np.corrcoef(x, y)[0, 1]) if enc["varies"] and np.std(y) > 0 else 0.0
        # O(n log n), exact; as distance_correlation(y, x)
        out["dcor"] = _distance_correlation_sorted(forecast.sorted(ok)[0], enc["sample"]) if len(y) > 1 else 0.0
    if kind == "binary":
        out["auc_group"] = _auc_binary(X[:, 0], y, forecast.sorted(ok)[1])
        out["group_positive"] = enc["group_positive"]
    out["air"] = adverse_impact_ratio(fc, attribute.groups(kind), approval_rate)
    return out


def _auc_binary(labels: np.ndarray, score: np.ndarray, ranks: np.ndarray | None = None) -> float:
    """AUC of ``score`` for ``labels == 1`` from midranks (Mann-Whitney; ties count one half).

    Equal to :func:`sklearn.metrics.roc_auc_score` (to rounding) without its input checks;
    ``ranks`` are the midranks of ``score`` when already known.

    Examples
    --------
    >>> _auc_binary(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    pos = labels == 1
    m = int(pos.sum())
    n = len(labels) - m
    ranks = stats.rankdata(score) if ranks is None else ranks
    return float((ranks[pos].sum() - m * (m + 1) / 2) / (m * n))


def _signed_corr_many(forecasts: np.ndarray, attribute) -> tuple[np.ndarray, np.ndarray, str]:
    """Encoded attribute and the rows of ``forecasts`` restricted to its non-missing values."""
    s = pd.Series(attribute).reset_index(drop=True)
    ok = s.notna().to_numpy() & np.isfinite(forecasts).all(axis=0)
    X, kind = _encode(s[ok])
    return forecasts[:, ok], (pd.factorize(s[ok])[0] if kind == "categorical" else X[:, 0]), kind


def _corr_rows(f: np.ndarray, x: np.ndarray, kind: str) -> np.ndarray:
    """``dependence``'s ``corr`` of each row of ``f`` with ``x`` (Pearson, or correlation ratio)."""
    if kind == "categorical":
        out = []
        for row in f:
            means = pd.Series(row).groupby(x).transform("mean").to_numpy()
            out.append(np.sqrt(np.var(means) / np.var(row)) if np.var(row) > 0 else 0.0)
        return np.array(out)
    xc = x - x.mean()
    fc = f - f.mean(axis=1, keepdims=True)
    den = np.sqrt((fc ** 2).sum(axis=1) * (xc ** 2).sum())
    return np.where(den > 0, (fc @ xc) / np.where(den > 0, den, 1.0), 0.0)


def _bootstrap_corr_rows(f: np.ndarray, x: np.ndarray, kind: str, n_boot: int,
                         rng: np.random.Generator, chunk: int = 64) -> np.ndarray:
    """``_corr_rows`` on ``n_boot`` bootstrap resamples of the accounts, shape ``(n_boot, rows)``.

    Replicate ``b`` resamples accounts ``rng.integers(0, n, n)``; instead of copying the
    resampled arrays, each replicate is a vector of counts (how often each account was drawn)
    and the correlation is computed from count-weighted sums, a few matrix products per chunk of
    replicates. The result equals indexing the resample (same draws) up to rounding.
    """
    return _bootstrap_corr_rows_many(f, [(x, kind)], n_boot, rng, chunk)[0]


def _bootstrap_corr_rows_many(f: np.ndarray, attributes: list, n_boot: int, rng: np.random.Generator,
                              chunk: int = 64) -> list[np.ndarray]:
    """:func:`_bootstrap_corr_rows` for several ``(x, kind)`` attributes of the same accounts.

    The replicates' counts and the forecasts' weighted sums are computed once and shared:
    each attribute gets exactly the draws (and numbers) of its own call with the same ``rng``
    state.
    """
    n, rows = f.shape[1], f.shape[0]
    chunk = max(1, min(chunk, 2**22 // max(n, 1)))   # the replicates' counts: at most 4M values (32 MB)
    outs = [np.empty((n_boot, rows)) for _ in attributes]
    prepared = []
    for x, kind in attributes:
        if kind == "categorical":
            levels = int(x.max()) + 1 if len(x) else 0
            onehot = np.zeros((n, levels))
            onehot[np.arange(n), x] = 1.0
            prepared.append((kind, onehot, None))
        else:
            prepared.append((kind, np.column_stack([np.ones(n), x, x * x]), (f * x).T))
    f_t, ff_t = f.T, (f * f).T
    buffer = np.empty((min(chunk, n_boot), n))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        counts = buffer[:size]                   # how often each account is drawn, per replicate
        for b in range(size):
            counts[b] = np.bincount(rng.integers(0, n, n), minlength=n)
        w_f = counts @ f_t                       # (size, rows): sum of c * f
        w_ff = counts @ ff_t                     # sum of c * f^2
        for out, (kind, cols, fx) in zip(outs, prepared, strict=True):
            if kind == "categorical":
                onehot = cols
                w_k = counts @ onehot                # (size, levels)
                total_var = w_ff - w_f ** 2 / n
                for r in range(rows):
                    w_fk = counts @ (onehot * f[r][:, None])
                    between = (w_fk ** 2 / np.where(w_k > 0, w_k, 1.0)).sum(axis=1) - w_f[:, r] ** 2 / n
                    ok = total_var[:, r] > 1e-300
                    out[start:start + size, r] = np.where(
                        ok, np.sqrt(np.clip(between / np.where(ok, total_var[:, r], 1.0), 0.0, None)), 0.0)
            else:
                w_1, w_x, w_xx = (counts @ cols).T   # each (size,)
                w_fx = counts @ fx
                cov = w_fx - w_f * (w_x / w_1)[:, None]
                var_f = w_ff - w_f ** 2 / w_1[:, None]
                var_x = w_xx - w_x ** 2 / w_1
                den = np.sqrt(np.clip(var_f * var_x[:, None], 0.0, None))
                out[start:start + size] = np.where(den > 0, cov / np.where(den > 0, den, 1.0), 0.0)
    return outs


def corr_change(forecast, baseline, attribute, *, n_boot: int = 200, alpha: float = 0.05,
                random_state: int | None = 0) -> dict:
    """Change in the signed correlation with an attribute, ``corr(forecast) - corr(baseline)``,
    with a percentile bootstrap interval over accounts (both forecasts resampled together).

    Parameters
    ----------
    forecast, baseline : array-like
        Two forecasts for the same accounts (e.g. zeroed vs traditional).
    attribute : array-like
        The protected attribute (``corr`` as in :func:`dependence`: Pearson for binary and
        numeric attributes, the correlation ratio for categorical ones).
    n_boot : int
        Bootstrap replicates.
    alpha : float
        One minus the confidence level.
    random_state : int, optional
        Seed of the resampling.

    Returns
    -------
    dict
        ``corr``, ``corr_baseline``, ``difference``, ``lower``, ``upper``, ``significant``
        (the interval excludes 0), ``n_boot``, ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> g = rng.binomial(1, 0.3, 2000)
    >>> base = 0.05 + 0.02 * g + rng.uniform(0, 0.05, 2000)
    >>> same = base + rng.normal(0, 1e-4, 2000)
    >>> res = corr_change(same, base, g)
    >>> bool(res["lower"] < 0 < res["upper"]), res["significant"]
    (True, False)
    >>> corr_change(base - 0.02 * g, base, g)["significant"]
    True
    """
    out = corr_changes({"forecast": forecast, "baseline": baseline}, "baseline", attribute,
                       n_boot=n_boot, alpha=alpha, random_state=random_state)
    return out["forecast"]


def corr_changes(forecasts: Mapping[str, np.ndarray], baseline: str, attribute, *, n_boot: int = 200,
                 alpha: float = 0.05, random_state: int | None = 0) -> dict[str, dict]:
    """:func:`corr_change` of every forecast against ``forecasts[baseline]``, one shared bootstrap.

    All forecasts are resampled with the same replicates (the accounts drawn are the same for
    every model, as in separate :func:`corr_change` calls with one seed), so the intervals of
    the models are paired and the resampling is done once.

    Parameters
    ----------
    forecasts : mapping of str to array-like
        Forecasts for the same accounts, by model.
    baseline : str
        The key of the baseline forecast (e.g. the traditional model).
    attribute, n_boot, alpha, random_state
        As in :func:`corr_change`.

    Returns
    -------
    dict
        ``{model: corr_change result}`` for every model except ``baseline``.
    """
    return corr_changes_by_attribute(forecasts, baseline, {"attribute": attribute}, n_boot=n_boot, alpha=alpha,
                                     random_state=random_state)["attribute"]


def corr_changes_by_attribute(forecasts: Mapping[str, np.ndarray], baseline: str, attributes: Mapping, *,
                              n_boot: int = 200, alpha: float = 0.05,
                              random_state: int | None = 0) -> dict[str, dict[str, dict]]:
    """:func:`corr_changes` for several attributes of the same accounts, sharing the resampling.

    Equal to one :func:`corr_changes` call per attribute with the same ``random_state`` (the
    same replicates); attributes missing on the same accounts share the drawn counts and the
    forecasts' weighted sums, so the bootstrap's cost hardly grows with the attributes.

    Parameters
    ----------
    forecasts, baseline, n_boot, alpha, random_state
        As in :func:`corr_changes`.
    attributes : mapping of str to array-like
        The protected attributes, by name.

    Returns
    -------
    dict
        ``{attribute: {model: corr_change result}}``.
    """
    names = [k for k in forecasts if k != baseline] + [baseline]
    stacked = np.vstack([np.asarray(forecasts[k], float) for k in names])
    method = (f"percentile bootstrap over accounts ({n_boot} replicates, {1 - alpha:.0%})" if n_boot > 0
              else "no interval (n_boot=0): the change is a point estimate and its significance unknown")
    groups: dict = {}                                   # accounts kept (bytes of the mask) -> attributes
    encoded = {}
    for attr, values in attributes.items():
        ok = pd.Series(values).reset_index(drop=True).notna().to_numpy() & np.isfinite(stacked).all(axis=0)
        encoded[attr] = _signed_corr_many(stacked, values)
        groups.setdefault(ok.tobytes(), []).append(attr)
    replicates = {}
    for attrs in groups.values():
        f = encoded[attrs[0]][0]
        reps = _bootstrap_corr_rows_many(f, [encoded[a][1:] for a in attrs], n_boot, np.random.default_rng(random_state))
        replicates.update(zip(attrs, reps, strict=True))
    result = {}
    for attr in attributes:
        f, x, kind = encoded[attr]
        point = _corr_rows(f, x, kind)
        out = {}
        for r, name in enumerate(names[:-1]):
            diffs = replicates[attr][:, r] - replicates[attr][:, -1]
            lo, hi = np.quantile(diffs, [alpha / 2, 1 - alpha / 2]) if len(diffs) else (np.nan, np.nan)
            out[name] = {"corr": float(point[r]), "corr_baseline": float(point[-1]),
                         "difference": float(point[r] - point[-1]), "lower": float(lo), "upper": float(hi),
                         "significant": bool(lo > 0 or hi < 0) if len(diffs) else None, "n_boot": int(n_boot),
                         "method": method}
        result[attr] = out
    return result
