"""The one module that talks to PyMC and ArviZ (their APIs move between majors).

The exact engine samples the same model as the Laplace engine, in the same
parametrisation: random-walk coefficients in the prior's eigenbasis (diagonal prior), so
there are no constraints and no rank deficiency in the sampler. The binomial likelihood is
written as its unnormalised kernel ``d * eta - n * softplus(eta)``. nutpie is used when
installed.

Centring, coefficient by coefficient (Papaspiliopoulos, Roberts & Skold 2007): a
coefficient the data pin down tightly is sampled *centred* (``theta ~ N(0, 1/(tau * lambda))``);
non-centred (``theta = u / sqrt(tau * lambda)``) it would tie ``u`` to the precision along
a curved ridge, where NUTS diverges. A coefficient the data say little about is sampled
*non-centred*, which avoids the funnel between it and its precision. ``centring="auto"``
decides per coefficient from a quick empirical-Bayes Laplace fit: centred where the
likelihood's information about the coefficient (the diagonal of ``X' W X`` at the mode)
exceeds its prior precision ``tau * lambda``.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from apcfair.apc._design import COMPONENTS, Parametrisation


def _rw_coefficients(par: Parametrisation, component: str) -> slice:
    """Positions, within a component's block of ``z``, of its random-walk coefficients."""
    n = len(par.prior_diag_unit[component])
    if component != "environment":
        return slice(1, n)  # after the slope
    return slice(0, n - par.n_seasonal)


def centred_masks(par: Parametrisation, likelihood: str, centring: str, *, shape: float, rate: float,
                  fixed_precision: float, overdispersion: bool) -> tuple[dict, dict]:
    """Which random-walk coefficients to sample centred, per component, and why.

    ``"centred"`` / ``"non_centred"``: all; ``"auto"``: centred where the data's information
    about a coefficient exceeds its prior precision at the empirical-Bayes precisions.
    """
    n_rw = {c: _rw_coefficients(par, c) for c in COMPONENTS}
    sizes = {c: len(range(*n_rw[c].indices(len(par.prior_diag_unit[c])))) for c in COMPONENTS}
    if centring != "auto":
        return {c: np.full(sizes[c], centring == "centred") for c in COMPONENTS}, {"centring": centring}
    from apcfair.apc._design import loglik_terms
    from apcfair.apc._laplace import fit_laplace

    fit = fit_laplace(par, likelihood, hyper="eb", precisions=None, shape=shape, rate=rate,
                      fixed_precision=fixed_precision, overdispersion=overdispersion, n_draws=10,
                      rng=np.random.default_rng(0))
    eta = par.eta(fit.mode.z) + (fit.mode.eps if fit.mode.eps is not None else 0.0)
    _, _, w = loglik_terms(eta, par.data.events, par.data.exposure, likelihood)
    if overdispersion:
        tau_cell = fit.hyper_mode["cell"]
        w = w * tau_cell / (w + tau_cell)
    info = np.diag(par.hessian(w))
    masks, shares = {}, {}
    for c in COMPONENTS:
        block = info[par.slices[c]][n_rw[c]]
        prior = fit.hyper_mode[c] * par.prior_diag_unit[c][n_rw[c]]
        masks[c] = block > prior
        shares[c] = f"{int(masks[c].sum())} of {sizes[c]} centred"
    return masks, {"centring": "auto (centred where the data's information exceeds the prior precision at the "
                               "empirical-Bayes precisions)", "centred_coefficients": shares}


