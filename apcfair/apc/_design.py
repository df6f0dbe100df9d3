"""Cell data, the latent-field parametrisation and penalised Newton for the APC model.

Latent vector ``z = [mu, s_age, s_vintage, theta_F, theta_G, theta_H]`` where each
function is ``f = linear * s + nonlinear @ theta`` (see :mod:`apcfair.apc.basis`); the
environment is fitted without a linear column (its slope is fixed at zero here and the
user's identification moves the trend afterwards, leaving fitted rates unchanged).

Likelihood Hessians are assembled in natural (age, vintage, period) coordinates with
``bincount`` over cells and projected onto the basis blockwise: O(cells + p^3) per
Newton step, never a dense cells x p design.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg
from scipy.special import expit, gammaln

from apcfair.apc.basis import FunctionBasis, difference_matrix, function_basis
from apcfair.errors import DataValidationError

COMPONENTS = ("lifecycle", "vintage", "environment")


@dataclass(frozen=True)
class CellData:
    """Integer-indexed cells ready for the engines.

    ``age``, ``vintage`` and ``period`` are the raw integer labels; ``ai``, ``vi``,
    ``ti`` their positions on contiguous grids starting at ``age_min``, ``vintage_min``
    and ``period_min``. ``age_step`` is the number of periods per age group (bamp's
    ``periods_per_agegroup``, 1 unless ages are grouped wider than periods): labels obey
    ``period = vintage + age_step * age``, so the vintage (cohort) grid has the period's
    spacing and ``M * (n_age - 1) + n_period`` points for a full table (bamp's cohort
    index ``M * (I - i) + j``).
    """

    events: np.ndarray
    exposure: np.ndarray
    ai: np.ndarray
    vi: np.ndarray
    ti: np.ndarray
    age_min: int
    vintage_min: int
    period_min: int
    n_age: int
    n_vintage: int
    n_period: int
    freq: str
    age_step: int = 1

    @property
    def n_cells(self) -> int:
        return len(self.events)

    @property
    def grid_sizes(self) -> tuple[int, int, int]:
        return self.n_age, self.n_vintage, self.n_period

    def labels(self, component: str) -> np.ndarray:
        """Integer labels of a component's grid (ages, vintage codes, period codes)."""
        start, n = {
            "lifecycle": (self.age_min, self.n_age),
            "vintage": (self.vintage_min, self.n_vintage),
            "environment": (self.period_min, self.n_period),
        }[component]
        return np.arange(start, start + n)

    @property
    def grid_offset(self) -> int:
        """``k`` in ``ti = age_step * ai + vi + k``."""
        return self.age_step * self.age_min + self.vintage_min - self.period_min


def cell_data_from_table(table: pd.DataFrame, freq: str = "M", age_step: int = 1) -> CellData:
    """Build :class:`CellData` from a table with ``age, vintage, period, defaults, at_risk``.

    ``defaults``/``at_risk`` may be called ``events``/``exposure``. Cells with zero
    exposure are dropped. Raises if ``period != vintage + age_step * age`` anywhere, if
    counts are negative or if events exceed exposure in a binomial table (checked by the
    model). ``age_step`` is the number of periods per age group (1: equal widths).
    """
    t = table.rename(columns={"events": "defaults", "exposure": "at_risk"})
    missing = [c for c in ("age", "vintage", "period", "defaults", "at_risk") if c not in t]
    if missing:
        raise DataValidationError([f"cell table is missing column(s) {missing}; need age, vintage, period, defaults, at_risk"])
    t = t[t["at_risk"] > 0]
    if len(t) == 0:
        raise DataValidationError(["no cell has accounts at risk: nothing to fit"])
    a = t["age"].to_numpy(np.int64)
    v = t["vintage"].to_numpy(np.int64)
    p = t["period"].to_numpy(np.int64)
    age_step = int(age_step)
    bad = p != v + age_step * a
    if bad.any():
        age = "age" if age_step == 1 else f"{age_step} * age ({age_step} periods per age group)"
        raise DataValidationError([f"{int(bad.sum())} cells have period != vintage + {age}; the APC identity "
                                   "must hold"])
    d = t["defaults"].to_numpy(float)
    n = t["at_risk"].to_numpy(float)
    if (d < 0).any() or (n < 0).any() or not np.isfinite(d).all() or not np.isfinite(n).all():
        raise DataValidationError(["cell counts must be finite and non-negative"])
    amin, vmin, tmin = int(a.min()), int(v.min()), int(p.min())
    return CellData(
        events=d, exposure=n, ai=a - amin, vi=v - vmin, ti=p - tmin,
        age_min=amin, vintage_min=vmin, period_min=tmin,
        n_age=int(a.max()) - amin + 1, n_vintage=int(v.max()) - vmin + 1,
        n_period=int(p.max()) - tmin + 1, freq=freq, age_step=age_step,
    )


