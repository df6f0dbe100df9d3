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
import warnings
from typing import Literal

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from apcfair._base import FittedResultMixin, ParamsMixin
from apcfair._options import Engine, HyperMethod, Likelihood, TrendAssumption, check_option
from apcfair._provenance import provenance
from apcfair.apc._design import (
    COMPONENTS,
    AccountLikelihood,
    CellData,
    Parametrisation,
    cell_data_from_table,
    deviance,
    draw_latent,
    empty_levels,
    find_mode,
    initial_latent,
    loglik_constant,
)
from apcfair.apc._laplace import fit_laplace
from apcfair.apc._submodels import submodel_deviances
from apcfair.apc.results import build_result
from apcfair.errors import DataValidationError
from apcfair.portfolio import Cells, CellTable, Portfolio, read_cell_table
from apcfair.portfolio.periods import PERIODS_PER_YEAR


def _as_cell_data(data, freq: str | None) -> tuple[CellData, pd.DataFrame, dict | None, CellTable | None]:
    """Engine cells, the tidy cell table (positive exposure only), the lineage and the cell table of ``data``.

    A DataFrame with an ``events`` column and no ``vintage`` column is an events/exposure
    table and is read by :func:`~apcfair.portfolio.read_cell_table`; other frames are
    credit cells with integer ``vintage, age, period`` codes (months unless ``freq``).
    """
    lineage = None
    cell_table = None
    if isinstance(data, Portfolio):
        data = data.cells()
    if isinstance(data, pd.DataFrame) and "vintage" not in data and ("events" in data or "cohort" in data):
        data = read_cell_table(data)
    if isinstance(data, CellTable):
        cell_table = data
        freq = "cells"
        table = data.table
    elif isinstance(data, Cells):
        lineage = data.lineage.to_dict()
        freq = data.freq
        table = data.table
    elif isinstance(data, pd.DataFrame):
        table = data
    else:
        raise TypeError("APCModel.fit expects a Portfolio, Cells, CellTable or DataFrame, "
                        f"got {type(data).__name__}")
    table = _integer_labels(table)
    cell_data = cell_data_from_table(table, freq or "M",
                                     age_step=cell_table.periods_per_age if cell_table is not None else 1)
    tidy = table.rename(columns={"events": "defaults", "exposure": "at_risk"})
    keep = ["vintage", "age", "period", "defaults", "at_risk"]
    keep += [c for c in ("age_label", "cohort_label", "period_label") if c in tidy]
    tidy = tidy[tidy["at_risk"] > 0][keep].reset_index(drop=True)
    return cell_data, tidy, lineage, cell_table


def _integer_labels(table: pd.DataFrame) -> pd.DataFrame:
    """``age, vintage, period`` as int64: float columns holding whole numbers are converted,
    fractional labels refused."""
    out = None
    for col in ("age", "vintage", "period"):
        if col in table and not pd.api.types.is_integer_dtype(table[col]):
            values = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
            bad = ~np.isfinite(values) | (np.abs(values - np.round(values)) > 1e-9)
            if bad.any():
                raise DataValidationError([f"column {col!r}: {int(bad.sum())} labels are missing or not whole "
                                           "numbers; cell labels are integer codes"])
            out = table.copy() if out is None else out
            out[col] = np.round(values).astype(np.int64)
    return table if out is None else out


def _account_likelihood(portfolio: Portfolio, table: pd.DataFrame, cell_data: CellData,
                        account_offset) -> AccountLikelihood:
    """Account-month rows (cell index, offset, outcome) for :class:`AccountLikelihood`."""
    loans = portfolio.loans
    offset = np.asarray(account_offset, dtype=float)
    if offset.shape != (len(loans),):
        raise ValueError(f"account_offset has {offset.size} values; the portfolio has {len(loans)} accounts")
    if not np.isfinite(offset).all():
        raise ValueError(f"account_offset has {int((~np.isfinite(offset)).sum())} non-finite values")
    cell_of = np.full((cell_data.n_vintage, cell_data.n_age), -1, dtype=np.int64)
    cell_of[table["vintage"].to_numpy() - cell_data.vintage_min,
            table["age"].to_numpy() - cell_data.age_min] = np.arange(len(table))
    if portfolio.panel is not None:
        panel = portfolio.panel
        account = pd.Index(loans["account_id"]).get_indexer(panel["account_id"])
        vintage, age = panel["vintage"].to_numpy(np.int64), panel["age"].to_numpy(np.int64)
        outcome = panel["default"].to_numpy(float)
    else:
        spells = portfolio.spells()
        months = spells.n_months
        account = np.repeat(np.arange(len(spells)), months)
        starts = np.cumsum(months) - months
        age = spells.first_age[account] + (np.arange(len(account)) - starts[account])
        vintage = spells.vintage[account]
        outcome = ((age == spells.last_age[account]) & spells.defaulted[account]).astype(float)
    cell = cell_of[vintage - cell_data.vintage_min, age - cell_data.age_min]
    if (cell < 0).any():  # pragma: no cover - cells come from the same portfolio
        raise AssertionError("account-month outside the cell grid")
    return AccountLikelihood(cell.astype(np.int32), offset[account], outcome, len(table),
                             n_accounts=len(loans))


