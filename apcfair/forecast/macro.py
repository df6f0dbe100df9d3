"""Macro model of the environment: H(t) regressed on macro drivers, and scenario projections.

Model
-----
For the months ``t`` of the APC window (the fit window)::

    H(t) = c + d (t - t_c) + sum_k sum_l beta_{k,l} x_k(t - l) + s(month of year) + u(t)

``x_k`` are the macro drivers (e.g. the 12-month change of the unemployment rate, real
GDP growth, house-price growth, interest rates), ``l`` the lags, ``s`` monthly (or
quarterly) seasonal dummies and ``u`` the residual. ``method="ols"`` fits it by least
squares with Newey–West (HAC) standard errors; ``method="arimax"`` by maximum likelihood
with AR(1) errors (``statsmodels`` SARIMAX).

Consistent detrending
---------------------
The APC engine cannot identify a linear trend in H: with ``identification=
"no_period_trend"`` (the default) H has *no* least-squares linear trend over the fit window
by construction, and the common trend sits in F(a) and G(v). A driver's own linear trend
over the window therefore cannot be matched by H, and regressing H on trending drivers
would bias the sensitivities. With ``detrend="consistent"`` (default) the regression
includes the linear time trend ``d (t - t_c)``. By the Frisch–Waugh–Lovell theorem this is
exactly the regression of H *with its least-squares line over the window removed* on
drivers (and seasonal dummies) *with their least-squares lines over the window removed*;
projections use the same lines, extended: for a scenario month ``t``::

    H(t) = L_H(t) + sum beta_{k,l} (x_k(t - l) - L_{k,l}(t)) + seasonal(t) - L_s(t) + u(t)

where ``L_H``, ``L_{k,l}`` and ``L_s`` are the window lines of H, of each lagged driver and
of the seasonal term (:attr:`MacroResult.environment_line`, ``driver_lines``). Under
``no_period_trend`` ``L_H`` is zero (up to months dropped for lags), so a scenario raises H
only through drivers deviating from their extended window trend. Under
``no_vintage_trend`` or ``fixed_period_slope`` H carries a trend set by the identification;
the same formula extends it, which keeps the projected PDs ``mu + F(a) + G(v) + H(t)``
invariant to the identification choice (a trend moved into H is moved out of F and G).
``detrend="none"`` drops the trend term (only for comparison: the sensitivities then mix
macro effects with the trend assumption).

Uncertainty
-----------
Both sources enter the coefficient draws: each posterior draw ``H_s`` of the APC result
is regressed on the same design (posterior uncertainty of H, spread ``C`` of the
coefficients ``b_s``), and the regression's coefficient covariance ``V`` (AR(1) sandwich,
HAC or ML; estimated from the residuals of the fit to the posterior mean of H) is added as
a Gaussian perturbation ``coef_s = b_s + L z_s`` with ``L L' = (V - C)_+`` (the positive
semi-definite part). The residuals of the posterior-mean fit contain the APC estimation
error, which ``C`` already represents; adding only ``(V - C)_+`` avoids counting it twice,
so the total covariance is about the larger of ``V`` and ``C``. Projections add the
residual process: with ``residuals="ar1"`` (default) each draw's last in-window residual
decays with the residual AR(1) coefficient and receives AR(1) innovations (the ARIMAX
error process, or the lag-1 autocorrelation of the OLS residuals); ``"iid"`` adds
independent residual noise; ``"none"`` adds nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from apcfair._base import FORMAT_VERSION, FittedResultMixin, ParamsMixin, load_json, save_json
from apcfair._options import check_option
from apcfair._provenance import provenance
from apcfair._summary import Summary
from apcfair.apc.identification import environment_slope
from apcfair.forecast._options import (
    CovType,
    Detrend,
    DriverTrend,
    MacroMethod,
    OnWrongSign,
    ResidualProcess,
)
from apcfair.forecast.scenarios import (
    ScenarioProjection,
    driver_path,
    environment_history,
    read_macro_history,
    read_scenarios,
    series_unit,
    to_model_frequency,
)
from apcfair.forecast.transforms import (
    DriverSpec,
    parse_drivers,
    transform_history,
    transform_scenarios,
)
from apcfair.portfolio.periods import PERIODS_PER_YEAR, format_period

_MIN_DEGREES_OF_FREEDOM = 5


def _lag_name(driver: str, lag: int) -> str:
    return driver if lag == 0 else f"{driver}_lag{lag}"


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares (value at mean x, slope)."""
    xc = x - x.mean()
    return float(y.mean()), float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def _checked_lags(lags) -> tuple[int, ...]:
    values = (lags,) if np.isscalar(lags) else tuple(lags)
    if not values or any(int(v) != v or v < 0 for v in values) or len(set(values)) != len(values):
        raise ValueError(f"lags={lags!r}: give distinct non-negative integers, e.g. (0,) or (0, 3, 6)")
    return tuple(sorted(int(v) for v in values))


#: How each ``driver_trend`` setting (with ``detrend="consistent"``) treats the drivers' trends beyond
#: the fit window.
DRIVER_TREND_TEXT = {
    "extend": "extend: every driver's (and H's) least-squares line over the fit window is extended into "
              "the scenario; H rises only with drivers above their extended window trend",
    "hold": "hold: each driver's least-squares line over the fit window is held at its value in the last "
            "fitted month (H's own line, set by the APC identification, still extends); H rises with "
            "drivers above their last in-window trend value",
    "none": "none: no trend term (detrend='none'); scenario driver levels enter as they are",
}

#: What each key of a driver record (``drivers`` in stress.json) means.
DRIVER_DEFINITIONS = {
    "name": "the declared driver: a column of the macro files (raw series)",
    "transform": "transformations applied to the raw series, left to right (diffN, pctN, yoy, logdiffN, lagN, "
                 "log; a model lag --lags N appears as lagN); '' for the level",
    "term": "regressor name of the transformed (and lagged) driver",
    "definition": "the transformed driver in words",
    "series_unit": "unit of the raw series where known (FRED series ids, supervisory variables), else null",
    "source": "file and column the raw series was read from (a FRED series id, a supervisory variable name)",
    "coefficient": "mean over the coefficient draws (APC posterior draws of H refitted, plus regression "
                   "uncertainty): logit of H(t) per unit of the transformed driver",
    "lower": "lower end of the equal-tailed credible band of the coefficient draws (credible_level)",
    "upper": "upper end of that band",
    "p_value": "two-sided tail probability of the same coefficient draws, 2 min(P(b <= 0), P(b >= 0)), at least "
               "1/n_draws: the band excludes 0 exactly when p_value < 1 - credible_level",
    "p_value_point_fit": "p-value of the regression fit to the posterior mean of H (regression uncertainty only)",
    "estimate_point_fit": "coefficient of that regression",
    "expected_sign": "'+' (a higher driver raises default risk), '-' or null (not checked)",
    "warning": "wrong sign, not significant (p_value above the significance level) or sign not checked; null if none",
    "wrong_sign": "the coefficient's sign contradicts expected_sign",
}


