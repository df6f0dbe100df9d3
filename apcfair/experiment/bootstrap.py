"""The experiment on a real book: bootstrap resamples of one portfolio (no truth).

On real data nothing is known about the true credit coefficients, but resampling the
accounts shows how much the costs of zeroing, the dependence and its change vs the
traditional model move from one equally likely book to the next: the estimation
variance that one run's DeLong interval ignores.

Two kinds of book. A loan-level book with origination and exit dates runs the full
procedure (APC offsets) on each replicate with the time split
(:func:`run_bootstrap_portfolio`; metrics of :func:`apcfair.experiment.metrics.run_metrics`
without truth). A *static* book (:func:`run_bootstrap`) has one row per account, a binary outcome (1 = default, the
unfavourable outcome; 0 = good) and no origination dates, so there is no APC offset
(equivalently, a constant offset: the intercept). The procedure is the paper's with that
offset (Breeden & Leonova 2021, Table 5, logit rows):

``restricted``
    logit on the restricted inputs; its score ``R_i`` (without intercept) is centred to
    mean zero over the estimation accounts.
``credit``
    the traditional model: logit on the credit inputs.
``credit_with_restricted_offset``
    logit on the credit inputs with ``R_i`` as fixed offset (coefficient 1).
``credit_restricted_zero``
    its forecast with ``R_i = 0``.
``credit_restricted_mean``
    its forecast with ``R_i = k``, the constant that keeps the estimation sample's
    expected defaults equal to those with ``R_i`` included.

Each replicate ``b`` draws ``n`` accounts with replacement (seeded by ``seed`` and
``b``), fits on them (in sample) and evaluates on the accounts not drawn (out of bag,
about 36.8% of the book; out of sample). Replicate rows are written like the synthetic
experiment's, with ``seed`` holding the replicate number; metrics (the ``metrics``
module's names where they mean the same):

``auc_in``, ``auc_out``; ``cost_traditional_vs_zero_{in,out}`` and
``cost_offset_vs_zero_{in,out}`` (+ ``_lower``, ``_upper``, ``_p_value``: DeLong 95%)
    AUC units, on rows of ``credit_restricted_zero``.
``corr_<a>``, ``dcor_<a>``, ``auc_group_<a>``, ``corr_change_vs_credit_<a>``
    dependence of the out-of-bag PD on protected attribute ``a``
    (:func:`apcfair.unbiased.dependence`).
``calibration_overall``, ``calibration_<a>_<group>``
    expected / actual defaults out of bag.
``coef_change_<term>``
    on rows of ``credit``: traditional − restricted-offset coefficient of a credit term
    (logit per unit of the input): the real-data stand-in for the coefficient bias.
``dep_total_<a>``, ``dep_legit_<a>``, ``dep_proxy_<a>``, ``dep_other_<a>``
    on rows of ``credit``: :func:`apcfair.experiment.decompose.decompose_dependence` of
    the traditional logit score with :func:`~apcfair.experiment.decompose.real_data_parts`
    (legitimate: the zeroed restricted-offset score; proxy: the difference).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair import layout

#: The models of a static replicate (the paper's Table 5 logit rows).
STATIC_MODELS = ("restricted", "credit", "credit_with_restricted_offset", "credit_restricted_zero",
                 "credit_restricted_mean")


def design(data: pd.DataFrame, columns: Sequence[str], categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Model columns: numeric inputs as they are, categorical ones (text, or named in
    ``categorical``) as indicators of every level but the first (``column=level``).

    Examples
    --------
    >>> d = pd.DataFrame({"x": [1.0, 2.0, 3.0], "g": ["a", "b", "c"]})
    >>> list(design(d, ["x", "g"]).columns)
    ['x', 'g=b', 'g=c']
    """
    parts = []
    for c in columns:
        col = data[c]
        if c in categorical or not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            text = col.astype(str)
            levels = sorted(text.unique())
            parts += [(text == lv).astype(float).rename(f"{c}={lv}") for lv in levels[1:]]
        else:
            parts.append(col.astype(float).rename(c))
    return pd.concat(parts, axis=1)