def _resolve_likelihood(likelihood: str | None, cell_table: CellTable | None) -> tuple[str, str]:
    """The likelihood used and why: the user's choice, else by input kind."""
    if likelihood is not None:
        return likelihood, "set by the user"
    if cell_table is not None:
        return cell_table.likelihood, ("events with exposure (cell table): Poisson counts, log link"
                                       if cell_table.likelihood == "poisson" else "cell table marked binomial")
    return "binomial", "accounts at risk (credit cells): binomial defaults, logit link"


def _unequal_widths_note(cell_data: CellData, engine: str) -> dict:
    """What an unequal-width grid (``M`` periods per age group) means for the fit, for the diagnostics."""
    m = cell_data.age_step
    how = ("the factor (ML) model cannot separate them: H is constrained to have no such pattern and G "
           "carries them" if engine == "ml" else
           "the random walks' smoothness separates them (as bamp's), not the data")
    return {"periods_per_age_group": m, "n_age_groups": cell_data.n_age, "n_periods": cell_data.n_period,
            "n_cohorts": cell_data.n_vintage,
            "cohort_index": f"{m} * (I - i) + j for age group i of I and period j (from 1), as bamp's coh(); "
                            f"{m} * (I - 1) + J cohorts for a full table",
            "note": f"{m - 1} patterns that repeat every {m} periods move between cohort and period effects "
                    f"without changing a rate (Holford 2006); {how}. Fitted rates and the deviance are unaffected"}


#: How NUTS samples the random-walk coefficients (see :mod:`apcfair.apc._pymc`).
NutsCentring = Literal["auto", "centred", "non_centred"]
#: Fewest events (defaults) an APC fit accepts; fewer leave the level unidentified.
MIN_EVENTS = 10
#: Fewest posterior draws: credible bands from fewer are meaningless.
MIN_DRAWS = 10


