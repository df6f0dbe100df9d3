"""The unbiased-by-design procedure of Breeden & Leonova (2021) and its measured cost.

1. APC functions F(a), H(t) from the estimation sample; ``o(a, t) = mu + F(a) + H(t)``
   is a fixed offset (coefficient 1) in every score model.
2. **Restricted model**: panel logit on restricted (protected) inputs with the APC
   offset. Its score ``R_i`` is centred to mean zero over the estimation accounts.
3. **Credit model with restricted offset**: panel logit (or boosted trees) on credit
   inputs with ``o + R_i`` as fixed offset, so the credit coefficients cannot absorb
   what protected status explains.
4. **Forecasts** with the restricted term set to 0 (``credit_restricted_zero``) and,
   as a calibrated alternative, to the constant ``k`` that keeps the estimation
   sample's expected defaults equal to the model with ``R_i`` included
   (``credit_restricted_mean``; with ``R`` centred on the logit scale the plain mean
   is 0, which under-predicts by Jensen's inequality).
5. For comparison, the **traditional** credit model (no restricted offset) and the
   **restricted-only** model: the paper's Table 5 models.

Evaluation follows the paper's Tables 6–7: cumulative PD forecasts from origination
over ``horizon`` months with the actual (estimated) environment, AUC and Gini in and
out of sample (50/50 account split) on the accounts whose whole horizon lies inside the
data window (all accounts, with calendar-truncated windows, as a secondary figure), plus
a DeLong interval for the AUC cost of zeroing, calibration (expected vs actual defaults
over each account's exposure; Kaplan–Meier by vintage year within each sample), and the
dependence of each forecast on each restricted attribute.

The offset is exactly ``mu + F(a) + H(t) + b * (t - a)``: the APC level, lifecycle and
environment plus G's linear trend ``b`` per period of vintage (``v = t - a``), moved into
the age and period terms. It is what :meth:`APCResult.offset_table` returns; with G's
linear trend included it does not depend on how the APC identification allocates the
linear trend between age, vintage and period, so scores are invariant to that choice.
G's nonlinear part is not in the offset (the vintage dummies carry it).

Validation design: ``split="random"`` holds out ``test_size`` of the accounts by a stable
hash of account id and seed (the paper's 50/50); ``split="time"`` estimates on the
vintages before ``holdout_from`` and evaluates on the later ones (out of time). With the
time split the environment H(t) over the held-out vintages' months is *realised*: it is
estimated from the estimation vintages' own account-months, which run to the end of the
data (not extrapolated beyond the training window).

Horizons are in months (``horizon=36`` is 12 quarters on quarterly data).

Two cumulative PDs, each named by its definition: ``cum_pd`` is **net** of attrition
(``1 - prod(1 - PD)``: conditional on the account staying open, what Kaplan–Meier
measures with payoff censored); ``cum_pd_unconditional`` is the probability of default
**before any other exit** (payoff, closure), with the attrition hazard of an attrition APC
model fitted like the default one (estimation accounts only; ``attrition=True``). The
observed outcome ``defaulted_within_horizon`` is a default before payoff, so
``calibration_unconditional`` compares it with the unconditional forecast (the matching
definition); ``calibration`` keeps its meaning (expected defaults over the months at risk).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial

import pandas as pd

from apcfair._base import FittedResultMixin, ParamsMixin
from apcfair._provenance import provenance
from apcfair.errors import DataValidationError
from apcfair.portfolio.periods import horizon_in_periods
from apcfair.unbiased.applicants import training_inputs
from apcfair.unbiased.result import ForecastTable, UnbiasedResult
from apcfair.unbiased.stages import (
    GBM_DEFAULTS,
    MODEL_LABELS,
    MODELS,
    VINTAGE_YEAR,
    Evaluation,
    Forecasts,
    ScoreModels,
    StageTimer,
    evaluate,
    fit_apc,
    fit_attrition_apc,
    fit_gbm,
    fit_score_models,
    forecast,
    gbm_scores,
    logit_data,
    split_accounts,
    split_by_time,
    vintage_mode,
)

__all__ = ["GBM_DEFAULTS", "MODELS", "MODEL_LABELS", "VINTAGE_YEAR", "UnbiasedByDesign", "UnbiasedResult"]

#: Settings that are not stored with the result (an estimator object, a display switch).
_NOT_SETTINGS = ("apc_model", "progress")


class UnbiasedByDesign(ParamsMixin, FittedResultMixin):
    """Restricted model → credit model with the restricted score as offset → forecasts
    with the restricted term zeroed, and the measured cost of doing so.

    Parameters
    ----------
    restricted : sequence of str
        Restricted (protected) inputs, e.g. age, sex, ethnicity or zip-level census
        proxies. Used only to build the restricted offset, never to decide.
    credit : sequence of str
        Credit inputs at origination.
    protected : sequence of str, optional
        Attributes on which to measure dependence (default: ``restricted``). Use this
        to test against true individual status when the restricted inputs are proxies.
    horizon : int
        Forecast horizon in months from origination (default 36); on quarterly data it
        must be a multiple of 3 (36 months = 12 quarters).
    bins : int or None
        Quantile bins (plus an NA bin) for numeric inputs, as in the paper; ``None``
        enters numeric inputs linearly.
    test_size : float
        Share of accounts held out (default 0.5, the paper's split) with ``split="random"``.
    split : {"random", "time"}
        ``"random"``: by a stable hash of account id and ``random_state`` (row order does
        not matter). ``"time"``: estimation on vintages before ``holdout_from``.
    holdout_from : str, optional
        First held-out vintage, ``"YYYY-MM"`` (required with ``split="time"``).
    gbm : bool
        Also fit the boosted-tree variants (LightGBM with the offsets as init score).
    gbm_params : dict, optional
        Settings for :class:`~apcfair.scoring.OffsetGBM`.
    apc_model : APCModel, optional
        APC settings when no fitted APC result is given (default: Laplace engine with
        empirical-Bayes hyperparameters).
    apc_refit : {"none", "training"}
        What to do with an APC fit given to :meth:`fit`: ``"none"`` (default) uses it as
        it is, with a loud warning (if it was fitted on all accounts, the held-out
        accounts' outcomes entered F and H and out-of-sample figures are optimistic);
        ``"training"`` refits it on the estimation accounts only, with its likelihood,
        random-walk orders, engine, identification and number of draws (empirical-Bayes
        hyperparameters). Which was done is in ``settings["design"]["apc"]``.
    approval_rate : float
        Share approved (lowest PD first) for the adverse impact ratio.
    vintage_dummies : {"year", "month", "none"} or bool
        Vintage dummies in the logit models, as in the paper's equation (3): they carry
        the vintage effects that the inputs do not explain (G's nonlinear part is not in
        the offset). Default ``"year"`` (``True``): one dummy per vintage year, because a
        month of a typical book has too few defaults for a stable dummy; ``"month"``: one
        per origination period as in the paper. Groups with fewer than 10 estimation
        defaults are merged with a neighbour. The restricted offset keeps only the
        restricted inputs' part.
    backfit : int
        Rounds of backfitting (default 0): refit the APC functions over the estimation
        account-months with the credit score (with restricted offset) as a fixed account
        offset, then refit the score models on the new offsets. A cell-level APC fit mixes
        accounts of different risk and the riskier ones leave first (frailty selection), so
        its lifecycle falls too fast with age; one round removes most of that.
    n_boot : int
        Bootstrap replicates for the interval of the change in dependence (default 200).
    attrition : bool
        Fit the attrition hazard (exits other than default: payoff, closure) beside the
        default APC model, on the same estimation accounts with the same settings, and add
        the unconditional cumulative PD (default before any other exit) to the forecasts
        and its calibration (default ``True``; ``False``: net figures only). When the data
        hold no such exits the hazard is 0 and unconditional = net; what was done is in
        ``settings["design"]["attrition"]``.
    random_state : int
        Seed for the split, the APC draws, the boosted trees and the bootstrap.
    progress : bool
        Show a progress bar over the stages.

    Attributes
    ----------
    result_ : UnbiasedResult
        Everything the last :meth:`fit` produced (also :attr:`result`).

    Notes
    -----
    :meth:`fit` runs the stages of :mod:`apcfair.unbiased.stages` in order: split the
    accounts, fit the APC functions (offsets), fit the score models (and backfit), the
    boosted trees, forecast, evaluate. Each stage is a function that can be run alone.

    Examples
    --------
    A small synthetic portfolio in which minority status raises the default rate
    directly and through the credit attributes (the logistic models only; ``gbm=True``
    adds the boosted-tree variants):

    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.unbiased import UnbiasedByDesign
    >>> portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=0)).loans)
    >>> ubd = UnbiasedByDesign(restricted=["minority", "sex"],
    ...                        credit=["bureau_score", "total_deposits"], gbm=False).fit(portfolio)
    >>> table = ubd.result_.comparison  # AUC and Gini in and out of sample (Tables 6-7)
    >>> table["model"].tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['credit', 'restricted', 'credit_with_restricted_offset', 'credit_restricted_zero',
     'credit_restricted_mean']
    >>> list(table.columns)
    ['model', 'label', 'auc_in', 'auc_out', 'gini_in', 'gini_out']

    Zeroing the restricted term costs little accuracy (DeLong interval for the AUC
    difference). Its forecast correlates less with minority status than the model that
    keeps the restricted term; against the traditional credit model (what a lender uses
    today) the change can be small and is reported with a bootstrap interval
    (``change_vs_credit`` in the comparison rows; the summary says when it is not
    significant):

    >>> cost = ubd.result_.cost_of_fairness["out"]
    >>> abs(cost["difference"]) < 0.02
    True
    >>> dep = ubd.result_.dependence_table.query("sample == 'out' and attribute == 'minority'")
    >>> corr = dep.set_index("model")["corr"]
    >>> bool(corr["credit_restricted_zero"] < corr["credit_with_restricted_offset"] < corr["restricted"])
    True
    """

    def __init__(self, restricted: Sequence[str], credit: Sequence[str], *, protected: Sequence[str] | None = None,
                 horizon: int = 36, bins: int | None = 10, test_size: float = 0.5, gbm: bool = True,
                 gbm_params: dict | None = None, apc_model=None, approval_rate: float = 0.8,
                 vintage_dummies: bool | str = True, backfit: int = 0, split: str = "random",
                 holdout_from: str | None = None, n_boot: int = 200, apc_refit: str = "none", attrition: bool = True,
                 random_state: int = 0, progress: bool = False):
        self.restricted = restricted
        self.credit = credit
        self.protected = protected
        self.horizon = horizon
        self.bins = bins
        self.test_size = test_size
        self.gbm = gbm
        self.gbm_params = gbm_params
        self.apc_model = apc_model
        self.approval_rate = approval_rate
        self.vintage_dummies = vintage_dummies
        self.backfit = backfit
        self.split = split
        self.holdout_from = holdout_from
        self.n_boot = n_boot
        self.apc_refit = apc_refit
        self.attrition = attrition
        self.random_state = random_state
        self.progress = progress

    def _settings(self) -> dict:
        """The settings stored with the result (JSON-ready; sequences as lists)."""
        return {k: (list(v) if isinstance(v, tuple | list) else v)
                for k, v in self.get_params(deep=False).items() if k not in _NOT_SETTINGS}

    def _check(self, portfolio):
        restricted, credit = list(self.restricted), list(self.credit)
        if not restricted or not credit:
            raise ValueError("give at least one restricted and one credit attribute")
        overlap = set(restricted) & set(credit)
        if overlap:
            raise ValueError(f"attributes {sorted(overlap)} are both restricted and credit inputs; "
                             "a restricted input must not enter the credit model")
        protected = list(self.protected) if self.protected is not None else restricted
        missing = list(dict.fromkeys(c for c in restricted + credit + protected if c not in portfolio.loans.columns))
        if missing:
            raise DataValidationError([f"attribute column(s) {missing} are not in the data; "
                                       f"available: {list(portfolio.attributes)}"])
        if not 0 < self.test_size < 1:
            raise ValueError(f"test_size={self.test_size!r} must be between 0 and 1")
        if self.horizon < 1:
            raise ValueError(f"horizon={self.horizon!r} must be at least 1 month")
        if self.split not in ("random", "time"):
            raise ValueError(f"split={self.split!r} is not allowed; use 'random' or 'time'")
        if self.split == "time" and not self.holdout_from:
            raise ValueError("split='time' needs holdout_from='YYYY-MM' (the first held-out vintage)")
        vintage_mode(self.vintage_dummies)
        if self.apc_refit not in ("none", "training"):
            raise ValueError(f"apc_refit={self.apc_refit!r} is not allowed; use 'none' (use a given APC fit as "
                             "it is) or 'training' (refit it on the estimation accounts only)")
        return restricted, credit, protected

    def _horizon_periods(self, portfolio) -> int:
        """The horizon in the data's periods (months, or quarters: months / 3)."""
        return horizon_in_periods(self.horizon, portfolio.freq)

    def _split(self, portfolio):
        """Estimation mask and a description of the split."""
        loans = portfolio.loans
        if self.split == "random":
            return (split_accounts(loans["account_id"].to_numpy(), self.test_size, self.random_state),
                    {"split": "random", "test_size": self.test_size, "seed": self.random_state,
                     "by": "stable hash of account id and seed"})
        from apcfair.portfolio.periods import format_period, to_period_code

        first = int(to_period_code([self.holdout_from], portfolio.freq, column="holdout_from")[0])
        in_sample = split_by_time(loans["vintage"].to_numpy(), first)
        return in_sample, {"split": "time", "holdout_from": format_period([first], portfolio.freq)[0],
                           "test_share": float((~in_sample).mean()),
                           "environment_beyond_training": "realised: H(t) over the held-out vintages' months is "
                           "estimated from the estimation vintages' own months, which run to the end of the data"}

    def _stage_names(self) -> list[str]:
        return (["APC"] + (["attrition APC"] if self.attrition else [])
                + ["restricted", "credit", "credit + restricted offset"] + (["GBM"] if self.gbm else [])
                + ["forecasts", "evaluation"])

    def fit(self, portfolio, apc_result=None, apc_source: str | None = None,
            attrition_result=None, backend=None) -> UnbiasedByDesign:
        """Run the whole procedure on a validated portfolio.

        Parameters
        ----------
        portfolio : Portfolio
            Loan-level or panel portfolio with the restricted and credit attributes.
        apc_result : APCResult, optional
            A fitted APC result to reuse (``apc_refit="none"``) or to refit on the
            estimation accounts with its settings (``apc_refit="training"``); by default
            the APC model is fitted on the estimation (in-sample) accounts.
        apc_source : str, optional
            Where ``apc_result`` came from (a path), recorded as ``settings["apc_source"]``
            (``apcfair stress --apc`` follows it from an unbiased folder).
        attrition_result : APCResult, optional
            A fitted attrition APC result (``apc_attrition_result.nc``) given with
            ``apc_result``, treated as it is: reused with ``apc_refit="none"`` (warned),
            refitted on the estimation accounts with its settings with
            ``apc_refit="training"``. Without it the attrition model is fitted on the
            estimation accounts with the default model's settings.
        backend : DaskScores, optional
            Where the score models' passes over account-months run: by default here;
            :class:`apcfair.unbiased.partitioned.DaskScores` runs them on the parts of a
            data set held on a Dask cluster (``portfolio`` is then the per-account portfolio
            from :meth:`DaskScores.load <apcfair.unbiased.partitioned.DaskScores.load>`).
            Not with ``backfit > 0`` (it refits the APC functions over account-months).

        Returns
        -------
        UnbiasedByDesign
            ``self`` with ``result_`` (:class:`UnbiasedResult`).
        """
        restricted, credit, protected = self._check(portfolio)
        if backend is not None and self.backfit:
            raise ValueError(f"backfit={self.backfit} refits the APC functions over the estimation account-months, "
                             "which the Dask backend keeps off the driver; use backfit=0 with it, or the "
                             "in-memory backend")
        fit_models, fit_trees = fit_score_models, fit_gbm
        if backend is not None:  # its logit fits also need the per-account portfolio (spells, lineage)
            fit_models, fit_trees = partial(backend.fit_score_models, portfolio=portfolio), backend.fit_gbm
        horizon = self._horizon_periods(portfolio)
        timer = StageTimer(self._stage_names(), progress=self.progress)
        in_sample, design = self._split(portfolio)
        design["horizon"] = {"months": int(self.horizon), "periods": horizon,
                             "period": "month" if portfolio.freq == "M" else "quarter"}
        design["vintage_dummies"] = vintage_mode(self.vintage_dummies)
        apc_model = self.apc_model
        if attrition_result is not None and apc_result is None:
            raise ValueError("attrition_result is given without apc_result: give both fits (from one "
                             "'apcfair apc' folder) or neither")
        attrition_model, attrition_design = self._attrition_plan(apc_result, attrition_result)
        if apc_result is not None and self.apc_refit == "training":
            apc_model = refit_model(apc_result, self.random_state)
            design["apc"] = ("given, refitted on the estimation accounts only (its likelihood, random-walk orders, "
                             "engine, identification and draws)")
            apc_result = None
        elif apc_result is not None:
            warnings.warn("REUSED APC FIT: it is used as it is; if it was fitted on all accounts, the held-out "
                          "accounts' outcomes entered F and H and every out-of-sample figure is optimistic. "
                          "Refit it on the estimation accounts with apc_refit='training' (--apc-refit training), "
                          "or omit it", UserWarning, stacklevel=2)
            design["apc"] = "given: reused as it is (held-out outcomes entered F and H unless it was fitted " \
                            "on the estimation accounts only)"
        else:
            design["apc"] = "fitted on the estimation accounts only"
        design["apc_refit"] = self.apc_refit
        design["apc_source"] = apc_source
        apc = {"horizon": horizon, "apc_model": apc_model, "random_state": self.random_state}
        with timer.stage("APC"):
            apc_result, offsets = fit_apc(portfolio, in_sample, apc_result=apc_result, **apc)
        attrition_fit, attrition_q = None, None
        if self.attrition:
            with timer.stage("attrition APC"):
                attrition_fit, attrition_q, note = fit_attrition_apc(
                    portfolio, in_sample, horizon=horizon, random_state=self.random_state,
                    apc_model=attrition_model or apc_model,
                    attrition_result=attrition_result if self.apc_refit == "none" else None)
            attrition_design["note"] = note
            attrition_design["unconditional"] = attrition_q is not None
            if attrition_q is None:
                warnings.warn(f"NO UNCONDITIONAL CUMULATIVE PD: {note}; only the net figures (cum_pd) are written",
                              UserWarning, stacklevel=2)
        design["attrition"] = attrition_design
        data, vintage_cols = logit_data(portfolio, in_sample, self.vintage_dummies)
        design["freq"] = portfolio.freq
        design["vintage_groups"] = ({} if not vintage_cols else
                                    dict(zip(map(str, portfolio.loans["vintage"]), data[vintage_cols[0]], strict=True)))
        design["credit_inputs"] = training_inputs(portfolio.loans.loc[in_sample, credit])
        logit = {"bins": self.bins, "vintage_cols": vintage_cols}
        models = fit_models(data, restricted, credit, offsets, in_sample, timer=timer, **logit)
        # backfitting: refit the APC functions over the estimation account-months with the
        # full score (credit model with restricted offset) as a fixed account offset, then
        # refit the score models on the new offsets (removes the cells' frailty selection)
        for _ in range(self.backfit):
            with timer.accumulate("backfit"):
                apc_result, offsets = fit_apc(portfolio, in_sample, account_offset=models.full_score(data), **apc)
                models = fit_score_models(data, restricted, credit, offsets, in_sample, **logit)
        scores = models.account_scores(data)
        del data  # a copy of the loans with the vintage groups: not needed after the scores (memory)
        gbm_model = gbm_traditional = None
        if self.gbm:
            with timer.stage("GBM"):
                params = {"random_state": self.random_state, **GBM_DEFAULTS, **(self.gbm_params or {})}
                gbm_model = fit_trees(portfolio, credit, offsets, models.restricted_score, in_sample, params)
                gbm_traditional = fit_trees(portfolio, credit, offsets, None, in_sample, params)
                scores.update(gbm_scores(gbm_model, portfolio, models.restricted_score, gbm_traditional))
        with timer.stage("forecasts"):
            forecasts = forecast(portfolio, offsets, scores, models.restricted_score, in_sample, horizon=horizon,
                                 attrition_offsets=attrition_q)
        with timer.stage("evaluation"):
            evaluation = evaluate(portfolio, forecasts, in_sample, horizon=horizon, protected=protected,
                                  approval_rate=self.approval_rate, random_state=self.random_state,
                                  n_boot=self.n_boot)
        self._result = self._result_of(portfolio, in_sample, apc_result, models,
                                       {"gbm": gbm_model, "gbm_credit": gbm_traditional if self.gbm else None},
                                       forecasts, evaluation, timer.close(), design, offsets, protected,
                                       attrition_fit)
        return self

    def _attrition_plan(self, apc_result, attrition_result) -> tuple:
        """The settings for the attrition fit and its ``design["attrition"]`` record.

        The attrition model follows the default model's train/test discipline: fitted on the
        estimation accounts (with a given attrition fit's own settings under
        ``apc_refit="training"``, else the default model's), or a given fit reused as it is
        under ``apc_refit="none"`` (warned like the default fit).
        """
        if not self.attrition:
            return None, {"fitted": "no (attrition=False): net cumulative PDs only"}
        if attrition_result is not None and self.apc_refit == "training":
            return (refit_model(attrition_result, self.random_state),
                    {"fitted": "given, refitted on the estimation accounts only (its own settings)"})
        if attrition_result is not None:
            warnings.warn("REUSED ATTRITION FIT: used as it is; if it was fitted on all accounts, the held-out "
                          "accounts' payoffs entered F_q and H_q (--apc-refit training refits it)",
                          UserWarning, stacklevel=3)
            return None, {"fitted": "given: reused as it is (held-out exits entered it unless it was fitted on "
                                    "the estimation accounts only)"}
        if apc_result is not None:  # the default model's settings, fitted on the estimation accounts
            return (refit_model(apc_result, self.random_state),
                    {"fitted": "on the estimation accounts only, with the given APC fit's settings"})
        return None, {"fitted": "on the estimation accounts only, with the default APC model's settings"}

    def _result_of(self, portfolio, in_sample, apc_result, models: ScoreModels, gbms: dict, forecasts: Forecasts,
                   evaluation: Evaluation, timings: dict, design: dict, offsets, protected: list[str],
                   attrition_result=None) -> UnbiasedResult:
        """Assemble the result of the stages."""
        account_id = portfolio.loans["account_id"].to_numpy()
        settings = {**self._settings(), "design": design}
        if design.get("apc_source"):  # where a given APC fit came from (apcfair stress --apc follows it)
            settings["apc_source"] = design["apc_source"]
        logits = {"restricted": models.restricted, "credit": models.credit,
                  "credit_with_restricted_offset": models.credit_with_restricted_offset}
        return UnbiasedResult(
            rows=evaluation.rows, dependence_table=evaluation.dependence_table,
            cost_of_fairness=evaluation.cost_of_fairness,
            forecast_table=ForecastTable.from_forecasts(forecasts, account_id, in_sample, portfolio.loans[protected]),
            account_scores=pd.DataFrame({"account_id": account_id, **forecasts.scores}),
            coefficient_tables={name: m.coef_table_ for name, m in logits.items()},
            models={**logits, **gbms}, costs=evaluation.costs, offsets=offsets,
            apc_result=apc_result, attrition_result=attrition_result, restricted_centre=models.restricted_centre,
            calibrating_constant=forecasts.calibrating_constant, settings=settings, timings=timings,
            lineage=portfolio.lineage.to_dict(), provenance=provenance(settings),
        )

    @property
    def result(self) -> UnbiasedResult:
        """The :class:`UnbiasedResult` of the last fit (same as :attr:`result_`)."""
        return self.result_


