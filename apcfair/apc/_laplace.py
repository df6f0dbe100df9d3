"""Fast engine: Laplace approximation of the latent field, hyperparameters by an
INLA-like grid around their empirical-Bayes mode (or fixed).

For log-precisions ``phi`` the marginal posterior is approximated by

    log p(phi | y) ~ loglik(z*) - z*'Q z*/2 + log|Q|/2 - log|Q + K|/2 + log p(phi),

with ``z*`` the conditional mode, ``Q`` the prior precision and ``K`` the negative Hessian of
the log-likelihood there. The mode of
``phi`` is found with L-BFGS-B; the grid follows the eigenvectors of the curvature at
the mode (steps of one standard deviation, 3 points per dimension) and its points are
weighted by their approximate posterior density. Draws of the latent field come from
the Gaussian mixture over the grid.
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from apcfair.apc._design import (
    COMPONENTS,
    Mode,
    Parametrisation,
    draw_latent,
    find_mode,
    initial_latent,
    loglik_constant,
)


@dataclass
class LaplaceFit:
    """What the Laplace engine hands to the results builder."""

    z_draws: np.ndarray
    hyper_draws: dict[str, np.ndarray]
    mode: Mode
    hyper_mode: dict[str, float]
    diagnostics: dict = field(default_factory=dict)


class _Marginal:
    """Evaluates the Laplace log marginal posterior of the log-precisions, warm-started."""

    def __init__(self, par: Parametrisation, likelihood: str, shape: float, rate: float,
                 fixed_precision: float, overdispersion: bool, account_lik=None):
        self.par, self.likelihood = par, likelihood
        self.account_lik = account_lik
        self.shape, self.rate = shape, rate
        self.fixed_precision = fixed_precision
        self.od = overdispersion
        self.const = loglik_constant(par.data.events, par.data.exposure, likelihood)
        self.z0 = initial_latent(par, likelihood)
        self.eps0 = np.zeros(par.data.n_cells) if overdispersion else None
        self.n_evals = 0
        self.newton_steps = 0

    def names(self) -> list[str]:
        return list(COMPONENTS) + (["cell"] if self.od else [])

    def tau(self, phi):
        return dict(zip(self.names(), np.exp(phi), strict=True))

    def __call__(self, phi) -> tuple[float, Mode]:
        tau = self.tau(phi)
        q = self.par.prior_diag(tau, self.fixed_precision)
        mode = find_mode(self.par, self.likelihood, q, self.z0, account_lik=self.account_lik,
                         tau_eps=tau.get("cell"), eps0=self.eps0)
        self.n_evals += 1
        self.newton_steps += mode.iterations
        if np.all(np.isfinite(mode.z)):
            self.z0 = mode.z
            if self.od:
                self.eps0 = mode.eps
        logdet_prior = float(np.sum(np.log(q)))
        val = mode.loglik + self.const - mode.penalty + 0.5 * logdet_prior - 0.5 * mode.logdet_post
        if self.od:
            val += 0.5 * self.par.data.n_cells * np.log(tau["cell"])
        val += float(np.sum(self.shape * np.asarray(phi) - self.rate * np.exp(phi)))
        return val, mode


def fit_laplace(par: Parametrisation, likelihood: str, *, hyper: str, precisions: dict | None,
                shape: float, rate: float, fixed_precision: float, overdispersion: bool,
                n_draws: int, rng: np.random.Generator, progress=None, account_lik=None) -> LaplaceFit:
    """Run the fast engine; see the module docstring."""
    t0 = time.perf_counter()
    marg = _Marginal(par, likelihood, shape, rate, fixed_precision, overdispersion, account_lik)
    names = marg.names()
    dim = len(names)
    if hyper == "fixed":
        missing = [c for c in names if c not in (precisions or {})]
        if missing:
            raise ValueError(f"hyper='fixed' needs precisions for {missing}")
        phi_hat = np.log([precisions[c] for c in names])
        val, mode = marg(phi_hat)
        points, values, modes = [phi_hat], [val], [mode]
        opt_info = {"method": "fixed"}
    else:
        phi_start = np.log(np.full(dim, 100.0))
        if overdispersion:
            phi_start[-1] = np.log(100.0)
        res = optimize.minimize(lambda p: -marg(p)[0], phi_start, method="L-BFGS-B",
                                bounds=[(-2.0, 18.0)] * dim,
                                # the grid then integrates over +-1 SD: the mode needs no more
                                # than ~1e-3 log-units of precision
                                options={"eps": 1e-3, "maxiter": 200, "ftol": 1e-8, "gtol": 1e-3})
        phi_hat = res.x
        val, mode = marg(phi_hat)
        opt_info = {"method": "empirical Bayes (L-BFGS-B)", "converged": bool(res.success),
                    "iterations": int(res.nit)}
        points, values, modes = [phi_hat], [val], [mode]
        if hyper == "grid":
            # curvature of the log marginal at the mode by central differences
            step = 0.15
            curvature = np.zeros((dim, dim))
            f0 = val
            shifted = {}  # (i, +-1) -> log marginal at phi_hat +- step along axis i
            for i in range(dim):
                for sign in (1, -1):
                    e = np.zeros(dim)
                    e[i] = sign * step
                    shifted[(i, sign)] = marg(phi_hat + e)[0]
                curvature[i, i] = (shifted[(i, 1)] - 2 * f0 + shifted[(i, -1)]) / step**2
            for i, j in itertools.combinations(range(dim), 2):
                e_i = np.zeros(dim)
                e_j = np.zeros(dim)
                e_i[i] = step
                e_j[j] = step
                f_pp = marg(phi_hat + e_i + e_j)[0]
                f_mm = marg(phi_hat - e_i - e_j)[0]
                curvature[i, j] = curvature[j, i] = (
                    f_pp - shifted[(i, 1)] - shifted[(j, 1)] + 2 * f0 - shifted[(i, -1)] - shifted[(j, -1)] + f_mm
                ) / (2 * step**2)
            neg_curvature = -0.5 * (curvature + curvature.T)
            vals, vecs = np.linalg.eigh(neg_curvature)
            vals = np.clip(vals, 0.25, None)  # flat directions: at most 2 log-units of spread
            sd_axes = vecs / np.sqrt(vals)
            # asymmetric scales along each principal axis (INLA's skewness correction): the log
            # marginal dropped by 2 at +-2 SD for a Gaussian; sigma = 2 / sqrt(2 * drop)
            scales = np.ones((dim, 2))
            points, values, modes = [phi_hat], [val], [mode]
            design = [np.zeros(dim)]

            def visit(x: np.ndarray) -> float:
                """Evaluate the design point ``x`` (in scaled principal-axis units) and keep it."""
                phi = np.clip(phi_hat + sd_axes @ x, -2.0, 18.0)
                f, m = marg(phi)
                points.append(phi)
                values.append(f)
                modes.append(m)
                design.append(x)
                if progress is not None:
                    progress.update(1)
                return f

            for k in range(dim):
                for side, sign in enumerate((1.0, -1.0)):
                    x = np.zeros(dim)
                    x[k] = 2.0 * sign
                    drop = max(val - visit(x), 0.125)  # at most 4 SD (flat or rising: a wide, not endless, tail)
                    scales[k, side] = min(2.0 / np.sqrt(2.0 * drop), 4.0)
            # central composite design: factorial corners at +-1 scaled SD
            for corner in itertools.product((1.0, -1.0), repeat=dim):
                visit(np.array([c * scales[k, 0 if c > 0 else 1] for k, c in enumerate(corner)]))
            # axial points moved to their scaled positions for the nearest-point assignment
            design = np.asarray(design)
            for i in range(1, 1 + 2 * dim):
                k = (i - 1) // 2
                design[i, k] = 2.0 * (scales[k, 0] if design[i, k] > 0 else -scales[k, 1])
            opt_info["grid_points"] = len(points)
            opt_info["design"] = "central composite design on the principal axes of the log-precisions; " \
                                 "precision draws from the split-normal fitted to the log marginal"
            opt_info["log_marginal_curvature_sd"] = (1 / np.sqrt(np.diag(neg_curvature).clip(1e-6))).tolist()
            opt_info["axis_scales"] = scales.round(4).tolist()
            # precision draws: split-normal in the principal-axis coordinates; latent draws
            # from the Gaussian approximation at the nearest design point
            u = rng.standard_normal((n_draws, dim))
            x = np.where(u > 0, u * scales[:, 0], u * scales[:, 1])
            phi_draws = np.clip(phi_hat + x @ sd_axes.T, -2.0, 18.0)
            nearest = np.argmin(((x[:, None, :] - design[None, :, :]) ** 2).sum(axis=2), axis=1)
            counts = np.bincount(nearest, minlength=len(points))
            z = np.empty((n_draws, par.p))
            for i in np.flatnonzero(counts):
                z[nearest == i] = draw_latent(modes[i], int(counts[i]), rng)
            return _finish(z, np.exp(phi_draws), points, np.asarray(values), modes, counts / n_draws, names,
                           hyper, opt_info, marg, t0)
    values = np.asarray(values)
    weights = np.exp(values - values.max())
    weights /= weights.sum()
    counts = rng.multinomial(n_draws, weights)
    z_blocks, hyper_blocks = [], []
    for phi, point_mode, count in zip(points, modes, counts, strict=True):
        if count == 0:
            continue
        z_blocks.append(draw_latent(point_mode, int(count), rng))
        hyper_blocks.append(np.repeat(np.exp(phi)[None, :], count, axis=0))
    z = np.vstack(z_blocks)
    precision_draws = np.vstack(hyper_blocks)
    perm = rng.permutation(len(z))
    return _finish(z[perm], precision_draws[perm], points, values, modes, weights, names, hyper, opt_info,
                   marg, t0)


def _finish(z, precision_draws, points, values, modes, weights, names, hyper, opt_info, marg, t0) -> LaplaceFit:
    """Package draws and diagnostics."""
    values = np.asarray(values)
    best = int(np.argmax(values))
    diagnostics = {
        "engine": "laplace",
        "hyperparameters": hyper,
        **opt_info,
        "log_marginal_likelihood": float(values.max()),
        "grid_weights": weights.round(6).tolist(),
        "grid_log_precisions": np.asarray(points).round(4).tolist(),
        "max_grid_weight": float(weights.max()),
        "newton_converged": bool(all(point_mode.converged for point_mode in modes)),
        "marginal_evaluations": marg.n_evals,
        "newton_steps": marg.newton_steps,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if not diagnostics["newton_converged"]:
        warnings.warn("Laplace engine: the latent-field Newton iterations did not converge at every "
                      "hyperparameter value; treat the bands with caution (diagnostics['newton_converged'])",
                      RuntimeWarning, stacklevel=3)
    return LaplaceFit(
        z_draws=z,
        hyper_draws={f"precision_{c}": precision_draws[:, i] for i, c in enumerate(names)},
        mode=modes[best],
        hyper_mode=dict(zip(names, np.exp(points[best]).tolist(), strict=True)),
        diagnostics=diagnostics,
    )