def parse_driver_spec(drivers, expected_signs=None) -> tuple[list[str] | None, dict[str, str]]:
    """Driver names and expected signs from ``NAME[:TRANSFORM...][:+|-]`` entries (or a comma-separated string).

    The names are those of the transformed drivers (``NAME_TRANSFORM...``, see
    :mod:`apcfair.forecast.transforms`; :func:`~apcfair.forecast.transforms.parse_drivers` gives
    the full declarations).

    Examples
    --------
    >>> parse_driver_spec("unemployment_rate:+,gdp_growth:-")
    (['unemployment_rate', 'gdp_growth'], {'unemployment_rate': '+', 'gdp_growth': '-'})
    >>> parse_driver_spec(["hpi"], {"hpi": "-"})
    (['hpi'], {'hpi': '-'})
    >>> parse_driver_spec("unemployment_rate:diff12:+")
    (['unemployment_rate_diff12'], {'unemployment_rate_diff12': '+'})
    >>> parse_driver_spec(None)
    (None, {})
    """
    if drivers is None:
        return None, {str(k): str(v) for k, v in dict(expected_signs or {}).items()}
    specs = parse_drivers(drivers, expected_signs)
    return [s.column for s in specs], {s.column: s.sign for s in specs if s.sign}


def tail_p_value(draws: np.ndarray) -> float:
    """Two-sided tail probability ``2 min(P(b <= 0), P(b >= 0))`` of draws, at least ``1/len(draws)``.

    Consistent with the equal-tailed band of the same draws: the ``1 - alpha`` band excludes
    zero exactly when the value is below ``alpha`` (up to the quantiles' interpolation).

    Examples
    --------
    >>> import numpy as np
    >>> tail_p_value(np.array([-1.0, 1.0, 2.0, 3.0]))
    0.5
    >>> tail_p_value(np.arange(1.0, 101.0))
    0.01
    """
    b = np.asarray(draws, dtype=float)
    p = 2 * min(float(np.mean(b <= 0)), float(np.mean(b >= 0)))
    return float(min(1.0, max(p, 1 / len(b))))


def driver_report(result, signs: dict, significance: float, *, chosen: bool,
                  specs: list[DriverSpec] | None = None, sources: dict | None = None
                  ) -> tuple[list[dict], list[str]]:
    """One row per lagged driver term: coefficient, band, p-value, expected sign, warning.

    ``coefficient`` is the mean of the coefficient draws (logit of H per unit of the
    transformed driver), ``lower``/``upper`` their credible band and ``p_value`` their
    two-sided tail probability (:func:`tail_p_value`), so band and p-value agree; the fit to
    the posterior mean of H is kept as ``estimate_point_fit``/``p_value_point_fit``
    (:data:`DRIVER_DEFINITIONS`). A coefficient whose sign contradicts the expected sign, or
    whose p-value exceeds ``significance``, gets a warning; so does a driver without an
    expected sign.
    """
    tab = result.coefficients.set_index("term")
    draws = result.coef_draws
    by_column = {s.column: s for s in (specs or [])}
    rows, warn = [], []
    for driver in result.drivers:
        spec = by_column.get(driver, DriverSpec(driver))
        for lag in result.lags:
            term = _lag_name(driver, lag)
            c = tab.loc[term]
            sign = signs.get(driver)
            coef = float(c["mean"])
            p = tail_p_value(draws[term].to_numpy())
            wrong = sign is not None and np.sign(coef) != (1 if sign == "+" else -1)
            msgs = []
            if wrong:
                msgs.append(f"wrong sign: coefficient {coef:+.4f} but expected {sign}")
            if not p <= significance:
                msgs.append(f"not significant (p = {p:.3g} > {significance})")
            if sign is None:
                msgs.append("no expected sign given: sign not checked"
                            + ("" if chosen else " (drivers not chosen: every column of the macro history used)"))
            text = "; ".join(msgs) or None
            if text:
                warn.append(f"driver {term}: {text}")
            transform = ",".join(filter(None, [spec.transform, f"lag{lag}" if lag else ""]))
            definition = spec.definition + (f", {lag} months earlier (model lag)" if lag else "")
            source = (sources or {}).get(spec.name) or {}
            rows.append({"name": spec.name, "transform": transform, "coefficient": coef,
                         "lower": float(c["lower"]), "upper": float(c["upper"]), "p_value": p,
                         "expected_sign": sign, "warning": text, "term": term, "definition": definition,
                         "series_unit": series_unit(spec.name, source.get("column", spec.name)),
                         "source": dict(source) or None,
                         "p_value_point_fit": float(c["p_value"]), "estimate_point_fit": float(c["estimate"]),
                         "wrong_sign": bool(wrong), "driver": driver})
    return rows, warn


# ---------------------------------------------------------------------------- the design
@dataclass(frozen=True)
class _Design:
    """How the regressors of a month are built: lagged drivers, trend, seasonal dummies.

    The same object builds the fit-window design and every scenario's design, so the
    projection extends exactly the lines removed in the fit.
    """

    drivers: tuple[str, ...]
    lags: tuple[int, ...]
    freq: str
    detrend: str
    seasonality: bool
    t_centre: float = 0.0

    @property
    def lagged_names(self) -> list[str]:
        """Regressor names of the lagged drivers (``x``, ``x_lag3``, ...)."""
        return [_lag_name(d, lag) for d in self.drivers for lag in self.lags]

    @property
    def n_terms(self) -> int:
        """Columns of the design."""
        n_seasonal = (PERIODS_PER_YEAR[self.freq] - 1) * bool(self.seasonality)
        return 1 + (self.detrend == "consistent") + len(self.lagged_names) + n_seasonal

    def lagged(self, history: pd.DataFrame | None, scenario: pd.DataFrame | None, codes: np.ndarray,
               what: str) -> np.ndarray:
        """Driver values at ``codes - lag`` for every driver and lag, ``(len(codes), n_lagged)``."""
        cols = [driver_path(history, scenario, [d], codes - lag, what)[:, 0]
                for d in self.drivers for lag in self.lags]
        return np.column_stack(cols) if cols else np.empty((len(codes), 0))

    def frame(self, codes: np.ndarray, lagged: np.ndarray) -> pd.DataFrame:
        """The design: ``const``, ``trend``, lagged drivers and seasonal dummies."""
        out = {"const": np.ones(len(codes))}
        if self.detrend == "consistent":
            out["trend"] = codes - self.t_centre
        for j, name in enumerate(self.lagged_names):
            out[name] = lagged[:, j]
        if self.seasonality:
            n_per = PERIODS_PER_YEAR[self.freq]
            pos = codes % n_per
            unit = "month" if self.freq == "M" else "quarter"
            for k in range(1, n_per):
                out[f"{unit}_{k + 1:02d}"] = (pos == k).astype(float)
        return pd.DataFrame(out)


# ---------------------------------------------------------------------------- fit stages
def fit_window(periods: np.ndarray, history_codes: np.ndarray, design: _Design) -> np.ndarray:
    """APC periods where the macro history has every lag; raises when too few for the design."""
    ok = np.ones(len(periods), dtype=bool)
    for lag in design.lags:
        ok &= np.isin(periods - lag, history_codes)
    codes = periods[ok]
    n_terms = design.n_terms
    if len(codes) < n_terms + _MIN_DEGREES_OF_FREEDOM:
        freq = design.freq
        span = format_period([periods[0], periods[-1]], freq)
        hspan = (format_period([history_codes[0], history_codes[-1]], freq) if len(history_codes)
                 else ["-", "-"])
        raise ValueError(
            f"the macro history ({hspan[0]} to {hspan[1]}) overlaps the APC window ({span[0]} to "
            f"{span[1]}) in {len(codes)} period(s) with all lags available; the model has "
            f"{n_terms} terms and needs at least {n_terms + _MIN_DEGREES_OF_FREEDOM}"
        )
    return codes