def refit_model(apc_result, random_state: int | None):
    """An :class:`~apcfair.apc.APCModel` with the settings of a fitted APC result.

    Used to refit a given APC fit on the estimation accounts only (``apc_refit="training"``):
    its likelihood, random-walk orders, engine, identification (and fixed period slope)
    and number of draws; empirical-Bayes hyperparameters (as the procedure's default).

    Examples
    --------
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> cells = load_portfolio(generate_portfolio(SynthConfig(n_accounts=2000, seed=0)).loans).cells()
    >>> fitted = APCModel(identification="fixed_period_slope", period_slope=0.01, hyper="eb",
    ...                   n_draws=20).fit(cells).result_
    >>> m = refit_model(fitted, 0)
    >>> m.engine, m.identification, m.period_slope, m.n_draws
    ('laplace', 'fixed_period_slope', 0.01, 20)
    """
    from apcfair.apc import APCModel

    st, ident = apc_result.settings, apc_result.identification
    orders = st.get("rw_orders")
    params = {"likelihood": st.get("likelihood"), "rw_order": tuple(orders) if orders else 2,
              "engine": st.get("engine", "laplace"), "identification": ident.get("assumption", "no_period_trend"),
              "n_draws": int(apc_result.n_draws), "credible_level": float(st.get("credible_level", 0.95)),
              "hyper": "eb", "random_state": random_state}
    if ident.get("period_slope") is not None:
        params["period_slope"] = float(ident["period_slope"])
    if st.get("seasonal_period") is None:
        params["seasonal"] = False
    return APCModel(**params)