def fit_logit(x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None, *, ridge: float = 1e-8,
              tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """Logistic regression with an intercept and a fixed offset, by Newton's method.

    Returns the coefficients, intercept first. A tiny ridge (``ridge`` times the
    information's scale) keeps a level absent from a resample from making the
    information singular; it moves coefficients by less than 1e-6 otherwise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(4000, 1))
    >>> y = rng.binomial(1, 1 / (1 + np.exp(-(-1 + 0.8 * x[:, 0]))))
    >>> np.round(fit_logit(x, y), 1).tolist()
    [-1.0, 0.8]
    """
    X = np.column_stack([np.ones(len(x)), np.asarray(x, float)])
    off = np.zeros(len(X)) if offset is None else np.asarray(offset, float)
    beta = np.zeros(X.shape[1])
    mean = np.clip(y.mean(), 1e-6, 1 - 1e-6)
    beta[0] = np.log(mean / (1 - mean)) - off.mean()
    for _ in range(max_iter):
        eta = X @ beta + off
        p = 1 / (1 + np.exp(-eta))
        w = p * (1 - p)
        info = (X * w[:, None]).T @ X
        info += ridge * np.trace(info) / len(info) * np.eye(len(info))
        step = np.linalg.solve(info, X.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < tol:
            break
    return beta


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def static_procedure(xr: np.ndarray, xc: np.ndarray, y: np.ndarray, fit: np.ndarray) -> dict:
    """The five models' logit scores on every account, fitted on the rows ``fit``.

    Parameters
    ----------
    xr, xc : numpy.ndarray
        Restricted and credit design matrices (no intercept column).
    y : numpy.ndarray
        Outcome, 1 = default.
    fit : numpy.ndarray
        Row indices of the estimation sample (repeats allowed: a bootstrap draw).

    Returns
    -------
    dict
        ``scores`` (model -> logit PD on every row), ``coef_credit``, ``coef_offset``
        (credit-term coefficients of the traditional and restricted-offset models),
        ``restricted_centre``, ``k`` (the calibrating constant).
    """
    from scipy.optimize import brentq

    br = fit_logit(xr[fit], y[fit])
    r_raw = xr @ br[1:]
    centre = float(r_raw[fit].mean())
    r = r_raw - centre
    bc = fit_logit(xc[fit], y[fit])
    bo = fit_logit(xc[fit], y[fit], offset=r[fit])
    base = bo[0] + xc @ bo[1:]
    target = _sigmoid(base[fit] + r[fit]).sum()
    k = brentq(lambda c: _sigmoid(base[fit] + c).sum() - target, -20, 20)
    scores = {"restricted": br[0] + r_raw, "credit": bc[0] + xc @ bc[1:],
              "credit_with_restricted_offset": base + r, "credit_restricted_zero": base,
              "credit_restricted_mean": base + k}
    return {"scores": scores, "coef_credit": bc[1:], "coef_offset": bo[1:], "restricted_centre": centre, "k": float(k)}


def replicate_metrics(data: pd.DataFrame, xr: pd.DataFrame, xc: pd.DataFrame, y: np.ndarray,
                      protected: Sequence[str], replicate: int, seed: int, *, approval_rate: float = 0.8) -> pd.DataFrame:
    """``model, metric, value`` rows of one bootstrap replicate (see the module docstring)."""
    from apcfair.experiment.decompose import decompose_dependence
    from apcfair.unbiased import delong_auc_difference, dependence
    from apcfair.unbiased.dependence import auc_with_ci

    n = len(y)
    rng = np.random.default_rng([int(seed), int(replicate)])
    fit = rng.integers(0, n, n)
    oob = np.ones(n, bool)
    oob[fit] = False
    res = static_procedure(xr.to_numpy(float), xc.to_numpy(float), y, fit)
    scores = res["scores"]
    pd_ = {m: _sigmoid(s) for m, s in scores.items()}
    rows: list[tuple[str, str, float]] = []
    for m in STATIC_MODELS:
        rows.append((m, "auc_in", float(auc_with_ci(y[fit], pd_[m][fit])["auc"])))
        rows.append((m, "auc_out", float(auc_with_ci(y[oob], pd_[m][oob])["auc"])))
    for name, (a, b) in {"traditional_vs_zero": ("credit", "credit_restricted_zero"),
                         "offset_vs_zero": ("credit_with_restricted_offset", "credit_restricted_zero")}.items():
        for sample, idx in (("in", fit), ("out", np.flatnonzero(oob))):
            d = delong_auc_difference(y[idx], pd_[a][idx], pd_[b][idx])
            for key, suffix in (("difference", ""), ("lower", "_lower"), ("upper", "_upper"), ("p_value", "_p_value")):
                rows.append((b, f"cost_{name}_{sample}{suffix}", float(d[key])))
    base_corr = {}
    for attr in protected:
        a = data[attr].to_numpy()[oob]
        for m in STATIC_MODELS:
            dep = dependence(pd_[m][oob], a, approval_rate=approval_rate, random_state=int(replicate))
            for key in ("corr", "dcor", "auc_group"):
                v = dep.get(key)
                if v is not None and np.isfinite(v):
                    rows.append((m, f"{key}_{attr}", float(v)))
            if m == "credit":
                base_corr[attr] = dep.get("corr")
            if dep.get("corr") is not None and base_corr.get(attr) is not None:
                rows.append((m, f"corr_change_vs_credit_{attr}", float(dep["corr"] - base_corr[attr])))
    actual = y[oob].sum()
    for m in STATIC_MODELS:
        if actual:
            rows.append((m, "calibration_overall", float(pd_[m][oob].sum() / actual)))
        for attr in protected:
            groups = data[attr].astype(str).to_numpy()[oob]
            for g in np.unique(groups):
                sel = groups == g
                if y[oob][sel].sum():
                    rows.append((m, f"calibration_{attr}_{g}", float(pd_[m][oob][sel].sum() / y[oob][sel].sum())))
    for term, c, o in zip(xc.columns, res["coef_credit"], res["coef_offset"], strict=True):
        rows.append(("credit", f"coef_change_{term.replace(' ', '_')}", float(c - o)))
    legit = scores["credit_restricted_zero"]
    for attr in protected:
        col = data[attr]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            d = col.to_numpy(float)
        else:
            d = (col.astype(str) == sorted(col.astype(str).unique())[-1]).to_numpy(float)
        parts = decompose_dependence(scores["credit"][oob], d[oob], legit=legit[oob],
                                     proxy=(scores["credit"] - legit)[oob])
        rows += [("credit", f"dep_{k}_{attr}", v) for k, v in parts.items()]
    out = pd.DataFrame(rows, columns=["model", "metric", "value"])
    out.insert(0, "seed", int(replicate))
    return out


def _run_replicate(data, xr, xc, y, protected, b, seed, approval_rate, out: str) -> float:
    from apcfair.experiment.runner import write_part

    t0 = time.perf_counter()
    frame = replicate_metrics(data, xr, xc, y, protected, b, seed, approval_rate=approval_rate)
    write_part(frame, Path(out) / "parts" / f"boot-{int(b)}.parquet")
    return time.perf_counter() - t0


def run_bootstrap(data: pd.DataFrame, out: str | Path, *, outcome: str, restricted: Sequence[str],
                  credit: Sequence[str], protected: Sequence[str] | None = None, categorical: Sequence[str] = (),
                  n_boot: int = 200, seed: int = 0, jobs: int = 1, approval_rate: float = 0.8,
                  progress: bool = True, source: str | None = None) -> dict:
    """Bootstrap replicates of the static procedure on one real book; resumable.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per account.
    out : path
        Output folder: ``experiment.parquet`` (``seed`` = replicate, ``model``, ``metric``,
        ``value``), ``experiment.json`` (settings, per model and metric the mean, standard
        deviation and 2.5%/97.5% quantiles across replicates), ``proxy_correlations.csv``
        (the proxy diagnostic of the whole book, :func:`apcfair.unbiased.proxy.proxy_correlations`),
        parts under ``parts/``.
    outcome : str
        Binary outcome column, 1 = default (unfavourable), 0 = good.
    restricted, credit : sequence of str
        Restricted and credit inputs.
    protected : sequence of str, optional
        Attributes to measure dependence on (default ``restricted``).
    categorical : sequence of str
        Numeric-coded columns to treat as categories (text columns always are).
    n_boot, seed : int
        Replicates and the seed (replicate ``b`` draws with ``default_rng([seed, b])``).
    jobs : int
        Parallel processes (joblib).
    approval_rate : float
        Share approved for the adverse impact ratio inside :func:`apcfair.unbiased.dependence`.
    progress : bool
        Progress bar.
    source : str, optional
        Where the data came from (recorded in the settings).

    Returns
    -------
    dict
        ``ran``, ``skipped``, ``wall_seconds``, ``table``, ``summary`` and the paths written.

    Examples
    --------
    >>> import tempfile
    >>> rng = np.random.default_rng(1)
    >>> g = rng.binomial(1, 0.4, 600)
    >>> score = rng.normal(size=600) - 0.6 * g
    >>> y = rng.binomial(1, 1 / (1 + np.exp(1 + score)))
    >>> df = pd.DataFrame({"g": g, "score": score, "default": y})
    >>> r = run_bootstrap(df, tempfile.mkdtemp(), outcome="default", restricted=["g"], credit=["score"],
    ...                   n_boot=3, progress=False)
    >>> r["ran"], sorted(r["table"]["seed"].unique().tolist())
    (3, [0, 1, 2])
    """
    from apcfair.errors import DataValidationError

    protected = list(protected or restricted)
    cols = list(dict.fromkeys([outcome, *restricted, *credit, *protected]))
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataValidationError(f"bootstrap: column(s) {missing} not in the data; have {list(data.columns)}")
    complete = data[cols].notna().all(axis=1)
    if not complete.all():
        raise DataValidationError(f"bootstrap: {int((~complete).sum())} rows have missing values in {cols}; "
                                  "drop or impute them first")
    yv = pd.to_numeric(data[outcome], errors="coerce")
    if not yv.isin([0, 1]).all():
        raise DataValidationError(f"bootstrap: outcome {outcome!r} must be 0/1 with 1 = default; found values "
                                  f"{sorted(map(str, data[outcome].unique()))[:10]}")
    y = yv.to_numpy(float)
    if y.sum() < 20 or (1 - y).sum() < 20:
        raise DataValidationError(f"bootstrap: {int(y.sum())} defaults and {int((1 - y).sum())} goods; need at "
                                  "least 20 of each for AUCs out of bag")
    data = data.reset_index(drop=True)
    xr = design(data, restricted, categorical)
    xc = design(data, credit, categorical)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [b for b in range(n_boot) if not (out / "parts" / f"boot-{b}.parquet").exists()]
    t0 = time.perf_counter()
    from apcfair.experiment.runner import run_tasks

    args = (data, xr, xc, y, protected)
    run_tasks([(_run_replicate, (*args, b, seed, approval_rate, str(out))) for b in todo], jobs=jobs,
              progress=progress, desc="bootstrap replicates")
    settings = {"mode": "bootstrap", "data": source, "outcome": outcome, "outcome_coding": "1 = default, 0 = good",
                "restricted": list(restricted), "credit": list(credit), "protected": protected,
                "categorical": list(categorical), "n_boot": int(n_boot), "seed": int(seed),
                "accounts": len(data), "defaults": int(y.sum()), "approval_rate": approval_rate,
                "design": "replicate b: n accounts drawn with replacement (in sample), evaluated on the accounts "
                          "not drawn (out of bag = out of sample); static book: no APC offset (intercept only)"}
    return {**_finish(out, n_boot, settings, data, restricted, credit, categorical), "ran": len(todo),
            "skipped": n_boot - len(todo), "wall_seconds": time.perf_counter() - t0}


def _portfolio_replicate(loans: pd.DataFrame, settings: dict, protected: list[str], b: int, seed: int,
                         out: str) -> float:
    """One replicate of the full procedure on a loan-level book (accounts resampled)."""
    from apcfair import load_portfolio
    from apcfair.experiment.metrics import run_metrics
    from apcfair.experiment.runner import write_part
    from apcfair.unbiased import UnbiasedByDesign

    t0 = time.perf_counter()
    rng = np.random.default_rng([int(seed), int(b)])
    draw = loans.iloc[rng.integers(0, len(loans), len(loans))].reset_index(drop=True)
    copy = draw.groupby("account_id").cumcount().astype(str)
    draw["account_id"] = draw["account_id"].astype(str) + "#" + copy     # a drawn account's copies stay apart
    portfolio = load_portfolio(draw)
    ubd = UnbiasedByDesign(**settings, random_state=int(seed)).fit(portfolio)
    frame = run_metrics(ubd.result_, portfolio.loans, None, horizon=settings["horizon"],
                        window_end=portfolio.window[1], protected=protected)
    frame.insert(0, "seed", int(b))
    write_part(frame, Path(out) / "parts" / f"boot-{int(b)}.parquet")
    return time.perf_counter() - t0


def run_bootstrap_portfolio(loans: pd.DataFrame, out: str | Path, *, restricted: Sequence[str], credit: Sequence[str],
                            holdout_from: str, protected: Sequence[str] | None = None, n_boot: int = 50,
                            seed: int = 0, jobs: int = 1, procedure: dict | None = None, progress: bool = True,
                            source: str | None = None) -> dict:
    """Bootstrap replicates of the full procedure (APC offsets) on a loan-level book.

    Each replicate draws ``n`` accounts with replacement (a drawn account's copies get
    ids ``id#0``, ``id#1``, ...) and runs :class:`~apcfair.unbiased.UnbiasedByDesign`
    with the **time split** (estimation on vintages before ``holdout_from``, evaluation
    on the later ones), so copies of one account are never on both sides. Metrics are
    :func:`apcfair.experiment.metrics.run_metrics` with ``truth=None`` (no coefficient
    bias; ``coef_change_*`` and the real-data decomposition instead). Outputs as
    :func:`run_bootstrap`.

    Parameters
    ----------
    loans : pandas.DataFrame
        Loan-level data as :func:`apcfair.load_portfolio` reads it.
    holdout_from : str
        First held-out vintage, ``"YYYY-MM"``.
    procedure : dict, optional
        Further :class:`~apcfair.unbiased.UnbiasedByDesign` settings (default: no GBM,
        36-month horizon, the procedure's binning).
    """
    from apcfair.experiment.runner import run_tasks

    protected = list(protected or restricted)
    if "account_id" not in loans.columns:
        raise KeyError("bootstrap: the loans need an account_id column")
    settings = {"restricted": list(restricted), "credit": list(credit), "protected": protected, "gbm": False,
                "horizon": 36, **dict(procedure or {}), "split": "time", "holdout_from": holdout_from}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    todo = [b for b in range(n_boot) if not (out / "parts" / f"boot-{b}.parquet").exists()]
    t0 = time.perf_counter()
    run_tasks([(_portfolio_replicate, (loans, settings, protected, b, seed, str(out))) for b in todo], jobs=jobs,
              progress=progress, desc="bootstrap replicates (procedure)")
    record = {"mode": "bootstrap_portfolio", "data": source, "procedure": settings, "n_boot": int(n_boot),
              "seed": int(seed), "accounts": len(loans),
              "design": "replicate b: n accounts drawn with replacement; the procedure's time split (estimation "
                        "before holdout_from, evaluation on later vintages = out of sample)"}
    return {**_finish(out, n_boot, record, loans, restricted, credit, ()), "ran": len(todo),
            "skipped": n_boot - len(todo), "wall_seconds": time.perf_counter() - t0}


def _finish(out: Path, n_boot: int, settings: dict, data: pd.DataFrame, restricted, credit, categorical) -> dict:
    """Collect the parts, write ``experiment.parquet``, ``experiment.json`` and the proxy diagnostic."""
    from apcfair._io import write_json
    from apcfair._provenance import provenance
    from apcfair.unbiased.proxy import proxy_correlations

    table = pd.concat([pd.read_parquet(out / "parts" / f"boot-{b}.parquet") for b in range(n_boot)],
                      ignore_index=True)
    table = table.sort_values(["seed", "model", "metric"], kind="stable").reset_index(drop=True)
    table.to_parquet(out / layout.EXPERIMENT_PARQUET, index=False)
    summary = {"settings": settings, "definitions": BOOTSTRAP_DEFINITIONS,
               "models": summarise_replicates(table), "provenance": provenance(settings)}
    write_json(out / layout.EXPERIMENT_JSON, summary)
    # the proxy diagnostic of the whole book (paper's Table 1), categories as level indicators
    as_text = {c: data[c].astype(str) for c in categorical if c in data.columns}
    proxy_correlations(data.assign(**as_text), restricted, credit).to_csv(out / layout.PROXY_CORRELATIONS,
                                                                         index=False)
    return {"parquet": str(out / layout.EXPERIMENT_PARQUET), "json": str(out / layout.EXPERIMENT_JSON),
            "proxy": str(out / layout.PROXY_CORRELATIONS), "table": table, "summary": summary}


#: What ``experiment.json``'s fields mean in bootstrap mode.
BOOTSTRAP_DEFINITIONS = {
    "mean": "mean over bootstrap replicates",
    "sd": "standard deviation across replicates (bootstrap standard error of one book's value)",
    "spread_lower/spread_upper": "2.5% and 97.5% quantiles across replicates (percentile bootstrap interval)",
    "n": "replicates with a value",
    "delong_covered_mean": "share of replicates whose single-run 95% DeLong interval of the cost contains the "
                           "across-replicate mean cost",
    "cost_*": "AUC difference (AUC units): AUC(first model) - AUC(zeroed model); positive = zeroing loses accuracy",
    "corr_*": "Pearson correlation of the model's PD with the attribute, out of bag",
    "coef_change_*": "traditional minus restricted-offset coefficient of a credit term (logit per unit of input)",
    "calibration_*": "expected / actual defaults, out of bag",
    "dep_*": "corr(traditional logit score, attribute) split into covariance shares: legit (zeroed restricted-offset "
             "score), proxy (traditional minus that), other; out of bag",
}


def summarise_replicates(table: pd.DataFrame) -> dict:
    """Per model and metric: mean, sd, 2.5%/97.5% quantiles and count across replicates.

    Examples
    --------
    >>> t = pd.DataFrame({"seed": [0, 1], "model": ["m", "m"], "metric": ["a", "a"], "value": [1.0, 3.0]})
    >>> summarise_replicates(t)["m"]["a"]["mean"]
    2.0
    """
    models: dict = {}
    for (model, metric), g in table.groupby(["model", "metric"], sort=True):
        v = g["value"].to_numpy(float)
        v = v[np.isfinite(v)]
        if not len(v):
            continue
        models.setdefault(model, {})[metric] = {
            "mean": float(v.mean()), "sd": float(v.std(ddof=1)) if len(v) > 1 else None,
            "spread_lower": float(np.quantile(v, 0.025)), "spread_upper": float(np.quantile(v, 0.975)), "n": len(v)}
    for model, metrics in models.items():
        for name in [m for m in metrics if m.startswith("cost_") and m.endswith(("_in", "_out"))]:
            sub = table[table["model"] == model]
            lo = sub[sub["metric"] == f"{name}_lower"].set_index("seed")["value"]
            hi = sub[sub["metric"] == f"{name}_upper"].set_index("seed")["value"]
            mean = metrics[name]["mean"]
            if len(lo):
                metrics[name]["delong_covered_mean"] = float(((lo <= mean) & (mean <= hi)).mean())
    return models