def _check_not_constant(lagged: np.ndarray, names: list[str]) -> None:
    for j, name in enumerate(names):
        if np.ptp(lagged[:, j]) == 0:
            raise ValueError(f"driver {name!r} is constant over the fit window; drop it (drivers=...)")


def draw_subset(n_available: int, n_draws: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted random subset of ``n_draws`` APC draws (all draws when ``None`` or too many)."""
    if n_draws is not None and int(n_draws) < n_available:
        return np.sort(rng.choice(n_available, int(n_draws), replace=False))
    return np.arange(n_available)


@dataclass
class PointFit:
    """The regression of the posterior mean of H on the design (one of two methods)."""

    results: object            # statsmodels results
    estimate: np.ndarray       # (n_terms,)
    std_error: np.ndarray
    p_value: np.ndarray
    cov: np.ndarray            # coefficient covariance V
    residuals: np.ndarray      # u = y - X b
    innovations: np.ndarray    # what the Ljung-Box test reads
    phi: float                 # residual AR(1) coefficient
    marginal_sd: float         # sd of u
    innovation_sd: float       # sd of the AR(1) innovations
    gls_phi: float             # AR(1) filter of the draw-wise refits (ARIMAX only)
    aic: float


def fit_ols(y: np.ndarray, X: pd.DataFrame, cov_type: str, hac_maxlags: int | None) -> PointFit:
    """Least squares with AR(1)-sandwich, Newey–West or classical standard errors."""
    import statsmodels.api as sm  # heavy import, only when fitting

    n = len(y)
    if cov_type == "HAC":
        maxlags = hac_maxlags if hac_maxlags is not None else int(np.floor(4 * (n / 100) ** (2 / 9)))
        res = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})
    else:
        res = sm.OLS(y, X).fit()
    u = np.asarray(res.resid)
    phi = float(np.clip(np.corrcoef(u[1:], u[:-1])[0, 1], 0.0, 0.99))
    sd_u = float(np.sqrt(res.ssr / res.df_resid))
    if cov_type == "ar1":
        cov = _ar1_sandwich(X.to_numpy(), phi, sd_u)
        se = np.sqrt(np.diag(cov))
        pvalues = 2 * stats.norm.sf(np.abs(np.asarray(res.params) / se))
    else:
        cov = np.asarray(res.cov_params())
        se = np.asarray(res.bse)
        pvalues = np.asarray(res.pvalues)
    return PointFit(results=res, estimate=np.asarray(res.params), std_error=se, p_value=pvalues,
                    cov=cov, residuals=u, innovations=u, phi=phi, marginal_sd=sd_u,
                    innovation_sd=sd_u * np.sqrt(1 - phi**2), gls_phi=0.0, aic=float(res.aic))


def _ar1_sandwich(X: np.ndarray, phi: float, sd: float) -> np.ndarray:
    """``A Omega A'`` with ``A = (X'X)^-1 X'`` and ``Omega`` the AR(1) covariance."""
    n = X.shape[0]
    A = np.linalg.pinv(X)
    distance = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    return A @ (sd**2 * phi**distance) @ A.T


def fit_arimax(y: np.ndarray, X: pd.DataFrame) -> PointFit:
    """Maximum likelihood with AR(1) errors (statsmodels SARIMAX)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX  # heavy import, only for arimax

    n_terms = X.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SARIMAX(y, exog=X, order=(1, 0, 0), trend="n").fit(disp=False)
    names = list(res.params.index)
    params = np.asarray(res.params)
    cov = np.asarray(res.cov_params())[:n_terms, :n_terms]
    phi = float(np.clip(params[names.index("ar.L1")], -0.99, 0.99))
    sd_eps = float(np.sqrt(params[names.index("sigma2")]))
    beta = params[:n_terms]
    return PointFit(results=res, estimate=beta, std_error=np.sqrt(np.diag(cov)),
                    p_value=np.asarray(res.pvalues)[:n_terms], cov=cov,
                    residuals=y - X.to_numpy() @ beta, innovations=np.asarray(res.resid)[1:], phi=phi,
                    marginal_sd=sd_eps / np.sqrt(1 - phi**2), innovation_sd=sd_eps, gls_phi=phi,
                    aic=float(res.aic))


def residual_process(kind: str, point: PointFit) -> dict:
    """The residual process added to projections: ``kind, phi, innovation_sd, marginal_sd``."""
    if kind == "iid":
        phi, sd = 0.0, point.marginal_sd
    elif kind == "none":
        phi, sd = 0.0, 0.0
    else:
        phi, sd = point.phi, point.innovation_sd
    return {"kind": kind, "phi": phi, "innovation_sd": sd, "marginal_sd": point.marginal_sd}


def coefficient_draws(env_draws: np.ndarray, X: np.ndarray, point: PointFit, slope: np.ndarray,
                      codes: np.ndarray, t_grid: float, rng: np.random.Generator
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Draw-wise refits plus the regression perturbation; returns ``(coef, residuals)``.

    Works in the frame where H has no linear trend over the APC grid (each draw's slope
    removed), so the spread ``C`` of the refits, hence the perturbation, does not depend on
    the identification; :func:`restore_slope` puts the slope back. ``V`` comes from the
    residuals of the posterior-mean fit, which contain the APC estimation error already
    represented by ``C``: only the positive part of ``V - C`` is added (total about the larger
    of both).
    """
    detrended = env_draws - slope[:, None] * (codes - t_grid)[None, :]
    if point.gls_phi:
        Xs = X[1:] - point.gls_phi * X[:-1]
        Ys = detrended[:, 1:] - point.gls_phi * detrended[:, :-1]
    else:
        Xs, Ys = X, detrended
    refits = np.linalg.lstsq(Xs, Ys.T, rcond=None)[0].T  # (draws, terms)
    resid = detrended - refits @ X.T
    n_terms = X.shape[1]
    spread = np.cov(refits, rowvar=False) if len(refits) > 1 else np.zeros((n_terms, n_terms))
    excess = (point.cov + point.cov.T) / 2 - spread
    w, Q = np.linalg.eigh((excess + excess.T) / 2)
    root = Q * np.sqrt(np.clip(w, 0, None))
    coef = refits + rng.standard_normal(refits.shape) @ root.T
    return coef, resid


def restore_slope(coef: np.ndarray, terms: list[str], slope: np.ndarray, t_centre: float,
                  t_grid: float) -> None:
    """Add each draw's H slope back into the trend and the constant (in place)."""
    coef[:, terms.index("trend")] += slope
    coef[:, terms.index("const")] += slope * (t_centre - t_grid)


def coefficient_table(terms: list[str], point: PointFit, coef: np.ndarray, credible_level: float
                      ) -> pd.DataFrame:
    """``term, estimate, std_error, p_value`` (point fit) and ``mean, sd, lower, upper`` (draws)."""
    a = (1 - credible_level) / 2
    return pd.DataFrame({
        "term": terms, "estimate": point.estimate, "std_error": point.std_error,
        "p_value": point.p_value, "mean": coef.mean(axis=0), "sd": coef.std(axis=0, ddof=1),
        "lower": np.quantile(coef, a, axis=0), "upper": np.quantile(coef, 1 - a, axis=0)})


