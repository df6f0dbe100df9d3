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

Offsets come from :meth:`APCResult.offset_table`, which moves G's linear trend into
F + H, so nothing here depends on the APC model's linear-trend assumption.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize

from apcfair._provenance import provenance
from apcfair.errors import DataValidationError, NotFittedError
from apcfair.forecast.cumulative import (
    HorizonGrid,
    observed_cumulative_default,
    observed_default_within,
)
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


class UnbiasedByDesign:
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
        Forecast horizon in months from origination (default 36).
    bins : int or None
        Quantile bins (plus an NA bin) for numeric inputs, as in the paper; ``None``
        enters numeric inputs linearly.
    test_size : float
        Share of accounts held out (default 0.5, the paper's split).
    gbm : bool
        Also fit the boosted-tree variants (LightGBM with the offsets as init score).
    gbm_params : dict, optional
        Settings for :class:`~apcfair.scoring.OffsetGBM`.
    apc_model : APCModel, optional
        APC settings when no fitted APC result is given (default: Laplace engine with
        empirical-Bayes hyperparameters).
    approval_rate : float
        Share approved (lowest PD first) for the adverse impact ratio.
    vintage_dummies : bool
        Add vintage dummies to the logit models, as in the paper's equation (3): they carry
        the vintage effects that the inputs do not explain (G(v) is not part of the offset).
        One dummy per vintage year; years with fewer than 10 estimation defaults are merged
        with a neighbour. The restricted offset keeps only the restricted inputs' part.
    backfit : int
        Rounds of backfitting (default 0): refit the APC functions over the estimation
        account-months with the credit score (with restricted offset) as a fixed account
        offset, then refit the score models on the new offsets. A cell-level APC fit mixes
        accounts of different risk and the riskier ones leave first (frailty selection), so
        its lifecycle falls too fast with age; one round removes most of that.
    random_state : int
        Seed for the split, the APC draws and the boosted trees.
    progress : bool
        Show a progress bar over the stages.

    Attributes
    ----------
    result_ : UnbiasedResult
        Everything the last :meth:`fit` produced (also :attr:`result`).

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
    difference) and removes most of the forecast's correlation with minority status:

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
                 vintage_dummies: bool = True, backfit: int = 0, random_state: int = 0, progress: bool = False):
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
        self.random_state = random_state
        self.progress = progress

    def get_params(self) -> dict:
        """Settings (stored with the result)."""
        return {k: (list(v) if isinstance(v, tuple | list) else v) for k, v in {
            "restricted": self.restricted, "credit": self.credit, "protected": self.protected,
            "horizon": self.horizon, "bins": self.bins, "test_size": self.test_size, "gbm": self.gbm,
            "gbm_params": self.gbm_params, "approval_rate": self.approval_rate,
            "vintage_dummies": self.vintage_dummies, "backfit": self.backfit,
            "random_state": self.random_state}.items()}

    def _check(self, portfolio):
        restricted, credit = list(self.restricted), list(self.credit)
        if not restricted or not credit:
            raise ValueError("give at least one restricted and one credit attribute")
        overlap = set(restricted) & set(credit)
        if overlap:
            raise ValueError(f"attributes {sorted(overlap)} are both restricted and credit inputs; "
                             "a restricted input must not enter the credit model")
        protected = list(self.protected) if self.protected is not None else restricted
        missing = [c for c in restricted + credit + protected if c not in portfolio.loans.columns]
        if missing:
            raise DataValidationError([f"attribute column(s) {missing} are not in the data; "
                                       f"available: {list(portfolio.attributes)}"])
        if not 0 < self.test_size < 1:
            raise ValueError(f"test_size={self.test_size!r} must be between 0 and 1")
        if self.horizon < 1:
            raise ValueError(f"horizon={self.horizon!r} must be at least 1 month")
        return restricted, credit, protected

    def fit(self, portfolio, apc_result=None) -> UnbiasedByDesign:
        """Run the whole procedure on a validated portfolio.

        Parameters
        ----------
        portfolio : Portfolio
            Loan-level or panel portfolio with the restricted and credit attributes.
        apc_result : APCResult, optional
            A fitted APC result to reuse; by default the APC model is fitted on the
            estimation (in-sample) accounts.

        Returns
        -------
        UnbiasedByDesign
            ``self`` with ``result_`` (:class:`UnbiasedResult`).
        """
        from tqdm.auto import tqdm

        from apcfair.apc import APCModel
        from apcfair.scoring import OffsetLogit

        restricted, credit, protected = self._check(portfolio)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        loans = portfolio.loans
        n = len(loans)
        rng = np.random.default_rng(self.random_state)
        in_sample = np.zeros(n, dtype=bool)
        in_sample[rng.permutation(n)[: int(round(n * (1 - self.test_size)))]] = True
        stages = ["APC", "restricted", "credit", "credit + restricted offset"] + (["GBM"] if self.gbm else []) + ["forecasts", "evaluation"]
        bar = tqdm(total=len(stages), desc="unbiased by design", disable=not self.progress, leave=False)

        def tick(name, t):
            timings[name] = round(time.perf_counter() - t, 3)
            bar.set_postfix_str(name)
            bar.update(1)

        t = time.perf_counter()
        if apc_result is None:
            model = self.apc_model or APCModel(hyper="eb", n_draws=400, random_state=self.random_state)
            est = portfolio.subset(in_sample, "estimation sample for the APC model", "held out (out-of-sample half)")
            apc_result = model.fit(est.cells()).result_
        v = loans["vintage"].to_numpy(np.int64)
        # identification-invariant offsets; beyond the data window the environment is held
        # at its recent seasonally adjusted level with the month-of-year pattern continued
        offsets = apc_result.offset_table(include_intercept=True, max_age=self.horizon,
                                          last_period=portfolio.window[1] + self.horizon)
        tick("APC", t)

        # restricted model, centred on the estimation accounts
        t = time.perf_counter()
        data, vint_cols = portfolio, []
        if self.vintage_dummies:
            data = loans.assign(**{VINTAGE_YEAR: _vintage_year_groups(loans, in_sample, portfolio.freq)})
            vint_cols = [VINTAGE_YEAR]

        def logit_model():
            return OffsetLogit(bins=self.bins, categorical=vint_cols, handle_unknown="reference")

        def fit_logits(offsets, tick_stages):
            t = time.perf_counter()
            m_res = logit_model().fit(data, restricted + vint_cols, offset=offsets, accounts=in_sample)
            r_raw = _attribute_part(m_res, data, restricted, vint_cols)
            r_centre = float(r_raw[in_sample].mean())
            r = r_raw - r_centre
            if tick_stages:
                tick("restricted", t)
            t = time.perf_counter()
            m_cr = logit_model().fit(data, credit + vint_cols, offset=offsets, accounts=in_sample)
            if tick_stages:
                tick("credit", t)
            t = time.perf_counter()
            m_cr_r = logit_model().fit(data, credit + vint_cols, offset=offsets, account_offset=r,
                                       accounts=in_sample)
            if tick_stages:
                tick("credit + restricted offset", t)
            return m_res, r, r_centre, m_cr, m_cr_r

        m_restricted, r, r_centre, m_credit, m_credit_r = fit_logits(offsets, tick_stages=True)
        # backfitting: refit the APC functions over the estimation account-months with the
        # full score (credit model with restricted offset) as a fixed account offset, then
        # refit the score models on the new offsets (removes the cells' frailty selection)
        for _ in range(self.backfit):
            t = time.perf_counter()
            model = self.apc_model or APCModel(hyper="eb", n_draws=400, random_state=self.random_state)
            est = portfolio.subset(in_sample, "estimation sample for the APC model", "held out (out-of-sample half)")
            score = m_credit_r.predict_account_score(data) + r
            apc_result = model.fit(est, account_offset=score[in_sample]).result_
            offsets = apc_result.offset_table(include_intercept=True, max_age=self.horizon,
                                              last_period=portfolio.window[1] + self.horizon)
            m_restricted, r, r_centre, m_credit, m_credit_r = fit_logits(offsets, tick_stages=False)
            timings["backfit"] = round(timings.get("backfit", 0.0) + time.perf_counter() - t, 3)
        scores = {
            "credit": m_credit.predict_account_score(data),
            # the restricted-only model forecasts with its own vintage effects
            "restricted": m_restricted.predict_account_score(data),
        }
        c = m_credit_r.predict_account_score(data)
        scores["credit_with_restricted_offset"] = c + r
        scores["credit_restricted_zero"] = c
        gbm_model = None
        if self.gbm:
            from apcfair.scoring.gbm import OffsetGBM

            t = time.perf_counter()
            params = {"random_state": self.random_state, **GBM_DEFAULTS, **(self.gbm_params or {})}
            gbm_model = OffsetGBM(**params).fit(portfolio, credit, offset=offsets, account_offset=r,
                                                accounts=in_sample)
            g = gbm_model.predict_account_score(portfolio)
            scores["gbm_credit_with_restricted_offset"] = g + r
            scores["gbm_credit_restricted_zero"] = g
            tick("GBM", t)

        # forecasts: over the months each account was observed (for AUC and expected vs
        # actual defaults) and over the full horizon (for dependence and decisions)
        t = time.perf_counter()
        obs = observed_default_within(loans, self.horizon, window_end=portfolio.window[1])
        start = obs["start_age"].to_numpy()
        eval_end, expo_end = obs["eval_end_age"].to_numpy(), obs["exposure_end_age"].to_numpy()

        grid = HorizonGrid(v, offsets, self.horizon)
        eval_mask, expo_mask = grid.mask(start, eval_end), grid.mask(start, expo_end)

        def window_pd(score):
            return grid.cumulative(score, eval_mask)

        def expected(score):
            return grid.expected(score, expo_mask)

        k = _calibrating_constant(expected, c, r, in_sample)
        scores["credit_restricted_mean"] = c + k
        order = [m for m in MODELS if m in scores]
        fc_window = {m: window_pd(scores[m]) for m in order}
        fc_expected = {m: expected(scores[m]) for m in order}
        fc_full = {m: grid.cumulative(scores[m]) for m in order}
        tick("forecasts", t)

        t = time.perf_counter()
        y = obs["defaulted"].to_numpy()
        rows = []
        samples = {"in": in_sample, "out": ~in_sample}
        vyear = v // (12 if portfolio.freq == "M" else 4)
        complete = obs["complete"].to_numpy()
        km_by_year = {s: observed_cumulative_default(loans[m].reset_index(drop=True), self.horizon, groups=vyear[m])
                      for s, m in samples.items()}
        km_all = {s: observed_cumulative_default(loans[m].reset_index(drop=True), self.horizon) for s, m in samples.items()}
        dep_rows = []
        for s, m in samples.items():
            for name in order:
                fw, ff = fc_window[name][m], fc_full[name][m]
                # headline AUC on accounts observed for the whole horizon (the paper's
                # 36-month cumulative outcome); all accounts, with their calendar-truncated
                # windows, as a secondary figure
                mc = m & complete
                perf = auc_with_ci(y[mc], fc_window[name][mc])
                pooled = auc_with_ci(y[m], fw)
                perf.update({"auc_all_accounts": pooled["auc"], "gini_all_accounts": pooled["gini"],
                             "n_complete_horizon": int(mc.sum())})
                expected, actual = float(fc_expected[name][m].sum()), _actual_within(loans, m, self.horizon)
                km = km_all[s]
                row = {"model": name, "label": MODEL_LABELS[name], "sample": s, **perf,
                       "n_accounts": int(m.sum()), "defaults_within_horizon": actual,
                       "calibration": {
                           "expected_defaults": expected, "actual_defaults": actual,
                           "expected_over_actual": expected / actual if actual else None,
                           "mean_cum_pd_horizon": float(ff.mean()),
                           "km_cum_default_horizon": float(km["km_cum_default"].iloc[0]) if len(km) else None,
                           "by_vintage_year": _calibration_by_year(ff, vyear[m], km_by_year[s]),
                       }}
                if name != "credit":
                    row["auc_difference_vs_credit"] = delong_auc_difference(
                        y[mc], fc_window["credit"][mc], fc_window[name][mc])
                dep = {}
                for attr in protected:
                    dd = dependence(ff, loans[attr].to_numpy()[m], approval_rate=self.approval_rate,
                                    random_state=self.random_state)
                    dep[attr] = dd
                    dep_rows.append({"model": name, "sample": s, "attribute": attr, "corr": dd["corr"],
                                     "dcor": dd["dcor"], "auc_group": dd.get("auc_group"),
                                     "air": dd["air"]["air"]})
                row["dependence"] = dep
                rows.append(row)
        tick("evaluation", t)
        bar.close()
        cost = {
            s: delong_auc_difference(y[m & complete], fc_window["credit"][m & complete],
                                     fc_window["credit_restricted_zero"][m & complete])
            for s, m in samples.items()
        }
        forecasts = pd.DataFrame({
            "account_id": np.tile(loans["account_id"].to_numpy(), len(order)),
            "sample": np.tile(np.where(in_sample, "in", "out"), len(order)),
            "model": np.repeat(order, n),
            "cum_pd": np.concatenate([fc_full[mm] for mm in order]),
            "cum_pd_observed_window": np.concatenate([fc_window[mm] for mm in order]),
            "defaulted_within_horizon": np.tile(y, len(order)),
        })
        timings["total"] = round(time.perf_counter() - t0, 3)
        self.result_ = UnbiasedResult(
            rows=rows, dependence_table=pd.DataFrame(dep_rows), cost_of_fairness=cost, forecasts=forecasts,
            account_scores=pd.DataFrame({"account_id": loans["account_id"].to_numpy(), **scores}),
            coefficient_tables={"restricted": m_restricted.coef_table_, "credit": m_credit.coef_table_,
                                "credit_with_restricted_offset": m_credit_r.coef_table_},
            models={"restricted": m_restricted, "credit": m_credit, "credit_with_restricted_offset": m_credit_r,
                    "gbm": gbm_model},
            apc_result=apc_result, restricted_centre=r_centre, calibrating_constant=k,
            settings=self.get_params(), timings=timings, lineage=portfolio.lineage.to_dict(),
            provenance=provenance(self.get_params()),
        )
        return self

    @property
    def result(self) -> UnbiasedResult:
        """The :class:`UnbiasedResult` of the last fit."""
        if not hasattr(self, "result_"):
            raise NotFittedError("UnbiasedByDesign is not fitted yet: call fit(portfolio)")
        return self.result_