class APCModel(ParamsMixin, FittedResultMixin):
    """Bayesian age-period-cohort model for vintage default rates.

    Parameters
    ----------
    likelihood : {"binomial", "poisson"}, optional
        Binomial cells (defaults out of accounts at risk) or Poisson counts with exposure
        (rates, as in epidemiology). Default: by input kind, binomial for a portfolio or its
        cells, Poisson for an events/exposure :class:`~apcfair.portfolio.CellTable`; the
        result states which and why (``diagnostics["likelihood_reason"]``).
    rw_order : int or tuple of int
        Random-walk order (1 or 2) for all components or per component
        ``(lifecycle, vintage, environment)``. Note: here the random walks act on the
        nonlinear parts only, so an RW1 (like an RW2) leaves the linear trend of each
        function unpenalised (in bamp an RW1 shrinks the trend towards zero: a slope ``b``
        adds ``b**2`` to every squared first difference). An RW1 precision here therefore
        measures only the wiggle around the trend; bamp's must also absorb the trend, so for a
        function with a trend bamp's RW1 precision is smaller (and its curve flatter) than
        apcfair's. Precisions of RW1 fits are not comparable with bamp's; RW2 precisions are
        (an RW2 does not penalise a linear trend in either).
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
    fixed_effect_precision : float
        Prior precision of the effects without random-walk prior (intercept, the lifecycle and
        vintage slopes, seasonal effects): vague by default.
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
    nuts_centring : {"auto", "centred", "non_centred"}
        NUTS: how the random-walk coefficients are sampled. ``"auto"`` (default) samples a
        coefficient centred where the data's information about it exceeds its prior precision
        (a quick empirical-Bayes Laplace fit decides) and non-centred otherwise, which avoids
        most divergences on small, data-rich tables (see :mod:`apcfair.apc._pymc`).

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

    The classical maximum-likelihood factor model, for comparison, needs events at every
    level: on this small portfolio some ages have no default, whose effects have no finite
    MLE, so it refuses (ages or cohorts without events at the edge of the grid are dropped
    and reported instead):

    >>> APCModel(engine="ml").fit(cells)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    apcfair.errors.DataValidationError: lifecycle: levels [...] have no events inside the grid
    """

    def __init__(self, likelihood: str | None = None, rw_order=2, identification: str = "no_period_trend",
                 period_slope: float = 0.0, engine: str = "laplace", hyper: str = "grid",
                 precisions: dict | None = None, precision_prior: tuple[float, float] = (1.0, 5e-4),
                 overdispersion: bool = False, n_draws: int = 1000, credible_level: float = 0.95,
                 nuts_tune: int = 1000, nuts_chains: int = 4, target_accept: float = 0.9,
                 fixed_effect_precision: float = 1e-4, seasonal: bool | None = None,
                 random_state: int | None = None, progress: bool = False, nuts_centring: str = "auto"):
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
        self.nuts_centring = nuts_centring

    def _result_settings(self) -> dict:
        """Settings stored with every result (all parameters except ``progress``)."""
        settings = self.get_params(deep=False)
        settings.pop("progress")
        return settings

    def _validate(self):
        if self.likelihood is not None:
            check_option("likelihood", self.likelihood, Likelihood)
        check_option("identification", self.identification, TrendAssumption)
        check_option("engine", self.engine, Engine)
        check_option("hyper", self.hyper, HyperMethod)
        check_option("nuts_centring", self.nuts_centring, NutsCentring)
        orders = self.rw_order if isinstance(self.rw_order, tuple | list) else (self.rw_order,) * 3
        if len(orders) != 3 or any(o not in (1, 2) for o in orders):
            raise ValueError(f"rw_order={self.rw_order!r}: use 1, 2 or a tuple of three of them")
        if not 0 < self.credible_level < 1:
            raise ValueError(f"credible_level={self.credible_level!r} must be between 0 and 1")
        if int(self.n_draws) < MIN_DRAWS:
            raise ValueError(f"n_draws={self.n_draws!r}: credible bands need at least {MIN_DRAWS} draws "
                             "(1,000 recommended); fewer give bands of (almost) zero width")
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
            if not isinstance(data, Portfolio):
                raise TypeError("account_offset needs a Portfolio (accounts), not cells")
            if self.engine != "laplace" or self.likelihood not in (None, "binomial") or self.overdispersion:
                raise ValueError("account_offset works with engine='laplace', likelihood='binomial' "
                                 "and no overdispersion")
        cell_data, table, lineage, cell_table = _as_cell_data(data, freq)
        self.likelihood_, likelihood_reason = _resolve_likelihood(self.likelihood, cell_table)
        if account_offset is not None:
            account_lik = _account_likelihood(data, table, cell_data, account_offset)
        self._check_cells(cell_data)
        empty = empty_levels(cell_data, table)
        notes = []
        if self.engine == "ml" and any(empty.values()):
            cell_data, table, notes = self._drop_empty_levels(table, cell_data, empty)
        par = self._parametrisation(cell_data, orders)
        rng = np.random.default_rng(self.random_state)
        t0 = time.perf_counter()
        z_draws, hyper_draws, diagnostics, mode_z = self._run_engine(par, rng, account_lik)
        diagnostics["fit_seconds"] = round(time.perf_counter() - t0, 3)
        diagnostics["deviance_at_mode"] = (
            deviance(cell_data.events, cell_data.exposure, par.eta(mode_z), self.likelihood_)
            if account_lik is None else None)
        diagnostics["n_cells"] = cell_data.n_cells
        diagnostics["likelihood_reason"] = likelihood_reason
        diagnostics["levels_without_events"] = {c: v for c, v in empty.items() if v}
        if any(empty.values()) and self.engine != "ml":
            notes.append("levels without events (labels as codes): " + "; ".join(
                f"{c} {v}" for c, v in empty.items() if v) + "; their effects are set by the prior alone")
        if cell_data.age_step > 1:
            diagnostics["unequal_widths"] = _unequal_widths_note(cell_data, self.engine)
        diagnostics["warnings"] = list(diagnostics.get("warnings", [])) + notes
        if self.engine == "ml" and account_lik is None:
            diagnostics.update(submodel_deviances(cell_data, self.likelihood_))
        self._result = build_result(
            par=par, z_draws=z_draws, hyper_draws=hyper_draws, table=table, likelihood=self.likelihood_,
            identification=self.identification, period_slope=self.period_slope, engine=self.engine,
            credible_level=self.credible_level, diagnostics=diagnostics, lineage=lineage,
            provenance=provenance(self._result_settings()), orders=orders,
            cell_rate=account_lik.mean_rate if account_lik is not None else None,
            mode_z=mode_z if self.engine == "ml" else None,
            label_map=cell_table.label_map() if cell_table is not None else None,
        )
        return self

    def _drop_empty_levels(self, table: pd.DataFrame, full: CellData, empty: dict):
        """ML: cells of ages, cohorts or periods without events have no finite MLE; drop them."""
        pos = {"lifecycle": "age", "vintage": "vintage", "environment": "period"}
        drop = np.zeros(len(table), dtype=bool)
        for c, codes in empty.items():
            drop |= table[pos[c]].isin(codes).to_numpy()
        kept = table[~drop].reset_index(drop=True)
        cell_data = cell_data_from_table(kept, full.freq, age_step=full.age_step)
        for c, n_grid in zip(COMPONENTS, cell_data.grid_sizes, strict=True):
            present = np.unique(kept[pos[c]].to_numpy())
            if len(present) != n_grid:
                raise DataValidationError([
                    f"{c}: levels {empty[c]} have no events inside the grid; their maximum-likelihood "
                    "effects are -infinity (not estimable). Merge them with a neighbour or use a Bayesian "
                    "engine (engine='laplace'), whose random-walk prior estimates them"])
        note = ("not estimable by maximum likelihood (no events): " + "; ".join(
            f"{c} {v}" for c, v in empty.items() if v) + f"; their {int(drop.sum())} cells were dropped "
            "(their MLE rate is 0) and the model was fitted to the rest")
        warnings.warn(note, RuntimeWarning, stacklevel=3)
        return cell_data, kept, [note]

    @property
    def result(self):
        """The fitted :class:`~apcfair.apc.APCResult` (the same as :attr:`result_`)."""
        return self.result_

    # -- fit stages ----------------------------------------------------------------
    def _check_cells(self, cell_data: CellData) -> None:
        """Data errors the engines cannot handle: too many defaults, too short grids."""
        if self.likelihood_ == "binomial" and (cell_data.events > cell_data.exposure).any():
            n_bad = int((cell_data.events > cell_data.exposure).sum())
            raise DataValidationError([f"{n_bad} cells have more defaults than accounts at risk; "
                                       "use likelihood='poisson' for counts with exposure"])
        for name, n_grid in zip(COMPONENTS, cell_data.grid_sizes, strict=True):
            if n_grid < 3:
                raise DataValidationError([f"the {name} grid has {n_grid} points; an APC model needs at least 3"])
        n_events = float(np.sum(cell_data.events))
        n_levels = int(sum(cell_data.grid_sizes))
        if n_events < MIN_EVENTS:
            raise DataValidationError([
                f"the data hold {n_events:,.0f} events (defaults) over {n_levels} age, vintage and period levels; "
                f"an APC model needs at least {MIN_EVENTS} events to estimate a level and shapes (with none, "
                "the intercept and bands are set by the prior alone). Fix: pool more vintages or a longer window"])
        if n_events < n_levels:
            warnings.warn(
                f"only {n_events:,.0f} events for {n_levels} age, vintage and period levels "
                f"({n_events / n_levels:.2f} per level): the shapes are mostly the random-walk prior's and the "
                "bands are wide", UserWarning, stacklevel=3)

    def _parametrisation(self, cell_data: CellData, orders: tuple[int, int, int]) -> Parametrisation:
        """The latent-field layout, with month-of-year effects where they apply."""
        season_length = PERIODS_PER_YEAR.get(cell_data.freq)
        if self.seasonal is not None:
            use_seasonal = self.seasonal
        else:
            use_seasonal = season_length is not None and cell_data.n_period >= 3 * season_length
        if self.engine == "ml":
            use_seasonal = False  # the factor model's period dummies already contain any seasonal pattern
        return Parametrisation(cell_data, orders, seasonal_period=season_length if use_seasonal else None,
                               periodic_to_cohort=self.engine == "ml")

    def _run_engine(self, par: Parametrisation, rng: np.random.Generator,
                    account_lik: AccountLikelihood | None):
        """Latent draws, hyperparameter draws, diagnostics and the mode from the chosen engine."""
        if self.engine == "nuts":
            # PyMC compiles on import: loaded only for this engine
            from apcfair.apc._pymc import fit_nuts

            z_draws, hyper_draws, diagnostics, idata = fit_nuts(
                par, self.likelihood_, shape=self.precision_prior[0], rate=self.precision_prior[1],
                fixed_precision=self.fixed_effect_precision, overdispersion=self.overdispersion,
                draws=self.n_draws, tune=self.nuts_tune, chains=self.nuts_chains,
                target_accept=self.target_accept, random_seed=self.random_state, progress=self.progress,
                centring=self.nuts_centring,
            )
            self.inference_data_ = idata
            return z_draws, hyper_draws, diagnostics, z_draws.mean(axis=0)
        with threadpool_limits(limits=1, user_api="blas"):
            if self.engine == "ml":
                return self._fit_ml(par, rng)
            if account_lik is None:
                return self._fit_laplace(par, rng)
            precisions = self.precisions
            if self.hyper != "fixed":
                cell_fit = self._fit_laplace(par, rng, hyper="eb")
                precisions = {k.replace("precision_", ""): float(np.mean(v)) for k, v in cell_fit[1].items()}
            z_draws, hyper_draws, diagnostics, mode_z = self._fit_laplace(
                par, rng, hyper="fixed", precisions=precisions, account_lik=account_lik)
            diagnostics["account_offsets"] = {
                "accounts": account_lik.n_accounts, "account_months": int(len(account_lik.c)),
                "precisions": precisions,
                "precisions_from": "given" if self.hyper == "fixed" else "cell-level empirical Bayes"}
            return z_draws, hyper_draws, diagnostics, mode_z

    # -- engines -----------------------------------------------------------------
    def _fit_laplace(self, par, rng, hyper=None, precisions=None, account_lik=None):
        hyper = hyper or self.hyper
        precisions = precisions if precisions is not None else self.precisions
        bar = None
        if self.progress:
            # optional progress bars: tqdm is loaded only when asked for
            from tqdm.auto import tqdm

            dim = 4 if self.overdispersion else 3
            bar = tqdm(total=1 + 2 * dim + 2**dim, desc="APC hyperparameter design", leave=False)
        fit = fit_laplace(par, self.likelihood_, hyper=hyper, precisions=precisions, account_lik=account_lik,
                          shape=self.precision_prior[0], rate=self.precision_prior[1],
                          fixed_precision=self.fixed_effect_precision, overdispersion=self.overdispersion,
                          n_draws=self.n_draws, rng=rng, progress=bar)
        if bar is not None:
            bar.close()
        return fit.z_draws, fit.hyper_draws, fit.diagnostics, fit.mode.z

    def _fit_ml(self, par, rng):
        cell_data = par.data
        no_prior = np.zeros(par.p)
        mode = find_mode(par, self.likelihood_, no_prior, initial_latent(par, self.likelihood_), tol=1e-12,
                         max_iter=100)
        # antithetic draws around the MLE: every posterior-style mean of a linear quantity
        # (F, G, H, slopes) is the MLE itself
        half = draw_latent(mode, (self.n_draws + 1) // 2, rng) - mode.z
        z_draws = np.vstack([mode.z + half, mode.z - half])[: self.n_draws]
        diagnostics = {
            "engine": "ml",
            "converged": mode.converged,
            "iterations": mode.iterations,
            "deviance": deviance(cell_data.events, cell_data.exposure, par.eta(mode.z), self.likelihood_),
            "df_residual": int(cell_data.n_cells - par.p),
            "n_parameters": int(par.p),
            "loglik": mode.loglik + loglik_constant(cell_data.events, cell_data.exposure, self.likelihood_),
            "note": "classical factor APC model by maximum likelihood; fitted rates are the MLE; bands "
                    "from the asymptotic normal distribution of the estimates (antithetic draws)",
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
        if isinstance(data, Portfolio):
            data = data.cells()
        table = data.table if isinstance(data, Cells) else data
        freq = data.freq if isinstance(data, Cells) else (freq or "M")
        last = int(table["period"].max())
        train = table[table["period"] <= last - holdout]
        test = table[table["period"] > last - holdout]
        res = self.fit(train, freq=freq).result_
        return res.score_cells(test)
