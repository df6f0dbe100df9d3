"""The stages of the unbiased-by-design procedure, each a function of what it needs.

:meth:`UnbiasedByDesign.fit <apcfair.unbiased.UnbiasedByDesign.fit>` runs them in order::

    split_accounts -> fit_apc -> fit_score_models (-> backfit rounds) -> fit_gbm
                   -> forecast -> evaluate

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
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize
from tqdm.auto import tqdm

from apcfair.apc import APCModel
from apcfair.forecast.cumulative import (
    HorizonGrid,
    observed_cumulative_default,
    observed_default_within,
)
from apcfair.offsets import OffsetTable
from apcfair.portfolio import Portfolio, Spells
from apcfair.scoring import OffsetGBM, OffsetLogit
from apcfair.unbiased.dependence import auc_with_ci, delong_auc_difference, dependence

#: Names of the compared models, in report order (the keys of
#: :attr:`UnbiasedResult.comparison`'s ``model`` column; the ``gbm_*`` ones only with
#: ``gbm=True``).
MODELS = (
    "credit",
    "restricted",
    "credit_with_restricted_offset",
    "credit_restricted_zero",
    "credit_restricted_mean",
    "gbm_credit_with_restricted_offset",
    "gbm_credit_restricted_zero",
)
#: Boosted-tree settings of the procedure: shallow trees and large leaves, because the
#: credit inputs are few and the signal per account-month is weak (deeper trees overfit:
#: in-sample AUC 0.81 vs 0.76 out of sample on the default synthetic portfolio).
GBM_DEFAULTS = {"n_estimators": 200, "learning_rate": 0.05, "num_leaves": 7, "min_child_samples": 400}

#: Column added for the vintage-year dummies of the logit models.
VINTAGE_YEAR = "vintage year"

MODEL_LABELS = {
    "credit": "APC Scoring, Credit",
    "restricted": "APC Scoring, Restricted",
    "credit_with_restricted_offset": "APC Scoring, Credit with Restricted offset",
    "credit_restricted_zero": "APC Scoring, Credit with Restricted = 0",
    "credit_restricted_mean": "APC Scoring, Credit with Restricted = calibrated constant",
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
def split_accounts(n: int, test_size: float, random_state: int | None) -> np.ndarray:
    """Random estimation / held-out split of ``n`` accounts.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` for the ``round(n * (1 - test_size))`` estimation (in-sample) accounts.
    """
    rng = np.random.default_rng(random_state)
    in_sample = np.zeros(n, dtype=bool)
    in_sample[rng.permutation(n)[: int(round(n * (1 - test_size)))]] = True
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
    if apc_result is None:
        model = apc_model or APCModel(hyper="eb", n_draws=400, random_state=random_state)
        est = portfolio.subset(in_sample, "estimation sample for the APC model", "held out (out-of-sample half)")
        if account_offset is None:
            apc_result = model.fit(est.cells()).result_
        else:
            apc_result = model.fit(est, account_offset=np.asarray(account_offset)[in_sample]).result_
    offsets = apc_result.offset_table(include_intercept=True, max_age=horizon,
                                      last_period=portfolio.window[1] + horizon)
    return apc_result, offsets


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


def logit_data(portfolio: Portfolio, in_sample: np.ndarray, vintage_dummies: bool) -> tuple:
    """What the logit models are fitted on, and their vintage columns.

    Returns
    -------
    tuple of (Portfolio or pandas.DataFrame, list of str)
        The portfolio itself without vintage dummies; else its loans with the column
        ``"vintage year"`` (vintage years with fewer than 10 estimation defaults merged
        with a neighbour) and ``["vintage year"]``.
    """
    if not vintage_dummies:
        return portfolio, []
    loans = portfolio.loans
    return loans.assign(**{VINTAGE_YEAR: vintage_year_groups(loans, in_sample, portfolio.freq)}), [VINTAGE_YEAR]


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


def fit_gbm(portfolio: Portfolio, credit: list[str], offsets: OffsetTable, restricted_score: np.ndarray,
            in_sample: np.ndarray, params: dict) -> OffsetGBM:
    """Boosted trees on the credit inputs with the APC and restricted offsets fixed.

    ``params`` are :class:`~apcfair.scoring.OffsetGBM` settings (the procedure passes
    :data:`GBM_DEFAULTS` updated with its ``gbm_params`` and ``random_state``).
    """
    return OffsetGBM(**params).fit(portfolio, credit, offset=offsets, account_offset=restricted_score,
                                   accounts=in_sample)


def gbm_scores(model: OffsetGBM, portfolio: Portfolio, restricted_score: np.ndarray) -> dict[str, np.ndarray]:
    """The boosted-tree scores with the restricted offset and with it set to 0."""
    trees = model.predict_account_score(portfolio)
    return {"gbm_credit_with_restricted_offset": trees + restricted_score, "gbm_credit_restricted_zero": trees}


def vintage_year_groups(loans: pd.DataFrame, in_sample: np.ndarray, freq: str, min_defaults: int = 10) -> np.ndarray:
    """Vintage year per account, years with fewer than ``min_defaults`` estimation defaults
    merged into their neighbour (so no dummy is estimated without information)."""
    year = (loans["vintage"].to_numpy(np.int64) // _periods_per_year(freq)).astype(int)
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

    @property
    def models(self) -> list[str]:
        """The forecast models in report order (:data:`MODELS`)."""
        return [m for m in MODELS if m in self.scores]

    def to_frame(self, account_id, in_sample: np.ndarray) -> pd.DataFrame:
        """One row per account and model: ``account_id, sample, model, cum_pd,
        cum_pd_observed_window, defaulted_within_horizon``."""
        order = self.models
        n = len(in_sample)
        return pd.DataFrame({
            "account_id": np.tile(np.asarray(account_id), len(order)),
            "sample": np.tile(np.where(in_sample, "in", "out"), len(order)),
            "model": np.repeat(order, n),
            "cum_pd": np.concatenate([self.full[m] for m in order]),
            "cum_pd_observed_window": np.concatenate([self.window[m] for m in order]),
            "defaulted_within_horizon": np.tile(self.observed["defaulted"].to_numpy(), len(order)),
        })


def forecast(portfolio: Portfolio, offsets: OffsetTable, scores: dict[str, np.ndarray],
             restricted_score: np.ndarray, in_sample: np.ndarray, *, horizon: int) -> Forecasts:
    """Forecasts of every score, and the calibrated constant for the restricted term.

    Over the months each account was observed (for the AUC and expected vs actual
    defaults) and over the full horizon (for dependence and decisions). The model
    ``credit_restricted_mean`` is added: the credit score with the restricted term set to
    the constant ``k`` that keeps the estimation accounts' expected defaults equal to
    those of ``credit_with_restricted_offset`` (``credit_restricted_zero`` +
    ``restricted_score``).

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

    Returns
    -------
    Forecasts
    """
    loans = portfolio.loans
    obs = observed_default_within(loans, horizon, window_end=portfolio.window[1])
    start = obs["start_age"].to_numpy()
    eval_end, expo_end = obs["eval_end_age"].to_numpy(), obs["exposure_end_age"].to_numpy()
    grid = HorizonGrid(portfolio.spells().vintage, offsets, horizon)
    eval_mask, expo_mask = grid.mask(start, eval_end), grid.mask(start, expo_end)
    c = scores["credit_restricted_zero"]
    k = calibrating_constant(grid, expo_mask, c, restricted_score, in_sample)
    scores = {**scores, "credit_restricted_mean": c + k}
    order = [m for m in MODELS if m in scores]
    return Forecasts(
        scores=scores,
        window={m: grid.cumulative(scores[m], eval_mask) for m in order},
        expected={m: grid.expected(scores[m], expo_mask) for m in order},
        full={m: grid.cumulative(scores[m]) for m in order},
        calibrating_constant=k,
        observed=obs,
    )


def calibrating_constant(grid: HorizonGrid, mask: np.ndarray, c: np.ndarray, r: np.ndarray,
                         in_sample: np.ndarray) -> float:
    """Constant ``k`` with the same expected in-sample defaults for ``c + k`` as for ``c + r``.

    Expected defaults are summed over the grid cells in ``mask`` (each account's
    exposure) and over the estimation accounts. The bracket for the root widens up to
    +-128 logits; without a root the zeroed forecast (``k = 0``) is used, with a warning.
    """
    def expected_in_sample(score):
        return float(grid.expected(score, mask)[in_sample].sum())

    target = expected_in_sample(c + r)

    def gap(k):
        return expected_in_sample(c + k) - target

    lo, hi = -2.0, 2.0
    for _ in range(6):  # widen the bracket until it holds the root (up to +-128 logits)
        if gap(lo) <= 0 <= gap(hi):
            return float(optimize.brentq(gap, lo, hi, xtol=1e-6))
        lo, hi = 2 * lo, 2 * hi
    warnings.warn("no calibrating constant found for the restricted term; credit_restricted_mean "
                  "falls back to the zeroed forecast", RuntimeWarning, stacklevel=3)
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
    """

    rows: list
    dependence_table: pd.DataFrame
    cost_of_fairness: dict


def evaluate(portfolio: Portfolio, forecasts: Forecasts, in_sample: np.ndarray, *, horizon: int,
             protected: list[str], approval_rate: float, random_state: int | None) -> Evaluation:
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
        Seed of the distance-correlation subsample.

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
    km_by_year = {s: observed_cumulative_default(loans[m].reset_index(drop=True), horizon, groups=vyear[m])
                  for s, m in samples.items()}
    km_all = {s: observed_cumulative_default(loans[m].reset_index(drop=True), horizon) for s, m in samples.items()}
    rows, dep_rows = [], []
    window = forecasts.window
    for s, m in samples.items():
        mc = m & complete
        actual = actual_defaults_within(spells, m, horizon)
        for name in forecasts.models:
            row = {"model": name, "label": MODEL_LABELS[name], "sample": s,
                   **_discrimination(y, window[name], m, mc),
                   "n_accounts": int(m.sum()), "defaults_within_horizon": actual,
                   "calibration": _calibration(forecasts, name, m, actual, vyear[m], km_all[s], km_by_year[s])}
            if name != "credit":
                row["auc_difference_vs_credit"] = delong_auc_difference(y[mc], window["credit"][mc], window[name][mc])
            row["dependence"] = {}
            for attr in protected:
                dd = dependence(forecasts.full[name][m], loans[attr].to_numpy()[m], approval_rate=approval_rate,
                                random_state=random_state)
                row["dependence"][attr] = dd
                dep_rows.append({"model": name, "sample": s, "attribute": attr, "corr": dd["corr"],
                                 "dcor": dd["dcor"], "auc_group": dd.get("auc_group"), "air": dd["air"]["air"]})
            rows.append(row)
    cost = {s: delong_auc_difference(y[m & complete], window["credit"][m & complete],
                                     window["credit_restricted_zero"][m & complete])
            for s, m in samples.items()}
    return Evaluation(rows, pd.DataFrame(dep_rows), cost)


def _discrimination(y: np.ndarray, window_pd: np.ndarray, mask: np.ndarray, complete: np.ndarray) -> dict:
    """AUC with DeLong band on complete-horizon accounts, and on all accounts of the sample."""
    perf = auc_with_ci(y[complete], window_pd[complete])
    pooled = auc_with_ci(y[mask], window_pd[mask])
    perf.update({"auc_all_accounts": pooled["auc"], "gini_all_accounts": pooled["gini"],
                 "n_complete_horizon": int(complete.sum())})
    return perf


def _calibration(forecasts: Forecasts, name: str, mask: np.ndarray, actual: int, year: np.ndarray,
                 km: pd.DataFrame, km_by_year: pd.DataFrame) -> dict:
    """Expected vs actual defaults, and mean cumulative PD vs Kaplan–Meier (overall, by year)."""
    expected = float(forecasts.expected[name][mask].sum())
    full = forecasts.full[name][mask]
    return {
        "expected_defaults": expected, "actual_defaults": actual,
        "expected_over_actual": expected / actual if actual else None,
        "mean_cum_pd_horizon": float(full.mean()),
        "km_cum_default_horizon": float(km["km_cum_default"].iloc[0]) if len(km) else None,
        "by_vintage_year": calibration_by_year(full, year, km_by_year),
    }


def actual_defaults_within(spells: Spells, mask: np.ndarray, horizon: int) -> int:
    """Defaults at ages up to ``horizon`` among the masked accounts."""
    return int((spells.defaulted[mask] & (spells.last_age[mask] <= horizon)).sum())


def calibration_by_year(forecast: np.ndarray, year: np.ndarray, km_by_year: pd.DataFrame) -> list[dict]:
    """Mean forecast and Kaplan–Meier cumulative default (with band) per vintage year."""
    km = km_by_year.set_index("group")
    out = []
    for yr in np.unique(year):
        m = year == yr
        rec = {"vintage_year": int(yr), "n": int(m.sum()), "mean_cum_pd": float(forecast[m].mean())}
        if yr in km.index:
            rec["km_cum_default"] = float(km.loc[yr, "km_cum_default"])
            rec["km_lower"] = float(km.loc[yr, "lower"])
            rec["km_upper"] = float(km.loc[yr, "upper"])
        out.append(rec)
    return out
