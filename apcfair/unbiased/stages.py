"""The stages of the unbiased-by-design procedure, each a function of what it needs.

:meth:`UnbiasedByDesign.fit <apcfair.unbiased.UnbiasedByDesign.fit>` runs them in order::

    split_accounts -> fit_apc (+ fit_attrition_apc) -> fit_score_models (-> backfit rounds)
                   -> fit_gbm -> forecast -> evaluate

and each can be called alone (e.g. to reuse an APC fit, to forecast other scores, or to
test one stage). Arrays are aligned with ``portfolio.loans``; ``in_sample`` is the boolean
mask of the estimation accounts.

Examples
--------
The first stages on a small synthetic book (logistic models only):

>>> from data_synth import SynthConfig, generate_portfolio
>>> from apcfair import load_portfolio
>>> from apcfair.unbiased.stages import fit_apc, fit_score_models, logit_data, split_accounts
>>> portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=2000, seed=0)).loans)
>>> in_sample = split_accounts(portfolio.n_accounts, test_size=0.5, random_state=0)
>>> int(in_sample.sum())
1000
>>> apc_result, offsets = fit_apc(portfolio, in_sample, horizon=36)
>>> data, vintage_cols = logit_data(portfolio, in_sample, vintage_dummies=True)
>>> models = fit_score_models(data, ["minority", "sex"], ["bureau_score"], offsets, in_sample,
...                           bins=10, vintage_cols=vintage_cols)
>>> abs(float(models.restricted_score[in_sample].mean())) < 1e-12  # centred on the estimation accounts
True
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import log_expit
from tqdm.auto import tqdm

from apcfair.apc import APCModel
from apcfair.apc.attrition import attrition_count, attrition_offsets, try_fit_attrition
from apcfair.apc.results import check_window
from apcfair.forecast.cumulative import (
    HorizonGrid,
    age_range,
    attrition_path,
    excess_message,
    observed_cumulative_default,
    observed_default_within,
)
from apcfair.offsets import OffsetTable
from apcfair.portfolio import Portfolio, Spells
from apcfair.portfolio.survival import aalen_johansen
from apcfair.scoring import OffsetGBM, OffsetLogit
from apcfair.unbiased.dependence import (
    _auc_ci,
    _delong_difference,
    _delong_rows,
    _dependence,
    _positives_first,
    _PreparedAttribute,
    _PreparedForecast,
    corr_changes_by_attribute,
)

#: Names of the compared models, in report order (the keys of
#: :attr:`UnbiasedResult.comparison`'s ``model`` column; the ``gbm_*`` ones only with
#: ``gbm=True``).
MODELS = (
    "credit",
    "restricted",
    "credit_with_restricted_offset",
    "credit_restricted_zero",
    "credit_restricted_mean",
    "gbm_credit",
    "gbm_credit_with_restricted_offset",
    "gbm_credit_restricted_zero",
)
#: Boosted-tree settings of the procedure: shallow trees and large leaves, because the
#: credit inputs are few and the signal per account-month is weak (deeper trees overfit:
#: in-sample AUC 0.81 vs 0.76 out of sample on the default synthetic portfolio).
GBM_DEFAULTS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 400}

#: Column added for the vintage-year dummies of the logit models.
VINTAGE_YEAR = "vintage year"
#: Column added for the monthly (per origination period) vintage dummies.
VINTAGE_PERIOD = "vintage period"

#: The AUC costs reported in ``cost_of_fairness.json``'s ``costs``: name -> (model a, model b,
#: meaning). Each is AUC(a) - AUC(b) with a paired DeLong interval, in and out of sample.
COSTS = {
    "traditional_vs_zero": ("credit", "credit_restricted_zero",
                            "cost against today's model: traditional credit model -> restricted term zeroed"),
    "offset_vs_zero": ("credit_with_restricted_offset", "credit_restricted_zero",
                       "what the restricted term carried: credit model with restricted offset -> zeroed"),
    "gbm_traditional_vs_zero": ("gbm_credit", "gbm_credit_restricted_zero",
                                "same-technique cost (boosted trees): traditional GBM -> restricted term zeroed"),
}

MODEL_LABELS = {
    "credit": "APC Scoring, Credit",
    "restricted": "APC Scoring, Restricted",
    "credit_with_restricted_offset": "APC Scoring, Credit with Restricted offset",
    "credit_restricted_zero": "APC Scoring, Credit with Restricted = 0",
    "credit_restricted_mean": "APC Scoring, Credit with Restricted = calibrated constant",
    "gbm_credit": "APC + GBM, Credit",
    "gbm_credit_with_restricted_offset": "APC + GBM, Credit with Restricted offset",
    "gbm_credit_restricted_zero": "APC + GBM, Credit with Restricted = 0",
}

#: The two samples of the evaluation: estimation ("in") and held-out ("out") accounts.
SAMPLES = ("in", "out")


def _periods_per_year(freq: str) -> int:
    return 12 if freq == "M" else 4


# ---------------------------------------------------------------------- timing
class StageTimer:
    """Seconds per stage (rounded to ms) and an optional progress bar over the stages.

    Parameters
    ----------
    stages : list of str
        Stage names in order (the bar's length).
    progress : bool
        Show the bar.
    """

    def __init__(self, stages: list[str], progress: bool = False):
        self.timings: dict[str, float] = {}
        self._start = time.perf_counter()
        self._bar = tqdm(total=len(stages), desc="unbiased by design", disable=not progress, leave=False)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time one stage and advance the bar."""
        t = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t, 3)
        self._bar.set_postfix_str(name)
        self._bar.update(1)

    @contextmanager
    def accumulate(self, name: str) -> Iterator[None]:
        """Add the time of a repeated step (e.g. a backfitting round) to ``name``; no bar step."""
        t = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - t, 3)

    def close(self) -> dict[str, float]:
        """Close the bar; the timings with ``total`` (seconds since the timer started)."""
        self._bar.close()
        self.timings["total"] = round(time.perf_counter() - self._start, 3)
        return self.timings


# ---------------------------------------------------------------------- 1. split
def split_accounts(accounts, test_size: float, random_state: int | None) -> np.ndarray:
    """Random estimation / held-out split by a stable hash of account id and seed.

    Each account's place depends only on its id and the seed (SipHash of the id's text
    keyed by the seed), never on the row order: the same accounts in another order get the
    same split. The ``round(n * (1 - test_size))`` accounts with the smallest hashes are
    the estimation accounts.

    Parameters
    ----------
    accounts : int or array-like
        Account ids (or ``n``: ids ``0..n-1``).
    test_size : float
        Share held out.
    random_state : int, optional
        Seed (``None``: 0).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for the estimation (in-sample) accounts.

    Examples
    --------
    >>> import numpy as np
    >>> ids = np.array(["a", "b", "c", "d"])
    >>> split = split_accounts(ids, 0.5, 1)
    >>> int(split.sum()), bool((split_accounts(ids[::-1], 0.5, 1) == split[::-1]).all())
    (2, True)
    """
    ids = np.arange(accounts) if np.ndim(accounts) == 0 else np.asarray(accounts)
    key = f"{int(random_state or 0) % 10**16:016d}"
    h = pd.util.hash_array(pd.Series(ids).astype(str).to_numpy(dtype=object), hash_key=key, categorize=False)
    n_in = int(round(len(ids) * (1 - test_size)))
    order = np.lexsort((pd.Series(ids).astype(str).to_numpy(), h))  # ties (never seen) broken by id
    in_sample = np.zeros(len(ids), dtype=bool)
    in_sample[order[:n_in]] = True
    return in_sample


