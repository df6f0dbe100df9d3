"""Fast engine: Laplace approximation of the latent field, hyperparameters by an
INLA-like grid around their empirical-Bayes mode (or fixed).

For log-precisions ``phi`` the marginal posterior is approximated by

    log p(phi | y) ~ loglik(z*) - z*'Q z*/2 + log|Q|/2 - log|Q + H|/2 + log p(phi),

with ``z*`` the conditional mode and ``H`` the likelihood Hessian there. The mode of
``phi`` is found with L-BFGS-B; the grid follows the eigenvectors of the curvature at
the mode (steps of one standard deviation, 3 points per dimension) and its points are
weighted by their approximate posterior density. Draws of the latent field come from
the Gaussian mixture over the grid.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from apcfair.apc._design import (
    COMPONENTS,
    Mode,
    Parametrisation,
    draw_latent,
    find_mode,
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
        d, n = par.data.events, par.data.exposure
        self.const = loglik_constant(d, n, likelihood)
        rate0 = max(d.sum(), 0.5) / n.sum()
        z0 = np.zeros(par.p)
        z0[0] = np.log(rate0 / (1 - rate0)) if likelihood == "binomial" else np.log(rate0)
        self.z0 = z0
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
            h = 0.15
            Hs = np.zeros((dim, dim))
            f0 = val
            fp = {}
            for i in range(dim):
                for s in (1, -1):
                    e = np.zeros(dim)
                    e[i] = s * h
                    fp[(i, s)] = marg(phi_hat + e)[0]
                Hs[i, i] = (fp[(i, 1)] - 2 * f0 + fp[(i, -1)]) / h**2
            for i, j in itertools.combinations(range(dim), 2):
                e_i = np.zeros(dim)
                e_j = np.zeros(dim)
                e_i[i] = h
                e_j[j] = h
                fpp = marg(phi_hat + e_i + e_j)[0]
                fmm = marg(phi_hat - e_i - e_j)[0]
                Hs[i, j] = Hs[j, i] = (fpp - fp[(i, 1)] - fp[(j, 1)] + 2 * f0 - fp[(i, -1)] - fp[(j, -1)] + fmm) / (2 * h**2)
            negH = -0.5 * (Hs + Hs.T)
            vals, vecs = np.linalg.eigh(negH)
            vals = np.clip(vals, 0.25, None)  # flat directions: at most 2 log-units of spread
            sd_axes = vecs / np.sqrt(vals)
            points, values, modes = [], [], []
            for delta in itertools.product((-1.0, 0.0, 1.0), repeat=dim):
                phi = phi_hat + sd_axes @ np.asarray(delta)
                phi = np.clip(phi, -2.0, 18.0)
                v, m = marg(phi) if any(delta) else (val, mode)
                points.append(phi)
                values.append(v)
                modes.append(m)
                if progress is not None:
                    progress.update(1)
            opt_info["grid_points"] = len(points)
            opt_info["log_marginal_curvature_sd"] = (1 / np.sqrt(np.diag(negH).clip(1e-6))).tolist()
    values = np.asarray(values)
    weights = np.exp(values - values.max())
    weights /= weights.sum()
    counts = rng.multinomial(n_draws, weights)
    z_draws, hyper_rows = [], []
    for phi, m, k in zip(points, modes, counts, strict=True):
        if k == 0:
            continue
        z_draws.append(draw_latent(m, int(k), rng))
        hyper_rows.append(np.repeat(np.exp(phi)[None, :], k, axis=0))
    z = np.vstack(z_draws)
    hy = np.vstack(hyper_rows)
    perm = rng.permutation(len(z))
    z, hy = z[perm], hy[perm]
    best = int(np.argmax(values))
    diagnostics = {
        "engine": "laplace",
        "hyperparameters": hyper,
        **opt_info,
        "log_marginal_likelihood": float(values.max()),
        "grid_weights": weights.round(6).tolist(),
        "grid_log_precisions": np.asarray(points).round(4).tolist(),
        "max_grid_weight": float(weights.max()),
        "newton_converged": bool(all(m.converged for m in modes)),
        "marginal_evaluations": marg.n_evals,
        "newton_steps": marg.newton_steps,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if not diagnostics["newton_converged"]:
        import warnings

        warnings.warn("Laplace engine: the latent-field Newton iterations did not converge at every "
                      "hyperparameter value; treat the bands with caution (diagnostics['newton_converged'])",
                      RuntimeWarning, stacklevel=3)
    return LaplaceFit(
        z_draws=z,
        hyper_draws={f"precision_{c}": hy[:, i] for i, c in enumerate(names)},
        mode=modes[best],
        hyper_mode=dict(zip(names, np.exp(points[best]).tolist(), strict=True)),
        diagnostics=diagnostics,
    )
