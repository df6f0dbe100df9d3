"""Uncertainty and significance for group comparisons.

* Bootstrap: groups are resampled **within** group (sizes fixed, as in a stratified design).
  Every rate in this package is a function of a group's four confusion cells, so one
  bootstrap replicate of a group is a multinomial draw of its cells with the observed cell
  shares -- exactly equivalent to resampling its rows, and fast for any sample size.
  Intervals are BCa (bias-corrected and accelerated, Efron 1987): the bias correction from
  the replicates, the acceleration from the jackknife over applicants, which on cells takes
  one leave-one-out value per non-empty cell (weighted by its count) -- the same interval as
  ``scipy.stats.bootstrap(method="BCa")`` with one sample per group (tested).
* Tests of decision vs group: Pearson chi-square (no continuity correction); when an
  expected count is below 5, Fisher's exact test for 2 x 2 tables and a seeded Monte-Carlo
  chi-square with fixed margins for larger tables. Effect size: Cramer's V.
* Power: the minimum gap detectable with a two-sided two-proportion z-test.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st
from scipy.special import ndtr, ndtri

#: How the audit's intervals are computed (recorded in every result's settings).
BOOTSTRAP_METHOD = ("within-group multinomial on confusion cells (rows resampled within each group), "
                    "BCa intervals (bias-corrected and accelerated; acceleration from the jackknife over applicants)")


def rng_from(random_state) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a seed, a generator or ``None``."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is not None and not isinstance(random_state, (int, np.integer)):
        raise ValueError(f"random_state must be an int, a numpy Generator or None, got {random_state!r}.")
    return np.random.default_rng(random_state)


def bootstrap_counts(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Within-group bootstrap replicates of confusion cells.

    Parameters
    ----------
    counts : numpy.ndarray, shape (n_groups, 4)
        Observed cells per group (TP, FP, FN, TN).
    n_boot : int
        Number of replicates.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray, shape (n_boot, n_groups, 4)
    """
    counts = np.asarray(counts, dtype=float)
    out = np.zeros((n_boot, counts.shape[0], 4))
    for g, c in enumerate(counts):
        n = int(round(c.sum()))
        if n > 0:
            out[:, g, :] = rng.multinomial(n, c / c.sum(), size=n_boot)
    return out


