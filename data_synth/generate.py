"""Generate a synthetic credit-card portfolio with known truth.

True model
----------
For account ``i`` of vintage ``v`` (origination month) at age ``a`` (months since
origination, ``a = 1`` the first performance month) in calendar month ``t = v + a``::

    logit PD_i(a, t) = mu + F(a) + G(v) + H(t) + s_i

where PD is the monthly probability of a first 90+ DPD default given the account is
still active. A non-defaulting account pays off / attrites with a monthly probability
that depends on age only; accounts still active at ``end`` are censored.

Identification conventions (what the ``truth`` reports)
-------------------------------------------------------
- ``G`` has mean zero over the vintages ``start .. end-1`` (unweighted).
- ``H`` has mean zero **and zero least-squares linear trend** over the performance months
  ``start+1 .. end`` (unweighted). ``H(t) = macro_part(t) + seasonal_part(t)`` where
  ``macro_part = sum_k beta_k x_k(t) - (c_m + d_m * (t - t0))`` and
  ``seasonal_part = seasonal(month of year) - (c_s + d_s * (t - t0))``; the two lines are
  the least-squares lines of the raw parts over the window (``t0 = start+1``) and are
  reported in ``truth["environment_line"]``. The same lines, extrapolated, define ``H`` in
  scenario months (``truth["scenario_environment"]``), so the model above holds unchanged
  after ``end``.
- ``F`` has mean zero over the ages ``1 .. end - start`` observable in the window; only
  ``mu + F(a)`` is identified separately from the other two constraints.
- ``s_i`` has mean zero within every vintage (exactly, in the sample), so ``G(v)`` is the
  vintage effect for an account with the vintage-average score: it equals the average over
  vintage-``v`` accounts of ``logit PD_i(a, t) - mu - F(a) - H(t)``.

Truths that do not share the APC engine's conventions (for end-to-end tests of hand-offs):
``environment_trend`` gives ``H`` a true linear trend (logit per year) that the zero-trend
convention above does not have; ``credit_mix_drift`` with ``score_centring="portfolio"`` makes
vintage quality drift through the credit attributes (the vintage means of ``s_i``), not
through ``G``.

``G``, ``F`` and ``H`` are conditional (account-level) effects. With
``credit_effect_scale = 0`` all accounts of a vintage share one hazard and the aggregate
monthly default rate of every (vintage, age) cell is exactly ``expit(mu + F + G + H)``.
With heterogeneous scores the cell default rate is an average of ``expit`` over the
surviving accounts: riskier accounts leave first, so an APC model fitted on cells
recovers ``F``, ``G``, ``H`` only approximately (the estimated lifecycle falls faster at
high ages).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_synth import attributes as attr
from data_synth._calendar import format_month, month_labels, month_list
from data_synth.components import (
    centre,
    lifecycle_shape,
    linear_fit,
    payoff_hazard,
    seasonal_values,
    vintage_shape,
    vintage_volume_weights,
)
from data_synth.config import SynthConfig
from data_synth.macro import (
    SCENARIOS,
    builtin_scenarios,
    generic_scenarios,
    simulate_macro,
    user_macro,
)
from data_synth.simulate import (
    Hazards,
    calibrate_mu,
    cumulative_pd,
    expected_default_fraction,
    simulate_exits,
)

__version__ = "0.1.0"

LOAN_ATTRIBUTES: tuple[str, ...] = (
    "bureau_score", "interest_rate", "subcategory", "credit_limit", "balance_transfer",
    "total_loan_balance", "total_deposits", "zip5", "median_age", "mf_ratio",
    "persons_per_household", "asian_frac", "black_frac", "native_american_frac",
    "native_hawaiian_frac", "hispanic_frac", "age", "sex", "race_ethnicity", "minority",
)
#: Loan-table columns written under another name in the account-month panel, where
#: ``age`` is the account age in months (a reserved column of the data contract).
PANEL_NAMES: dict[str, str] = {"age": "borrower_age"}
PD_HORIZON = 36


@dataclass
class SynthPortfolio:
    """A generated portfolio and its truth.

    Attributes
    ----------
    loans : pandas.DataFrame
        One row per account: ``account_id`` (int64), ``origination`` and ``last_month``
        (``"YYYY-MM"`` strings), ``default`` (int8, 1 iff defaulted in ``last_month``) and
        the attribute columns :data:`LOAN_ATTRIBUTES`. This is what a lender would have.
    truth : dict
        JSON-serialisable truth; see :func:`generate_portfolio`.
    macro_history : pandas.DataFrame
        ``month`` (``"YYYY-MM"``, the performance months ``start+1 .. end``) and the
        drivers.
    scenarios : pandas.DataFrame
        ``scenario`` (``baseline`` / ``adverse`` / ``severely_adverse``), ``month`` (the
        ``scenario_horizon`` months after ``end``) and the same drivers.
    account_truth : pandas.DataFrame
        ``account_id``, ``true_score`` (``s_i``), ``credit_part`` and ``protected_part``
        (its two components, each mean zero within vintage, summing to ``true_score``) and
        ``pd36`` (true probability of default within 36 months of origination for an
        account that stays open, with ``H`` after ``end`` from the baseline scenario).
    config : SynthConfig
        The settings used.
    """

    loans: pd.DataFrame
    truth: dict[str, Any]
    macro_history: pd.DataFrame
    scenarios: pd.DataFrame
    account_truth: pd.DataFrame
    config: SynthConfig
    _vintage_code: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int64))
    _last_code: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0, np.int64))

    def exits(self) -> np.ndarray:
        """How each account's observation ends: ``"default"``, ``"payoff"`` or ``"censored"``.

        The simulation's own record (aligned with ``loans``): payoff is the competing exit
        of ``payoff_rate``; an account still open at ``end`` is censored, and so is one
        that paid off in the month ``end`` itself (the convention of ``truth["counts"]``).
        Assign it as ``loans["exit"]`` to give apcfair a recorded exit column.

        Examples
        --------
        >>> from data_synth import SynthConfig, generate_portfolio
        >>> sp = generate_portfolio(SynthConfig(n_accounts=500, seed=1))
        >>> counts = sp.truth["counts"]
        >>> [int((sp.exits() == e).sum()) for e in ("default", "payoff", "censored")] == [
        ...     counts["defaults"], counts["payoffs"], counts["censored"]]
        True
        """
        default = self.loans["default"].to_numpy() == 1
        censored = ~default & (self._last_code == self.config.end_code)
        return np.where(default, "default", np.where(censored, "censored", "payoff")).astype(object)

    def panel(self, *, attributes: bool | Sequence[str] = True,
              max_rows: int = 20_000_000, status: bool = False) -> pd.DataFrame:
        """Materialise the account-month panel (meant for small portfolios and tests).

        Parameters
        ----------
        attributes : bool or sequence of str
            Include all static attribute columns (repeated on every row), none
            (``False``) or the named ones.
        max_rows : int
            Refuse to build more rows than this.
        status : bool
            Add a card-style ``status`` column: ``"C"`` (paid off / closed) in an account's
            payoff month, ``"D"`` in its default month, ``"O"`` (open) otherwise; apcfair
            reads it with ``exit_column="status", exit_codes={"C": "payoff"}`` (CLI
            ``--exit-column status --payoff-codes C``). Default ``False`` (no column).

        Returns
        -------
        pandas.DataFrame
            ``account_id``, ``month`` (``"YYYY-MM"``), ``origination``, ``default`` (1 only
            in the default month) and, if requested, the attributes; one row per account
            and performance month ``origination+1 .. last_month``.

        Notes
        -----
        The borrower's age in years (``age`` in the loan table) is written as
        ``borrower_age`` here: in a panel ``age`` means the account age in months (a
        reserved column of the data contract), so ``apcfair validate`` accepts the panel.
        ``attributes`` names the loan-table columns (``"age"`` selects ``borrower_age``).
        """
        n_months = self._last_code - self._vintage_code
        total = int(n_months.sum())
        if total > max_rows:
            raise ValueError(f"the panel would have {total:,} rows (> max_rows={max_rows:,})")
        rows = np.repeat(np.arange(len(n_months)), n_months)
        starts = np.repeat(np.cumsum(n_months) - n_months, n_months)
        month = self._vintage_code[rows] + (np.arange(total) - starts) + 1
        dflt = ((month == self._last_code[rows]) & (self.loans["default"].to_numpy()[rows] == 1))
        lo, hi = int(self._vintage_code.min()), int(self._last_code.max())
        out = pd.DataFrame(
            {
                "account_id": self.loans["account_id"].to_numpy()[rows],
                "month": month_labels(month, lo, hi),
                "origination": self.loans["origination"].to_numpy()[rows],
                "default": dflt.astype(np.int8),
            }
        )
        if status:
            last = month == self._last_code[rows]
            kind = self.exits()[rows]
            out["status"] = np.where(last & (kind == "payoff"), "C", np.where(dflt, "D", "O"))
        if attributes is True:
            attributes = LOAN_ATTRIBUTES
        for c in attributes or ():
            if c not in LOAN_ATTRIBUTES:
                raise ValueError(f"unknown attribute {c!r}; choose from {list(LOAN_ATTRIBUTES)}")
            out[PANEL_NAMES.get(c, c)] = self.loans[c].to_numpy()[rows]
        return out

    def write(self, out_dir: str | Path, *, panel: bool = False) -> dict[str, Path]:
        """Write the portfolio files; see :func:`write_portfolio`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "loans": out / "loans.parquet",
            "account_truth": out / "account_truth.parquet",
            "truth": out / "truth.json",
            "macro_history": out / "macro_history.csv",
            "scenarios": out / "scenarios.csv",
        }
        self.loans.to_parquet(paths["loans"], index=False)
        self.account_truth.to_parquet(paths["account_truth"], index=False)
        paths["truth"].write_text(json.dumps(self.truth, indent=1))
        self.macro_history.to_csv(paths["macro_history"], index=False)
        self.scenarios.to_csv(paths["scenarios"], index=False)
        if panel:
            paths["panel"] = out / "panel.parquet"
            self.panel().to_parquet(paths["panel"], index=False)
        return paths