def split_by_time(vintage: np.ndarray, holdout_from: int) -> np.ndarray:
    """Out-of-time split: estimation accounts are the vintages before ``holdout_from``.

    Parameters
    ----------
    vintage : numpy.ndarray of int
        Origination period codes.
    holdout_from : int
        First held-out vintage (period code).

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for the estimation (earlier-vintage) accounts.
    """
    in_sample = np.asarray(vintage) < holdout_from
    if in_sample.all() or not in_sample.any():
        raise ValueError(f"holdout_from={holdout_from!r} leaves {int(in_sample.sum())} estimation and "
                         f"{int((~in_sample).sum())} held-out accounts; choose a vintage inside the data")
    return in_sample


# ---------------------------------------------------------------------- 2. APC
def fit_apc(portfolio: Portfolio, in_sample: np.ndarray, *, horizon: int, apc_model=None,
            random_state: int | None = 0, account_offset: np.ndarray | None = None,
            apc_result=None) -> tuple:
    """APC functions from the estimation accounts and the score models' offsets.

    Parameters
    ----------
    portfolio : Portfolio
    in_sample : numpy.ndarray of bool
        Estimation accounts.
    horizon : int
        Forecast horizon; the offsets cover ages ``1..horizon`` and periods up to
        ``horizon`` beyond the data window.
    apc_model : APCModel, optional
        Default: Laplace engine with empirical-Bayes hyperparameters, 400 draws.
    random_state : int, optional
        Seed of the default APC model.
    account_offset : numpy.ndarray, optional
        A fixed score per account (all accounts; the estimation ones are used): the APC
        functions are then fitted over account-months (backfitting) instead of cells.
    apc_result : APCResult, optional
        A fitted APC result to use as it is (only the offsets are computed).

    Returns
    -------
    tuple of (APCResult, OffsetTable)
        The APC result and its identification-invariant offsets ``mu + F(a) + H(t)``;
        beyond the data window the environment is held at its recent seasonally adjusted
        level with the month-of-year pattern continued.
    """
    if apc_result is not None:  # a reused fit must cover this portfolio's window (no silent extrapolation)
        check_window(apc_result, portfolio.freq, portfolio.window[1])
    else:
        model = apc_model or APCModel(hyper="eb", n_draws=400, random_state=random_state)
        est = portfolio.subset(in_sample, "estimation sample for the APC model", "held out (out-of-sample half)")
        if account_offset is None:
            apc_result = model.fit(est.cells()).result_
        else:
            apc_result = model.fit(est, account_offset=np.asarray(account_offset)[in_sample]).result_
    offsets = apc_result.offset_table(include_intercept=True, max_age=horizon,
                                      last_period=portfolio.window[1] + horizon)
    return apc_result, offsets


def no_attrition(age, period) -> np.ndarray:
    """The attrition logit where the estimation accounts hold no exit other than default:
    ``-inf`` (hazard 0, its maximum-likelihood estimate), so unconditional = net.

    Examples
    --------
    >>> no_attrition([1, 2], [5, 6]).tolist()
    [-inf, -inf]
    """
    return np.full(np.broadcast(np.asarray(age), np.asarray(period)).shape, -np.inf)


def fit_attrition_apc(portfolio: Portfolio, in_sample: np.ndarray, *, horizon: int, apc_model=None,
                      random_state: int | None = 0, attrition_result=None) -> tuple:
    """The attrition hazard (payoff, closure) from the estimation accounts, as :func:`fit_apc`.

    Same train/test discipline as the default APC fit: fitted to the cells of the
    estimation accounts only, with the default model's settings (``apc_model``), or a
    given fit used as it is. Offsets cover the same ages and periods as the default
    offsets (:func:`apcfair.apc.attrition.attrition_offsets`, ``last_period`` = end of the
    data + ``horizon``).

    Parameters
    ----------
    portfolio : Portfolio
    in_sample : numpy.ndarray of bool
        Estimation accounts.
    horizon : int
        Forecast horizon in periods.
    apc_model : APCModel, optional
        The default model's settings (default: as :func:`fit_apc`).
    random_state : int, optional
        Seed of the default APC model.
    attrition_result : APCResult, optional
        A fitted attrition result to use as it is.

    Returns
    -------
    tuple of (APCResult or None, callable or None, str or None)
        The attrition fit, its logit offsets ``(age, period) -> logit q`` and a note.
        Without any exit other than default among the estimation accounts the fit is
        ``None``, the offsets are :func:`no_attrition` (hazard 0: unconditional = net) and
        the note says so; when the data carry no attrition counts or the fit fails,
        offsets are ``None`` (no unconditional forecast) and the note says why.
    """
    if attrition_result is not None:
        try:
            check_window(attrition_result, portfolio.freq, portfolio.window[1])
        except ValueError:  # the attrition fit may leave out the last period (exits there not observable)
            check_window(attrition_result, portfolio.freq, portfolio.window[1] - 1)
        note = None
    else:
        model = apc_model or APCModel(hyper="eb", n_draws=400, random_state=random_state)
        cells = portfolio.subset(in_sample, "estimation sample for the attrition model",
                                 "held out (out-of-sample half)").cells()
        if attrition_count(cells) == 0:
            return None, no_attrition, ("the estimation accounts hold no exit other than default (payoff, "
                                        "closure): attrition hazard 0, so cum_pd_unconditional = cum_pd")
        attrition_result, note = try_fit_attrition(model, cells)
        if attrition_result is None:
            return None, None, note
    q = attrition_offsets(attrition_result, max_age=horizon, last_period=portfolio.window[1] + horizon)
    return attrition_result, q, note


# ---------------------------------------------------------------------- 3. score models
@dataclass(frozen=True)
class ScoreModels:
    """The fitted logit models and the restricted offset.

    Attributes
    ----------
    restricted, credit, credit_with_restricted_offset : OffsetLogit
        The restricted model, the traditional credit model and the credit model with the
        restricted score as a fixed offset.
    restricted_score : numpy.ndarray
        The restricted offset ``R_i`` per account (restricted inputs' part only, centred).
    restricted_centre : float
        Its mean over the estimation accounts before centring.
    """

    restricted: OffsetLogit
    credit: OffsetLogit
    credit_with_restricted_offset: OffsetLogit
    restricted_score: np.ndarray
    restricted_centre: float

    def account_scores(self, data) -> dict[str, np.ndarray]:
        """Each logit model's score per account relative to the APC offset (model order)."""
        c = self.credit_with_restricted_offset.predict_account_score(data)
        return {
            "credit": self.credit.predict_account_score(data),
            # the restricted-only model forecasts with its own vintage effects
            "restricted": self.restricted.predict_account_score(data),
            "credit_with_restricted_offset": c + self.restricted_score,
            "credit_restricted_zero": c,
        }

    def full_score(self, data) -> np.ndarray:
        """The credit model's score with the restricted offset added (for backfitting)."""
        return self.credit_with_restricted_offset.predict_account_score(data) + self.restricted_score