def percentile_interval(draws: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap draws, ignoring NaN replicates."""
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(d, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return float(lo), float(hi)


def _acceleration(statistic, counts: np.ndarray) -> float:
    """BCa acceleration from the stratified jackknife over applicants, computed on cells.

    Leaving out one applicant of cell ``c`` of group ``g`` gives the same statistic for every
    applicant of that cell, so the jackknife needs one evaluation per non-empty cell, weighted
    by its count. Each group is a stratum, as in ``scipy.stats.bootstrap`` with one sample per
    group (Efron & Tibshirani 1993, eq. 14.15 summed over samples).
    """
    grp, cell = np.nonzero(counts > 0)
    if grp.size == 0:
        return 0.0
    loo = np.repeat(counts[None], grp.size, axis=0)
    loo[np.arange(grp.size), grp, cell] -= 1
    theta = np.asarray(statistic(loo), dtype=float)
    weight = counts[grp, cell]
    num = den = 0.0
    for g in np.unique(grp):
        sel = (grp == g) & np.isfinite(theta)
        n = weight[sel].sum()
        if n < 2:
            continue
        u = (n - 1) * (np.sum(weight[sel] * theta[sel]) / n - theta[sel])
        num += np.sum(weight[sel] * u**3) / n**3
        den += np.sum(weight[sel] * u**2) / n**2
    return float(num / (6 * den**1.5)) if den > 0 else 0.0


def bca_interval(statistic, counts: np.ndarray, draws: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """BCa bootstrap interval of a statistic of grouped confusion cells.

    Parameters
    ----------
    statistic : callable
        Maps cells of shape ``(..., n_groups, 4)`` to values of shape ``(...)``.
    counts : numpy.ndarray, shape (n_groups, 4)
        Observed cells (TP, FP, FN, TN) per group.
    draws : numpy.ndarray, shape (n_boot,)
        ``statistic`` on the bootstrap replicates (:func:`bootstrap_counts`); NaN replicates
        are ignored.
    ci : float
        Interval level.

    Returns
    -------
    tuple of float
        ``(low, high)``; the percentile interval where the bias correction is undefined
        (the estimate lies outside every replicate); NaN without finite replicates.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit.metrics import rates
    >>> from apcfair.audit.stats import bca_interval, bootstrap_counts
    >>> counts = np.array([[60.0, 10, 20, 10], [40, 10, 30, 20]])
    >>> tpr_gap = lambda c: rates(c)["tpr"][..., 0] - rates(c)["tpr"][..., 1]
    >>> draws = tpr_gap(bootstrap_counts(counts, 2000, np.random.default_rng(0)))
    >>> low, high = bca_interval(tpr_gap, counts, draws)
    >>> bool(low < tpr_gap(counts) < high), round(high - low, 1)
    (True, 0.3)
    """
    counts = np.asarray(counts, dtype=float)
    d = np.asarray(draws, dtype=float)
    d = d[np.isfinite(d)]
    theta = float(statistic(counts))
    if d.size == 0:
        return float("nan"), float("nan")
    share = (np.sum(d < theta) + np.sum(d <= theta)) / (2 * d.size)
    if not np.isfinite(theta) or share <= 0 or share >= 1:
        return percentile_interval(d, ci)
    z0 = ndtri(share)
    a = _acceleration(statistic, counts)
    z = ndtri((1 - ci) / 2)
    levels = [ndtr(z0 + (z0 + q) / (1 - a * (z0 + q))) for q in (z, -z)]
    lo, hi = np.quantile(d, levels)
    return float(lo), float(hi)


def cramers_v(chi2: float, n: float, shape: tuple[int, int]) -> float:
    """Cramer's V = sqrt(chi2 / (n * (min(r, c) - 1))) from a Pearson chi-square.

    Parameters
    ----------
    chi2 : float
        Pearson chi-square statistic.
    n : float
        Total count of the table.
    shape : tuple of int
        ``(rows, columns)`` of the table.

    Returns
    -------
    float
        Effect size in [0, 1]; NaN for an empty or one-row/one-column table.

    Examples
    --------
    >>> from apcfair.audit import cramers_v
    >>> round(cramers_v(8.33, 200, (2, 2)), 3)
    0.204
    >>> cramers_v(3.0, 100, (1, 2))
    nan
    """
    k = min(shape) - 1
    if n <= 0 or k <= 0 or not np.isfinite(chi2):
        return float("nan")
    return float(np.sqrt(chi2 / (n * k)))


def _pearson(table: np.ndarray) -> tuple[float, np.ndarray]:
    rows, cols = table.sum(1, keepdims=True), table.sum(0, keepdims=True)
    expected = rows * cols / table.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = np.nansum(np.where(expected > 0, (table - expected) ** 2 / expected, 0.0))
    return float(chi2), expected


def contingency_test(table, *, random_state=None, n_mc: int = 9999) -> dict:
    """Test independence of decision and group in a ``groups x 2`` table.

    Parameters
    ----------
    table : array-like, shape (n_groups, 2)
        Counts; columns are (approved, rejected) or any two outcome classes.
    random_state : int, numpy.random.Generator or None
        Seed of the Monte-Carlo test (only used for sparse tables with > 2 groups).
    n_mc : int, default 9999
        Monte-Carlo replicates.

    Returns
    -------
    dict
        ``test`` ("chi2", "fisher" or "chi2_monte_carlo"), ``statistic`` (Pearson chi-square,
        also for Fisher), ``dof``, ``p_value``, ``cramers_v``, ``min_expected``, ``n``, ``note``.

    Examples
    --------
    Approved / rejected counts of two groups (70% vs 50% approved):

    >>> from apcfair.audit import contingency_test
    >>> res = contingency_test([[70, 30], [50, 50]])
    >>> res["test"], round(res["statistic"], 2), round(res["p_value"], 4), round(res["cramers_v"], 2)
    ('chi2', 8.33, 0.0039, 0.2)

    Sparse tables switch to an exact test:

    >>> small = contingency_test([[9, 1], [4, 6]])
    >>> small["test"], round(small["p_value"], 3)
    ('fisher', 0.057)
    """
    t = np.asarray(table, dtype=float)
    t = t[t.sum(1) > 0]
    n = float(t.sum())
    r = t.shape[0]
    out = {"test": "chi2", "statistic": float("nan"), "dof": int((r - 1) * (t.shape[1] - 1)),
           "p_value": float("nan"), "cramers_v": float("nan"), "min_expected": float("nan"),
           "n": int(n), "note": ""}
    if r < 2:
        out["note"] = "fewer than two non-empty groups"
        return out
    if (t.sum(0) == 0).any():
        out.update(statistic=0.0, p_value=1.0, cramers_v=0.0, min_expected=0.0,
                   note="no variation in the outcome: every applicant has the same decision")
        return out
    chi2, expected = _pearson(t)
    out.update(statistic=chi2, min_expected=float(expected.min()), cramers_v=cramers_v(chi2, n, t.shape))
    if expected.min() >= 5:
        out["p_value"] = float(_st.chi2.sf(chi2, out["dof"]))
    elif t.shape == (2, 2):
        out["test"] = "fisher"
        out["p_value"] = float(_st.fisher_exact(t.astype(int)).pvalue)
        out["note"] = "an expected count is below 5: Fisher's exact test"
    else:
        out["test"] = "chi2_monte_carlo"
        out["p_value"] = _monte_carlo_p_value(t, expected, chi2, rng_from(random_state), n_mc)
        out["note"] = f"an expected count is below 5: Monte-Carlo p-value with fixed margins ({n_mc} draws)"
    return out


def _monte_carlo_p_value(table: np.ndarray, expected: np.ndarray, chi2: float, rng: np.random.Generator,
                         n_mc: int) -> float:
    """Share of tables with the observed margins whose Pearson chi-square reaches ``chi2``."""
    sizes = table.sum(1).astype(np.int64)
    sim0 = rng.multivariate_hypergeometric(sizes, int(table[:, 0].sum()), size=n_mc).astype(float)
    sim = np.stack([sim0, sizes[None, :] - sim0], axis=-1)
    e = expected[None, :, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        stats_ = np.nansum(np.where(e > 0, (sim - e) ** 2 / e, 0.0), axis=(1, 2))
    return float((1 + np.sum(stats_ >= chi2 - 1e-12)) / (n_mc + 1))


def min_detectable_gap(n1: float, n2: float, p: float, *, alpha: float = 0.05,
                       power: float = 0.8) -> float:
    """Smallest difference in a rate detectable between two groups.

    Two-sided two-proportion z-test at level ``alpha`` with the given ``power``, using the
    pooled rate ``p`` for the variance: ``(z_{1-alpha/2} + z_power) * sqrt(p(1-p)(1/n1 + 1/n2))``.

    Parameters
    ----------
    n1, n2 : float
        Group sizes (for a TPR gap: the creditworthy applicants in each group).
    p : float
        Pooled rate.
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Desired power.

    Returns
    -------
    float
        The minimum detectable gap (NaN when a group is empty).

    Examples
    --------
    With 500 and 100 applicants and a 70% approval rate, only gaps of about 14
    percentage points are detected reliably; ten times the data detect about 4.4:

    >>> from apcfair.audit import min_detectable_gap
    >>> round(min_detectable_gap(500, 100, 0.7), 3)
    0.141
    >>> round(min_detectable_gap(5000, 1000, 0.7), 3)
    0.044
    """
    if n1 <= 0 or n2 <= 0 or not np.isfinite(p):
        return float("nan")
    z = _st.norm.ppf(1 - alpha / 2) + _st.norm.ppf(power)
    return float(z * np.sqrt(max(p * (1 - p), 1e-12) * (1 / n1 + 1 / n2)))
