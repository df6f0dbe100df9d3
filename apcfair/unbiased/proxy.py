"""The proxy diagnostic: how strongly restricted inputs correlate with credit inputs.

Breeden & Leonova (2021), Table 1: Pearson correlations between the restricted
(protected, or zip-level census proxy) inputs and the credit inputs, with 95% intervals.
It is not evidence of bias in a model; it shows which credit inputs can carry protected
information into a model that never sees the restricted inputs (what the restricted
offset is there to absorb).

Encoding. A numeric or boolean column enters as is (``True`` = 1). A categorical column
with two levels enters as the indicator of its last level in sorted order (named
``column=level``); one with more levels as one indicator per level (each against the
rest). Missing values are dropped pair by pair (``n`` is the pair's complete rows).

Intervals. ``method="fisher"`` (default): the Fisher z interval
``tanh(atanh(r) ± z_{(1+level)/2} / sqrt(n − 3))``, which assumes independent,
roughly bivariate-normal rows (the interval scipy's ``pearsonr(...).confidence_interval()``
gives). ``method="bootstrap"``: percentile interval over ``n_boot`` resamples of whole
rows (no normality assumption; Monte Carlo error of about ±0.005 in the ends at 1,000
replicates on 1,000 rows). Neither interval allows for clustering: zip-level proxies are
shared by every account of a zip, so with few zips the real uncertainty is wider than
either interval says. The p-value is the two-sided t-test of zero correlation
(``t = r sqrt((n − 2) / (1 − r²))``, ``n − 2`` df, as ``scipy.stats.pearsonr``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from apcfair._options import check_option

ProxyMethod = Literal["fisher", "bootstrap"]

#: Column definitions of :func:`proxy_correlations` (and of ``proxy_correlations.csv``).
DEFINITIONS = {
    "restricted": "restricted input (column, or column=level for a categorical level's indicator)",
    "credit": "credit input (column, or column=level)",
    "n": "complete rows of the pair (count)",
    "corr": "Pearson correlation (unitless, -1 to 1)",
    "lower": "lower end of the interval of corr",
    "upper": "upper end of the interval of corr",
    "p_value": "two-sided t-test of zero correlation (n - 2 df)",
    "method": "interval method: fisher (Fisher z, iid rows) or bootstrap (percentile, resampled rows)",
    "level": "interval level (0.95 = 95%)",
}


def encode(column: pd.Series) -> dict[str, np.ndarray]:
    """Numeric columns of one input (see the module docstring), NaN where missing.

    Examples
    --------
    >>> encode(pd.Series(["F", "M", None], name="sex"))["sex=M"].tolist()
    [0.0, 1.0, nan]
    >>> list(encode(pd.Series(["a", "b", "c"], name="g")))
    ['g=a', 'g=b', 'g=c']
    """
    name = str(column.name)
    if pd.api.types.is_bool_dtype(column):
        return {name: column.astype(float).to_numpy()}
    if pd.api.types.is_numeric_dtype(column):
        return {name: column.to_numpy(float)}
    missing = column.isna().to_numpy()
    text = column.astype(str).to_numpy()
    levels = sorted(set(text[~missing]))
    if len(levels) == 2:
        levels = levels[1:]
    out = {}
    for lv in levels:
        x = (text == lv).astype(float)
        x[missing] = np.nan
        out[f"{name}={lv}"] = x
    return out


def _fisher(r: float, n: int, level: float) -> tuple[float, float]:
    if n <= 3 or not np.isfinite(r):
        return np.nan, np.nan
    if abs(r) >= 1:
        return float(r), float(r)
    z, half = np.arctanh(r), stats.norm.ppf((1 + level) / 2) / np.sqrt(n - 3)
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def _corr_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of ``x`` and ``y`` (2-D, replicates × rows)."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt((xc**2).sum(axis=1) * (yc**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=1) / den


def _bootstrap(x, y, level, n_boot, rng, chunk: int = 50) -> tuple[float, float]:
    n = len(x)
    reps = []
    for start in range(0, n_boot, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_boot - start), n))
        reps.append(_corr_rows(x[idx], y[idx]))
    r = np.concatenate(reps)
    r = r[np.isfinite(r)]
    if not len(r):
        return np.nan, np.nan
    a = (1 - level) / 2
    return float(np.quantile(r, a)), float(np.quantile(r, 1 - a))


def proxy_correlations(data: pd.DataFrame, restricted: Sequence[str], credit: Sequence[str], *,
                       method: ProxyMethod = "fisher", level: float = 0.95, n_boot: int = 1000,
                       random_state: int | None = None) -> pd.DataFrame:
    """Correlation of every restricted input with every credit input, with intervals.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per account (e.g. ``Portfolio.loans``).
    restricted, credit : sequence of str
        Restricted (protected or proxy) inputs and credit inputs.
    method : {"fisher", "bootstrap"}
        Interval method (see the module docstring).
    level : float
        Interval level, in (0, 1).
    n_boot : int
        Bootstrap replicates (``method="bootstrap"``).
    random_state : int, optional
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``restricted, credit, n, corr, lower, upper, p_value, method,
        level`` (:data:`DEFINITIONS`), restricted inputs in the given order.

    Warns
    -----
    UserWarning
        When a pair has fewer than 10 complete rows or a column is constant (its
        correlation is NaN).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> minority = rng.binomial(1, 0.3, 2000)
    >>> score = rng.normal(size=2000) - 0.5 * minority
    >>> df = pd.DataFrame({"minority": minority, "bureau_score": score, "limit": rng.normal(size=2000)})
    >>> t = proxy_correlations(df, ["minority"], ["bureau_score", "limit"])
    >>> t[["credit", "n"]].values.tolist()
    [['bureau_score', 2000], ['limit', 2000]]
    >>> bool(t.loc[0, "upper"] < 0), bool(t.loc[1, "lower"] < 0 < t.loc[1, "upper"])
    (True, True)
    """
    check_option("method", method, ProxyMethod)
    if not 0 < level < 1:
        raise ValueError(f"level={level!r}: must be in (0, 1)")
    missing = [c for c in [*restricted, *credit] if c not in data.columns]
    if missing:
        raise KeyError(f"proxy_correlations: column(s) {missing} not in the data; have {list(data.columns)}")
    rng = np.random.default_rng(random_state)
    rows = []
    credit_cols: dict[str, np.ndarray] = {}
    for c in credit:
        credit_cols.update(encode(data[c]))
    for r in restricted:
        for rname, x in encode(data[r]).items():
            for cname, y in credit_cols.items():
                ok = np.isfinite(x) & np.isfinite(y)
                n = int(ok.sum())
                xs, ys = x[ok], y[ok]
                if n < 10 or xs.std() == 0 or ys.std() == 0:
                    warnings.warn(f"proxy_correlations: {rname} x {cname}: {n} complete rows"
                                  f"{' and a constant column' if n >= 10 else ''}; correlation not computed",
                                  UserWarning, stacklevel=2)
                    rows.append((rname, cname, n, np.nan, np.nan, np.nan, np.nan))
                    continue
                res = stats.pearsonr(xs, ys)
                corr = float(res.statistic)
                lo, hi = (_fisher(corr, n, level) if method == "fisher"
                          else _bootstrap(xs, ys, level, n_boot, rng))
                rows.append((rname, cname, n, corr, lo, hi, float(res.pvalue)))
    out = pd.DataFrame(rows, columns=["restricted", "credit", "n", "corr", "lower", "upper", "p_value"])
    out["method"] = method
    out["level"] = float(level)
    return out


def proxy_table(correlations: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    """The paper's Table 1 layout: restricted inputs as rows, credit inputs as columns,
    cells ``"r (lower, upper)"``.

    Examples
    --------
    >>> t = pd.DataFrame({"restricted": ["age"], "credit": ["score"], "corr": [0.0435],
    ...                   "lower": [0.0418], "upper": [0.0451]})
    >>> proxy_table(t).loc["age", "score"]
    '0.0435 (0.0418, 0.0451)'
    """
    def cell(r):
        if not np.isfinite(r["corr"]):
            return "n/a"
        return f"{r['corr']:.{digits}f} ({r['lower']:.{digits}f}, {r['upper']:.{digits}f})"

    t = correlations.assign(cell=correlations.apply(cell, axis=1))
    wide = t.pivot(index="restricted", columns="credit", values="cell")
    wide = wide.loc[list(dict.fromkeys(t["restricted"])), list(dict.fromkeys(t["credit"]))]
    wide.index.name, wide.columns.name = "restricted", None
    return wide
