"""The Bayesian age-period-cohort model: settings, identification and engines.

Model
-----
For cells of vintage ``v``, age ``a`` and period ``t = v + a`` with ``d`` defaults out of
``n`` accounts at risk::

    d ~ Binomial(n, p),   logit p = mu + F(a) + G(v) + H(t) [+ eps_cell]

(``Poisson(n * exp(...))`` with ``likelihood="poisson"``). F, G and H have first- or
second-order random-walk priors with Gamma hyperpriors on their precisions (Schmid &
Held 2007); all three are centred to mean zero over their grids, so ``mu`` is the
overall level. The optional cell effect ``eps ~ N(0, 1/tau_cell)`` models
overdispersion (BAMP's heterogeneity term).

Identification
--------------
Because ``t = v + a``, one linear trend can be moved freely between the three
functions without changing a single fitted rate. apcfair separates the identified
nonlinear parts exactly (projection onto functions orthogonal to linear ones, Holford
1983) and allocates the trend by an explicit assumption that becomes part of the
result:

``"no_period_trend"`` (default)
    H(t) has no linear trend over the fit window (the lending literature's choice).
``"no_vintage_trend"``
    G(v) has no linear trend.
``"fixed_period_slope"``
    H(t) has the user's slope ``period_slope`` (logit per period).

The wording, the trend algebra and the identification-invariant offsets live in
:mod:`apcfair.apc.identification`.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from apcfair._options import Engine, HyperMethod, Likelihood, TrendAssumption, check_option
from apcfair._provenance import provenance
from apcfair.apc._design import (
    COMPONENTS,
    CellData,
    Parametrisation,
    cell_data_from_table,
    deviance,
    find_mode,
    loglik_constant,
)
from apcfair.apc.results import build_result
from apcfair.errors import DataValidationError, NotFittedError


def _as_cell_data(data, freq: str | None) -> tuple[CellData, pd.DataFrame, dict | None]:
    from apcfair.portfolio import Cells, Portfolio

    lineage = None
    if isinstance(data, Portfolio):
        data = data.cells()
    if isinstance(data, Cells):
        lineage = data.lineage.to_dict()
        freq = data.freq
        table = data.table
    elif isinstance(data, pd.DataFrame):
        table = data
    else:
        raise TypeError(f"APCModel.fit expects a Portfolio, Cells or DataFrame, got {type(data).__name__}")
    cd = cell_data_from_table(table, freq or "M")
    t = table.rename(columns={"events": "defaults", "exposure": "at_risk"})
    t = t[t["at_risk"] > 0][["vintage", "age", "period", "defaults", "at_risk"]].reset_index(drop=True)
    return cd, t, lineage


def _account_likelihood(portfolio, table: pd.DataFrame, cd: CellData, account_offset):
    """Account-month rows (cell index, offset, outcome) for :class:`AccountLikelihood`."""
    from apcfair.apc._design import AccountLikelihood

    loans = portfolio.loans
    s = np.asarray(account_offset, dtype=float)
    if s.shape != (len(loans),):
        raise ValueError(f"account_offset has {s.size} values; the portfolio has {len(loans)} accounts")
    if not np.isfinite(s).all():
        raise ValueError(f"account_offset has {int((~np.isfinite(s)).sum())} non-finite values")
    grid = np.full((cd.n_vintage, cd.n_age), -1, dtype=np.int64)
    grid[table["vintage"].to_numpy() - cd.vintage_min, table["age"].to_numpy() - cd.age_min] = np.arange(len(table))
    if portfolio.panel is not None:
        panel = portfolio.panel
        acct = pd.Index(loans["account_id"]).get_indexer(panel["account_id"])
        v, age = panel["vintage"].to_numpy(np.int64), panel["age"].to_numpy(np.int64)
        y = panel["default"].to_numpy(float)
    else:
        v0 = loans["vintage"].to_numpy(np.int64)
        a0 = loans["first_month"].to_numpy(np.int64) - v0
        a1 = loans["last_month"].to_numpy(np.int64) - v0
        lengths = np.maximum(a1 - a0 + 1, 0)
        acct = np.repeat(np.arange(len(loans)), lengths)
        starts = np.cumsum(lengths) - lengths
        age = a0[acct] + (np.arange(len(acct)) - starts[acct])
        v = v0[acct]
        y = ((age == a1[acct]) & (loans["default"].to_numpy()[acct] == 1)).astype(float)
    cell = grid[v - cd.vintage_min, age - cd.age_min]
    if (cell < 0).any():  # pragma: no cover - cells come from the same portfolio
        raise AssertionError("account-month outside the cell grid")
    return AccountLikelihood(cell.astype(np.int32), s[acct], y, len(table))


class APCModel:
    """Bayesian age-period-cohort model for vintage default rates.

    Parameters
    ----------
    likelihood : {"binomial", "poisson"}
        Binomial cells (defaults out of accounts at risk; default) or Poisson counts
        with exposure (rates, as in epidemiology).
    rw_order : int or tuple of int
        Random-walk order (1 or 2) for all components or per component
        ``(lifecycle, vintage, environment)``.
    identification : {"no_period_trend", "no_vintage_trend", "fixed_period_slope"}
        How the unidentified linear trend is allocated (see the module docstring).
    period_slope : float
        The environment's slope per period with ``identification="fixed_period_slope"``.
    engine : {"laplace", "nuts", "ml"}
        ``"laplace"``: fast Gaussian approximation with hyperparameters on a grid
        (default). ``"nuts"``: exact sampling with PyMC. ``"ml"``: classical maximum
        likelihood of the factor APC model (no priors), for comparison with published
        results.
    hyper : {"grid", "eb", "fixed"}
        Laplace engine: integrate precisions over a grid (INLA-like), plug in their
        empirical-Bayes mode, or use ``precisions``.
    precisions : dict, optional
        Fixed precisions ``{"lifecycle": .., "vintage": .., "environment": .., "cell": ..}``.
    precision_prior : tuple of float
        Gamma ``(shape, rate)`` hyperprior of each precision.
    overdispersion : bool
        Add a cell-level random effect.
    seasonal : bool, optional
        Add fixed month-of-year (quarter-of-year) effects to the environment, which
        random-walk smoothing would otherwise flatten. Default: on for monthly or
        quarterly data spanning at least three years of periods. H(t) reported by the
        result includes them; ``result.seasonal_effects()`` shows them alone.
    n_draws : int
        Posterior draws kept (Laplace) or per chain (NUTS).
    credible_level : float
        Width of the reported bands.
    nuts_tune, nuts_chains, target_accept : int, int, float
        NUTS settings.
    random_state : int, optional
        Seed for every random step.
    progress : bool
        Show progress bars.

    Attributes
    ----------
    result_ : APCResult
        The fitted result (also available as :attr:`result`).
    inference_data_ : arviz.InferenceData
        The PyMC trace (``engine="nuts"`` only).

    Examples
    --------
    Fit the fast Laplace engine on the cells of a small synthetic portfolio (five years
    of monthly vintages):

    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2015-01", end="2019-12"))
    >>> cells = load_portfolio(synth.loans).cells()
    >>> model = APCModel(n_draws=200, random_state=0).fit(cells)
    >>> model.result_
    APCResult(engine='laplace', cells=1770, draws=200, identification='no_period_trend')
    >>> lifecycle = model.result_.lifecycle  # F(a) on the logit scale, with bands
    >>> list(lifecycle.columns)
    ['index', 'code', 'mean', 'median', 'sd', 'lower', 'upper']
    >>> bool((lifecycle["lower"] <= lifecycle["mean"]).all())
    True

    Hold out the last six months, refit and score the projection:

    >>> bt = APCModel(n_draws=200, random_state=0).backtest(cells, holdout=6)
    >>> len(bt), sorted(bt.attrs["scores"])
    (6, ['coverage', 'mae_rate', 'mean_abs_pct_error', 'periods'])

    The classical maximum-likelihood factor model, for comparison:

    >>> APCModel(engine="ml").fit(cells).result_.diagnostics["converged"]
    True
    """

    def __init__(self, likelihood: str = "binomial", rw_order=2, identification: str = "no_period_trend",
                 period_slope: float = 0.0, engine: str = "laplace", hyper: str = "grid",
                 precisions: dict | None = None, precision_prior: tuple[float, float] = (1.0, 5e-4),
                 overdispersion: bool = False, n_draws: int = 1000, credible_level: float = 0.95,
                 nuts_tune: int = 1000, nuts_chains: int = 4, target_accept: float = 0.9,
                 fixed_effect_precision: float = 1e-4, seasonal: bool | None = None,
                 random_state: int | None = None, progress: bool = False):
        self.likelihood = likelihood
        self.rw_order = rw_order
        self.identification = identification
        self.period_slope = period_slope
        self.engine = engine
        self.hyper = hyper
        self.precisions = precisions
        self.precision_prior = precision_prior
        self.overdispersion = overdispersion
        self.n_draws = n_draws
        self.credible_level = credible_level
        self.nuts_tune = nuts_tune
        self.nuts_chains = nuts_chains
        self.target_accept = target_accept
        self.fixed_effect_precision = fixed_effect_precision
        self.seasonal = seasonal
        self.random_state = random_state
        self.progress = progress

    def get_params(self) -> dict:
        """Settings as a dictionary (stored with every result)."""
        keys = ("likelihood", "rw_order", "identification", "period_slope", "engine", "hyper",
                "precisions", "precision_prior", "overdispersion", "n_draws", "credible_level",
                "nuts_tune", "nuts_chains", "target_accept", "fixed_effect_precision", "seasonal", "random_state")
        return {k: getattr(self, k) for k in keys}

    def _validate(self):
        check_option("likelihood", self.likelihood, Likelihood)
        check_option("identification", self.identification, TrendAssumption)
        check_option("engine", self.engine, Engine)
        check_option("hyper", self.hyper, HyperMethod)
        orders = self.rw_order if isinstance(self.rw_order, tuple | list) else (self.rw_order,) * 3
        if len(orders) != 3 or any(o not in (1, 2) for o in orders):
            raise ValueError(f"rw_order={self.rw_order!r}: use 1, 2 or a tuple of three of them")
        if not 0 < self.credible_level < 1:
            raise ValueError(f"credible_level={self.credible_level!r} must be between 0 and 1")
        return tuple(int(o) for o in orders)

    def fit(self, data, *, freq: str | None = None, account_offset=None) -> APCModel:
        """Fit the model.

        Parameters
        ----------
        data : Portfolio, Cells or pandas.DataFrame
            A portfolio (aggregated to cells first), its cells, or a cell table with
            columns ``age, vintage, period, defaults, at_risk`` (integer labels with
            ``period = vintage + age``).
        freq : {"M", "Q"}, optional
            Period frequency for a raw DataFrame.
        account_offset : array-like of float, optional
            A fixed logit offset per account (one per row of ``portfolio.loans``), e.g.
            the credit score of a score model fitted with this model's offsets. The
            likelihood then runs over account-months (``eta = mu + F + G + H + s_i``)
            instead of cells, which removes the frailty selection of cell-level fits:
            riskier accounts leave a vintage first, so a cell-level lifecycle falls too
            fast at high ages. Needs a Portfolio, the Laplace engine and the binomial
            likelihood; precisions come from a cell-level empirical-Bayes fit (or
            ``precisions`` with ``hyper="fixed"``) and are then held fixed.

        Returns
        -------
        APCModel
            ``self``, with ``result_`` (an :class:`~apcfair.apc.APCResult`).

        Examples
        --------
        A raw cell table (integer labels, ``period = vintage + age``) works too:

        >>> import numpy as np, pandas as pd
        >>> from apcfair.apc import APCModel
        >>> rng = np.random.default_rng(0)
        >>> cells = pd.DataFrame([(v, a, v + a) for v in range(24) for a in range(1, 25 - v)],
        ...                      columns=["vintage", "age", "period"])
        >>> cells["at_risk"] = 500
        >>> cells["defaults"] = rng.binomial(500, 0.01, size=len(cells))
        >>> res = APCModel(n_draws=100, random_state=0).fit(cells, freq="M").result_
        >>> res.n_draws, len(res.lifecycle), len(res.vintage), len(res.environment)
        (100, 24, 24, 24)
        """
        orders = self._validate()
        account_lik = None
        if account_offset is not None:
            from apcfair.portfolio import Portfolio

            if not isinstance(data, Portfolio):
                raise TypeError("account_offset needs a Portfolio (accounts), not cells")
            if self.engine != "laplace" or self.likelihood != "binomial" or self.overdispersion:
                raise ValueError("account_offset works with engine='laplace', likelihood='binomial' "
                                 "and no overdispersion")
            portfolio = data
        cd, table, lineage = _as_cell_data(data, freq)
        if account_offset is not None:
            account_lik = _account_likelihood(portfolio, table, cd, account_offset)
        if self.likelihood == "binomial" and (cd.events > cd.exposure).any():
            n = int((cd.events > cd.exposure).sum())
            raise DataValidationError([f"{n} cells have more defaults than accounts at risk; "
                                       "use likelihood='poisson' for counts with exposure"])
        for c, n_grid in zip(COMPONENTS, cd.grid_sizes, strict=True):
            if n_grid < 3:
                raise DataValidationError([f"the {c} grid has {n_grid} points; an APC model needs at least 3"])
        rng = np.random.default_rng(self.random_state)
        period = {"M": 12, "Q": 4}.get(cd.freq)
        use_seasonal = self.seasonal if self.seasonal is not None else (period is not None and cd.n_period >= 3 * period)
        if self.engine == "ml":
            use_seasonal = False  # the factor model's period dummies already contain any seasonal pattern
        par = Parametrisation(cd, orders, seasonal_period=period if use_seasonal else None)
        t0 = time.perf_counter()
        with threadpool_limits(limits=1, user_api="blas"):
            if self.engine == "laplace" and account_lik is not None:
                precisions = self.precisions
                if self.hyper != "fixed":
                    cell_fit = self._fit_laplace(par, rng, hyper="eb")
                    precisions = {k.replace("precision_", ""): float(np.mean(v)) for k, v in cell_fit[1].items()}
                z_draws, hyper_draws, diagnostics, mode_z = self._fit_laplace(
                    par, rng, hyper="fixed", precisions=precisions, account_lik=account_lik)
                diagnostics["account_offsets"] = {
                    "accounts": int(len(np.asarray(account_offset))), "account_months": int(len(account_lik.c)),
                    "precisions": precisions,
                    "precisions_from": "given" if self.hyper == "fixed" else "cell-level empirical Bayes"}
            elif self.engine == "laplace":
                z_draws, hyper_draws, diagnostics, mode_z = self._fit_laplace(par, rng)
            elif self.engine == "ml":
                z_draws, hyper_draws, diagnostics, mode_z = self._fit_ml(par, rng)
        if self.engine == "nuts":
            from apcfair.apc._pymc import fit_nuts

            z_draws, hyper_draws, diagnostics, idata = fit_nuts(
                par, self.likelihood, shape=self.precision_prior[0], rate=self.precision_prior[1],
                fixed_precision=self.fixed_effect_precision, overdispersion=self.overdispersion,
                draws=self.n_draws, tune=self.nuts_tune, chains=self.nuts_chains,
                target_accept=self.target_accept, random_seed=self.random_state, progress=self.progress,
            )
            mode_z = z_draws.mean(axis=0)
            self.inference_data_ = idata
        diagnostics["fit_seconds"] = round(time.perf_counter() - t0, 3)
        eta_hat = par.eta(mode_z)
        diagnostics["deviance_at_mode"] = (deviance(cd.events, cd.exposure, eta_hat, self.likelihood)
                                           if account_lik is None else None)
        diagnostics["n_cells"] = cd.n_cells
        self.result_ = build_result(
            par=par, z_draws=z_draws, hyper_draws=hyper_draws, table=table, likelihood=self.likelihood,
            identification=self.identification, period_slope=self.period_slope, engine=self.engine,
            credible_level=self.credible_level, diagnostics=diagnostics, lineage=lineage,
            provenance=provenance(self.get_params()), orders=orders,
            cell_rate=account_lik.mean_rate if account_lik is not None else None,
        )
        return self

    @property
    def result(self):
        """The fitted :class:`~apcfair.apc.APCResult`."""
        if not hasattr(self, "result_"):
            raise NotFittedError("APCModel is not fitted yet: call fit(cells) first")
        return self.result_

    # -- engines -----------------------------------------------------------------
    def _fit_laplace(self, par, rng, hyper=None, precisions=None, account_lik=None):
        from apcfair.apc._laplace import fit_laplace

        hyper = hyper or self.hyper
        precisions = precisions if precisions is not None else self.precisions
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=(4 if self.overdispersion else 3) ** 3, desc="APC hyperparameter grid", leave=False)
        fit = fit_laplace(par, self.likelihood, hyper=hyper, precisions=precisions, account_lik=account_lik,
                          shape=self.precision_prior[0], rate=self.precision_prior[1],
                          fixed_precision=self.fixed_effect_precision, overdispersion=self.overdispersion,
                          n_draws=self.n_draws, rng=rng, progress=bar)
        if bar is not None:
            bar.close()
        return fit.z_draws, fit.hyper_draws, fit.diagnostics, fit.mode.z

    def _fit_ml(self, par, rng):
        cd = par.data
        q = np.zeros(par.p)
        rate0 = max(cd.events.sum(), 0.5) / cd.exposure.sum()
        z0 = np.zeros(par.p)
        z0[0] = np.log(rate0 / (1 - rate0)) if self.likelihood == "binomial" else np.log(rate0)
        q[par.fixed_mask] = 0.0
        mode = find_mode(par, self.likelihood, q, z0, tol=1e-12, max_iter=100)
        from apcfair.apc._design import draw_latent

        z_draws = draw_latent(mode, self.n_draws, rng)
        dev = deviance(cd.events, cd.exposure, par.eta(mode.z), self.likelihood)
        diagnostics = {
            "engine": "ml",
            "converged": mode.converged,
            "iterations": mode.iterations,
            "deviance": dev,
            "df_residual": int(cd.n_cells - par.p),
            "n_parameters": int(par.p),
            "loglik": mode.loglik + loglik_constant(cd.events, cd.exposure, self.likelihood),
            "note": "classical factor APC model by maximum likelihood; bands from the "
                    "asymptotic normal distribution of the estimates",
        }
        self.ml_mode_ = mode
        return z_draws, {}, diagnostics, mode.z

    # -- backtest ------------------------------------------------------------------
    def backtest(self, data, holdout: int = 12, *, freq: str | None = None) -> pd.DataFrame:
        """Hold out the last ``holdout`` periods, refit, project them and score.

        Held-out cells are predicted with the fitted lifecycle, vintage and environment
        functions; beyond the fitted ranges, functions are continued by their random walk
        (new vintages, later periods, older ages), so bands widen with the horizon.

        Returns
        -------
        pandas.DataFrame
            One row per held-out period: ``period``, ``observed_rate``, ``predicted_rate``,
            ``lower``, ``upper``, ``at_risk``, ``defaults``, ``predicted_defaults``.
            ``attrs["scores"]`` holds the MAE of rates, the log score of the defaults
            and the coverage of the bands.
        """
        from apcfair.portfolio import Cells, Portfolio

        if isinstance(data, Portfolio):
            data = data.cells()
        table = data.table if isinstance(data, Cells) else data
        freq = data.freq if isinstance(data, Cells) else (freq or "M")
        last = int(table["period"].max())
        train = table[table["period"] <= last - holdout]
        test = table[table["period"] > last - holdout]
        res = self.fit(train, freq=freq).result_
        return res.score_cells(test)