def _vintage_counts(n: int, weights: np.ndarray) -> np.ndarray:
    """Split ``n`` accounts over vintages proportionally to ``weights`` (largest remainder)."""
    raw = n * weights / weights.sum()
    counts = np.floor(raw).astype(np.int64)
    extra = n - int(counts.sum())
    if extra:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:extra]] += 1
    return counts


def _floats(x) -> list[float]:
    return [float(v) for v in np.asarray(x, dtype=float)]


def generate_portfolio(cfg: SynthConfig | None = None, *, stream: int | None = None,
                       first_id: int = 1) -> SynthPortfolio:
    """Generate a synthetic portfolio with known age-period-cohort truth.

    See the module docstring for the model and the identification conventions.

    Parameters
    ----------
    cfg : SynthConfig, optional
        Settings; default ``SynthConfig()`` (146,500 accounts, 2005-01..2019-12).
    stream : int, optional
        Draw the accounts and their outcomes from random stream ``stream`` of ``cfg.seed``
        (``numpy.random.SeedSequence([seed, stream])``) while the environment, the macro
        drivers and the zip geography still come from ``cfg.seed`` alone: parts of one
        portfolio generated independently (:func:`data_synth.partitioned.write_partitioned`).
        Default: today's single stream.
    first_id : int
        ``account_id`` of the first account (parts number their accounts consecutively).

    Returns
    -------
    SynthPortfolio
        ``truth`` holds:

        ``mu``
            Intercept.
        ``lifecycle``
            ``{"age": [1 .. end-start], "value": F}``; ``lifecycle_beyond_window`` the same
            for the ``scenario_horizon`` older ages (needed for forecasts).
        ``vintage``
            ``{"vintage": ["YYYY-MM" for start .. end-1], "value": G}``.
        ``environment``
            ``{"month": ["YYYY-MM" for start+1 .. end], "value": H, "macro_part": ...,
            "seasonal_part": ...}``.
        ``environment_line``
            ``{"origin_month": start+1, "macro": {"intercept", "slope"},
            "seasonal": {...}}``: the least-squares lines removed from the raw parts
            (slope per month).
        ``seasonal``
            ``{"month_of_year": [1..12], "value": [...]}`` before detrending.
        ``scenario_environment``
            ``{scenario: {"month", "value", "macro_part", "seasonal_part"}}``: ``H`` in the
            scenario months.
        ``macro_beta``
            ``{driver: beta}``; ``sum_k beta_k x_k(t)`` is the raw macro part.
        ``credit_coefficients`` / ``credit_design``
            ``b`` (times ``credit_effect_scale``) and the exact design ``x_i``.
        ``protected_effects`` / ``protected_design``
            Direct effects (times ``credit_effect_scale``) and their design.
        ``proxy_strength``, ``proxy_loading``
            ``proxy_strength`` and the resulting loading ``0.6 * proxy_strength`` of the
            disadvantage index in the latent creditworthiness.
        ``payoff_hazard``
            ``{"age": [...], "value": [...]}`` monthly payoff probability.
        ``default_rate``
            ``{"target", "expected", "realised"}`` (``expected`` on the calibration
            accounts; ``target`` is None when ``mu`` was fixed).
        ``counts``
            Accounts, defaults, payoffs, censored.
        ``conventions``
            The conventions above in words.
        ``config``, ``version``
            All settings and the generator version.
    """
    cfg = cfg or SynthConfig()
    c0, c1 = cfg.start_code, cfg.end_code
    t0 = c0 + 1
    n_window = c1 - c0  # performance months, vintages and observable ages
    horizon = int(cfg.scenario_horizon)
    rng_macro, rng_zip, rng_acct, rng_sim = np.random.default_rng(cfg.seed).spawn(4)
    if stream is not None:  # one part of a partitioned portfolio: its own accounts, the shared truth
        rng_acct, rng_sim = np.random.default_rng([int(cfg.seed), int(stream)]).spawn(2)

    # ---------------------------------------------------------------- environment H
    beta = cfg.resolved_macro_beta()
    if cfg.macro is None:
        hist = simulate_macro(rng_macro, t0, c1)
        scen = builtin_scenarios(hist, horizon)
        hist = hist[hist["code"] >= t0].reset_index(drop=True)
    else:
        hist = user_macro(cfg.macro, t0, c1)
        scen = generic_scenarios(hist, beta, horizon)
    env_codes = hist["code"].to_numpy(np.int64)
    tt = env_codes - t0

    def raw_parts(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        macro_raw = np.zeros(len(frame))
        for k, b in beta.items():
            macro_raw += b * frame[k].to_numpy(dtype=float)
        return macro_raw, seasonal_values(frame["code"].to_numpy(np.int64), cfg.seasonal_scale)

    macro_raw, seas_raw = raw_parts(hist)
    line_m, line_s = linear_fit(tt, macro_raw), linear_fit(tt, seas_raw)

    trend_per_month = float(cfg.environment_trend) / 12.0

    def detrended(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Macro part (detrended, plus the true trend of ``environment_trend``) and seasonal part."""
        m, s = raw_parts(frame)
        x = frame["code"].to_numpy(np.int64) - t0
        return m - (line_m[0] + line_m[1] * x) + trend_per_month * x, s - (line_s[0] + line_s[1] * x)

    macro_part, seasonal_part = detrended(hist)
    env = macro_part + seasonal_part
    scen_env: dict[str, dict[str, list]] = {}
    for name in SCENARIOS:
        fr = scen[scen["scenario"] == name]
        m, s = detrended(fr)
        scen_env[name] = {"month": month_list(int(fr["code"].iloc[0]), int(fr["code"].iloc[-1])),
                          "value": _floats(m + s), "macro_part": _floats(m), "seasonal_part": _floats(s)}

    # ---------------------------------------------------------------- F and G
    ages = np.arange(1, n_window + horizon + 1)
    f_raw = lifecycle_shape(ages, cfg.lifecycle_scale)
    lifecycle = f_raw - f_raw[:n_window].mean()
    vint_codes = np.arange(c0, c1)
    g = centre(vintage_shape(vint_codes, cfg.vintage_scale))
    payoff = payoff_hazard(ages, cfg.payoff_rate)

    # ---------------------------------------------------------------- accounts
    n = int(cfg.n_accounts)
    counts = _vintage_counts(n, vintage_volume_weights(vint_codes))
    vintage = np.repeat(vint_codes, counts)
    vidx = vintage - c0
    zips = attr.generate_zips(rng_zip, int(cfg.n_zips))
    shift = None
    if cfg.credit_mix_drift:
        shift = float(cfg.credit_mix_drift) * (vidx - (n_window - 1) / 2.0) / 12.0
    a = attr.generate_accounts(rng_acct, n, zips, cfg.proxy_strength, latent_shift=shift)
    scale = float(cfg.credit_effect_scale)
    effects = cfg.resolved_protected_effect()
    centre_groups = (vidx, n_window) if cfg.score_centring == "vintage" else (np.zeros(n, np.int64), 1)
    cp = scale * attr.centre_within(attr.credit_part(a), *centre_groups)
    pp = scale * attr.centre_within(
        attr.protected_part(a["_race"], a["_male"], a["age"], effects), *centre_groups)
    score = cp + pp
    offset = g[vidx] + score

    # ---------------------------------------------------------------- outcomes
    hz = Hazards(first_month=t0, lifecycle=lifecycle, environment=env, payoff=payoff)
    if cfg.mu is None:
        mu, expected = calibrate_mu(vintage, offset, hz, c1, cfg.default_rate_target)
    else:
        mu = float(cfg.mu)
        take = np.linspace(0, n - 1, min(n, 20_000)).round().astype(np.int64)
        expected = expected_default_fraction(vintage[take], offset[take], mu, hz, c1)
    exit_month, default = simulate_exits(rng_sim, vintage, offset, mu, hz, c1)
    env_ext = np.concatenate([env, np.asarray(scen_env["baseline"]["value"])])
    pd36 = cumulative_pd(vintage, offset, mu, lifecycle, env_ext, t0, PD_HORIZON)

    # ---------------------------------------------------------------- tables
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    loans = pd.DataFrame(
        {
            "account_id": ids,
            "origination": month_labels(vintage, c0, c1),
            "last_month": month_labels(exit_month, c0, c1),
            "default": default,
        }
    )
    for c in LOAN_ATTRIBUTES:
        loans[c] = a.pop(c)
    account_truth = pd.DataFrame(
        {"account_id": ids, "true_score": score, "credit_part": cp, "protected_part": pp,
         "pd36": pd36}
    )
    drivers = [c for c in hist.columns if c != "code"]
    macro_history = pd.DataFrame({"month": month_list(t0, c1)})
    for c in drivers:
        macro_history[c] = hist[c].to_numpy()
    scenarios = pd.DataFrame(
        {"scenario": scen["scenario"].to_numpy(dtype=object),
         "month": [format_month(c) for c in scen["code"]]}
    )
    for c in drivers:
        scenarios[c] = scen[c].to_numpy()

    n_def = int(default.sum())
    n_censored = int(((exit_month == c1) & (default == 0)).sum())
    truth: dict[str, Any] = {
        "model": "logit PD_i(a, t) = mu + F(a) + G(v) + H(t) + s_i, t = v + a, a = 1 first performance month",
        "mu": float(mu),
        "lifecycle": {"age": ages[:n_window].tolist(), "value": _floats(lifecycle[:n_window])},
        "lifecycle_beyond_window": {"age": ages[n_window:].tolist(),
                                    "value": _floats(lifecycle[n_window:])},
        "vintage": {"vintage": month_list(c0, c1 - 1), "value": _floats(g)},
        "environment": {"month": month_list(t0, c1), "value": _floats(env),
                        "macro_part": _floats(macro_part), "seasonal_part": _floats(seasonal_part)},
        "environment_line": {
            "origin_month": format_month(t0),
            "true_trend_per_month": trend_per_month,
            "macro": {"intercept": line_m[0], "slope": line_m[1]},
            "seasonal": {"intercept": line_s[0], "slope": line_s[1]},
        },
        "seasonal": {"month_of_year": list(range(1, 13)),
                     "value": _floats(seasonal_values(np.arange(12), cfg.seasonal_scale))},
        "scenario_environment": scen_env,
        "macro_beta": beta,
        "credit_coefficients": {
            k: ({kk: scale * vv for kk, vv in v.items()} if isinstance(v, dict) else scale * float(v))
            for k, v in attr.CREDIT_COEFFICIENTS.items()
        },
        "credit_design": dict(attr.CREDIT_DESIGN),
        "protected_effects": {k: scale * v for k, v in effects.items()},
        "protected_design": dict(attr.PROTECTED_DESIGN),
        "proxy_strength": float(cfg.proxy_strength),
        "proxy_loading": attr.PROXY_LOADING * float(cfg.proxy_strength),
        "payoff_hazard": {"age": ages.tolist(), "value": _floats(payoff)},
        "default_rate": {"target": None if cfg.mu is not None else float(cfg.default_rate_target),
                         "expected": float(expected), "realised": n_def / n},
        "counts": {"accounts": n, "defaults": n_def, "payoffs": n - n_def - n_censored,
                   "censored": n_censored},
        "conventions": {
            "age": "a = months since origination; a = 1 is the first performance month; t = v + a",
            "G": "mean zero over vintages start..end-1; "
                 + ("s_i has mean zero within each vintage, so G(v) is the vintage effect at the "
                    "vintage-average score" if cfg.score_centring == "vintage" else
                    "s_i has mean zero over the portfolio, so G(v) is the vintage effect at the "
                    "portfolio-average score and vintage means of s_i add to it"),
            "H": ("mean zero and zero least-squares linear trend over months start+1..end; "
                  "H = macro_part + seasonal_part, each detrended by its own line "
                  "(environment_line), the same lines extrapolated in scenario months")
            if not cfg.environment_trend else
                 (f"H = macro_part + seasonal_part, each detrended by its own line (environment_line), "
                  f"plus a true trend of {cfg.environment_trend} logit per year "
                  f"(environment_trend * (t - origin_month) / 12, in macro_part), continued in scenario months"),
            "F": "mean zero over ages 1..end-start (only mu + F is identified besides the G/H constraints)",
            "s": "s_i = credit_effect_scale * (x_i'b + d_i'gamma), each part centred "
                 + ("within vintage" if cfg.score_centring == "vintage" else
                    "over the portfolio (vintage means of s_i differ"
                    + (f"; latent credit quality drifts {cfg.credit_mix_drift} SD per vintage year" if cfg.credit_mix_drift else "")
                    + ")"),
            "default": "first 90+ DPD; the account leaves at default; payoff is a competing exit "
                       "decided after default in the same month",
            "pd36": "1 - prod_{a=1..36}(1 - PD_i(a)), payoff ignored, H after end from the baseline scenario",
        },
        "config": cfg.to_dict(),
        "version": __version__,
    }
    return SynthPortfolio(loans=loans, truth=truth, macro_history=macro_history,
                          scenarios=scenarios, account_truth=account_truth, config=cfg,
                          _vintage_code=vintage, _last_code=exit_month)


def write_portfolio(out_dir: str | Path, cfg: SynthConfig | None = None, panel: bool = False
                    ) -> dict[str, Path]:
    """Generate a portfolio and write it to ``out_dir``.

    Files: ``loans.parquet``, ``account_truth.parquet``, ``truth.json``,
    ``macro_history.csv``, ``scenarios.csv`` and, with ``panel=True``, ``panel.parquet``.

    Returns
    -------
    dict of pathlib.Path
        File paths keyed ``loans``, ``account_truth``, ``truth``, ``macro_history``,
        ``scenarios`` (and ``panel``).
    """
    if isinstance(out_dir, SynthConfig) or not (cfg is None or isinstance(cfg, SynthConfig)):
        raise TypeError("write_portfolio(out_dir, cfg): give the output folder first and the SynthConfig "
                        f"second (got {type(out_dir).__name__} and {type(cfg).__name__})")
    return generate_portfolio(cfg).write(out_dir, panel=panel)