def _vintage_year_groups(loans: pd.DataFrame, in_sample: np.ndarray, freq: str, min_defaults: int = 10) -> np.ndarray:
    """Vintage year per account, years with fewer than ``min_defaults`` estimation defaults
    merged into their neighbour (so no dummy is estimated without information)."""
    per_year = 12 if freq == "M" else 4
    year = (loans["vintage"].to_numpy(np.int64) // per_year).astype(int)
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


def _attribute_part(model, data: pd.DataFrame, attributes: list[str], vintage_cols: list[str]) -> np.ndarray:
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


def _actual_within(loans: pd.DataFrame, mask: np.ndarray, horizon: int) -> int:
    """Defaults at ages up to ``horizon`` among the masked accounts."""
    v = loans["vintage"].to_numpy(np.int64)[mask]
    age = loans["last_month"].to_numpy(np.int64)[mask] - v
    return int((loans["default"].to_numpy()[mask].astype(bool) & (age <= horizon)).sum())


def _calibrating_constant(window_pd, c: np.ndarray, r: np.ndarray, in_sample: np.ndarray) -> float:
    """Constant ``k`` with the same expected in-sample defaults for ``c + k`` as for ``c + r``."""
    # window_pd works on all accounts; compare sums over the estimation sample
    target = float(window_pd(c + r)[in_sample].sum())

    def gap(k):
        return float(window_pd(c + k)[in_sample].sum()) - target

    lo, hi = -2.0, 2.0
    for _ in range(6):  # widen the bracket until it holds the root (up to +-128 logits)
        if gap(lo) <= 0 <= gap(hi):
            return float(optimize.brentq(gap, lo, hi, xtol=1e-6))
        lo, hi = 2 * lo, 2 * hi
    import warnings

    warnings.warn("no calibrating constant found for the restricted term; credit_restricted_mean "
                  "falls back to the zeroed forecast", RuntimeWarning, stacklevel=3)
    return 0.0


def _calibration_by_year(forecast: np.ndarray, year: np.ndarray, km_by_year: pd.DataFrame) -> list[dict]:
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


@dataclass(frozen=True)
class UnbiasedResult:
    """Everything the procedure produced: the paper's Tables 6–7 and more.

    Parameters
    ----------
    rows, dependence_table, cost_of_fairness, forecasts, coefficient_tables, models, apc_result, restricted_centre, calibrating_constant, settings, timings, lineage, provenance
        As the attributes; produced by :meth:`UnbiasedByDesign.fit`.

    Attributes
    ----------
    rows : list of dict
        One row per model and sample: ``model``, ``sample`` ("in"/"out"), ``auc``,
        ``gini``, DeLong band, calibration, ``dependence`` per restricted attribute and
        ``auc_difference_vs_credit``.
    dependence_table : pandas.DataFrame
        Tidy dependence: ``model, sample, attribute, corr, dcor, auc_group, air``.
    cost_of_fairness : dict
        DeLong test of AUC(credit) − AUC(credit_restricted_zero) per sample.
    forecasts : pandas.DataFrame
        Per account and model: ``cum_pd`` over the horizon, and over the observed window.
    account_scores : pandas.DataFrame
        Per account (rows of ``portfolio.loans``): each model's logit score relative to
        the APC offset (e.g. for stress tests, ``credit_restricted_mean``).
    coefficient_tables : dict of pandas.DataFrame
        Tables 2–4 style coefficient tables.
    models : dict
        The fitted score models: ``restricted``, ``credit``,
        ``credit_with_restricted_offset`` (:class:`~apcfair.scoring.OffsetLogit`) and
        ``gbm`` (:class:`~apcfair.scoring.OffsetGBM` or ``None``).
    apc_result : APCResult
        The APC fit whose ``F(a) + H(t)`` was the offset.
    restricted_centre, calibrating_constant : float
        Mean restricted score over the estimation accounts (subtracted) and the
        constant ``k`` of ``credit_restricted_mean``.
    settings, timings, lineage, provenance : dict
        Procedure settings, seconds per stage, data lineage and library versions.

    Examples
    --------
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.unbiased import UnbiasedByDesign
    >>> portfolio = load_portfolio(generate_portfolio(SynthConfig(n_accounts=3000, seed=0)).loans)
    >>> result = UnbiasedByDesign(restricted=["minority", "sex"],
    ...                           credit=["bureau_score", "total_deposits"],
    ...                           gbm=False).fit(portfolio).result_
    >>> result.forecasts.shape  # 3000 accounts x 5 models
    (15000, 6)
    >>> list(result.forecasts.columns)  # doctest: +NORMALIZE_WHITESPACE
    ['account_id', 'sample', 'model', 'cum_pd', 'cum_pd_observed_window',
     'defaulted_within_horizon']
    >>> sorted(result.coefficient_tables)
    ['credit', 'credit_with_restricted_offset', 'restricted']
    >>> result.coefficient_tables["restricted"]["term"].tolist()[:3]  # then vintage-year dummies
    ['(Intercept)', 'minority (0, Inf]', 'sex M']
    >>> len(result.comparison_records())  # one per model and sample
    10
    >>> print(result.summary().splitlines()[0])
    Unbiased by design (Breeden & Leonova 2021)
    """

    rows: list
    dependence_table: pd.DataFrame
    cost_of_fairness: dict
    forecasts: pd.DataFrame
    account_scores: pd.DataFrame
    coefficient_tables: dict
    models: dict
    apc_result: object
    restricted_centre: float
    calibrating_constant: float
    settings: dict
    timings: dict
    lineage: dict | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def comparison(self) -> pd.DataFrame:
        """AUC and Gini by model and sample (the paper's Tables 6–7 side by side)."""
        df = pd.DataFrame([{k: r[k] for k in ("model", "label", "sample", "auc", "gini", "auc_lower", "auc_upper")}
                           for r in self.rows])
        wide = df.pivot_table(index=["model", "label"], columns="sample", values=["auc", "gini"], sort=False)
        wide.columns = [f"{a}_{s}" for a, s in wide.columns]
        return wide.reset_index()

    def comparison_records(self) -> list[dict]:
        """The ``comparison.json`` layout: one record per model and sample."""
        return self.rows

    def summary(self) -> str:
        """Text summary: the tables, the cost of fairness, dependence."""
        lines = ["Unbiased by design (Breeden & Leonova 2021)", "=" * 72,
                 f"restricted inputs: {self.settings['restricted']}",
                 f"credit inputs: {self.settings['credit']}",
                 f"horizon: {self.settings['horizon']} months; split: {1 - self.settings['test_size']:.0%} in-sample",
                 "", self.comparison.to_string(index=False, float_format=lambda x: f"{x:.3f}"), ""]
        for s, c in self.cost_of_fairness.items():
            lines.append(
                f"Cost of zeroing the restricted term ({s}-sample): AUC {c['auc_a']:.4f} -> {c['auc_b']:.4f}, "
                f"difference {c['difference']:+.4f} (95% CI {c['lower']:+.4f} to {c['upper']:+.4f}, "
                f"DeLong p = {c['p_value']:.3g})")
        lines.append("")
        dep = self.dependence_table
        if len(dep):
            lines.append("Dependence of forecasts on restricted attributes (out of sample):")
            lines.append(dep[dep["sample"] == "out"].drop(columns="sample").to_string(
                index=False, float_format=lambda x: f"{x:.3f}"))
        lines.append("")
        lines.append(f"Timings (s): {self.timings}")
        return "\n".join(lines)

    def plot_roc(self, axes=None):
        """ROC curves of the cumulative forecasts, in and out of sample."""
        from apcfair.unbiased.plots import plot_roc_curves

        return plot_roc_curves(self, axes=axes)

    def plot_dependence(self, ax=None, metric: str = "corr"):
        """Bars of the dependence metric per model and restricted attribute (out of sample)."""
        from apcfair.unbiased.plots import plot_dependence_bars

        return plot_dependence_bars(self, ax=ax, metric=metric)

    def plot_calibration(self, ax=None, model: str = "credit_restricted_mean"):
        """Predicted vs Kaplan–Meier cumulative default by vintage year."""
        from apcfair.unbiased.plots import plot_calibration_by_year

        return plot_calibration_by_year(self, ax=ax, model=model)
