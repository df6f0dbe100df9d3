"""Out-of-time backtest of the environment projection: macro model vs random walk.

Fit the APC model on the data up to ``fit_end`` (accounts still open then are censored
there), fit the macro model on the macro history up to ``fit_end``, project H over the
next ``horizon`` months once with the *actual* macro path (the macro history after
``fit_end``, used as a scenario) and once by random-walk extrapolation, and compare the
projected monthly default rate with the observed one.

The comparison conditions on the realised accounts at risk: the projected rate of month
``t`` is ``sum_cells n(v, a) PD(v, a, t) / sum_cells n(v, a)`` over the observed (vintage,
age) cells of month ``t`` (new vintages included; F and G beyond the fitted grid extended as in
:func:`apcfair.forecast._extrapolate.function_draws`),
so the two methods differ only in H(t) (they share the draws of ``mu``, F and G).
Bands are predictive (posterior draws plus binomial sampling of the observed at-risk
counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from apcfair._base import FORMAT_VERSION, jsonable, load_json, save_json
from apcfair._summary import Summary
from apcfair.apc import APCModel
from apcfair.forecast._extrapolate import function_draws
from apcfair.forecast.macro import MacroModel, frame_from_json, frame_to_json
from apcfair.forecast.scenarios import (
    ScenarioProjection,
    random_walk_projection,
    read_macro_history,
)
from apcfair.portfolio import Portfolio
from apcfair.portfolio.periods import format_period, to_period_code


def _code(value, freq: str, name: str) -> int:
    if isinstance(value, int | np.integer):
        return int(value)
    code = int(to_period_code([str(value)], freq, column=name)[0])
    if code < 0:
        raise ValueError(f"{name}={value!r} is not a month ('YYYY-MM')")
    return code


def truncate_portfolio(portfolio, end):
    """The portfolio as it looked at the end of period ``end`` (``"YYYY-MM"`` or a code).

    Accounts originated at or after ``end`` are dropped; accounts observed beyond ``end``
    are censored there (``last_month = end``, ``default = 0``). The lineage records the
    step.

    Parameters
    ----------
    portfolio : Portfolio
        The full portfolio.
    end : str or int
        Last period kept, ``"YYYY-MM"`` or an integer period code.

    Returns
    -------
    Portfolio
        The truncated portfolio (loan-level and, for panel input, panel data).

    Examples
    --------
    >>> import pandas as pd
    >>> from apcfair import load_portfolio
    >>> from apcfair.forecast import truncate_portfolio
    >>> df = pd.DataFrame({"account_id": [1, 2, 3],
    ...                    "origination": ["2019-01", "2019-03", "2019-08"],
    ...                    "last_month": ["2019-10", "2019-05", "2019-12"],
    ...                    "default": [1, 0, 0]})
    >>> early = truncate_portfolio(load_portfolio(df), "2019-06")
    >>> early.loans[["account_id", "last_month", "default"]]  # doctest: +NORMALIZE_WHITESPACE
       account_id  last_month  default
    0           1       24233        0
    1           2       24232        0
    >>> early.lineage.total_excluded
    {'originated at or after 2019-06': 1}
    """
    end = _code(end, portfolio.freq, "end")
    loans = portfolio.loans
    spells = portfolio.spells()
    keep = (spells.vintage < end) & (spells.first_period <= end)
    out = loans.loc[keep].copy()
    late = spells.last_period[keep] > end
    out.loc[late, "default"] = 0
    out.loc[late, "last_month"] = end
    out = out.reset_index(drop=True)
    panel = None
    if portfolio.panel is not None:
        panel = portfolio.panel[(portfolio.panel["month"] <= end)
                                & portfolio.panel["account_id"].isin(out["account_id"])].reset_index(drop=True)
    label = format_period([end], portfolio.freq)[0]
    lin = portfolio.lineage.add(f"truncate at {label}", "accounts", len(loans), int(keep.sum()),
                                {f"originated at or after {label}": int((~keep).sum())})
    return Portfolio(out, panel, portfolio.freq, lin, portfolio.attributes)


@dataclass(frozen=True)
class BacktestResult:
    """Observed vs projected monthly default rates for the macro model and the random walk.

    Parameters
    ----------
    table, scores, freq, fit_end, apc_result, macro_model, projections
        As the attributes; produced by :func:`macro_backtest`.

    Attributes
    ----------
    table : pandas.DataFrame
        ``month, code, at_risk, defaults, observed_rate`` and, for ``macro`` and
        ``random_walk``, the projected rate with ``_lower``/``_upper`` predictive bands.
    scores : dict
        Per method: ``mae_rate``, ``rmse_rate``, ``mean_abs_pct_error``, ``bias_rate``,
        ``coverage`` (of the predictive band), ``total_defaults_pct_error``.
    freq : str
    fit_end : str
    apc_result : APCResult
        The APC fit up to ``fit_end`` (not saved).
    macro_model : MacroModel
        The fitted macro model (not saved; its :class:`MacroResult` is ``macro_result``).
    projections : dict
        The two :class:`ScenarioProjection` objects (not saved).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> from apcfair.forecast import BacktestResult, MacroModel, macro_backtest
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> bt = macro_backtest(portfolio, synth.macro_history, fit_end="2010-12", horizon=24,
    ...                     apc_model=APCModel(hyper="eb", n_draws=200, random_state=0),
    ...                     macro_model=MacroModel(drivers=["unemployment_change", "gdp_growth"],
    ...                                            random_state=0))
    >>> bt.fit_end, len(bt.table), sorted(bt.projections)
    ('2010-12', 24, ['macro', 'random_walk'])
    >>> bt.table.columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['month', 'code', 'at_risk', 'defaults', 'observed_rate', 'macro', 'macro_lower',
     'macro_upper', 'random_walk', 'random_walk_lower', 'random_walk_upper']
    >>> print(bt.summary().splitlines()[0])  # doctest: +ELLIPSIS
    Backtest: fit up to 2010-12, projected 2011-01 to 2012-12 (24 periods), observed mean rate ...

    Table and scores are saved as JSON:

    >>> path = bt.save(pathlib.Path(tempfile.mkdtemp()) / "backtest.json")
    >>> back = BacktestResult.load(path)
    >>> back.table.equals(bt.table), back.scores == bt.scores
    (True, True)
    """

    table: pd.DataFrame
    scores: dict
    freq: str
    fit_end: str
    apc_result: object = None
    macro_model: object = None
    projections: dict = field(default_factory=dict)

    @property
    def macro_result(self):
        """The :class:`MacroResult` of the fitted macro model (``None`` after :meth:`load`)."""
        return None if self.macro_model is None else self.macro_model.result_

    def summary(self) -> Summary:
        """Error table of both methods (text and HTML)."""
        t = self.table
        title = (f"Backtest: fit up to {self.fit_end}, projected {t['month'].iloc[0]} to "
                 f"{t['month'].iloc[-1]} ({len(t)} periods), observed mean rate "
                 f"{t['observed_rate'].mean():.4%}")
        sc = pd.DataFrame(self.scores).T.rename_axis("method").reset_index()
        return Summary.from_blocks(title, [("Errors of the projected monthly default rate", sc)])

    def to_json_dict(self) -> dict:
        """``fit_end``, ``freq``, ``scores`` and the ``table`` as column lists (JSON-ready)."""
        return jsonable({
            "kind": type(self).__name__, "format_version": FORMAT_VERSION, "fit_end": self.fit_end,
            "freq": self.freq, "scores": self.scores, "table": frame_to_json(self.table),
        })

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json_dict` as JSON (the fitted models and draws are not saved)."""
        return save_json(self.to_json_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> BacktestResult:
        """Read a result written by :meth:`save`."""
        d = load_json(path, cls.__name__)
        return cls(table=frame_from_json(d["table"]), scores=d["scores"], freq=d["freq"], fit_end=d["fit_end"])

    def plot(self, ax=None):
        """Observed rate and both projections with bands."""
        from apcfair.forecast.plots import plot_backtest

        return plot_backtest(self, ax=ax)


def observed_rates(cells: pd.DataFrame, end: int, horizon: int, freq: str
                   ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The test cells after ``end``, their forecast period index and the observed table.

    Returns ``(test cells, table, period index of every cell)``; the table has ``month,
    code, at_risk, defaults, observed_rate`` per test period.
    """
    test = cells[(cells["period"] > end) & (cells["period"] <= end + horizon)]
    per = test["period"].to_numpy(np.int64) - end - 1
    onehot = _period_onehot(per, horizon)
    at_risk = test["at_risk"].to_numpy(float) @ onehot
    defaults = test["defaults"].to_numpy(float) @ onehot
    codes = np.arange(end + 1, end + horizon + 1)
    table = pd.DataFrame({"month": format_period(codes, freq), "code": codes,
                          "at_risk": at_risk.astype(np.int64), "defaults": defaults.astype(np.int64)})
    with np.errstate(invalid="ignore", divide="ignore"):
        table["observed_rate"] = defaults / at_risk
    return test, table, per


def _period_onehot(per: np.ndarray, horizon: int) -> np.ndarray:
    onehot = np.zeros((len(per), horizon))
    onehot[np.arange(len(per)), per] = 1.0
    return onehot


def projected_rate(res, test: pd.DataFrame, per: np.ndarray, projection: ScenarioProjection,
                   lifecycle: np.ndarray, vintage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the projected rate and of the expected defaults per test period.

    The rate of a period is ``sum_cells n PD / sum_cells n`` over its observed cells, with
    ``PD = expit(mu + F + G + H)`` on the projection's draws.
    """
    horizon = projection.horizon
    onehot = _period_onehot(per, horizon)
    n = test["at_risk"].to_numpy(float)
    idx = projection.draw_index
    mu = np.asarray(res.draws["intercept"], dtype=float)
    env = projection.draws[next(iter(projection.draws))][:, per]
    rate_cells = expit(mu[idx, None] + lifecycle[idx] + vintage[idx] + env)
    exp_def = (rate_cells * n) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = exp_def / (n @ onehot)
    return rate, exp_def


def error_scores(observed: np.ndarray, predicted: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                 expected_defaults: np.ndarray, defaults: np.ndarray) -> dict:
    """MAE, RMSE, mean absolute % error, bias, band coverage and total-defaults error.

    Rates are monthly default rates (0.001 = 0.1 percentage points). ``mean_abs_pct_error``
    is the mean of ``|projected - observed| / observed`` over the months with observed
    defaults (a fraction: 0.2 = 20%); months without observed defaults have no relative error.
    """
    err = predicted - observed
    cov = (observed >= lower) & (observed <= upper)
    return {
        "mae_rate": float(np.mean(np.abs(err))),
        "rmse_rate": float(np.sqrt(np.mean(err**2))),
        "mean_abs_pct_error": float(np.mean(np.abs(err[observed > 0]) / observed[observed > 0]))
        if (observed > 0).any() else float("nan"),  # months without observed defaults have no % error
        "bias_rate": float(np.mean(err)),
        "coverage": float(np.mean(cov)),
        "total_defaults_pct_error": float((expected_defaults.sum() - defaults.sum()) / max(defaults.sum(), 1)),
    }


def macro_backtest(portfolio, macro_history, *, fit_end="2016-12", horizon: int = 36, apc_model=None,
                   macro_model: MacroModel | None = None, extrapolation: str = "hold", credible_level: float = 0.95,
                   random_state: int | None = 0) -> BacktestResult:
    """Fit up to ``fit_end``, project ``horizon`` months with the actual macro path and by RW.

    Parameters
    ----------
    portfolio : Portfolio
        The full portfolio (observed beyond ``fit_end``).
    macro_history : str, pathlib.Path or pandas.DataFrame
        Drivers over the fit window *and* the test months.
    fit_end : str or int
        Last month of the fit window (default ``"2016-12"``).
    horizon : int
        Test months after ``fit_end`` (default 36).
    apc_model : APCModel, optional
        Unfitted APC model (default ``APCModel(random_state=random_state)``).
    macro_model : MacroModel, optional
        Unfitted macro model (default ``MacroModel(random_state=random_state)``).
    extrapolation : {"hold", "random_walk"}
        F at ages and G at vintages beyond the fitted grid (shared by both methods).
    credible_level : float
        Width of the predictive bands.
    random_state : int, optional
        Seed.

    Returns
    -------
    BacktestResult
        Observed and projected rates per test month, error scores per method, and the
        fitted APC and macro models.

    Examples
    --------
    A portfolio observed 2006-2012: fit up to 2010-12, project the 24 months after it
    with the actual macro path and by random walk, and score both:

    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> from apcfair.forecast import MacroModel, macro_backtest
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> bt = macro_backtest(portfolio, synth.macro_history, fit_end="2010-12", horizon=24,
    ...                     apc_model=APCModel(hyper="eb", n_draws=200, random_state=0),
    ...                     macro_model=MacroModel(drivers=["unemployment_change", "gdp_growth"],
    ...                                            random_state=0))
    >>> sorted(bt.scores["macro"])  # doctest: +NORMALIZE_WHITESPACE
    ['bias_rate', 'coverage', 'mae_rate', 'mean_abs_pct_error', 'rmse_rate',
     'total_defaults_pct_error']
    >>> bt.table["month"].iloc[[0, -1]].tolist()
    ['2011-01', '2012-12']
    >>> 0 <= bt.scores["random_walk"]["coverage"] <= 1
    True
    """
    freq = portfolio.freq
    end = _code(fit_end, freq, "fit_end")
    horizon = int(horizon)
    if portfolio.window[1] < end + horizon:
        raise ValueError(f"the data end in {format_period([portfolio.window[1]], freq)[0]}; a backtest from "
                         f"{format_period([end], freq)[0]} over {horizon} periods needs data up to "
                         f"{format_period([end + horizon], freq)[0]}")
    train = truncate_portfolio(portfolio, end)
    apc_model = apc_model if apc_model is not None else APCModel(random_state=random_state)
    res = apc_model.fit(train.cells()).result_
    hist = read_macro_history(macro_history)
    hist_fit = hist[hist["code"] <= end]
    actual = hist[hist["code"] > end].assign(scenario="actual")
    if actual.empty:
        raise ValueError(f"the macro history ends in {hist['month'].iloc[-1]}: it must cover the test months "
                         f"after {format_period([end], freq)[0]} (the actual path)")
    macro_model = macro_model if macro_model is not None else MacroModel(random_state=random_state)
    macro = macro_model.fit(res, hist_fit).result_
    proj = {"macro": macro.project(actual.drop(columns="code"), horizon, random_state=random_state),
            "random_walk": random_walk_projection(res, horizon, random_state=random_state)}
    test, table, per = observed_rates(portfolio.cells().table, end, horizon, freq)
    lifecycle = function_draws(res, "lifecycle", test["age"].to_numpy(), extrapolation=extrapolation,
                               random_state=random_state)
    vintage = function_draws(res, "vintage", test["vintage"].to_numpy(), extrapolation=extrapolation,
                             random_state=random_state)
    rng = np.random.default_rng(random_state)
    a = (1 - credible_level) / 2
    at_risk = table["at_risk"].to_numpy(float)
    defaults = table["defaults"].to_numpy(float)
    valid = at_risk > 0
    scores = {}
    for key, p in proj.items():
        rate, exp_def = projected_rate(res, test, per, p, lifecycle, vintage)
        sim = (rng.binomial(at_risk.astype(np.int64)[None, :], np.clip(np.nan_to_num(rate), 0, 1))
               / np.maximum(at_risk, 1))
        table[key] = rate.mean(axis=0)
        table[f"{key}_lower"] = np.quantile(sim, a, axis=0)
        table[f"{key}_upper"] = np.quantile(sim, 1 - a, axis=0)
        scores[key] = error_scores(table["observed_rate"].to_numpy()[valid], table[key].to_numpy()[valid],
                                   table[f"{key}_lower"].to_numpy()[valid],
                                   table[f"{key}_upper"].to_numpy()[valid],
                                   exp_def.mean(axis=0)[valid], defaults[valid])
    return BacktestResult(table=table, scores=scores, freq=freq, fit_end=format_period([end], freq)[0],
                          apc_result=res, macro_model=macro_model, projections=proj)


# ---------------------------------------------------------------------------- rolling origins
_METHODS = ("macro", "random_walk")


def errors_by_horizon(long: pd.DataFrame) -> pd.DataFrame:
    """Error of each method by forecast horizon, over the origins.

    ``long`` has one row per (origin, horizon) with ``observed_rate`` and, per method,
    the projected rate and its band. Returns ``horizon, n_origins`` and, per method,
    ``<method>_mae`` (mean absolute error of the monthly default rate, a rate: 0.001 = 0.1
    percentage points), ``<method>_rmse``, ``<method>_bias`` (mean projected minus observed)
    and ``<method>_coverage`` (share of origins whose observed rate lies in the predictive
    band), plus ``mae_ratio`` (macro MAE / random-walk MAE; below 1: the macro model is better).
    """
    rows = []
    for h, g in long.groupby("horizon", sort=True):
        g = g[g["at_risk"] > 0]
        row = {"horizon": int(h), "n_origins": len(g)}
        for m in _METHODS:
            err = g[m] - g["observed_rate"]
            row[f"{m}_mae"] = float(err.abs().mean())
            row[f"{m}_rmse"] = float(np.sqrt((err**2).mean()))
            row[f"{m}_bias"] = float(err.mean())
            row[f"{m}_coverage"] = float(g["observed_rate"].between(g[f"{m}_lower"], g[f"{m}_upper"]).mean())
        row["mae_ratio"] = row["macro_mae"] / row["random_walk_mae"] if row["random_walk_mae"] > 0 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class RollingBacktestResult:
    """Rolling-origin out-of-time backtest: macro model vs random walk, error by horizon.

    Parameters
    ----------
    long, by_horizon, scores, freq, origins
        As the attributes; produced by :func:`rolling_backtest`.

    Attributes
    ----------
    long : pandas.DataFrame
        One row per origin and horizon: ``origin, horizon, month, at_risk, defaults,
        observed_rate`` and, per method (``macro``, ``random_walk``), the projected monthly
        default rate with its predictive band (``_lower``/``_upper``).
    by_horizon : pandas.DataFrame
        :func:`errors_by_horizon` of ``long``.
    scores : dict
        Per origin, the :func:`error_scores` of both methods (as in :class:`BacktestResult`).
    freq : str
    origins : list of str
        The origins (last month of each fit window).

    Examples
    --------
    See :func:`rolling_backtest`.
    """

    long: pd.DataFrame
    by_horizon: pd.DataFrame
    scores: dict
    freq: str
    origins: list
    definitions: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """Error by horizon (text and HTML)."""
        b = self.by_horizon
        title = (f"Rolling-origin backtest: {len(self.origins)} origins ({self.origins[0]} to {self.origins[-1]}), "
                 f"horizons 1 to {int(b['horizon'].max())}; mean MAE of the monthly default rate: macro "
                 f"{b['macro_mae'].mean():.4%}, random walk {b['random_walk_mae'].mean():.4%}")
        return Summary.from_blocks(title, [(
            "Error of the projected monthly default rate by horizon over the origins (mae/rmse/bias: rates, "
            "0.001 = 0.1 percentage points; coverage: share of origins inside the predictive band; "
            "mae_ratio: macro / random walk)", b)])

    def to_json_dict(self) -> dict:
        """``origins``, ``by_horizon``, ``long``, ``scores`` and ``definitions`` (JSON-ready)."""
        return jsonable({"kind": type(self).__name__, "format_version": FORMAT_VERSION, "freq": self.freq,
                         "origins": list(self.origins), "scores": self.scores, "definitions": self.definitions,
                         "by_horizon": frame_to_json(self.by_horizon), "long": frame_to_json(self.long)})

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_json_dict` as JSON."""
        return save_json(self.to_json_dict(), path)

    @classmethod
    def load(cls, path: str | Path) -> RollingBacktestResult:
        """Read a result written by :meth:`save`."""
        d = load_json(path, cls.__name__)
        return cls(long=frame_from_json(d["long"]), by_horizon=frame_from_json(d["by_horizon"]),
                   scores=d["scores"], freq=d["freq"], origins=list(d["origins"]),
                   definitions=d.get("definitions", {}))

    def plot(self, ax=None):
        """Mean absolute error by horizon, macro model vs random walk."""
        from apcfair.forecast.plots import plot_errors_by_horizon

        return plot_errors_by_horizon(self, ax=ax)


def rolling_backtest(portfolio, macro_history, origins, *, horizon: int = 12, apc_model=None,
                     macro_model: MacroModel | None = None, extrapolation: str = "hold",
                     credible_level: float = 0.95, random_state: int | None = 0) -> RollingBacktestResult:
    """Rolling-origin backtest: :func:`macro_backtest` refitted at every origin, errors by horizon.

    At each origin the APC and macro models are refitted on the data up to it (copies of
    ``apc_model`` and ``macro_model`` with the same settings), the environment is projected
    ``horizon`` periods with the realised drivers (macro) and by the random walk, and the
    projected monthly default rate of the realised accounts at risk is compared with the
    observed one.

    Parameters
    ----------
    portfolio : Portfolio
        The full portfolio (observed ``horizon`` periods beyond the last origin).
    macro_history : str, pathlib.Path, pandas.DataFrame or list
        Drivers over the fit windows and the test months (as :func:`read_macro_history`).
    origins : sequence of str or int
        Last month of each fit window (``"YYYY-MM"`` or codes), e.g. every 12 months.
    horizon : int
        Test periods after each origin.
    apc_model, macro_model : optional
        Unfitted models whose settings are used at every origin (defaults as in
        :func:`macro_backtest`).
    extrapolation, credible_level, random_state
        As in :func:`macro_backtest`.

    Returns
    -------
    RollingBacktestResult

    Examples
    --------
    >>> from data_synth import SynthConfig, generate_portfolio
    >>> from apcfair import load_portfolio
    >>> from apcfair.apc import APCModel
    >>> from apcfair.forecast import MacroModel
    >>> from apcfair.forecast.backtest import rolling_backtest
    >>> synth = generate_portfolio(SynthConfig(n_accounts=2000, seed=0,
    ...                                        start="2006-01", end="2012-12"))
    >>> portfolio = load_portfolio(synth.loans)
    >>> rb = rolling_backtest(portfolio, synth.macro_history, ["2010-06", "2011-06"], horizon=12,
    ...                       apc_model=APCModel(hyper="eb", n_draws=100, random_state=0),
    ...                       macro_model=MacroModel(drivers="unemployment_change:+,gdp_growth:-",
    ...                                              random_state=0))
    >>> rb.by_horizon[["horizon", "n_origins"]].iloc[[0, -1]].values.tolist()
    [[1, 2], [12, 2]]
    >>> print(rb.summary().splitlines()[0])  # doctest: +ELLIPSIS
    Rolling-origin backtest: 2 origins (2010-06 to 2011-06), horizons 1 to 12; mean MAE ...
    """
    import warnings

    origins = sorted(_code(o, portfolio.freq, "origin") for o in origins)
    if not origins:
        raise ValueError("origins: give at least one origin (last month of a fit window)")
    freq = portfolio.freq
    apc_model = apc_model if apc_model is not None else APCModel(random_state=random_state)
    macro_model = macro_model if macro_model is not None else MacroModel(random_state=random_state)
    hist = read_macro_history(macro_history)
    frames, scores = [], {}
    for origin in origins:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # driver warnings repeat at every origin
            bt = macro_backtest(portfolio, hist, fit_end=origin, horizon=horizon,
                                apc_model=type(apc_model)(**apc_model.get_params()),
                                macro_model=type(macro_model)(**macro_model.get_params()),
                                extrapolation=extrapolation, credible_level=credible_level,
                                random_state=random_state)
        t = bt.table.drop(columns="code").assign(origin=bt.fit_end, horizon=np.arange(1, len(bt.table) + 1))
        frames.append(t[["origin", "horizon", *[c for c in t.columns if c not in ("origin", "horizon")]]])
        scores[bt.fit_end] = bt.scores
    long = pd.concat(frames, ignore_index=True)
    unit = "months" if freq == "M" else "quarters"
    return RollingBacktestResult(
        long=long, by_horizon=errors_by_horizon(long), scores=scores, freq=freq,
        origins=format_period(origins, freq),
        definitions={
            "horizon": f"{unit} after the origin (1 = first projected period)",
            "observed_rate": "observed defaults / accounts at risk in the month",
            "macro": "projected monthly default rate of the observed accounts at risk, H(t) from the macro model "
                     "refitted up to the origin with the realised drivers",
            "random_walk": "the same with H(t) continued by its random walk from the origin",
            "mae": "mean over the origins of |projected - observed| monthly default rate (a rate)",
            "bias": "mean over the origins of projected - observed", "rmse": "root mean squared error",
            "coverage": f"share of origins whose observed rate lies in the {credible_level:.0%} predictive band "
                        "(posterior draws plus binomial sampling of the accounts at risk)",
            "mae_ratio": "macro MAE / random-walk MAE (below 1: the macro model projects better)",
        })