def vintage_mode(vintage_dummies) -> str:
    """``"year"``, ``"month"`` or ``"none"`` from the setting (``True`` = ``"year"``, ``False`` = ``"none"``)."""
    if vintage_dummies is True:
        return "year"
    if vintage_dummies is False or vintage_dummies is None:
        return "none"
    if vintage_dummies not in ("year", "month", "none"):
        raise ValueError(f"vintage_dummies={vintage_dummies!r} is not allowed; use 'year', 'month' or 'none'")
    return vintage_dummies


def logit_data(portfolio: Portfolio, in_sample: np.ndarray, vintage_dummies) -> tuple:
    """What the logit models are fitted on, and their vintage columns.

    Parameters
    ----------
    portfolio : Portfolio
    in_sample : numpy.ndarray of bool
    vintage_dummies : {"year", "month", "none"} or bool
        One dummy per vintage year (``True``), per origination period (``"month"``: one per
        vintage as in the paper's eq. (3); per quarter on quarterly data), or none.

    Returns
    -------
    tuple of (Portfolio or pandas.DataFrame, list of str)
        The portfolio itself without vintage dummies; else its loans with the column
        ``"vintage year"`` or ``"vintage period"`` (groups with fewer than 10 estimation
        defaults merged with a neighbour) and that column's name in a list.
    """
    mode = vintage_mode(vintage_dummies)
    if mode == "none":
        return portfolio, []
    loans = portfolio.loans
    per = _periods_per_year(portfolio.freq) if mode == "year" else 1
    col = VINTAGE_YEAR if mode == "year" else VINTAGE_PERIOD
    groups = vintage_groups(loans, in_sample, per)
    if len(pd.unique(groups[np.asarray(in_sample, dtype=bool)])) < 2:
        # one group: its dummy is the intercept, so the model with vintage dummies is the one without
        warnings.warn(f"vintage_dummies={vintage_dummies!r}: the estimation accounts form a single {col} "
                      f"group ({groups[np.asarray(in_sample, dtype=bool)][0] if np.any(in_sample) else 'none'}: "
                      "one origination year, or too few defaults to separate years), so no vintage dummy is "
                      "fitted (the intercept carries it). Use vintage_dummies='none' (--vintage-dummies none) "
                      "to say so.", UserWarning, stacklevel=3)
        return portfolio, []
    return loans.assign(**{col: groups}), [col]


def fit_score_models(data, restricted: list[str], credit: list[str], offsets: OffsetTable,
                     in_sample: np.ndarray, *, bins: int | None, vintage_cols: list[str],
                     timer: StageTimer | None = None) -> ScoreModels:
    """The restricted model, then the credit models without and with the restricted offset.

    Parameters
    ----------
    data : Portfolio or pandas.DataFrame
        From :func:`logit_data`.
    restricted, credit : list of str
        Restricted (protected) and credit inputs.
    offsets : OffsetTable
        From :func:`fit_apc`.
    in_sample : numpy.ndarray of bool
        Estimation accounts (the training accounts of every model).
    bins : int or None
        Quantile bins of numeric inputs (``None``: linear).
    vintage_cols : list of str
        Vintage-dummy columns (from :func:`logit_data`).
    timer : StageTimer, optional
        Times the three fits as the stages ``restricted``, ``credit`` and
        ``credit + restricted offset``.

    Returns
    -------
    ScoreModels
    """
    stage = timer.stage if timer is not None else _untimed
    with stage("restricted"):
        m_restricted = _logit(bins, vintage_cols).fit(data, restricted + vintage_cols, offset=offsets,
                                                      accounts=in_sample)
        r_raw = attribute_part(m_restricted, data, restricted, vintage_cols)
        r_centre = float(r_raw[in_sample].mean())
        r = r_raw - r_centre
    with stage("credit"):
        m_credit = _logit(bins, vintage_cols).fit(data, credit + vintage_cols, offset=offsets, accounts=in_sample)
    with stage("credit + restricted offset"):
        m_credit_r = _logit(bins, vintage_cols).fit(data, credit + vintage_cols, offset=offsets, account_offset=r,
                                                    accounts=in_sample)
    return ScoreModels(m_restricted, m_credit, m_credit_r, r, r_centre)


def _logit(bins: int | None, vintage_cols: list[str]) -> OffsetLogit:
    """The procedure's logit model (vintage groups unseen in training score as the reference)."""
    return OffsetLogit(bins=bins, categorical=vintage_cols, handle_unknown="reference")


def _untimed(name: str) -> nullcontext:
    return nullcontext()


def fit_gbm(portfolio: Portfolio, credit: list[str], offsets: OffsetTable, restricted_score: np.ndarray | None,
            in_sample: np.ndarray, params: dict) -> OffsetGBM:
    """Boosted trees on the credit inputs with the APC (and restricted) offsets fixed.

    ``params`` are :class:`~apcfair.scoring.OffsetGBM` settings (the procedure passes
    :data:`GBM_DEFAULTS` updated with its ``gbm_params`` and ``random_state``). With
    ``restricted_score=None`` this is the traditional boosted-tree model ``gbm_credit``
    (the same-technique baseline).
    """
    return OffsetGBM(**params).fit(portfolio, credit, offset=offsets, account_offset=restricted_score,
                                   accounts=in_sample)


def gbm_scores(model: OffsetGBM, portfolio: Portfolio, restricted_score: np.ndarray,
               traditional: OffsetGBM | None = None) -> dict[str, np.ndarray]:
    """The boosted-tree scores: traditional (``traditional`` given), with the restricted
    offset and with it set to 0."""
    trees = model.predict_account_score(portfolio)
    out = {} if traditional is None else {"gbm_credit": traditional.predict_account_score(portfolio)}
    return {**out, "gbm_credit_with_restricted_offset": trees + restricted_score, "gbm_credit_restricted_zero": trees}