class Parametrisation:
    """Maps the latent vector ``z`` to cell linear predictors and back.

    Parameters
    ----------
    data : CellData
    orders : tuple of int
        Random-walk order for lifecycle, vintage and environment.
    seasonal_period : int, optional
        Add fixed season-of-year effects with this period.
    periodic_to_cohort : bool
        With ``M = data.age_step > 1`` periods per age group, ``M - 1`` patterns that repeat
        every ``M`` periods move between G and H without changing a rate (Holford 2006). The
        Bayesian engines separate them by the random walks' smoothness; the prior-free ML
        engine cannot, and passes ``True``: H then has no component that repeats every ``M``
        periods and those patterns are carried by the cohort effects G (a constraint, stated in
        the result). The environment's prior is then no longer diagonal in its basis (unused
        by ML).
    """

    def __init__(self, data: CellData, orders: tuple[int, int, int], seasonal_period: int | None = None,
                 periodic_to_cohort: bool = False):
        self.data = data
        self.bases: dict[str, FunctionBasis] = {
            c: function_basis(n, o) for c, n, o in zip(COMPONENTS, data.grid_sizes, orders, strict=True)
        }
        bF, bG, bH = (self.bases[c] for c in COMPONENTS)
        # block design matrices on each grid: lifecycle and vintage carry a slope column
        env = bH.nonlinear
        self.periodic_to_cohort = bool(periodic_to_cohort and data.age_step > 1)
        if self.periodic_to_cohort:
            env = _without_periodic(env, data.labels("environment") % data.age_step, data.age_step)
        self.seasonal_period = seasonal_period
        self.n_seasonal = 0
        if seasonal_period:
            # fixed month-of-year effects (sum-to-zero contrasts), projected onto the
            # environment's nonlinear subspace so H keeps zero mean and zero trend
            self.seasonal_contrasts = seasonal_contrasts(seasonal_period)
            month_of_year = data.labels("environment") % seasonal_period
            seasonal_design = self.seasonal_contrasts[month_of_year]
            n_period = len(seasonal_design)
            null_space = np.column_stack([np.ones(n_period) / np.sqrt(n_period),
                                          bH.linear / np.linalg.norm(bH.linear)])
            env = np.column_stack([env, seasonal_design - null_space @ (null_space.T @ seasonal_design)])
            self.n_seasonal = seasonal_period - 1
        self.X = {
            "lifecycle": np.column_stack([bF.linear, bF.nonlinear]),
            "vintage": np.column_stack([bG.linear, bG.nonlinear]),
            "environment": env,
        }
        self.idx = {"lifecycle": data.ai, "vintage": data.vi, "environment": data.ti}
        sizes = [1] + [self.X[c].shape[1] for c in COMPONENTS]
        starts = np.cumsum([0] + sizes)
        self.slices = {"intercept": slice(0, 1)}
        for c, s0, s1 in zip(COMPONENTS, starts[1:-1], starts[2:], strict=True):
            self.slices[c] = slice(s0, s1)
        self.p = int(starts[-1])
        # prior precision at tau = 1 (diagonal); fixed effects (mu, slopes) get 0 here
        self.prior_diag_unit = {
            "lifecycle": np.concatenate([[0.0], bF.eigenvalues]),
            "vintage": np.concatenate([[0.0], bG.eigenvalues]),
            "environment": np.concatenate([
                bH.eigenvalues if not self.periodic_to_cohort else
                np.einsum("ij,jk,ki->i", env.T, _rw_precision(len(env), bH.order), env),
                np.zeros(self.n_seasonal)]),
        }
        self.fixed_mask = np.zeros(self.p, dtype=bool)
        self.fixed_mask[0] = True
        self.fixed_mask[self.slices["lifecycle"].start] = True
        self.fixed_mask[self.slices["vintage"].start] = True
        if self.n_seasonal:
            self.fixed_mask[self.slices["environment"].stop - self.n_seasonal:self.slices["environment"].stop] = True

    def seasonal_effects(self, z: np.ndarray) -> np.ndarray | None:
        """Month-of-year effects (mean zero) for ``z`` of shape ``(p,)`` or ``(draws, p)``."""
        if not self.n_seasonal:
            return None
        z = np.atleast_2d(z)
        stop = self.slices["environment"].stop
        return z[:, stop - self.n_seasonal:stop] @ self.seasonal_contrasts.T

    # -- mapping ---------------------------------------------------------------
    def functions(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """Natural function values for ``z`` of shape ``(p,)`` or ``(draws, p)``."""
        z = np.atleast_2d(z)
        out = {"intercept": z[:, 0]}
        for c in COMPONENTS:
            out[c] = z[:, self.slices[c]] @ self.X[c].T
        return out

    def eta(self, z: np.ndarray) -> np.ndarray:
        """Cell linear predictor for a single ``z``."""
        f = self.functions(z)
        e = np.full(self.data.n_cells, f["intercept"][0])
        for c in COMPONENTS:
            e += f[c][0][self.idx[c]]
        return e

    def prior_diag(self, tau: dict[str, float], fixed_precision: float) -> np.ndarray:
        """Diagonal prior precision of ``z`` for precisions ``tau`` per component."""
        q = np.empty(self.p)
        q[0] = 0.0
        for c in COMPONENTS:
            q[self.slices[c]] = tau[c] * self.prior_diag_unit[c]
        q[self.fixed_mask] = fixed_precision
        return q

    # -- likelihood derivatives projected on z ---------------------------------
    def gradient(self, g: np.ndarray) -> np.ndarray:
        """``X_z' g`` for a cellwise vector ``g``."""
        out = np.empty(self.p)
        out[0] = g.sum()
        sizes = dict(zip(COMPONENTS, self.data.grid_sizes, strict=True))
        for c in COMPONENTS:
            out[self.slices[c]] = self.X[c].T @ np.bincount(self.idx[c], g, sizes[c])
        return out

    def hessian(self, w: np.ndarray) -> np.ndarray:
        """``X_z' diag(w) X_z`` assembled blockwise from natural coordinates."""
        hess = np.empty((self.p, self.p))
        sizes = dict(zip(COMPONENTS, self.data.grid_sizes, strict=True))
        hess[0, 0] = w.sum()
        weight_on_grid = {c: np.bincount(self.idx[c], w, sizes[c]) for c in COMPONENTS}
        for c in COMPONENTS:
            block, design = self.slices[c], self.X[c]
            hess[0, block] = weight_on_grid[c] @ design
            hess[block, 0] = hess[0, block]
            hess[block, block] = design.T @ (weight_on_grid[c][:, None] * design)
        for i, c in enumerate(COMPONENTS):
            for other in COMPONENTS[i + 1:]:
                # weights summed over cells of each (c, other) grid pair
                pair_weight = np.bincount(self.idx[c] * sizes[other] + self.idx[other], w,
                                          sizes[c] * sizes[other]).reshape(sizes[c], sizes[other])
                cross = self.X[c].T @ pair_weight @ self.X[other]
                hess[self.slices[c], self.slices[other]] = cross
                hess[self.slices[other], self.slices[c]] = cross.T
        return hess


def _rw_precision(n: int, order: int) -> np.ndarray:
    diff = difference_matrix(n, order)
    return diff.T @ diff


def _without_periodic(basis: np.ndarray, phase: np.ndarray, period: int) -> np.ndarray:
    """Orthonormal basis of the span of ``basis`` with every pattern repeating every
    ``period`` steps (``phase`` = position modulo ``period``) projected out."""
    periodic = seasonal_contrasts(period)[phase]
    inside = basis @ (basis.T @ periodic)  # the periodic patterns' parts within the span
    q, r = np.linalg.qr(inside)
    q = q[:, np.abs(np.diag(r)) > 1e-10]
    rest = basis - q @ (q.T @ basis)
    u, sv, _ = np.linalg.svd(rest, full_matrices=False)
    return u[:, sv > 1e-8]


def seasonal_contrasts(period: int) -> np.ndarray:
    """Orthonormal sum-to-zero contrasts, shape ``(period, period - 1)``."""
    q, _ = np.linalg.qr(np.column_stack([np.ones(period), np.eye(period)[:, : period - 1]]))
    return q[:, 1:]


# ---------------------------------------------------------------- likelihoods
def loglik_terms(eta: np.ndarray, d: np.ndarray, n: np.ndarray, likelihood: str):
    """Log-likelihood (up to constants), its gradient and negative Hessian in ``eta``."""
    if likelihood == "binomial":
        p = expit(eta)
        ll = float(np.sum(d * eta - n * np.logaddexp(0.0, eta)))
        return ll, d - n * p, n * p * (1.0 - p)
    mu = n * np.exp(np.clip(eta, -50, 50))
    ll = float(np.sum(d * eta - mu))
    return ll, d - mu, mu


def loglik_constant(d: np.ndarray, n: np.ndarray, likelihood: str) -> float:
    """The constant omitted by :func:`loglik_terms` (binomial coefficients / Poisson)."""
    if likelihood == "binomial":
        return float(np.sum(gammaln(n + 1) - gammaln(d + 1) - gammaln(n - d + 1)))
    return float(np.sum(d * np.log(np.where(n > 0, n, 1.0)) - gammaln(d + 1)))


def deviance(d: np.ndarray, n: np.ndarray, eta: np.ndarray, likelihood: str) -> float:
    """Residual deviance against the saturated model."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if likelihood == "binomial":
            p = expit(eta)
            mu = n * p
            t1 = np.where(d > 0, d * np.log(d / mu), 0.0)
            t2 = np.where(n - d > 0, (n - d) * np.log((n - d) / (n - mu)), 0.0)
            return float(2 * np.sum(t1 + t2))
        mu = n * np.exp(eta)
        t1 = np.where(d > 0, d * np.log(d / mu), 0.0)
        return float(2 * np.sum(t1 - (d - mu)))


def initial_latent(par: Parametrisation, likelihood: str) -> np.ndarray:
    """Starting latent vector for Newton: the overall rate as intercept, everything else 0."""
    events, exposure = par.data.events, par.data.exposure
    rate0 = max(events.sum(), 0.5) / exposure.sum()
    z0 = np.zeros(par.p)
    z0[0] = np.log(rate0 / (1 - rate0)) if likelihood == "binomial" else np.log(rate0)
    return z0


@dataclass
class Mode:
    """Posterior mode of the latent field at fixed hyperparameters."""

    z: np.ndarray
    eps: np.ndarray | None
    chol: tuple
    loglik: float
    penalty: float
    logdet_post: float
    iterations: int
    converged: bool


class AccountLikelihood:
    """Binomial likelihood of account-months whose log-odds are a cell's predictor plus a
    fixed account offset: ``eta_ia = eta_cell(v_i, a) + s_i``.

    Used to refit the APC functions with account scores as offsets (backfitting), which
    removes the frailty selection that cell-level fits suffer from: the lifecycle of a
    cell mixes accounts of different risk, and the riskier ones leave first. Gradient and
    weights are summed back to cells, so the rest of the engine is unchanged. One pass
    over the account-months (never stored as a table: cell index, offset and outcome per
    row in compact arrays).
    """

    def __init__(self, cell_index: np.ndarray, offset: np.ndarray, outcome: np.ndarray, n_cells: int,
                 n_accounts: int | None = None):
        self.c = cell_index
        self.s = offset
        self.y = outcome
        self.n_cells = n_cells
        self.n_accounts = n_accounts

    def __call__(self, eta_cell: np.ndarray):
        eta = eta_cell[self.c] + self.s
        p = expit(eta)
        ll = float(np.dot(self.y, eta) - np.logaddexp(0.0, eta).sum())
        g = np.bincount(self.c, self.y - p, self.n_cells)
        w = np.bincount(self.c, p * (1.0 - p), self.n_cells)
        return ll, g, w

    def mean_rate(self, eta_cell: np.ndarray) -> np.ndarray:
        """Average default probability of the accounts at risk in each cell."""
        p = expit(eta_cell[self.c] + self.s)
        return np.bincount(self.c, p, self.n_cells) / np.maximum(np.bincount(self.c, None, self.n_cells), 1)


def find_mode(par: Parametrisation, likelihood: str, q: np.ndarray, z0: np.ndarray,
              tau_eps: float | None = None, eps0: np.ndarray | None = None,
              tol: float = 1e-8, max_iter: int = 50, account_lik: AccountLikelihood | None = None) -> Mode:
    """Penalised Newton with step halving for ``z`` (and cell effects ``eps``).

    Maximises ``loglik(X z + eps) - z'diag(q)z/2 - tau_eps * eps'eps/2``. Cell effects
    are eliminated blockwise (Schur complement), so each step solves a ``p x p`` system.
    """
    defaults, at_risk = par.data.events, par.data.exposure
    z = z0.copy()
    od = tau_eps is not None
    eps = (eps0.copy() if eps0 is not None else np.zeros(par.data.n_cells)) if od else None

    def objective(z, eps):
        eta = par.eta(z) + (eps if od else 0.0)
        ll, g, w = loglik_terms(eta, defaults, at_risk, likelihood) if account_lik is None else account_lik(eta)
        pen = 0.5 * float(np.sum(q * z * z)) + (0.5 * tau_eps * float(eps @ eps) if od else 0.0)
        return ll, pen, g, w

    ll, pen, g, w = objective(z, eps)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported after the loop
        if od:
            cell_diag = w + tau_eps  # the cell block of the Hessian (diagonal)
            r = g - tau_eps * eps
            w_eff = w * tau_eps / cell_diag
            # Schur complement of the cell block: X'(g - W D^-1 r) is the z-gradient after
            # eliminating the cell effects (r is the cell-block gradient g - tau * eps)
            g_eff = g - w * r / cell_diag
        else:
            w_eff, g_eff = w, g
        hess = par.hessian(w_eff)
        hess[np.diag_indices_from(hess)] += q
        grad = par.gradient(g_eff) - q * z
        chol = linalg.cho_factor(hess, lower=False, check_finite=False)
        dz = linalg.cho_solve(chol, grad, check_finite=False)
        if od:
            x_dz = par.eta(dz)  # X_z dz, intercept included
            deps = (r - w * x_dz) / cell_diag
        step = 1.0
        old = ll - pen
        for _ in range(30):
            z_new = z + step * dz
            eps_new = eps + step * deps if od else None
            ll_n, pen_n, g_n, w_n = objective(z_new, eps_new)
            if ll_n - pen_n >= old - 1e-10 * abs(old):
                break
            step *= 0.5
        z, eps, ll, pen, g, w = z_new, eps_new, ll_n, pen_n, g_n, w_n
        decrement = float(grad @ dz)
        if decrement < tol * max(1.0, abs(old)) or np.max(np.abs(step * dz)) < 1e-9:
            converged = True
            break
    # Hessian at the mode
    w_eff = w * tau_eps / (w + tau_eps) if od else w
    hess = par.hessian(w_eff)
    hess[np.diag_indices_from(hess)] += q
    chol = linalg.cho_factor(hess, lower=False, check_finite=False)
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol[0]))))
    if od:
        logdet += float(np.sum(np.log(w + tau_eps)))
    return Mode(z, eps, chol, ll, pen, logdet, it, converged)


def draw_latent(mode: Mode, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws from ``N(z_mode, Q^{-1})`` (``Q`` the posterior precision, the negative Hessian of
    the log posterior at the mode) using its Cholesky factor."""
    upper = mode.chol[0]
    noise = rng.standard_normal((len(mode.z), n_draws))
    return (mode.z[:, None] + linalg.solve_triangular(upper, noise, lower=False, check_finite=False)).T


def empty_levels(data: CellData, table: pd.DataFrame | None = None) -> dict[str, list[int]]:
    """Grid labels (engine codes) of each component whose cells hold no events at all.

    A factor level without events has no finite maximum-likelihood effect (its estimate
    runs to minus infinity). ``table`` is unused (kept for a uniform call).
    """
    out = {}
    idx = {"lifecycle": data.ai, "vintage": data.vi, "environment": data.ti}
    for c, n in zip(COMPONENTS, data.grid_sizes, strict=True):
        has_cells = np.bincount(idx[c], minlength=n) > 0
        events = np.bincount(idx[c], data.events, minlength=n)
        out[c] = [int(x) for x in data.labels(c)[has_cells & (events <= 0)]]
    return out


def saturated_loglik(d: np.ndarray, n: np.ndarray, likelihood: str) -> np.ndarray:
    """Full log-likelihood of each cell under the saturated model (rate = observed rate).

    ``deviance = 2 * sum(saturated_loglik - pointwise_loglik)``, the same value as
    :func:`deviance` (constants cancel), so one pass of :func:`pointwise_loglik` over the
    draws gives both the WAIC terms and the mean deviance.
    """
    from scipy.special import xlogy

    if likelihood == "binomial":
        const = gammaln(n + 1) - gammaln(d + 1) - gammaln(n - d + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return const + xlogy(d, d / n) + xlogy(n - d, (n - d) / n)
    return xlogy(d, d) - d - gammaln(d + 1)


def pointwise_loglik(d: np.ndarray, n: np.ndarray, eta: np.ndarray, likelihood: str) -> np.ndarray:
    """Full log-likelihood of each cell (constants included) for ``eta`` of shape (..., cells)."""
    if likelihood == "binomial":
        const = gammaln(n + 1) - gammaln(d + 1) - gammaln(n - d + 1)
        return const + d * eta - n * np.logaddexp(0.0, eta)
    log_mu = eta + np.log(np.where(n > 0, n, 1.0))
    return d * log_mu - np.exp(log_mu) - gammaln(d + 1)