def fit_diagnostics(y: np.ndarray, X: np.ndarray, point: PointFit, *, terms: list[str],
                    lagged_names: list[str], method: str, cov_type: str, n_draws: int,
                    window: list[str], notes: list[str]) -> dict:
    """R², partial R² of the drivers, Durbin–Watson, Ljung–Box, residual AR(1), window."""
    from statsmodels.stats.diagnostic import acorr_ljungbox  # heavy import, only when fitting
    from statsmodels.stats.stattools import durbin_watson

    n, p = X.shape
    keep = [j for j, t in enumerate(terms) if t not in lagged_names]
    b_restricted = np.linalg.lstsq(X[:, keep], y, rcond=None)[0]
    ssr_r = float(((y - X[:, keep] @ b_restricted) ** 2).sum())
    u = point.residuals
    ssr = float((u**2).sum())
    sst = float(((y - y.mean()) ** 2).sum())
    lb_lag = int(min(12, max(1, n // 5)))
    lb = acorr_ljungbox(point.innovations, lags=[lb_lag], return_df=True)
    return {
        "method": method,
        "cov_type": cov_type if method == "ols" else "ML (observed information)",
        "n_obs": int(n), "n_terms": int(p), "n_draws": int(n_draws),
        "window": window,
        "r2": 1 - ssr / sst if sst > 0 else float("nan"),
        "r2_adj": 1 - (ssr / (n - p)) / (sst / (n - 1)) if sst > 0 else float("nan"),
        "partial_r2_drivers": 1 - ssr / ssr_r if ssr_r > 0 else float("nan"),
        "durbin_watson": float(durbin_watson(u)),
        "ljung_box_lag": lb_lag,
        "ljung_box_stat": float(lb["lb_stat"].iloc[0]),
        "ljung_box_pvalue": float(lb["lb_pvalue"].iloc[0]),
        "ljung_box_on": "OLS residuals" if method == "ols" else "ARIMAX innovations",
        "residual_ar1": point.phi,
        "residual_sd": point.marginal_sd,
        "aic": point.aic,
        "notes": notes,
    }


def window_lines(codes: np.ndarray, lagged: np.ndarray, lagged_names: list[str], y: np.ndarray,
                 t_centre: float, freq: str) -> tuple[dict, dict]:
    """Least-squares lines over the fit window of every lagged driver and of H."""
    tc = codes.astype(float)
    drivers = {}
    for j, name in enumerate(lagged_names):
        c, s = _line(tc, lagged[:, j])
        drivers[name] = {"value_at_centre": c, "slope": s}
    c, s = _line(tc, y)
    env = {"value_at_centre": c, "slope": s, "centre": format_period([int(round(t_centre))], freq)[0]}
    return drivers, env


def fitted_frame(apc_result, codes: np.ndarray, X: np.ndarray, coef: np.ndarray, y: np.ndarray,
                 estimate: np.ndarray, credible_level: float) -> pd.DataFrame:
    """H (posterior mean and band) with the fitted values and residuals over the window."""
    a = (1 - credible_level) / 2
    fit_draws = coef @ X.T
    env = environment_history(apc_result).set_index("code").loc[codes].reset_index()
    out = env.assign(fitted=fit_draws.mean(axis=0), fitted_lower=np.quantile(fit_draws, a, axis=0),
                     fitted_upper=np.quantile(fit_draws, 1 - a, axis=0), residual=y - X @ estimate)
    return out[["month", "code", "mean", "lower", "upper", "fitted", "fitted_lower", "fitted_upper",
                "residual"]]


# ---------------------------------------------------------------------------- projection stages
def scenario_cover(scenarios: pd.DataFrame, history_codes, start: int) -> dict[str, int]:
    """Consecutive periods from ``start`` that each scenario (with the history) covers."""
    hist_codes = set(np.asarray(history_codes).tolist())
    cover = {}
    for name, fr in scenarios.groupby("scenario", sort=False):
        have = hist_codes | set(fr["code"].tolist())
        h = 0
        while start + h in have:
            h += 1
        cover[name] = h
    return cover


def residual_paths(process: dict, last_residual: np.ndarray, gap: int, n_periods: int,
                   rng: np.random.Generator) -> np.ndarray:
    """Residual draws ``(draws, n_periods)``: AR(1) from the last in-window residual, or iid.

    ``gap`` is the number of periods between the last fitted period and the forecast start.
    """
    n_draws = len(last_residual)
    shocks = rng.standard_normal((n_draws, n_periods))
    out = np.empty((n_draws, n_periods))
    ar1 = process["kind"] == "ar1"
    e = last_residual * process["phi"] ** (gap + 1) if ar1 else np.zeros(n_draws)
    for h in range(n_periods):
        if ar1:
            e = (e if h == 0 else process["phi"] * e) + process["innovation_sd"] * shocks[:, h]
        else:
            e = process["innovation_sd"] * shocks[:, h]
        out[:, h] = e
    return out


# ---------------------------------------------------------------------------- the result
def frame_to_json(df: pd.DataFrame) -> dict:
    """A table as ``{"columns": [...], "data": {column: list}}`` (column order kept)."""
    return {"columns": list(df.columns), "data": {c: df[c].tolist() for c in df.columns}}


def frame_from_json(d: dict) -> pd.DataFrame:
    """The table written by :func:`frame_to_json`."""
    return pd.DataFrame({c: d["data"][c] for c in d["columns"]}, columns=d["columns"])


@dataclass(frozen=True, eq=False)
class MacroResult:
    """A fitted macro model of H(t): coefficients, diagnostics, window lines and projections.

    Produced by :meth:`MacroModel.fit` (``MacroModel(...).fit(apc_result, history).result_``);
    saved and loaded as JSON (:meth:`save`, :meth:`load`), and a loaded result projects
    scenarios exactly as the fitted one.

    Parameters
    ----------
    settings, drivers, lags, freq, terms, coefficients, coef_draws, diagnostics, driver_lines, environment_line, residual_process, last_residual, draw_index, codes, last_period, t_centre, macro_history, fitted, credible_level, identification, provenance
        As the attributes.

    Attributes
    ----------
    settings : dict
        The :class:`MacroModel` settings.
    drivers : list of str
        Driver columns.
    lags : tuple of int
        Lags of every driver.
    freq : {"M", "Q"}
        Frequency of the APC result (quarterly: drivers averaged over quarters).
    terms : list of str
        Regression terms (``const``, ``trend``, lagged drivers, dummies).
    coefficients : pandas.DataFrame
        ``term, estimate, std_error, p_value`` (point fit to the posterior mean of H) and
        ``mean, sd, lower, upper`` of the coefficient draws (APC posterior + regression).
    coef_draws : pandas.DataFrame
        Coefficient draws, one row per used APC draw.
    diagnostics : dict
        R², partial R² of the drivers, Durbin–Watson, Ljung–Box, residual AR(1), window.
    driver_lines, environment_line : dict
        Least-squares lines over the fit window (``value_at_centre``, ``slope``) of each
        lagged driver and of H.
    residual_process : dict
        ``kind, phi, innovation_sd, marginal_sd`` of the residuals added to projections.
    last_residual : ndarray
        Last in-window residual per draw (start of the AR(1) residual paths).
    draw_index : ndarray
        APC draws used.
    codes : ndarray
        Period codes of the fit window.
    last_period : int
        Last period of the APC window (projections start after it).
    t_centre : float
        Centre of the fit window (the trend is ``t - t_centre``).
    macro_history : pandas.DataFrame
        The macro history at the APC frequency (``month, code, <drivers>``).
    fitted : pandas.DataFrame
        H (posterior mean and band) and the fitted values over the window.
    credible_level : float
    identification : dict
        The APC result's identification statement.
    provenance : dict
        Settings hash, library versions, time.

    Examples
    --------
    See :class:`MacroModel` (fit, project, and a JSON round trip with :meth:`save` and
    :meth:`load`).
    """

    settings: dict
    drivers: list
    lags: tuple
    freq: str
    terms: list
    coefficients: pd.DataFrame
    coef_draws: pd.DataFrame
    diagnostics: dict
    driver_lines: dict
    environment_line: dict
    residual_process: dict
    last_residual: np.ndarray
    draw_index: np.ndarray
    codes: np.ndarray
    last_period: int
    t_centre: float
    macro_history: pd.DataFrame
    fitted: pd.DataFrame
    credible_level: float
    identification: dict
    provenance: dict = field(default_factory=dict)
    driver_report: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    driver_specs: list = field(default_factory=list)
    raw_history: pd.DataFrame | None = None
    sources: dict = field(default_factory=dict)

    @property
    def specs(self) -> list[DriverSpec]:
        """The declared drivers (raw series, transformations, expected sign)."""
        return [DriverSpec(d["name"], tuple(filter(None, d["transform"].split(","))), d["expected_sign"])
                for d in self.driver_specs]

    @property
    def lagged_names(self) -> list[str]:
        """Regressor names of the lagged drivers."""
        return self._design.lagged_names

    @property
    def _design(self) -> _Design:
        return _Design(tuple(self.drivers), tuple(self.lags), self.freq, self.settings["detrend"],
                       bool(self.settings["seasonality"]), self.t_centre)

    # ------------------------------------------------------------------ project
    def project(self, scenarios, horizon: int | None = None, *, random_state: int | None = None,
                frequency: str = "auto", quarterly: str = "hold") -> ScenarioProjection:
        """Draws of H over the forecast months for every scenario.

        Parameters
        ----------
        scenarios : str, pathlib.Path or pandas.DataFrame
            ``scenario, month, <driver columns>`` (see :mod:`apcfair.forecast.scenarios`).
        horizon : int, optional
            Forecast periods after the APC window (default: as many as every scenario
            covers).
        random_state : int, optional
            Seed of the residual innovations (shared by all scenarios); default: the
            macro model's own ``random_state`` (so that a seeded model projects the same
            draws every run).
        frequency, quarterly : str
            How to read the scenario months (see :func:`read_scenarios`).

        Returns
        -------
        ScenarioProjection
        """
        if random_state is None:
            random_state = self.settings.get("random_state")
        specs = self.specs
        if any(sp.transforms for sp in specs):
            raw = list(dict.fromkeys(sp.name for sp in specs))
            sc = read_scenarios(scenarios, drivers=raw, frequency=frequency, quarterly=quarterly)
            sc = transform_scenarios(sc, self.raw_history, [sp for sp in specs if sp.column in self.drivers])
        else:
            sc = read_scenarios(scenarios, drivers=self.drivers, frequency=frequency, quarterly=quarterly)
        sc = to_model_frequency(sc, self.freq, self.drivers)
        start = self.last_period + 1
        horizon = self._checked_horizon(sc, start, horizon)
        codes = np.arange(start, start + horizon, dtype=np.int64)
        rng = np.random.default_rng(random_state)
        gap = start - 1 - int(self.codes[-1])
        resid = residual_paths(self.residual_process, self.last_residual, gap, horizon, rng)
        coef = self.coef_draws.to_numpy()
        design = self._design
        draws, paths = {}, []
        hold = self._hold_adjustment(codes)
        for name, fr in sc.groupby("scenario", sort=False):
            lagged = design.lagged(self.macro_history, fr, codes, f"scenario {name!r}")
            draws[str(name)] = coef @ design.frame(codes, lagged).to_numpy().T + resid + hold
            paths.append(fr[fr["code"].isin(codes)])
        s = self.settings
        trend = self.driver_trend
        return ScenarioProjection(
            codes=codes, freq=self.freq, draws=draws, draw_index=self.draw_index,
            source=f"macro ({s['method']})", credible_level=self.credible_level,
            drivers=pd.concat(paths, ignore_index=True).drop(columns="code"),
            history=self.fitted[["month", "code", "mean", "lower", "upper", "fitted"]].copy(),
            notes={"method": f"macro model ({s['method']}), drivers {self.lagged_names}, "
                             f"detrend={s['detrend']}, residuals={s['residuals']}",
                   "drivers": [dict(d) for d in self.driver_report], "warnings": list(self.warnings),
                   "driver_trend": DRIVER_TREND_TEXT[trend], "driver_trend_setting": trend,
                   "driver_specs": [dict(d) for d in self.driver_specs]},
        )

    @property
    def driver_trend(self) -> str:
        """``"extend"`` or ``"hold"`` (``"none"`` with ``detrend="none"``): see :class:`MacroModel`."""
        if self.settings.get("detrend") != "consistent":
            return "none"
        return self.settings.get("driver_trend", "extend")

    def _hold_adjustment(self, codes: np.ndarray) -> np.ndarray:
        """``(draws, periods)`` added to H for ``driver_trend="hold"``: ``sum_k b_k s_k (t - t_last)``.

        With consistent detrending H(t) = L_H(t) + sum_k b_k (x_k(t) - L_k(t)) + ...; holding
        each driver's window line L_k at its last fitted period replaces ``L_k(t)`` by
        ``L_k(t_last)``, i.e. adds ``b_k s_k (t - t_last)`` (``s_k`` the line's slope).
        """
        coef = self.coef_draws
        if self.driver_trend != "hold":
            return np.zeros((len(coef), 1))
        slopes = np.array([self.driver_lines[n]["slope"] for n in self.lagged_names])
        beta = coef[self.lagged_names].to_numpy()
        return (beta @ slopes)[:, None] * (np.asarray(codes) - int(self.codes[-1]))[None, :]

    def _checked_horizon(self, sc: pd.DataFrame, start: int, horizon: int | None) -> int:
        cover = scenario_cover(sc, self.macro_history["code"], start)
        short = min(cover, key=cover.get)
        horizon = int(cover[short] if horizon is None else horizon)
        if horizon < 1 or cover[short] < horizon:
            start_txt = format_period([start], self.freq)[0]
            need = format_period([start + max(horizon, 1) - 1], self.freq)[0]
            fr = sc[sc["scenario"] == short]
            raise ValueError(
                f"scenario {short!r} covers {fr['month'].iloc[0]} to {fr['month'].iloc[-1]}; the forecast "
                f"runs from {start_txt} to {need} (horizon {max(horizon, 1)}): extend the scenario paths"
            )
        return horizon

    # ------------------------------------------------------------------ reports
    def summary(self) -> Summary:
        """Coefficient table, diagnostics and the detrending statement (text and HTML)."""
        d = self.diagnostics
        s = self.settings
        rp = self.residual_process
        cl = int(round(self.credible_level * 100))
        tab = self.coefficients.rename(columns={"lower": f"lower_{cl}", "upper": f"upper_{cl}",
                                                "mean": "draws_mean", "sd": "draws_sd"})
        detrend = ("consistent: linear time trend included, i.e. H and every regressor detrended by "
                   "their least-squares lines over the fit window; projections extend the same lines"
                   if s["detrend"] == "consistent" else "none (no trend term)")
        setup = "\n".join([
            f"Method: {s['method']}   covariance: {d['cov_type']}   window: {d['window'][0]} to "
            f"{d['window'][1]} ({d['n_obs']} periods)   APC draws: {d['n_draws']}",
            f"Drivers: {', '.join(self.drivers)}   lags: {list(self.lags)}   "
            f"seasonality: {s['seasonality']}",
            f"Detrending: {detrend}.",
            f"Driver trend beyond the window: {DRIVER_TREND_TEXT[self.driver_trend]}.",
            *[f"Driver {d['column']}: {d['definition']}" for d in self.driver_specs if d["transform"]],
            "APC identification: " + self.identification.get("text", ""),
        ])
        fit = [
            f"R2 {d['r2']:.3f}   adj. R2 {d['r2_adj']:.3f}   partial R2 of the drivers "
            f"{d['partial_r2_drivers']:.3f}   AIC {d['aic']:.1f}",
            f"Durbin-Watson {d['durbin_watson']:.3f}   residual AR(1) {d['residual_ar1']:.3f}   "
            f"residual sd {d['residual_sd']:.4f}",
            f"Ljung-Box ({d['ljung_box_on']}, lag {d['ljung_box_lag']}): Q = {d['ljung_box_stat']:.1f}, "
            f"p = {d['ljung_box_pvalue']:.3g}",
            f"Projection residuals: {rp['kind']} (phi {rp['phi']:.3f}, "
            f"innovation sd {rp['innovation_sd']:.4f})",
            *[f"NOTE: {n}" for n in d["notes"]],
        ]
        env = self.environment_line
        lines = ["Window lines (value at centre, slope per period):",
                 f"  H: {env['value_at_centre']:+.4f}, {env['slope']:+.6f}"]
        lines += [f"  {k}: {v['value_at_centre']:+.4f}, {v['slope']:+.6f}"
                  for k, v in self.driver_lines.items()]
        caption = (f"Coefficients (estimate/std_error/p_value: fit to the posterior mean of H; "
                   f"draws_*: {cl}% bands over APC draws + regression uncertainty)")
        blocks = [setup]
        if self.driver_report:
            drv = pd.DataFrame(self.driver_report)
            blocks.append((f"Drivers (logit of H per unit of the driver; lower/upper: {cl}% band over the draws; "
                           "p_value: fit to the posterior mean of H)", drv))
        if self.warnings:
            blocks.append("DRIVER WARNINGS:\n" + "\n".join(f"  ! {w}" for w in self.warnings))
        seasonal = self.coefficients[self.coefficients["term"].str.startswith(("month_", "quarter_"))
                                     & ~self.coefficients["term"].isin(self.lagged_names)]
        if len(seasonal):
            blocks.append(f"Month-of-year dummies: {len(seasonal)} terms, smallest p-value "
                          f"{seasonal['p_value'].min():.3g} (seasonal pattern of H, not evidence for any driver)")
        return Summary.from_blocks("Macro model of the environment H(t)",
                                   blocks + [(caption, tab), "\n".join(fit), "\n".join(lines)])

    def to_json_dict(self) -> dict:
        """Coefficients, diagnostics and settings as JSON-ready values."""
        return {"coefficients": self.coefficients.to_dict(orient="records"),
                "drivers": self.driver_report, "warnings": self.warnings,
                "diagnostics": self.diagnostics, "settings": self.settings,
                "driver_lines": self.driver_lines, "environment_line": self.environment_line,
                "residual_process": self.residual_process}

    def to_dict(self) -> dict:
        """Everything :meth:`load` needs to rebuild the result (projections included)."""
        return {
            "kind": type(self).__name__, "format_version": FORMAT_VERSION,
            **self.to_json_dict(),
            "coefficients": frame_to_json(self.coefficients),
            "drivers": list(self.drivers), "lags": list(self.lags), "freq": self.freq,
            "terms": list(self.terms), "coef_draws": frame_to_json(self.coef_draws),
            "last_residual": self.last_residual, "draw_index": self.draw_index, "codes": self.codes,
            "last_period": int(self.last_period), "t_centre": float(self.t_centre),
            "macro_history": frame_to_json(self.macro_history), "fitted": frame_to_json(self.fitted),
            "credible_level": float(self.credible_level), "identification": self.identification,
            "provenance": self.provenance, "driver_report": self.driver_report, "warnings": self.warnings,
            "driver_specs": self.driver_specs, "sources": self.sources,
            "raw_history": None if self.raw_history is None else frame_to_json(self.raw_history),
        }

    @classmethod
    def from_dict(cls, d: dict) -> MacroResult:
        """Rebuild a result from :meth:`to_dict`."""
        return cls(
            settings=dict(d["settings"]), drivers=list(d["drivers"]), lags=tuple(d["lags"]),
            freq=d["freq"], terms=list(d["terms"]), coefficients=frame_from_json(d["coefficients"]),
            coef_draws=frame_from_json(d["coef_draws"]), diagnostics=d["diagnostics"],
            driver_lines=d["driver_lines"], environment_line=d["environment_line"],
            residual_process=d["residual_process"],
            last_residual=np.asarray(d["last_residual"], dtype=float),
            draw_index=np.asarray(d["draw_index"], dtype=np.int64),
            codes=np.asarray(d["codes"], dtype=np.int64), last_period=int(d["last_period"]),
            t_centre=float(d["t_centre"]), macro_history=frame_from_json(d["macro_history"]),
            fitted=frame_from_json(d["fitted"]), credible_level=float(d["credible_level"]),
            identification=d["identification"], provenance=d.get("provenance", {}),
            driver_report=list(d.get("driver_report", [])), warnings=list(d.get("warnings", [])),
            driver_specs=list(d.get("driver_specs", [])), sources=dict(d.get("sources", {})),
            raw_history=None if d.get("raw_history") is None else frame_from_json(d["raw_history"]))

    def save(self, path: str | Path) -> Path:
        """Write the result as JSON (never pickle); :meth:`load` reads it back."""
        return save_json(self.to_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> MacroResult:
        """Read a result written by :meth:`save`."""
        return cls.from_dict(load_json(path, cls.__name__))

    def plot_fit(self, ax=None):
        """H over the fit window (posterior mean and band) with the macro model's fit."""
        from apcfair.forecast.plots import plot_macro_fit

        return plot_macro_fit(self, ax=ax)


# ---------------------------------------------------------------------------- the estimator
class _FromResult:
    """A fitted attribute read from ``result_`` (``model.coefficients_`` is
    ``model.result_.coefficients``); raises :class:`NotFittedError` before ``fit``."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name
        self.source = name[:-1]

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return getattr(obj.result_, self.source)


class MacroModel(ParamsMixin, FittedResultMixin):
    """Regression of the APC environment H(t) on macro drivers.

    ``fit`` returns the model; its :class:`MacroResult` (``result_``) holds the
    coefficients and diagnostics and projects scenarios (:meth:`MacroResult.project`).

    Parameters
    ----------
    drivers : str or sequence of str, optional
        Declared drivers ``NAME[:TRANSFORM...][:+|-]`` (default: every column of the macro
        history, as it is): ``NAME`` a column of the raw series, transformations as in
        :mod:`apcfair.forecast.transforms` (``unemployment_rate:diff12:+``, ``hpi:yoy,lag3:-``);
        the transformed driver is named ``NAME_TRANSFORM...``.
    expected_signs : mapping, optional
        ``{driver: "+" | "-"}`` for drivers declared without a sign.
    on_wrong_sign : {"warn", "drop", "error"}
        A coefficient whose sign contradicts the expected one: warn, drop the driver and
        refit, or raise.
    significance : float
        A driver whose ``p_value`` exceeds it gets a warning.
    lags : sequence of int
        Lags (in periods) of every driver; ``(0,)`` is contemporaneous only,
        ``(0, 3, 6)`` adds the values three and six months earlier.
    seasonality : bool
        Add month-of-year (quarter) dummies.
    detrend : {"consistent", "none"}
        ``"consistent"``: include a linear time trend, i.e. detrend H and every regressor
        by its least-squares line over the fit window and extend the same lines in
        projections (see the module docstring). ``"none"``: no trend term.
    driver_trend : {"extend", "hold"}
        The drivers' trends beyond the fit window (with ``detrend="consistent"``): ``"extend"``
        (default) extends each driver's least-squares line over the window into the scenario,
        so a driver raises H only above its extended trend; ``"hold"`` holds each line at its
        value in the last fitted period (H's own line, set by the APC identification, still
        extends, which keeps PDs invariant to the identification). Under ``"extend"``,
        constant drivers move H by ``-sum_k b_k s_k`` per period (``s_k`` the window slope of
        driver ``k``); under ``"hold"`` they do not. Shown in the summary and ``stress.json``.
    method : {"ols", "arimax"}
        Least squares, or maximum likelihood with AR(1) errors (SARIMAX).
    residuals : {"ar1", "iid", "none"}
        Residual process added to projections.
    cov_type : {"ar1", "HAC", "nonrobust"}
        OLS coefficient covariance. ``"ar1"`` (default): sandwich ``A Omega A'`` with
        ``A = (X'X)^-1 X'`` and ``Omega`` the AR(1) covariance of the residuals (lag-1
        autocorrelation and variance estimated from them); the residuals of a smoothed H
        are strongly autocorrelated, and in simulations with AR(1) residuals its 95% bands
        cover about 88-90% where Newey–West (``"HAC"``, 4 lags) covers 78-88%. Ignored by ``"arimax"``.
    hac_maxlags : int, optional
        Newey–West lags with ``cov_type="HAC"`` (default ``floor(4 (n/100)^(2/9))``).
    n_draws : int, optional
        Use a random subset of this many APC draws (default: all).
    random_state : int, optional
        Seed of the coefficient perturbations and the draw subset.

    Attributes
    ----------
    result_ : MacroResult
        The fit (raises :class:`~apcfair.errors.NotFittedError` before :meth:`fit`).
    results_ : statsmodels results
        The point fit to the posterior mean of H.
    drivers_, terms_, coefficients_, coef_draws_, diagnostics_, driver_lines_, environment_line_, fitted_, draw_index_, last_period_, t_centre_
        Shortcuts to the same-named attributes of ``result_`` (without the ``_``).

    Examples
    --------
    Fit an APC model on a small synthetic portfolio (2006-2012, so the window holds a
    recession), regress its environment on the macro history and project three
    scenarios (the files ``macro_history.csv`` and ``scenarios.csv`` of ``apcfair synth``
    work the same way):

    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> apc_result = APCModel(hyper="eb", n_draws=200, random_state=0).fit(portfolio).result_
    >>> from apcfair.forecast import MacroModel
    >>> model = MacroModel(drivers=["unemployment_change", "gdp_growth"], random_state=0)
    >>> macro = model.fit(apc_result, synth.macro_history).result_
    >>> macro.coefficients["term"].tolist()[:4]
    ['const', 'trend', 'unemployment_change', 'gdp_growth']
    >>> beta = macro.coefficients.set_index("term").loc["unemployment_change", "estimate"]
    >>> bool(beta > 0)  # rising unemployment raises H(t)
    True
    >>> print(macro.summary().splitlines()[0])
    Macro model of the environment H(t)
    >>> proj = macro.project(synth.scenarios, horizon=36, random_state=0)
    >>> proj.scenarios, proj.horizon, proj.months[0]
    (['baseline', 'adverse', 'severely_adverse'], 36, '2013-01')
    >>> h = proj.summary_frame().groupby("scenario")["mean"].mean()
    >>> bool(h["baseline"] < h["adverse"] < h["severely_adverse"])
    True

    The result is saved as JSON (never pickle) and a loaded result projects the same draws:

    >>> import pathlib, tempfile
    >>> from apcfair.forecast import MacroResult
    >>> path = macro.save(pathlib.Path(tempfile.mkdtemp()) / "macro.json")
    >>> again = MacroResult.load(path).project(synth.scenarios, horizon=36, random_state=0)
    >>> bool((again["adverse"] == proj["adverse"]).all())
    True
    """

    drivers_ = _FromResult()
    terms_ = _FromResult()
    coefficients_ = _FromResult()
    coef_draws_ = _FromResult()
    diagnostics_ = _FromResult()
    driver_lines_ = _FromResult()
    environment_line_ = _FromResult()
    fitted_ = _FromResult()
    draw_index_ = _FromResult()
    last_period_ = _FromResult()
    t_centre_ = _FromResult()

    def __init__(self, drivers=None, lags=(0,), seasonality: bool = True, detrend: str = "consistent",
                 method: str = "ols", residuals: str = "ar1", cov_type: str = "ar1",
                 hac_maxlags: int | None = None, n_draws: int | None = None,
                 expected_signs=None, on_wrong_sign: str = "warn", significance: float = 0.05,
                 driver_trend: str = "extend", random_state: int | None = None):
        self.drivers = drivers
        self.driver_trend = driver_trend
        self.expected_signs = expected_signs
        self.on_wrong_sign = on_wrong_sign
        self.significance = significance
        self.lags = lags
        self.seasonality = seasonality
        self.detrend = detrend
        self.method = method
        self.residuals = residuals
        self.cov_type = cov_type
        self.hac_maxlags = hac_maxlags
        self.n_draws = n_draws
        self.random_state = random_state

    def _check(self) -> tuple[int, ...]:
        check_option("detrend", self.detrend, Detrend)
        check_option("method", self.method, MacroMethod)
        check_option("residuals", self.residuals, ResidualProcess)
        check_option("cov_type", self.cov_type, CovType)
        check_option("on_wrong_sign", self.on_wrong_sign, OnWrongSign)
        check_option("driver_trend", self.driver_trend, DriverTrend)
        if not 0 < self.significance < 1:
            raise ValueError(f"significance={self.significance!r} must be between 0 and 1")
        return _checked_lags(self.lags)

    def fit(self, apc_result, macro_history) -> MacroModel:
        """Regress the APC environment on the macro history.

        Stages: read the history at the APC frequency, choose the fit window and build the
        design (:func:`fit_window`), fit the posterior mean of H (:func:`fit_ols` or
        :func:`fit_arimax`), refit every APC draw and perturb (:func:`coefficient_draws`),
        then tables and diagnostics.

        Parameters
        ----------
        apc_result : APCResult
            Fitted APC model (its ``environment`` draws and period labels).
        macro_history : str, pathlib.Path or pandas.DataFrame
            ``month, <driver columns>`` (see :mod:`apcfair.forecast.scenarios`).

        Returns
        -------
        MacroModel
            ``self``, with the :class:`MacroResult` in ``result_``.
        """
        lags = self._check()
        specs = None if self.drivers is None else parse_drivers(self.drivers, self.expected_signs)
        raw = None if specs is None else list(dict.fromkeys(s.name for s in specs))
        raw_hist = read_macro_history(macro_history, drivers=raw)
        if specs is None:
            given = {str(k): str(v) for k, v in dict(self.expected_signs or {}).items()}
            specs = [DriverSpec(c, (), given.get(c)) for c in raw_hist.attrs["drivers"]]
        transformed = any(s.transforms for s in specs)
        hist = transform_history(raw_hist, specs) if transformed else raw_hist
        self._specs, self._raw_history = specs, (raw_hist if transformed else None)
        self._sources = dict(raw_hist.attrs.get("sources", {}))
        signs = {s.column: s.sign for s in specs if s.sign}
        drivers = [s.column for s in specs]
        dropped: list[str] = []
        while True:
            self._fit_drivers(apc_result, hist, drivers, lags)
            report, warn = driver_report(self._result, signs, self.significance, chosen=self.drivers is not None,
                                         specs=specs, sources=self._sources)
            wrong = [d["term"] for d in report if d["wrong_sign"]]
            if not wrong or self.on_wrong_sign == "warn":
                break
            if self.on_wrong_sign == "error":
                raise ValueError("; ".join(w for w in warn if "wrong sign" in w)
                                 + " (on_wrong_sign='error'; CLI --on-wrong-sign)")
            keep = [d for d in drivers if d not in {r["driver"] for r in report if r["wrong_sign"]}]
            if not keep:
                raise ValueError(f"every driver has the wrong sign ({', '.join(wrong)}); nothing left to fit "
                                 "(check the expected signs and the drivers' definitions)")
            dropped += [r["driver"] for r in report if r["wrong_sign"] and r["driver"] not in dropped]
            drivers = keep
        warn = [*(f"driver {d} dropped: wrong sign (on_wrong_sign='drop')" for d in dropped), *warn]
        for w in warn:
            warnings.warn(w, UserWarning, stacklevel=2)
        kept = [sp for sp in specs if sp.column in drivers]
        self._result = replace(self._result, driver_report=[{k: v for k, v in d.items() if k != "driver"}
                                                            for d in report], warnings=warn,
                               driver_specs=[sp.to_dict() for sp in kept],
                               raw_history=self._raw_history, sources=self._sources)
        return self

    def _fit_drivers(self, apc_result, hist: pd.DataFrame, drivers: list[str], lags: tuple[int, ...]) -> None:
        """One fit of H on ``drivers`` (sets ``result_``)."""
        freq = apc_result.freq
        history = to_model_frequency(hist, freq, drivers)
        design = _Design(tuple(drivers), lags, freq, self.detrend, bool(self.seasonality))
        periods = np.asarray(apc_result.labels["environment"], dtype=np.int64)
        codes = fit_window(periods, history["code"].to_numpy(np.int64), design)
        design = _Design(tuple(drivers), lags, freq, self.detrend, bool(self.seasonality),
                         float(codes.mean()))
        lagged = design.lagged(history, None, codes, "macro history")
        _check_not_constant(lagged, design.lagged_names)
        X = design.frame(codes, lagged)
        terms = list(X.columns)
        Xv = X.to_numpy()

        rng = np.random.default_rng(self.random_state)
        idx = draw_subset(apc_result.n_draws, self.n_draws, rng)
        in_window = np.searchsorted(periods, codes)
        env_draws = np.asarray(apc_result.draws["environment"], dtype=float)[idx][:, in_window]
        y = env_draws.mean(axis=0)
        point = fit_ols(y, X, self.cov_type, self.hac_maxlags) if self.method == "ols" else fit_arimax(y, X)

        consistent = self.detrend == "consistent"
        slope = environment_slope(apc_result)[idx] if consistent else np.zeros(len(idx))
        t_grid = float(periods.mean())
        coef, resid = coefficient_draws(env_draws, Xv, point, slope, codes, t_grid, rng)
        if consistent:
            restore_slope(coef, terms, slope, design.t_centre, t_grid)

        cl = apc_result.credible_level
        notes = []
        if len(codes) < len(periods):
            notes.append(f"fit window {len(codes)} of the APC window's {len(periods)} periods "
                         "(macro history or lags do not cover the rest)")
        window = format_period([codes[0], codes[-1]], freq)
        driver_lines, environment_line = window_lines(codes, lagged, design.lagged_names, y,
                                                      design.t_centre, freq)
        settings = self.get_params()
        self.results_ = point.results
        self._result = MacroResult(
            settings=settings, drivers=drivers, lags=lags, freq=freq, terms=terms,
            coefficients=coefficient_table(terms, point, coef, cl),
            coef_draws=pd.DataFrame(coef, columns=terms),
            diagnostics=fit_diagnostics(y, Xv, point, terms=terms, lagged_names=design.lagged_names,
                                        method=self.method, cov_type=self.cov_type, n_draws=len(idx),
                                        window=window, notes=notes),
            driver_lines=driver_lines, environment_line=environment_line,
            residual_process=residual_process(self.residuals, point),
            last_residual=resid[:, -1].copy(), draw_index=idx, codes=codes,
            last_period=int(periods[-1]), t_centre=design.t_centre, macro_history=history,
            fitted=fitted_frame(apc_result, codes, Xv, coef, y, point.estimate, cl),
            credible_level=cl, identification=dict(apc_result.identification),
            provenance=provenance(settings))

    # ------------------------------------------------------------------ shortcuts to result_
    def project(self, scenarios, horizon: int | None = None, *, random_state: int | None = None,
                frequency: str = "auto", quarterly: str = "hold") -> ScenarioProjection:
        """:meth:`MacroResult.project` of ``result_``."""
        return self.result_.project(scenarios, horizon, random_state=random_state, frequency=frequency,
                                    quarterly=quarterly)

    def summary(self) -> Summary:
        """:meth:`MacroResult.summary` of ``result_``."""
        return self.result_.summary()

    def to_json_dict(self) -> dict:
        """:meth:`MacroResult.to_json_dict` of ``result_``."""
        return self.result_.to_json_dict()

    def plot_fit(self, ax=None):
        """:meth:`MacroResult.plot_fit` of ``result_``."""
        return self.result_.plot_fit(ax=ax)