def vintage_groups(loans: pd.DataFrame, in_sample: np.ndarray, periods: int, min_defaults: int = 10) -> np.ndarray:
    """Vintage group per account (``vintage // periods``), groups with fewer than
    ``min_defaults`` estimation defaults merged into their neighbour (so no dummy is
    estimated without information). ``periods`` = 12 (monthly data) or 4 (quarterly) gives
    vintage years; 1 gives one group per origination period."""
    year = (loans["vintage"].to_numpy(np.int64) // periods).astype(int)
    d = pd.Series(loans["default"].to_numpy()[in_sample]).groupby(year[in_sample]).sum()
    d = d.reindex(np.unique(year), fill_value=0)
    mapping, group, acc = {}, None, 0
    for yr, k in d.items():
        if group is None or acc >= min_defaults:
            group, acc = yr, 0
        mapping[yr] = group
        acc += k
    if acc < min_defaults and len(set(mapping.values())) > 1:  # sparse tail joins the previous group
        last = mapping[d.index[-1]]
        prev = max(g for g in set(mapping.values()) if g != last)
        mapping = {y: (prev if g == last else g) for y, g in mapping.items()}
    return np.array([f"{mapping[y]}" for y in year], dtype=object)


def vintage_year_groups(loans: pd.DataFrame, in_sample: np.ndarray, freq: str, min_defaults: int = 10) -> np.ndarray:
    """Vintage year per account, sparse years merged (:func:`vintage_groups` by year)."""
    return vintage_groups(loans, in_sample, _periods_per_year(freq), min_defaults)


def attribute_part(model: OffsetLogit, data, attributes: list[str], vintage_cols: list[str]) -> np.ndarray:
    """Intercept plus the restricted inputs' contribution, without vintage effects.

    With vintage dummies the restricted model's score also holds vintage effects; only the
    restricted inputs' part may become the restricted offset (zeroing it must not remove
    vintage effects), so every account is scored at the reference vintage group.
    """
    if not vintage_cols:
        return model.predict_account_score(data)
    frame = data[attributes + vintage_cols].copy()
    for col in vintage_cols:
        spec = model.binner_.specs_[col]
        frame[col] = spec.values[spec.reference]
    return model.predict_account_score(frame)


# ---------------------------------------------------------------------- 4. forecasts
@dataclass(frozen=True)
class Forecasts:
    """Cumulative PD forecasts of every model from origination over the horizon.

    Attributes
    ----------
    scores : dict of str to numpy.ndarray
        Logit score per account relative to the APC offset, per model (in the order the
        models were scored; ``credit_restricted_mean`` last).
    window : dict of str to numpy.ndarray
        Cumulative PD over each account's evaluation window (horizon cut at the end of
        the data): the forecast the AUC ranks.
    expected : dict of str to numpy.ndarray
        Expected defaults over each account's exposure (cut at default or payoff).
    full : dict of str to numpy.ndarray
        Cumulative PD over the full horizon (for dependence and decisions).
    exposure : dict of str to numpy.ndarray
        Cumulative PD over each account's censoring window (:func:`censoring_end_age`):
        the months it would have been observed at risk had it not defaulted, i.e. to the
        end of the data or the horizon, whichever comes first, or to its payoff when it
        paid off before. Its default ends nothing here, so defaulters are not forecast
        over a shorter window than the non-defaulters beside them (the old exposure
        window ended at default and was biased low). The probability of the observed
        outcome ``defaulted_within_horizon`` under the model, with payoff and the end of
        the data as censoring (net of attrition, like ``cum_pd``).
    unconditional : dict of str to numpy.ndarray
        Probability of default before any other exit (payoff, closure) over the full
        horizon, with the attrition hazard of the attrition APC fit
        (:func:`~apcfair.forecast.cumulative.unconditional_cumulative_pd`); empty without
        an attrition model.
    unconditional_window : dict of str to numpy.ndarray
        The same over each account's evaluation window (as :attr:`window`): the forecast
        of ``defaulted_within_horizon`` on the matching definition (default before payoff,
        the end of the data as censoring).
    calibrating_constant : float
        The constant ``k`` of ``credit_restricted_mean``.
    observed : pandas.DataFrame
        What each account did (:func:`~apcfair.forecast.cumulative.observed_default_within`).
    """

    scores: dict
    window: dict
    expected: dict
    full: dict
    calibrating_constant: float
    observed: pd.DataFrame
    exposure: dict = field(default_factory=dict)
    unconditional: dict = field(default_factory=dict)
    unconditional_window: dict = field(default_factory=dict)

    @property
    def models(self) -> list[str]:
        """The forecast models in report order (:data:`MODELS`)."""
        return [m for m in MODELS if m in self.scores]


#: What each column of ``forecasts.parquet`` means (also in the file's Parquet metadata).
FORECAST_COLUMNS = {
    "cum_pd": "NET of attrition: cumulative PD from origination over the full horizon with the estimated "
              "environment, conditional on the account staying open (payoff does not compete: 1 - prod(1 - "
              "monthly PD)); compare it with outcomes only on complete_horizon accounts that did not pay off, "
              "or use cum_pd_exposure; compare defaulted_within_horizon with cum_pd_unconditional",
    "cum_pd_unconditional": "UNCONDITIONAL: probability of default before any other exit (payoff, closure) "
                            "within the horizon from origination, sum_a S(a-1) PD(a) with S the survival from "
                            "both exits; monthly attrition from the attrition APC model (fitted like the default "
                            "APC model, on the estimation accounts), no account-level attrition score; at most "
                            "cum_pd, equal when nothing pays off. The definition of defaulted_within_horizon on "
                            "complete_horizon accounts",
    "cum_pd_unconditional_observed_window": "cum_pd_unconditional over the evaluation window (horizon cut at "
                                            "the end of the data): the probability of defaulted_within_horizon "
                                            "(default before payoff, end of data as censoring); summed over "
                                            "accounts it is the expected count of calibration_unconditional",
    "cum_pd_observed_window": "cumulative PD over the evaluation window (horizon cut at the end of the data); "
                              "ranks against defaulted_within_horizon (the AUC's forecast)",
    "defaulted_within_horizon": "observed: 1 if the account defaulted within the horizon and the data window "
                                "(gross: counted whatever happened later; payoff ends the account without default)",
    "cum_pd_exposure": "cumulative PD (net of payoff, like cum_pd) over the account's censoring window: from "
                       "origination to the end of the data or the horizon, whichever comes first, or to the payoff "
                       "month if the account paid off before; a default does NOT end the window (the months it would "
                       "have been observed had it not defaulted). Equals cum_pd when complete_horizon and the account "
                       "did not pay off within the horizon. The model's probability of defaulted_within_horizon with "
                       "payoff and end of data as censoring: mean(cum_pd_exposure) is comparable with "
                       "mean(defaulted_within_horizon) on any set of accounts (slightly high where defaulters would "
                       "have paid off before the window's end, which cannot be observed)",
    "complete_horizon": "True if the whole horizon lies inside the data window (the headline AUC's accounts)",
    "sample": "in = estimation accounts, out = held-out accounts",
}


#: Account-months per block of the forecast stage (:func:`forecast`): the (accounts x
#: horizon) offsets, attrition path and one-pass temporaries exist for one block of
#: ``_BLOCK_CELLS // horizon`` accounts at a time (7,281 accounts at 36 months: about 15
#: float64 arrays of 2 MiB), while only a few values per account and model are kept for
#: all accounts.
_BLOCK_CELLS = 2**18


def forecast(portfolio: Portfolio, offsets: OffsetTable, scores: dict[str, np.ndarray],
             restricted_score: np.ndarray, in_sample: np.ndarray, *, horizon: int,
             attrition_offsets=None, block_size: int | None = None) -> Forecasts:
    """Forecasts of every score, and the calibrated constant for the restricted term.

    Over the months each account was observed (for the AUC and expected vs actual
    defaults) and over the full horizon (for dependence and decisions). The model
    ``credit_restricted_mean`` is added: the credit score with the restricted term set to
    the constant ``k`` that keeps the estimation accounts' expected defaults equal to
    those of ``credit_with_restricted_offset`` (``credit_restricted_zero`` +
    ``restricted_score``).

    The accounts are forecast in blocks (``block_size``): the (accounts x horizon) grids
    exist for one block at a time, so memory grows with the accounts only by the values
    kept per account (each account's forecasts depend on its own months alone, so the
    blocks change no result). The constant's root search runs over the estimation
    accounts' exposure months, gathered once as one 1-D array.

    Parameters
    ----------
    portfolio : Portfolio
    offsets : OffsetTable
    scores : dict of str to numpy.ndarray
        Per-account logit scores (with ``credit_restricted_zero``).
    restricted_score : numpy.ndarray
        The restricted offset per account.
    in_sample : numpy.ndarray of bool
    horizon : int
    attrition_offsets : callable, optional
        ``(age, period) -> attrition logit`` (:func:`fit_attrition_apc`); with it the
        unconditional forecasts (default before any other exit) are added.
    block_size : int, optional
        Accounts per block (default: ``2**18 // horizon``, 7,281 accounts at 36 months).

    Returns
    -------
    Forecasts
    """
    loans = portfolio.loans
    obs = observed_default_within(loans, horizon, window_end=portfolio.window[1])
    in_sample = np.asarray(in_sample, dtype=bool)
    n = len(in_sample)
    step = max(1, _BLOCK_CELLS // horizon) if block_size is None else int(block_size)
    if step < 1:
        raise ValueError(f"block_size={block_size!r} must be at least 1 account")
    blocks = [slice(s, min(s + step, n)) for s in range(0, n, step)]
    vintage = portfolio.spells().vintage
    start = obs["start_age"].to_numpy()
    ranges = {"window": age_range(start, obs["eval_end_age"].to_numpy(), horizon),
              "expected": age_range(start, obs["exposure_end_age"].to_numpy(), horizon),
              "exposure": age_range(start, censoring_end_age(obs), horizon)}
    c = scores["credit_restricted_zero"]
    k = _blocked_calibrating_constant(vintage, offsets, horizon, blocks, ranges["expected"], c, restricted_score,
                                      in_sample)
    scores = {**scores, "credit_restricted_mean": c + k}
    order = [m for m in MODELS if m in scores]
    kinds = ("window", "expected", "full", "exposure") + (("unconditional", "unconditional_window")
                                                          if attrition_offsets is not None else ())
    columns = {kind: {m: np.empty(n) for m in order} for kind in kinds}
    excess = {m: {} for m in order}
    for sl in blocks:
        grid = HorizonGrid(vintage[sl], offsets, horizon)
        windows = {"cumulative": {"window": _rows(ranges["window"], sl), "full": None,
                                  "exposure": _rows(ranges["exposure"], sl)},
                   "expected": {"expected": _rows(ranges["expected"], sl)}}
        q = None
        if attrition_offsets is not None:
            q = np.ascontiguousarray(attrition_path(vintage[sl], attrition_offsets, horizon).T).T
            windows["unconditional"] = {"unconditional": None, "unconditional_window": windows["cumulative"]["window"]}
        # one pass per model over the block's (accounts x horizon) grid gives every window
        for m in order:
            out = grid.summaries(scores[m][sl], attrition=q, excess=excess[m], **windows)
            for kind in kinds:
                columns[kind][m][sl] = out[kind]
    for m in order:
        if excess[m]:
            warnings.warn(excess_message(**excess[m]), RuntimeWarning, stacklevel=2)
    return Forecasts(scores=scores, calibrating_constant=k, observed=obs, **columns)


def censoring_end_age(observed: pd.DataFrame) -> np.ndarray:
    """Last age of each account's censoring window: the end of the data or the horizon,
    whichever comes first, or the payoff (an exit without default) when that came before.

    A default does not end the window (had the account not defaulted it would have been
    observed to there); a payoff does, because the payoff age of a defaulter is unknown
    and a paid-off account is no longer at risk. ``observed`` is
    :func:`~apcfair.forecast.cumulative.observed_default_within`'s frame.

    Examples
    --------
    >>> import pandas as pd
    >>> obs = pd.DataFrame({"defaulted": [1, 0, 0], "eval_end_age": [36, 36, 20],
    ...                     "exposure_end_age": [7, 12, 20]})
    >>> censoring_end_age(obs).tolist()  # defaulted at 7, paid off at 12, open at the data end
    [36, 12, 20]
    """
    return np.where(observed["defaulted"].to_numpy() == 1, observed["eval_end_age"].to_numpy(),
                    observed["exposure_end_age"].to_numpy())


def _rows(window: tuple[np.ndarray, np.ndarray], sl: slice) -> tuple[np.ndarray, np.ndarray]:
    return window[0][sl], window[1][sl]


def calibrating_constant(grid: HorizonGrid, mask, c: np.ndarray, r: np.ndarray,
                         in_sample: np.ndarray) -> float:
    """Constant ``k`` with the same expected in-sample defaults for ``c + k`` as for ``c + r``.

    Expected defaults are summed over each account's exposure (``mask``: a boolean
    (accounts x horizon) mask, or a :meth:`HorizonGrid.age_range` pair) and over the
    estimation accounts only, so the root search runs over the estimation accounts'
    exposure months alone. The bracket for the root widens up to +-128 logits; without a
    root the zeroed forecast (``k = 0``) is used, with a warning.
    """
    in_sample = np.asarray(in_sample, dtype=bool)
    if isinstance(mask, tuple):
        lo, hi = mask
        mask = (grid.ages >= lo[:, None]) & (grid.ages <= hi[:, None])
    cells = np.asarray(mask, dtype=bool)[in_sample]
    terms, odds_against = _exposure_terms(grid.eta0[in_sample], cells, np.asarray(c, dtype=float)[in_sample],
                                          np.asarray(r, dtype=float)[in_sample])
    return _calibrating_root(float(terms.sum()), odds_against, stacklevel=3)


def _exposure_terms(eta0: np.ndarray, cells: np.ndarray, c: np.ndarray, r: np.ndarray):
    """Over the ``cells`` of ``eta0`` (accounts x horizon, in row order): the monthly PDs at
    ``c + r`` and the odds against default at ``c`` (``PD(k) = 1 / (1 + odds exp(-k))``)."""
    eta = eta0[cells]
    per_account = cells.sum(axis=1)
    c_cells = np.repeat(c, per_account)
    terms = np.exp(log_expit(eta + (c_cells + np.repeat(r, per_account))))
    with np.errstate(over="ignore"):
        return terms, np.exp(-(eta + c_cells))


def _blocked_calibrating_constant(vintage, offsets, horizon: int, blocks: list[slice], expo_range, c, r,
                                  in_sample: np.ndarray) -> float:
    """:func:`calibrating_constant` over the exposure ranges, the grid built one block at a time.

    The estimation accounts' exposure months are gathered into two 1-D arrays (their count,
    not accounts x horizon) in the same order as the one-grid version, so the sums and the
    constant are the same.
    """
    lo, hi = expo_range
    months = np.where(in_sample, np.maximum(hi - lo + 1, 0), 0)
    total = int(months.sum())
    terms, odds_against = np.empty(total), np.empty(total)
    c, r = np.asarray(c, dtype=float), np.asarray(r, dtype=float)
    pos = 0
    for sl in blocks:
        ins = in_sample[sl]
        if not ins.any():
            continue
        grid = HorizonGrid(vintage[sl][ins], offsets, horizon)
        cells = (grid.ages >= lo[sl][ins, None]) & (grid.ages <= hi[sl][ins, None])
        t, o = _exposure_terms(grid.eta0, cells, c[sl][ins], r[sl][ins])
        terms[pos:pos + len(t)], odds_against[pos:pos + len(t)] = t, o
        pos += len(t)
    target = float(terms.sum())
    del terms  # the root search needs the odds and one buffer
    return _calibrating_root(target, odds_against, stacklevel=4)


def _calibrating_root(target: float, odds_against: np.ndarray, *, stacklevel: int) -> float:
    """Root ``k`` of ``sum 1 / (1 + odds_against exp(-k)) = target`` (0 with a warning if none)."""
    buf = np.empty_like(odds_against)

    def gap(k):
        with np.errstate(over="ignore"):
            np.multiply(odds_against, np.exp(-k), out=buf)
        np.add(1.0, buf, out=buf)
        return float(np.divide(1.0, buf, out=buf).sum()) - target

    lo, hi = -2.0, 2.0
    for _ in range(6):  # widen the bracket until it holds the root (up to +-128 logits)
        if gap(lo) <= 0 <= gap(hi):
            return float(optimize.brentq(gap, lo, hi, xtol=1e-6))
        lo, hi = 2 * lo, 2 * hi
    warnings.warn("no calibrating constant found for the restricted term; credit_restricted_mean "
                  "falls back to the zeroed forecast", RuntimeWarning, stacklevel=stacklevel)
    return 0.0


# ---------------------------------------------------------------------- 5. evaluation
@dataclass(frozen=True)
class Evaluation:
    """The paper's Tables 6–7 and more (see :class:`~apcfair.unbiased.UnbiasedResult`).

    Attributes
    ----------
    rows : list of dict
        One record per model and sample (the ``comparison.json`` layout).
    dependence_table : pandas.DataFrame
        ``model, sample, attribute, corr, dcor, auc_group, air``.
    cost_of_fairness : dict
        DeLong test of AUC(credit) − AUC(credit_restricted_zero) per sample.
    costs : dict
        The AUC costs of :data:`COSTS` (:func:`auc_costs`).
    """

    rows: list
    dependence_table: pd.DataFrame
    cost_of_fairness: dict
    costs: dict = field(default_factory=dict)


def evaluate(portfolio: Portfolio, forecasts: Forecasts, in_sample: np.ndarray, *, horizon: int,
             protected: list[str], approval_rate: float, random_state: int | None, n_boot: int = 200) -> Evaluation:
    """AUC and Gini in and out of sample, the cost of zeroing, calibration and dependence.

    The headline AUC is on the accounts observed for the whole horizon (the paper's
    36-month cumulative outcome); all accounts, with their calendar-truncated windows, as a
    secondary figure. Calibration compares expected with actual defaults within the
    horizon and the mean cumulative PD with Kaplan–Meier, overall and by vintage year,
    within each sample.

    Parameters
    ----------
    portfolio : Portfolio
    forecasts : Forecasts
    in_sample : numpy.ndarray of bool
    horizon : int
    protected : list of str
        Attributes to measure dependence on.
    approval_rate : float
        Share approved (lowest PD first) for the adverse impact ratio.
    random_state : int, optional
        Seed of the distance-correlation subsample and of the bootstrap.
    n_boot : int
        Bootstrap replicates of the change in correlation vs the traditional model.

    Returns
    -------
    Evaluation
    """
    loans = portfolio.loans
    spells = portfolio.spells()
    y = forecasts.observed["defaulted"].to_numpy()
    complete = forecasts.observed["complete"].to_numpy()
    vyear = spells.vintage // _periods_per_year(portfolio.freq)
    samples = {"in": in_sample, "out": ~in_sample}
    sample_spells = {s: spells.take(m) for s, m in samples.items()}
    km_by_year = {s: observed_cumulative_default(sample_spells[s], horizon, groups=vyear[m])
                  for s, m in samples.items()}
    km_all = {s: observed_cumulative_default(sample_spells[s], horizon) for s in samples}
    aj_all = ({s: aalen_johansen_at(sample_spells[s], horizon) for s in samples} if forecasts.unconditional else {})
    in_horizon = spells.defaulted & (spells.last_age <= horizon)
    groups = {attr: pd.factorize(protected_groups(loans[attr]), use_na_sentinel=False) for attr in protected}
    rows, dep_rows = [], []
    window = forecasts.window
    pooled = {s: _RankedWindow(y, window, m) for s, m in samples.items()}  # each forecast ranked once
    ranked = {s: _RankedWindow(y, window, m & complete, parent=pooled[s]) for s, m in samples.items()}
    for s, m in samples.items():
        actual = actual_defaults_within(spells, m, horizon)
        changes = corr_changes_by_attribute({name: forecasts.full[name][m] for name in forecasts.models}, "credit",
                                            {attr: loans[attr].to_numpy()[m] for attr in protected},
                                            n_boot=n_boot, random_state=random_state)
        attributes = {attr: _PreparedAttribute(loans[attr].to_numpy()[m]) for attr in protected}  # encoded once
        group_defaults = {attr: _GroupDefaults.of_subset(in_horizon, codes, levels, m)  # for all models
                          for attr, (codes, levels) in groups.items()}
        years = _YearCalibration.of(vyear[m], km_by_year[s])
        for name in forecasts.models:
            cal = _calibration(forecasts, name, m, actual, km_all[s], years)
            cal["by_group"] = {attr: _calibration_by_group_counts(forecasts.expected[name][m], g)
                               for attr, g in group_defaults.items()}
            row = {"model": name, "label": MODEL_LABELS[name], "sample": s,
                   **_discrimination_ranked(ranked[s], pooled[s], name),
                   "n_accounts": int(m.sum()), "defaults_within_horizon": actual, "calibration": cal}
            if forecasts.unconditional:
                row["calibration_unconditional"] = calibration_unconditional(forecasts, name, m, aj_all[s])
            if name != "credit":
                row["auc_difference_vs_credit"] = ranked[s].difference("credit", name)
            row["dependence"] = {}
            fc = _PreparedForecast(forecasts.full[name][m])  # sorted once for all attributes
            for attr in protected:
                dd = _dependence(fc, attributes[attr], approval_rate=approval_rate, random_state=random_state)
                if name != "credit":
                    dd["change_vs_credit"] = changes[attr][name]
                row["dependence"][attr] = dd
                ch = dd.get("change_vs_credit", {})
                dep_rows.append({"model": name, "sample": s, "attribute": attr, "corr": dd["corr"],
                                 "dcor": dd["dcor"], "auc_group": dd.get("auc_group"), "air": dd["air"]["air"],
                                 "corr_change_vs_credit": ch.get("difference"),
                                 "change_lower": ch.get("lower"), "change_upper": ch.get("upper")})
            rows.append(row)
    cost = {s: ranked[s].difference("credit", "credit_restricted_zero") for s in samples}
    return Evaluation(rows, pd.DataFrame(dep_rows), cost, auc_costs(y, window, samples, complete, ranked=ranked))


class _RankedWindow:
    """The models' window forecasts on fixed accounts, each ranked once (on first use) for
    every AUC and DeLong comparison it enters: the same numbers as :func:`~apcfair.unbiased.dependence.auc_with_ci` and
    :func:`~apcfair.unbiased.dependence.delong_auc_difference` on those accounts.

    With a ``parent`` on a superset of the accounts, each forecast's order is read from the
    parent's (a stable sort restricted to a subset is the subset's stable sort) instead of
    sorted again.
    """

    def __init__(self, y: np.ndarray, window: dict, mask: np.ndarray, parent: _RankedWindow | None = None):
        self.y = np.asarray(y[mask]).astype(int)
        self.window, self.mask, self.parent = window, mask, parent
        self._rows: dict = {}
        self._orders: dict = {}
        self._keep = None

    def order(self, name: str) -> np.ndarray:
        """Stable argsort of the forecast, positives first (:func:`_positives_first`)."""
        if name not in self._orders:
            if self.parent is None:
                values = _positives_first(np.asarray(self.window[name][self.mask], float), self.y)
                self._orders[name] = np.argsort(values, kind="stable")
            else:
                if self._keep is None:   # this window's accounts in the parent's layout
                    self._keep = _positives_first(self.mask[self.parent.mask], self.parent.y)
                parent_order = self.parent.order(name)
                self._orders[name] = (np.cumsum(self._keep) - 1)[parent_order[self._keep[parent_order]]]
        return self._orders[name]

    def rows(self, name: str):
        if name not in self._rows:
            self._rows[name] = _delong_rows(np.asarray(self.window[name][self.mask], float)[None, :], self.y,
                                            [self.order(name)])
        return self._rows[name]

    def auc_with_ci(self, name: str) -> dict:
        return _auc_ci(self.rows(name))

    def difference(self, a: str, b: str) -> dict:
        """DeLong test of AUC(a) - AUC(b) (:func:`~apcfair.unbiased.dependence.delong_auc_difference`)."""
        if self.y.min() == self.y.max():
            raise ValueError("the AUC needs both defaulters and non-defaulters")
        return _delong_difference(self.rows(a).stack(self.rows(b)))


def auc_costs(y: np.ndarray, window: dict, samples: dict, complete: np.ndarray, *,
              ranked: dict | None = None) -> dict:
    """The AUC costs of :data:`COSTS` with paired DeLong intervals, in and out of sample.

    ``ranked`` (``{sample: _RankedWindow}`` on the complete-horizon accounts) shares the
    forecasts' ranks with the rest of the evaluation.

    Returns
    -------
    dict
        ``{cost: {"in": {...}, "out": {...}, "models": [a, b], "meaning": str}}``; each
        sample holds ``difference`` (AUC(a) - AUC(b), AUC points), ``lower``, ``upper``,
        ``p_value``, ``method``, ``auc_a``, ``auc_b``, ``se``, ``z``, ``n_accounts``.
    """
    out = {}
    for name, (a, b, meaning) in COSTS.items():
        if a not in window or b not in window:
            continue
        rec: dict = {"models": [a, b], "meaning": meaning}
        for s, m in samples.items():
            mc = m & complete
            r = ranked[s] if ranked is not None else _RankedWindow(y, window, mc)
            rec[s] = {**r.difference(a, b), "n_accounts": int(mc.sum())}
        out[name] = rec
    return out


def protected_groups(attribute: pd.Series) -> np.ndarray:
    """Group label per account for calibration by group: the values of a binary or
    categorical attribute (missing as ``"NA"``); a numeric one split at its median."""
    s = pd.Series(attribute).reset_index(drop=True)
    levels = s.dropna().unique()
    if pd.api.types.is_numeric_dtype(s) and len(levels) > 2:
        med = s.median()
        return np.where(s.isna(), "NA", np.where(s > med, f"above median ({med:g})",
                                                 f"at or below median ({med:g})")).astype(object)
    return s.astype(object).where(s.notna(), "NA").astype(str).to_numpy(dtype=object)


def calibration_by_group(expected: np.ndarray, defaulted: np.ndarray, group: np.ndarray,
                         alpha: float = 0.05) -> list[dict]:
    """Expected over actual defaults within the horizon per group, with an exact Poisson interval.

    ``expected`` is each account's sum of monthly PDs over its exposure within the horizon,
    ``defaulted`` whether it defaulted within the horizon. The interval treats the actual
    count as Poisson (Garwood's exact limits) and the expected count as fixed.

    Examples
    --------
    >>> import numpy as np
    >>> out = calibration_by_group(np.full(4, 0.5), np.array([1, 0, 1, 1]), np.array(["a", "a", "b", "b"]))
    >>> [(r["group"], r["n"], r["expected_over_actual"]) for r in out]
    [('a', 2, 1.0), ('b', 2, 0.5)]
    """
    return _calibration_by_group_counts(expected, _GroupDefaults.of(defaulted, group, alpha))


@dataclass(frozen=True)
class _GroupDefaults:
    """What :func:`calibration_by_group` needs besides the forecast: the groups (in order of
    appearance, as ``pd.unique``), their accounts, actual defaults and Garwood limits; the
    same for every model of a sample."""

    codes: np.ndarray
    levels: np.ndarray
    n: np.ndarray
    actual: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    @classmethod
    def of(cls, defaulted: np.ndarray, group: np.ndarray, alpha: float = 0.05) -> _GroupDefaults:
        codes, levels = pd.factorize(np.asarray(group, dtype=object), use_na_sentinel=False)
        return cls.of_codes(defaulted, codes, levels, alpha)

    @classmethod
    def of_subset(cls, defaulted: np.ndarray, codes: np.ndarray, levels: np.ndarray, mask: np.ndarray,
                  alpha: float = 0.05) -> _GroupDefaults:
        """:meth:`of` on the accounts ``mask`` of groups factorized once (``codes``, ``levels``)."""
        sub, first = pd.factorize(codes[mask])       # order of appearance within the subset
        return cls.of_codes(defaulted[mask], sub, levels[first], alpha)

    @classmethod
    def of_codes(cls, defaulted: np.ndarray, codes: np.ndarray, levels: np.ndarray,
                 alpha: float = 0.05) -> _GroupDefaults:
        from scipy import stats

        k = len(levels)
        a_all = np.bincount(codes, weights=np.asarray(defaulted, dtype=float), minlength=k).round().astype(np.int64)
        lo_all = np.where(a_all > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(a_all, 1)) / 2, 0.0)
        hi_all = stats.chi2.ppf(1 - alpha / 2, 2 * a_all + 2) / 2
        return cls(codes, levels, np.bincount(codes, minlength=k), a_all, lo_all, hi_all)


def _calibration_by_group_counts(expected: np.ndarray, groups: _GroupDefaults) -> list[dict]:
    """:func:`calibration_by_group` with the groups' counts already taken."""
    codes, levels, n, a_all, lo_all, hi_all = (groups.codes, groups.levels, groups.n, groups.actual,
                                               groups.lower, groups.upper)
    e_all = np.bincount(codes, weights=np.asarray(expected, dtype=float), minlength=len(levels))
    out = []
    for j, g in enumerate(levels):
        e, a, lo_a, hi_a = float(e_all[j]), int(a_all[j]), float(lo_all[j]), float(hi_all[j])
        out.append({"group": str(g), "n": int(n[j]), "expected_defaults": e, "actual_defaults": a,
                    "expected_over_actual": e / a if a else None,
                    "lower": e / hi_a, "upper": (e / lo_a) if lo_a > 0 else None})
    return out


def _discrimination_ranked(complete: _RankedWindow, pooled: _RankedWindow, name: str) -> dict:
    """AUC of model ``name`` with DeLong band on complete-horizon accounts, and on all accounts
    of the sample, from its ranked window forecasts."""
    return _with_pooled(complete.auc_with_ci(name), pooled.auc_with_ci(name), complete.mask)


def _with_pooled(perf: dict, pooled: dict, complete: np.ndarray) -> dict:
    perf.update({"auc_all_accounts": pooled["auc"], "gini_all_accounts": pooled["gini"],
                 "n_complete_horizon": int(complete.sum())})
    return perf


def _calibration(forecasts: Forecasts, name: str, mask: np.ndarray, actual: int, km: pd.DataFrame,
                 years: _YearCalibration) -> dict:
    """Expected vs actual defaults, and mean cumulative PD vs Kaplan–Meier (overall, by year)."""
    expected = float(forecasts.expected[name][mask].sum())
    full = forecasts.full[name][mask]
    return {
        "definition": CALIBRATION_DEFINITIONS["calibration"],
        "expected_defaults": expected, "actual_defaults": actual,
        "expected_over_actual": expected / actual if actual else None,
        "mean_cum_pd_horizon": float(full.mean()),
        "km_cum_default_horizon": float(km["km_cum_default"].iloc[0]) if len(km) else None,
        "by_vintage_year": years.records(full),
    }


#: What ``calibration`` and ``calibration_unconditional`` in ``comparison.json`` compare.
CALIBRATION_DEFINITIONS = {
    "calibration": "expected_defaults = sum of monthly PDs over each account's months at risk within the horizon "
                   "(exposure ends at default, payoff or the end of the data: payoff is censoring, so this check "
                   "holds on either definition); mean_cum_pd_horizon is cum_pd (NET of attrition) against "
                   "km_cum_default_horizon (1 - Kaplan-Meier, payoff censored: also net)",
    "calibration_unconditional": "expected_defaults = sum of cum_pd_unconditional_observed_window (default before "
                                 "any other exit, horizon cut at the end of the data) against actual_defaults = "
                                 "sum of defaulted_within_horizon (default before payoff within that window): the "
                                 "matching definition; net_expected_defaults sums cum_pd_observed_window (net of "
                                 "attrition) against the same count, shown for contrast (too high where accounts "
                                 "pay off); mean_cum_pd_unconditional_horizon is cum_pd_unconditional against "
                                 "aj_cum_default_horizon (Aalen-Johansen cumulative incidence, payoff competing)",
}


def aalen_johansen_at(spells: Spells, horizon: int) -> dict | None:
    """Aalen–Johansen cumulative incidence of default at ``horizon`` with its 95% band
    (``None`` when no account is observed that far)."""
    aj = aalen_johansen(spells)
    if not len(aj) or aj["age"].max() < horizon:
        return None
    last = aj[aj["age"] <= horizon].iloc[-1]
    return {"cif": float(last["cif_default"]), "lower": float(last["cif_default_lower"]),
            "upper": float(last["cif_default_upper"])}


def calibration_unconditional(forecasts: Forecasts, name: str, mask: np.ndarray, aj: dict | None) -> dict:
    """Expected vs actual defaults within the horizon on the matching (unconditional) definition.

    ``defaulted_within_horizon`` counts defaults before payoff (a paid-off account cannot
    default), so its forecast is the probability of default before any other exit over
    the same window; the net forecast over that window is given beside it, for contrast.
    See :data:`CALIBRATION_DEFINITIONS`.

    Returns
    -------
    dict
        ``definition``, ``expected_defaults``, ``actual_defaults`` (accounts),
        ``expected_over_actual``, ``net_expected_defaults``, ``net_expected_over_actual``,
        ``mean_cum_pd_unconditional_horizon``, ``mean_cum_pd_horizon`` (net, probabilities)
        and ``aj_cum_default_horizon`` with ``aj_lower``/``aj_upper`` (95%; ``None`` when no
        account is observed to the horizon).
    """
    actual = int(forecasts.observed["defaulted"].to_numpy()[mask].sum())
    expected = float(forecasts.unconditional_window[name][mask].sum())
    net = float(forecasts.window[name][mask].sum())
    return {
        "definition": CALIBRATION_DEFINITIONS["calibration_unconditional"],
        "expected_defaults": expected, "actual_defaults": actual,
        "expected_over_actual": expected / actual if actual else None,
        "net_expected_defaults": net, "net_expected_over_actual": net / actual if actual else None,
        "mean_cum_pd_unconditional_horizon": float(forecasts.unconditional[name][mask].mean()),
        "mean_cum_pd_horizon": float(forecasts.full[name][mask].mean()),
        "aj_cum_default_horizon": None if aj is None else aj["cif"],
        "aj_lower": None if aj is None else aj["lower"], "aj_upper": None if aj is None else aj["upper"],
    }


def actual_defaults_within(spells: Spells, mask: np.ndarray, horizon: int) -> int:
    """Defaults at ages up to ``horizon`` among the masked accounts."""
    return int((spells.defaulted[mask] & (spells.last_age[mask] <= horizon)).sum())


def calibration_by_year(forecast: np.ndarray, year: np.ndarray, km_by_year: pd.DataFrame) -> list[dict]:
    """Mean forecast and Kaplan–Meier cumulative default (with band) per vintage year."""
    return _YearCalibration.of(year, km_by_year).records(forecast)


@dataclass(frozen=True)
class _YearCalibration:
    """The vintage years of a sample (accounts and Kaplan–Meier figures), gathered once for
    every model's :func:`calibration_by_year`."""

    years: list  # (year, account positions, {km_cum_default, km_lower, km_upper} or {})

    @classmethod
    def of(cls, year: np.ndarray, km_by_year: pd.DataFrame) -> _YearCalibration:
        km = km_by_year.set_index("group")
        years = []
        for yr in np.unique(year):
            rec = {}
            if yr in km.index:
                rec = {"km_cum_default": float(km.loc[yr, "km_cum_default"]), "km_lower": float(km.loc[yr, "lower"]),
                       "km_upper": float(km.loc[yr, "upper"])}
            years.append((yr, np.flatnonzero(year == yr), rec))
        return cls(years)

    def records(self, forecast: np.ndarray) -> list[dict]:
        return [{"vintage_year": int(yr), "n": len(idx), "mean_cum_pd": float(forecast[idx].mean()), **km}
                for yr, idx, km in self.years]