def fit_nuts(par: Parametrisation, likelihood: str, *, shape: float, rate: float, fixed_precision: float,
             overdispersion: bool, draws: int, tune: int, chains: int, target_accept: float,
             random_seed: int | None, progress: bool, centring: str = "auto"):
    """Sample with NUTS; return latent draws in the Laplace engine's layout."""
    import arviz as az
    import pymc as pm
    import pytensor.tensor as pt

    masks, centring_info = centred_masks(par, likelihood, centring, shape=shape, rate=rate,
                                         fixed_precision=fixed_precision, overdispersion=overdispersion)
    cd = par.data
    fixed_sd = 1.0 / np.sqrt(fixed_precision)
    with pm.Model():
        mu = pm.Normal("mu", 0.0, fixed_sd)
        eta = mu
        blocks = {}
        taus = {}
        for c in COMPONENTS:
            design = par.X[c]
            lam = par.prior_diag_unit[c]
            has_slope = c != "environment"
            tau = pm.Gamma(f"precision_{c}", alpha=shape, beta=rate)
            taus[c] = tau
            n_seas = par.n_seasonal if c == "environment" else 0
            lam_rw = lam[_rw_coefficients(par, c)]
            centred = masks[c]
            # the two kinds of coefficients, put back in order by one permutation
            order = np.argsort(np.concatenate([np.flatnonzero(~centred), np.flatnonzero(centred)]), kind="stable")
            parts = []
            if (~centred).any():
                u = pm.Normal(f"u_{c}", 0.0, 1.0, shape=int((~centred).sum()))
                parts.append(u / pt.sqrt(tau * lam_rw[~centred]))
            if centred.any():
                parts.append(pm.Normal(f"theta_{c}", 0.0, 1.0 / pt.sqrt(tau * lam_rw[centred]),
                                       shape=int(centred.sum())))
            theta = (parts[0] if len(parts) == 1 else pt.concatenate(parts))[order]
            if has_slope:
                s = pm.Normal(f"slope_{c}", 0.0, fixed_sd)
                coef = pt.concatenate([s[None], theta])
            elif n_seas:
                gamma = pm.Normal("seasonal", 0.0, fixed_sd, shape=n_seas)
                coef = pt.concatenate([theta, gamma])
            else:
                coef = theta
            values = pt.dot(design, coef)
            blocks[c] = coef
            eta = eta + values[par.idx[c]]
        if overdispersion:
            tau_c = pm.Gamma("precision_cell", alpha=shape, beta=rate)
            u_cell = pm.Normal("u_cell", 0.0, 1.0, shape=cd.n_cells)
            eta = eta + u_cell / pt.sqrt(tau_c)
        defaults, at_risk = cd.events, cd.exposure
        if likelihood == "binomial":
            pm.Potential("loglik", pt.sum(defaults * eta - at_risk * pt.softplus(eta)))
        else:
            pm.Potential("loglik", pt.sum(defaults * eta - at_risk * pt.exp(eta)))
        for c in COMPONENTS:
            pm.Deterministic(f"z_{c}", blocks[c])
        sampler = "nutpie" if importlib.util.find_spec("nutpie") else "pymc"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=min(chains, 2),
                              target_accept=target_accept, random_seed=random_seed,
                              progressbar=progress, nuts_sampler=sampler, compute_convergence_checks=False)
    post = idata.posterior
    n_samples = post.sizes["chain"] * post.sizes["draw"]

    def flat(name):
        values = post[name].to_numpy()
        return values.reshape(n_samples, *values.shape[2:])

    z = np.empty((n_samples, par.p))
    z[:, 0] = flat("mu")
    for c in COMPONENTS:
        z[:, par.slices[c]] = flat(f"z_{c}")
    hyper = {f"precision_{c}": flat(f"precision_{c}") for c in COMPONENTS}
    if overdispersion:
        hyper["precision_cell"] = flat("precision_cell")
    var_names = ["mu", *[f"precision_{c}" for c in COMPONENTS], "slope_lifecycle", "slope_vintage",
                 *[f"{kind}_{c}" for c in COMPONENTS for kind in ("u", "theta") if f"{kind}_{c}" in post]]
    summ = az.summary(idata, var_names=var_names, kind="diagnostics")
    divergences = int(idata.sample_stats["diverging"].sum())
    max_rhat = float(summ["r_hat"].max())
    min_ess = float(summ["ess_bulk"].min())
    warns = []
    if max_rhat > 1.01:
        warns.append(f"R-hat up to {max_rhat:.3f} (> 1.01): chains have not mixed; sample longer")
    if min_ess < 400:
        warns.append(f"bulk ESS as low as {min_ess:.0f} (< 400): bands are unreliable; sample longer")
    if divergences:
        warns.append(f"{divergences} divergent transitions: raise target_accept or check the model")
    for w in warns:
        warnings.warn("NUTS diagnostics: " + w, RuntimeWarning, stacklevel=3)
    sampling_time = float(idata.posterior.attrs.get("sampling_time", np.nan))
    diagnostics = {
        "engine": "nuts",
        "sampler": sampler,
        "chains": chains,
        "draws_per_chain": draws,
        "tune": tune,
        "divergences": divergences,
        "target_accept": target_accept,
        **centring_info,
        "max_rhat": max_rhat,
        "min_ess_bulk": min_ess,
        "sampling_seconds": sampling_time,
        "ess_per_second": min_ess / sampling_time if sampling_time and np.isfinite(sampling_time) else None,
        "warnings": warns,
    }
    return z, hyper, diagnostics, idata
