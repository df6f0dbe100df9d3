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
of the seasonal term (``environment_line_``, ``driver_lines_``). Under
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

import numpy as np
import pandas as pd
from scipy import stats

from apcfair._options import check_option
from apcfair.errors import NotFittedError
from apcfair.forecast._extrapolate import environment_slope
from apcfair.forecast._options import CovType, Detrend, MacroMethod, ResidualProcess
from apcfair.forecast.scenarios import (
    ScenarioProjection,
    driver_path,
    environment_history,
    read_macro_history,
    read_scenarios,
    to_model_frequency,
)
from apcfair.portfolio.periods import PERIODS_PER_YEAR, format_period


def _lag_name(driver: str, lag: int) -> str:
    return driver if lag == 0 else f"{driver}_lag{lag}"


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares (value at mean x, slope)."""
    xc = x - x.mean()
    return float(y.mean()), float((xc * (y - y.mean())).sum() / (xc * xc).sum())


class MacroModel:
    """Regression of the APC environment H(t) on macro drivers, with scenario projections.

    Parameters
    ----------
    drivers : sequence of str, optional
        Driver columns of the macro history (default: all of them).
    lags : sequence of int
        Lags (in periods) of every driver; ``(0,)`` is contemporaneous only,
        ``(0, 3, 6)`` adds the values three and six months earlier.
    seasonality : bool
        Add month-of-year (quarter) dummies.
    detrend : {"consistent", "none"}
        ``"consistent"``: include a linear time trend, i.e. detrend H and every regressor
        by its least-squares line over the fit window and extend the same lines in
        projections (see the module docstring). ``"none"``: no trend term.
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
    drivers_, terms_ : list of str
        Drivers and regression terms (``const``, ``trend``, lagged drivers, dummies).
    results_ : statsmodels results
        The point fit to the posterior mean of H.
    coefficients_ : pandas.DataFrame
        ``term, estimate, std_error, p_value`` (point fit) and ``mean, sd, lower, upper``
        of the coefficient draws (APC posterior + regression uncertainty).
    coef_draws_ : pandas.DataFrame
        Coefficient draws, one row per used APC draw.
    diagnostics_ : dict
        R², partial R² of the drivers, Durbin–Watson, Ljung–Box, residual AR(1), window.
    driver_lines_, environment_line_ : dict
        Least-squares lines over the fit window (``value_at_centre``, ``slope``) of each
        lagged driver and of H.
    fitted_ : pandas.DataFrame
        H (posterior mean and band) and the fitted values over the window.
    draw_index_ : ndarray
        APC draws used.

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
    >>> mm = MacroModel(drivers=["unemployment_change", "gdp_growth"], random_state=0)
    >>> mm = mm.fit(apc_result, synth.macro_history)
    >>> mm.coefficients_["term"].tolist()[:4]
    ['const', 'trend', 'unemployment_change', 'gdp_growth']
    >>> beta = mm.coefficients_.set_index("term").loc["unemployment_change", "estimate"]
    >>> bool(beta > 0)  # rising unemployment raises H(t)
    True
    >>> print(mm.summary().splitlines()[0])
    Macro model of the environment H(t)
    >>> proj = mm.project(synth.scenarios, horizon=36, random_state=0)
    >>> proj.scenarios, proj.horizon, proj.months[0]
    (['baseline', 'adverse', 'severely_adverse'], 36, '2013-01')
    >>> h = proj.summary_frame().groupby("scenario")["mean"].mean()
    >>> bool(h["baseline"] < h["adverse"] < h["severely_adverse"])
    True
    """

    def __init__(self, drivers=None, lags=(0,), seasonality: bool = True, detrend: str = "consistent",
                 method: str = "ols", residuals: str = "ar1", cov_type: str = "ar1",
                 hac_maxlags: int | None = None, n_draws: int | None = None,
                 random_state: int | None = None):
        self.drivers = drivers
        self.lags = lags
        self.seasonality = seasonality
        self.detrend = detrend
        self.method = method
        self.residuals = residuals
        self.cov_type = cov_type
        self.hac_maxlags = hac_maxlags
        self.n_draws = n_draws
        self.random_state = random_state

    def get_params(self) -> dict:
        """Settings as a dictionary."""
        return {k: getattr(self, k) for k in ("drivers", "lags", "seasonality", "detrend", "method",
                                              "residuals", "cov_type", "hac_maxlags", "n_draws",
                                              "random_state")}

    # ------------------------------------------------------------------ fit
    def _check(self) -> tuple[int, ...]:
        check_option("detrend", self.detrend, Detrend)
        check_option("method", self.method, MacroMethod)
        check_option("residuals", self.residuals, ResidualProcess)
        check_option("cov_type", self.cov_type, CovType)
        lags = (self.lags,) if np.isscalar(self.lags) else tuple(self.lags)
        if not lags or any(int(v) != v or v < 0 for v in lags) or len(set(lags)) != len(lags):
            raise ValueError(f"lags={self.lags!r}: give distinct non-negative integers, e.g. (0,) or (0, 3, 6)")
        return tuple(sorted(int(v) for v in lags))

    def _lagged(self, table: pd.DataFrame | None, scenario: pd.DataFrame | None, codes: np.ndarray,
                what: str) -> np.ndarray:
        cols = []
        for d in self.drivers_:
            for lag in self.lags_:
                cols.append(driver_path(table, scenario, [d], codes - lag, what)[:, 0])
        return np.column_stack(cols) if cols else np.empty((len(codes), 0))

    def _design(self, codes: np.ndarray, lagged: np.ndarray) -> pd.DataFrame:
        out = {"const": np.ones(len(codes))}
        if self.detrend == "consistent":
            out["trend"] = codes - self.t_centre_
        for j, name in enumerate(self.lagged_names_):
            out[name] = lagged[:, j]
        if self.seasonality:
            n_per = PERIODS_PER_YEAR[self.freq_]
            pos = codes % n_per
            unit = "month" if self.freq_ == "M" else "quarter"
            for k in range(1, n_per):
                out[f"{unit}_{k + 1:02d}"] = (pos == k).astype(float)
        return pd.DataFrame(out)

    def fit(self, apc_result, macro_history) -> MacroModel:
        """Regress the APC environment on the macro history.

        Parameters
        ----------
        apc_result : APCResult
            Fitted APC model (its ``environment`` draws and period labels).
        macro_history : str, pathlib.Path or pandas.DataFrame
            ``month, <driver columns>`` (see :mod:`apcfair.forecast.scenarios`).

        Returns
        -------
        MacroModel
            ``self``.
        """
        import statsmodels.api as sm
        from statsmodels.stats.diagnostic import acorr_ljungbox
        from statsmodels.stats.stattools import durbin_watson

        self.lags_ = self._check()
        hist = read_macro_history(macro_history, drivers=self.drivers)
        self.drivers_ = list(hist.attrs["drivers"])
        self.freq_ = apc_result.freq
        self.history_ = to_model_frequency(hist, self.freq_, self.drivers_)
        self.lagged_names_ = [_lag_name(d, lag) for d in self.drivers_ for lag in self.lags_]
        periods = np.asarray(apc_result.labels["environment"], dtype=np.int64)
        have = self.history_["code"].to_numpy(np.int64)
        ok = np.ones(len(periods), dtype=bool)
        for lag in self.lags_:
            ok &= np.isin(periods - lag, have)
        codes = periods[ok]
        n_terms = 1 + (self.detrend == "consistent") + len(self.lagged_names_) + \
            (PERIODS_PER_YEAR[self.freq_] - 1) * bool(self.seasonality)
        if len(codes) < n_terms + 5:
            span = format_period([periods[0], periods[-1]], self.freq_)
            hspan = format_period([have[0], have[-1]], self.freq_) if len(have) else ["-", "-"]
            raise ValueError(
                f"the macro history ({hspan[0]} to {hspan[1]}) overlaps the APC window ({span[0]} to "
                f"{span[1]}) in {len(codes)} period(s) with all lags available; the model has "
                f"{n_terms} terms and needs at least {n_terms + 5}"
            )
        self.codes_ = codes
        self.last_period_ = int(periods[-1])
        self.t_centre_ = float(codes.mean())
        lagged = self._lagged(self.history_, None, codes, "macro history")
        for j, name in enumerate(self.lagged_names_):
            if np.ptp(lagged[:, j]) == 0:
                raise ValueError(f"driver {name!r} is constant over the fit window; drop it (drivers=...)")
        X = self._design(codes, lagged)
        self.terms_ = list(X.columns)
        rng = np.random.default_rng(self.random_state)
        S_all = apc_result.n_draws
        if self.n_draws is not None and int(self.n_draws) < S_all:
            idx = np.sort(rng.choice(S_all, int(self.n_draws), replace=False))
        else:
            idx = np.arange(S_all)
        self.draw_index_ = idx
        pos = np.searchsorted(periods, codes)
        Y = np.asarray(apc_result.draws["environment"], dtype=float)[idx][:, pos]
        y = Y.mean(axis=0)
        Xv = X.to_numpy()
        n, p = Xv.shape
        notes = []
        if len(codes) < len(periods):
            notes.append(f"fit window {len(codes)} of the APC window's {len(periods)} periods "
                         "(macro history or lags do not cover the rest)")
        # ---- point fit
        if self.method == "ols":
            if self.cov_type == "HAC":
                maxlags = (self.hac_maxlags if self.hac_maxlags is not None
                           else int(np.floor(4 * (n / 100) ** (2 / 9))))
                res = sm.OLS(y, X).fit(cov_type="HAC", cov_kwds={"maxlags": maxlags})
            else:
                res = sm.OLS(y, X).fit()
            u = np.asarray(res.resid)
            phi = float(np.clip(np.corrcoef(u[1:], u[:-1])[0, 1], 0.0, 0.99))
            sd_u = float(np.sqrt(res.ssr / res.df_resid))
            if self.cov_type == "ar1":
                A = np.linalg.pinv(Xv)
                lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
                V = A @ (sd_u**2 * phi**lag) @ A.T
                se = np.sqrt(np.diag(V))
                pvalues = 2 * stats.norm.sf(np.abs(np.asarray(res.params) / se))
            else:
                V = np.asarray(res.cov_params())
                se = np.asarray(res.bse)
                pvalues = np.asarray(res.pvalues)
            sd_eps = sd_u * np.sqrt(1 - phi**2)
            innov = u
            gls_phi = 0.0
            aic = float(res.aic)
        else:
            from statsmodels.tsa.statespace.sarimax import SARIMAX

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = SARIMAX(y, exog=X, order=(1, 0, 0), trend="n").fit(disp=False)
            names = list(res.params.index)
            V = np.asarray(res.cov_params())[:p, :p]
            phi = float(np.clip(np.asarray(res.params)[names.index("ar.L1")], -0.99, 0.99))
            sd_eps = float(np.sqrt(np.asarray(res.params)[names.index("sigma2")]))
            sd_u = sd_eps / np.sqrt(1 - phi**2)
            beta = np.asarray(res.params)[:p]
            u = y - Xv @ beta
            innov = np.asarray(res.resid)[1:]
            gls_phi = phi
            aic = float(res.aic)
            pvalues = np.asarray(res.pvalues)[:p]
            se = np.sqrt(np.diag(V))
        self.results_ = res
        if self.residuals == "iid":
            phi_proj, sd_proj = 0.0, sd_u
        elif self.residuals == "none":
            phi_proj, sd_proj = 0.0, 0.0
        else:
            phi_proj, sd_proj = phi, sd_eps
        self.residual_process_ = {"kind": self.residuals, "phi": phi_proj, "innovation_sd": sd_proj,
                                  "marginal_sd": sd_u}
        # ---- draw-wise refits (the design is the same for every draw)
        # Work in the frame where H has no linear trend over the APC grid (per-draw slope b
        # removed), so that the spread C, hence the perturbation, does not depend on the
        # identification; the slope goes back into the trend and constant afterwards.
        slope = np.zeros(len(idx))
        if self.detrend == "consistent":
            slope = environment_slope(apc_result)[idx]
        t_grid = float(periods.mean())
        Y0 = Y - slope[:, None] * (codes - t_grid)[None, :]
        if gls_phi:
            Xs, Ys = Xv[1:] - gls_phi * Xv[:-1], Y0[:, 1:] - gls_phi * Y0[:, :-1]
        else:
            Xs, Ys = Xv, Y0
        B = np.linalg.lstsq(Xs, Ys.T, rcond=None)[0].T  # (S, p)
        U = Y0 - B @ Xv.T
        # V comes from the residuals of the posterior-mean fit, which contain the APC
        # estimation error already represented by the spread C of the per-draw
        # coefficients: add only the positive part of V - C (total ~ the larger of both)
        C = np.cov(B, rowvar=False) if len(B) > 1 else np.zeros((p, p))
        D = (V + V.T) / 2 - C
        w, Q = np.linalg.eigh((D + D.T) / 2)
        Lchol = Q * np.sqrt(np.clip(w, 0, None))
        coef = B + rng.standard_normal(B.shape) @ Lchol.T
        if self.detrend == "consistent":
            coef[:, self.terms_.index("trend")] += slope
            coef[:, self.terms_.index("const")] += slope * (self.t_centre_ - t_grid)
        self.coef_draws_ = pd.DataFrame(coef, columns=self.terms_)
        self.last_residual_ = U[:, -1].copy()
        # ---- tables
        cl = apc_result.credible_level
        self.credible_level_ = cl
        a = (1 - cl) / 2
        est = np.asarray(res.params)[:p]
        self.coefficients_ = pd.DataFrame({
            "term": self.terms_, "estimate": est, "std_error": se, "p_value": pvalues,
            "mean": coef.mean(axis=0), "sd": coef.std(axis=0, ddof=1),
            "lower": np.quantile(coef, a, axis=0), "upper": np.quantile(coef, 1 - a, axis=0)})
        # partial R2 of the drivers (beyond constant, trend and seasonality)
        keep = [j for j, t in enumerate(self.terms_) if t not in self.lagged_names_]
        b_r = np.linalg.lstsq(Xv[:, keep], y, rcond=None)[0]
        ssr_r = float(((y - Xv[:, keep] @ b_r) ** 2).sum())
        ssr = float((u**2).sum())
        sst = float(((y - y.mean()) ** 2).sum())
        lb_lag = int(min(12, max(1, n // 5)))
        lb = acorr_ljungbox(innov, lags=[lb_lag], return_df=True)
        self.diagnostics_ = {
            "method": self.method,
            "cov_type": self.cov_type if self.method == "ols" else "ML (observed information)",
            "n_obs": int(n), "n_terms": int(p), "n_draws": int(len(idx)),
            "window": format_period([codes[0], codes[-1]], self.freq_),
            "r2": 1 - ssr / sst if sst > 0 else float("nan"),
            "r2_adj": 1 - (ssr / (n - p)) / (sst / (n - 1)) if sst > 0 else float("nan"),
            "partial_r2_drivers": 1 - ssr / ssr_r if ssr_r > 0 else float("nan"),
            "durbin_watson": float(durbin_watson(u)),
            "ljung_box_lag": lb_lag,
            "ljung_box_stat": float(lb["lb_stat"].iloc[0]),
            "ljung_box_pvalue": float(lb["lb_pvalue"].iloc[0]),
            "ljung_box_on": "OLS residuals" if self.method == "ols" else "ARIMAX innovations",
            "residual_ar1": phi,
            "residual_sd": sd_u,
            "aic": aic,
            "notes": notes,
        }
        tc = codes.astype(float)
        self.driver_lines_ = {}
        for j, name in enumerate(self.lagged_names_):
            c, s = _line(tc, lagged[:, j])
            self.driver_lines_[name] = {"value_at_centre": c, "slope": s}
        c, s = _line(tc, y)
        self.environment_line_ = {"value_at_centre": c, "slope": s, "centre": format_period(
            [int(round(self.t_centre_))], self.freq_)[0]}
        self.identification_ = dict(apc_result.identification)
        fit_draws = coef @ Xv.T
        env = environment_history(apc_result).set_index("code").loc[codes].reset_index()
        self.fitted_ = env.assign(fitted=fit_draws.mean(axis=0), fitted_lower=np.quantile(fit_draws, a, axis=0),
                                  fitted_upper=np.quantile(fit_draws, 1 - a, axis=0),
                                  residual=y - Xv @ est)
        self.fitted_ = self.fitted_[["month", "code", "mean", "lower", "upper", "fitted", "fitted_lower",
                                     "fitted_upper", "residual"]]
        return self

    def _check_fitted(self):
        if not hasattr(self, "coef_draws_"):
            raise NotFittedError("MacroModel is not fitted yet: call fit(apc_result, macro_history) first")

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
            Seed of the residual innovations (shared by all scenarios).
        frequency, quarterly : str
            How to read the scenario months (see :func:`read_scenarios`).

        Returns
        -------
        ScenarioProjection
        """
        self._check_fitted()
        sc = read_scenarios(scenarios, drivers=self.drivers_, frequency=frequency, quarterly=quarterly)
        sc = to_model_frequency(sc, self.freq_, self.drivers_)
        start = self.last_period_ + 1
        hist_codes = set(self.history_["code"].tolist())
        cover = {}
        for name, fr in sc.groupby("scenario", sort=False):
            have = hist_codes | set(fr["code"].tolist())
            h = 0
            while start + h in have:
                h += 1
            cover[name] = h
        short = min(cover, key=cover.get)
        if horizon is None:
            horizon = cover[short]
        horizon = int(horizon)
        start_txt = format_period([start], self.freq_)[0]
        if horizon < 1 or cover[short] < horizon:
            need = format_period([start + max(horizon, 1) - 1], self.freq_)[0]
            fr = sc[sc["scenario"] == short]
            raise ValueError(
                f"scenario {short!r} covers {fr['month'].iloc[0]} to {fr['month'].iloc[-1]}; the forecast "
                f"runs from {start_txt} to {need} (horizon {max(horizon, 1)}): extend the scenario paths"
            )
        codes = np.arange(start, start + horizon, dtype=np.int64)
        rng = np.random.default_rng(random_state)
        S = len(self.draw_index_)
        E = rng.standard_normal((S, horizon))
        rp = self.residual_process_
        resid = np.empty((S, horizon))
        gap = start - 1 - int(self.codes_[-1])
        e = self.last_residual_ * rp["phi"] ** (gap + 1) if rp["kind"] == "ar1" else np.zeros(S)
        for h in range(horizon):
            if rp["kind"] == "ar1":
                e = (e if h == 0 else rp["phi"] * e) + rp["innovation_sd"] * E[:, h]
            else:
                e = rp["innovation_sd"] * E[:, h]
            resid[:, h] = e
        coef = self.coef_draws_.to_numpy()
        draws, paths = {}, []
        for name, fr in sc.groupby("scenario", sort=False):
            lagged = self._lagged(self.history_, fr, codes, f"scenario {name!r}")
            Xf = self._design(codes, lagged).to_numpy()
            draws[str(name)] = coef @ Xf.T + resid
            paths.append(fr[fr["code"].isin(codes)])
        return ScenarioProjection(
            codes=codes, freq=self.freq_, draws=draws, draw_index=self.draw_index_,
            source=f"macro ({self.method})", credible_level=self.credible_level_,
            drivers=pd.concat(paths, ignore_index=True).drop(columns="code"), history=self.fitted_[["month", "code", "mean", "lower", "upper", "fitted"]].copy(),
            notes={"method": f"macro model ({self.method}), drivers {self.lagged_names_}, "
                             f"detrend={self.detrend}, residuals={self.residuals}"},
        )

    # ------------------------------------------------------------------ reports
    def summary(self) -> str:
        """Coefficient table, diagnostics and the detrending statement as plain text."""
        self._check_fitted()
        d = self.diagnostics_
        cl = int(round(self.credible_level_ * 100))
        tab = self.coefficients_.copy()
        tab = tab.rename(columns={"lower": f"lower_{cl}", "upper": f"upper_{cl}", "mean": "draws_mean",
                                  "sd": "draws_sd"})
        detrend = ("consistent: linear time trend included, i.e. H and every regressor detrended by "
                   "their least-squares lines over the fit window; projections extend the same lines"
                   if self.detrend == "consistent" else "none (no trend term)")
        lines = [
            "Macro model of the environment H(t)",
            "=" * 72,
            f"Method: {self.method}   covariance: {d['cov_type']}   window: {d['window'][0]} to "
            f"{d['window'][1]} ({d['n_obs']} periods)   APC draws: {d['n_draws']}",
            f"Drivers: {', '.join(self.drivers_)}   lags: {list(self.lags_)}   "
            f"seasonality: {self.seasonality}",
            f"Detrending: {detrend}.",
            "APC identification: " + self.identification_.get("text", ""),
            "",
            f"Coefficients (estimate/std_error/p_value: fit to the posterior mean of H; "
            f"draws_*: {cl}% bands over APC draws + regression uncertainty)",
            tab.to_string(index=False, float_format=lambda x: f"{x:.4g}"),
            "",
            f"R2 {d['r2']:.3f}   adj. R2 {d['r2_adj']:.3f}   partial R2 of the drivers "
            f"{d['partial_r2_drivers']:.3f}   AIC {d['aic']:.1f}",
            f"Durbin-Watson {d['durbin_watson']:.3f}   residual AR(1) {d['residual_ar1']:.3f}   "
            f"residual sd {d['residual_sd']:.4f}",
            f"Ljung-Box ({d['ljung_box_on']}, lag {d['ljung_box_lag']}): Q = {d['ljung_box_stat']:.1f}, "
            f"p = {d['ljung_box_pvalue']:.3g}",
            f"Projection residuals: {self.residual_process_['kind']} (phi {self.residual_process_['phi']:.3f}, "
            f"innovation sd {self.residual_process_['innovation_sd']:.4f})",
        ]
        lines += [f"NOTE: {n}" for n in d["notes"]]
        lines += ["", "Window lines (value at centre, slope per period):",
                  f"  H: {self.environment_line_['value_at_centre']:+.4f}, {self.environment_line_['slope']:+.6f}"]
        for k, v in self.driver_lines_.items():
            lines.append(f"  {k}: {v['value_at_centre']:+.4f}, {v['slope']:+.6f}")
        return "\n".join(lines)

    def to_json_dict(self) -> dict:
        """Coefficients, diagnostics and settings as JSON-ready values."""
        self._check_fitted()
        return {"coefficients": self.coefficients_.to_dict(orient="records"),
                "diagnostics": self.diagnostics_, "settings": self.get_params(),
                "driver_lines": self.driver_lines_, "environment_line": self.environment_line_,
                "residual_process": self.residual_process_}

    def plot_fit(self, ax=None):
        """H over the fit window (posterior mean and band) with the macro model's fit."""
        self._check_fitted()
        from apcfair.forecast.plots import plot_macro_fit

        return plot_macro_fit(self, ax=ax)

