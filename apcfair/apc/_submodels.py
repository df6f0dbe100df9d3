"""Classical submodel deviance table of the factor APC model (Clayton & Schifflers 1987).

Models (factor = one parameter per level; ``drift`` = one linear term in period, which
equals a linear term in cohort once age is a factor):

==========  =====================================
``APC``     age + period + cohort factors
``AP``      age + period factors
``AC``      age + cohort factors
``PC``      period + cohort factors
``Ad``      age factors + drift
``A``       age factors
==========  =====================================

Each is fitted by iteratively reweighted least squares on the cell table (Poisson with
log link and log-exposure offset, or binomial with logit link); residual df are cells
minus the rank of the design, so the APC design's linear dependence costs no df.
Likelihood-ratio tests follow ``Epi::apc.fit`` / the R package ``apc``: each submodel
against the APC model, and Clayton & Schifflers' sequence (drift, curvature of period
and of cohort).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from apcfair.apc._design import cell_data_from_table
>>> rng = np.random.default_rng(0)
>>> t = pd.DataFrame([(a, v, a + v) for a in range(5) for v in range(6)], columns=["age", "vintage", "period"])
>>> t["at_risk"] = 1e4
>>> t["defaults"] = rng.poisson(1e4 * np.exp(-6 + 0.2 * t["age"]))
>>> out = submodel_deviances(cell_data_from_table(t), "poisson")
>>> [row["model"] for row in out["deviance_table"]]
['APC', 'AP', 'AC', 'PC', 'Ad', 'A']
>>> [row["df"] for row in out["deviance_table"]]
[12, 16, 20, 15, 24, 25]
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import expit

from apcfair.apc._design import CellData, deviance

SUBMODELS = {"APC": ("age", "period", "cohort"), "AP": ("age", "period"), "AC": ("age", "cohort"),
             "PC": ("period", "cohort"), "Ad": ("age", "drift"), "A": ("age",)}
_NAMES = {"APC": "age-period-cohort", "AP": "age-period", "AC": "age-cohort", "PC": "period-cohort",
          "Ad": "age-drift", "A": "age only"}
#: Clayton & Schifflers' tests: (model, against, what the test asks)
_SEQUENCE = [("A", "Ad", "linear drift"), ("Ad", "AC", "cohort curvature (non-linear cohort effect)"),
             ("Ad", "AP", "period curvature (non-linear period effect)"),
             ("AC", "APC", "period effect given age and cohort"), ("AP", "APC", "cohort effect given age and period")]


def _dummies(codes: np.ndarray) -> np.ndarray:
    levels = np.unique(codes)
    return (codes[:, None] == levels[None, 1:]).astype(float)


def design(data: CellData, terms) -> np.ndarray:
    """Intercept plus treatment-coded factors (and the drift column) for ``terms``."""
    cols = [np.ones(data.n_cells)]
    codes = {"age": data.ai, "period": data.ti, "cohort": data.vi}
    for term in terms:
        if term == "drift":
            cols.append((data.ti - data.ti.mean())[:, None].astype(float))
        else:
            cols.append(_dummies(codes[term]))
    return np.column_stack(cols)


def fit_glm(X: np.ndarray, d: np.ndarray, n: np.ndarray, likelihood: str, max_iter: int = 100,
            tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, int]:
    """IRLS for a Poisson (log, offset log n) or binomial (logit) GLM; rank-deficient designs allowed.

    Returns the coefficients (minimum-norm), the linear predictor without offset and the rank.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if likelihood == "binomial":
            eta = np.log((d + 0.5) / (n - d + 0.5))
        else:
            eta = np.log((d + 0.5) / n)
    beta = np.zeros(X.shape[1])
    old = np.inf
    for _ in range(max_iter):
        if likelihood == "binomial":
            p = expit(eta)
            w = np.maximum(n * p * (1 - p), 1e-300)
            z = eta + (d - n * p) / w
        else:
            mu = n * np.exp(eta)
            w = np.maximum(mu, 1e-300)
            z = eta + (d - mu) / w
        sw = np.sqrt(w)
        beta = np.linalg.lstsq(X * sw[:, None], z * sw, rcond=None)[0]
        eta = X @ beta
        dev = deviance(d, n, eta, likelihood)
        if abs(old - dev) <= tol * (abs(dev) + 1e-3):
            break
        old = dev
    rank = int(np.linalg.matrix_rank(X))
    return beta, eta, rank


def submodel_deviances(data: CellData, likelihood: str) -> dict:
    """``deviance_table``, ``lr_tests`` and the age-drift model's ``drift`` for the cells ``data``.

    The drift is the age-drift model's log rate ratio per grid step (per period code);
    with exposure in person-time, ``exp(drift) - 1`` is the relative change per step.
    """
    d, n = data.events, data.exposure
    table, fits = [], {}
    for name, terms in SUBMODELS.items():
        beta, eta, rank = fit_glm(design(data, terms), d, n, likelihood)
        dev = deviance(d, n, eta, likelihood)
        fits[name] = (dev, data.n_cells - rank, beta)
        table.append({"model": name, "description": _NAMES[name], "deviance": round(float(dev), 6),
                      "df": int(data.n_cells - rank)})
    tests = []
    in_sequence = {(small, big) for small, big, _ in _SEQUENCE}
    pairs = [(m, "APC", f"{_NAMES[m]} against age-period-cohort") for m in SUBMODELS
             if m != "APC" and (m, "APC") not in in_sequence] + _SEQUENCE
    for small, big, what in pairs:
        lr = fits[small][0] - fits[big][0]
        df = fits[small][1] - fits[big][1]
        tests.append({"model": small, "against": big, "test": what, "lr_statistic": round(float(lr), 6),
                      "df": int(df), "p_value": float(stats.chi2.sf(lr, df)) if df > 0 else None})
    X = design(data, SUBMODELS["Ad"])
    beta = fits["Ad"][2]
    # s.e. of the drift from the Fisher information at the MLE
    eta = X @ beta
    w = n * expit(eta) * (1 - expit(eta)) if likelihood == "binomial" else n * np.exp(eta)
    cov = np.linalg.pinv(X.T @ (w[:, None] * X))
    drift = {"estimate_per_step": float(beta[-1]), "se": float(np.sqrt(cov[-1, -1])),
             "model": "Ad (age factors + linear drift in period)",
             "unit": "log rate ratio per grid step of period (per period code)"}
    return {"deviance_table": table, "lr_tests": tests, "age_drift_model": drift,
            "deviance_definition": "residual deviance against the saturated model; df = cells - rank of the design"}
