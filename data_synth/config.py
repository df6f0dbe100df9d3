"""Settings of the synthetic portfolio generator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import pandas as pd

from data_synth._calendar import parse_month

#: Keys accepted in :attr:`SynthConfig.protected_effect` (direct effects on the default logit).
PROTECTED_EFFECT_KEYS: tuple[str, ...] = (
    "minority",
    "male",
    "age_per_decade",
    "race_Black",
    "race_Hispanic",
    "race_Asian",
    "race_Other",
)

DEFAULT_PROTECTED_EFFECT: dict[str, float] = {"minority": 0.3, "male": 0.1, "age_per_decade": -0.1}

#: Macro sensitivities of the built-in macro path (logit per unit of each driver).
DEFAULT_MACRO_BETA: dict[str, float] = {
    "unemployment_change": 0.20,
    "gdp_growth": -0.04,
    "unemployment_rate": 0.0,
}

MIN_SCENARIO_HORIZON = 36


@dataclass(frozen=True)
class SynthConfig:
    """Settings of a synthetic credit-card portfolio with known truth.

    The true monthly default model for account ``i`` of vintage ``v`` at age ``a`` in
    month ``t = v + a`` is ``logit PD = mu + F(a) + G(v) + H(t) + s_i``; see
    :func:`data_synth.generate_portfolio` for the exact conventions.

    Parameters
    ----------
    n_accounts : int
        Number of accounts. Default 146,500 (the paper's portfolio).
    seed : int
        Seed of ``numpy.random.default_rng``; everything is deterministic given the
        config.
    start, end : str
        ``"YYYY-MM"``. Accounts originate monthly in ``start .. end-1`` (so every account
        has at least one performance month) and are observed through ``end``.
    default_rate_target : float
        Target fraction of all accounts that default within the window. ``mu`` is
        calibrated deterministically so that the *expected* fraction equals the target.
    mu : float or None
        Fix the intercept instead of calibrating it (``default_rate_target`` is then
        ignored).
    payoff_rate : float
        Base monthly payoff/attrition hazard. The hazard at age ``a`` is
        ``payoff_rate * (0.7 + 0.6 * exp(-(a - 1) / 24))``: 1.3x the base rate in the first
        month, falling to 0.7x for seasoned accounts. It does not depend on anything else.
    protected_effect : mapping
        Direct effects of protected attributes on the default logit, at
        ``credit_effect_scale = 1``. Keys (missing keys mean 0; passing a mapping replaces
        the defaults entirely): ``"minority"`` (1 if ``race_ethnicity != "White"``),
        ``"male"`` (1 if ``sex == "M"``), ``"age_per_decade"`` (times
        ``(age - 45) / 10``) and ``"race_Black"``, ``"race_Hispanic"``, ``"race_Asian"``,
        ``"race_Other"`` (on top of ``minority``). Default
        ``{"minority": 0.3, "male": 0.1, "age_per_decade": -0.1}``.
    proxy_strength : float
        In ``[0, 1]``. The latent creditworthiness behind every credit attribute is
        ``L = -0.6 * proxy_strength * P + sqrt(1 - (0.6 * proxy_strength)^2) * e`` with
        ``P`` a standardised disadvantage index built from the protected attributes and
        zip composition. 0: credit attributes independent of protected attributes;
        1: clear correlation (corr(bureau score, minority) about -0.3).
    credit_effect_scale : float
        Multiplies the whole account score ``s_i`` (the credit coefficients *and* the
        direct protected effects). 0 gives pure age-period-cohort data with ``s_i = 0``.
    macro : pandas.DataFrame or None
        Optional user drivers replacing the simulated macro path: a ``month`` column
        (``"YYYY-MM"``) covering every performance month ``start+1 .. end`` and one numeric
        column per driver. Requires ``macro_beta`` unless it has the built-in columns.
    macro_beta : mapping or None
        Macro sensitivities ``{driver: beta}``; default :data:`DEFAULT_MACRO_BETA`.
    seasonal_scale : float
        Multiplies the seasonal pattern of the environment (0 removes seasonality).
    lifecycle_scale, vintage_scale : float
        Multiply the shapes of ``F`` and ``G`` (0 makes them flat).
    environment_trend : float
        A true linear trend in the environment, in logit per year: ``H`` is the detrended
        macro and seasonal parts plus ``environment_trend * (t - t0) / 12`` (so ``H`` then
        has mean ``environment_trend * (n - 1) / 24`` and slope ``environment_trend / 12``
        per month over the window, and the trend continues in scenario months). 0 (default)
        keeps the zero-trend convention. A truth that does not share the APC engine's
        identification convention.
    credit_mix_drift : float
        Change per year of origination in the mean latent creditworthiness of new accounts
        (standard-deviation units; positive = better later vintages). The quality of
        vintages then drifts through the credit attributes, not through ``G``. Requires
        ``score_centring="portfolio"`` (centring within vintage would remove the drift).
    score_centring : {"vintage", "portfolio"}
        Centre each part of the account score ``s_i`` to mean zero within each vintage
        (default; ``G(v)`` is then the effect at the vintage-average score) or over the whole
        portfolio (the vintage averages of ``s_i`` then differ, e.g. with ``credit_mix_drift``).
    n_zips : int
        Number of 5-digit zip codes carrying census proxies.
    scenario_horizon : int
        Months of macro scenarios after ``end`` (at least 36).
    """

    n_accounts: int = 146_500
    seed: int = 0
    start: str = "2005-01"
    end: str = "2019-12"
    default_rate_target: float = 0.06
    mu: float | None = None
    payoff_rate: float = 0.015
    protected_effect: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_PROTECTED_EFFECT)
    )
    proxy_strength: float = 0.3
    credit_effect_scale: float = 1.0
    macro: pd.DataFrame | None = field(default=None, compare=False)
    macro_beta: Mapping[str, float] | None = None
    seasonal_scale: float = 1.0
    lifecycle_scale: float = 1.0
    vintage_scale: float = 1.0
    environment_trend: float = 0.0
    credit_mix_drift: float = 0.0
    score_centring: str = "vintage"
    n_zips: int = 3000
    scenario_horizon: int = 60

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ helpers
    @property
    def start_code(self) -> int:
        """First origination month as an integer code."""
        return parse_month(self.start, name="start")

    @property
    def end_code(self) -> int:
        """Last observed month as an integer code."""
        return parse_month(self.end, name="end")

    def resolved_macro_beta(self) -> dict[str, float]:
        """Macro sensitivities actually used."""
        if self.macro_beta is not None:
            return {str(k): float(v) for k, v in self.macro_beta.items()}
        return dict(DEFAULT_MACRO_BETA)

    def resolved_protected_effect(self) -> dict[str, float]:
        """Direct protected effects at scale 1, every key present (missing keys are 0)."""
        eff = {k: 0.0 for k in PROTECTED_EFFECT_KEYS}
        eff.update({str(k): float(v) for k, v in self.protected_effect.items()})
        return eff

    def validate(self) -> None:
        """Check the settings; raise ``ValueError`` naming the first problem."""
        s, e = self.start_code, self.end_code
        if e - s < 1:
            raise ValueError(f"end={self.end!r} must be at least one month after start={self.start!r}")
        if int(self.n_accounts) < 1:
            raise ValueError(f"n_accounts={self.n_accounts} must be at least 1")
        if not 0.0 < self.default_rate_target < 1.0:
            raise ValueError(f"default_rate_target={self.default_rate_target} must be in (0, 1)")
        if not 0.0 <= self.payoff_rate < 0.5:
            raise ValueError(f"payoff_rate={self.payoff_rate} must be in [0, 0.5)")
        if not 0.0 <= self.proxy_strength <= 1.0:
            raise ValueError(f"proxy_strength={self.proxy_strength} must be in [0, 1]")
        if self.credit_effect_scale < 0:
            raise ValueError(f"credit_effect_scale={self.credit_effect_scale} must be >= 0")
        unknown = sorted(set(self.protected_effect) - set(PROTECTED_EFFECT_KEYS))
        if unknown:
            raise ValueError(
                f"protected_effect has unknown key(s) {unknown}; allowed: {list(PROTECTED_EFFECT_KEYS)}"
            )
        if self.score_centring not in ("vintage", "portfolio"):
            raise ValueError(f"score_centring={self.score_centring!r}: use 'vintage' or 'portfolio'")
        if self.credit_mix_drift != 0 and self.score_centring == "vintage":
            raise ValueError(
                f"credit_mix_drift={self.credit_mix_drift} with score_centring='vintage' would centre the "
                "drift away; pass score_centring='portfolio'"
            )
        if int(self.n_zips) < 1:
            raise ValueError(f"n_zips={self.n_zips} must be at least 1")
        if int(self.scenario_horizon) < MIN_SCENARIO_HORIZON:
            raise ValueError(
                f"scenario_horizon={self.scenario_horizon} must be at least {MIN_SCENARIO_HORIZON}"
            )
        if self.macro is not None:
            if not isinstance(self.macro, pd.DataFrame) or "month" not in self.macro.columns:
                raise ValueError("macro must be a DataFrame with a 'month' column ('YYYY-MM')")
            beta = self.resolved_macro_beta()
            missing = [k for k in beta if k not in self.macro.columns]
            if missing:
                raise ValueError(
                    f"macro lacks driver column(s) {missing} named in macro_beta; pass macro_beta "
                    "for the columns your macro DataFrame has"
                )

    def to_dict(self) -> dict[str, Any]:
        """All settings as a JSON-ready dictionary (a user ``macro`` is summarised)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if f.name == "macro":
                out[f.name] = None if val is None else "user-supplied (see macro_history)"
            elif isinstance(val, Mapping):
                out[f.name] = {str(k): float(v) for k, v in val.items()}
            else:
                out[f.name] = val
        out["macro_beta"] = self.resolved_macro_beta()
        return out
