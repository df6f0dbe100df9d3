"""Account attributes at origination, census proxies by zip code and the true score.

Generative story
----------------
1. ``n_zips`` zip codes get a population composition over seven groups (White, Black,
   Hispanic, Asian, Native American, Native Hawaiian, Other), logistic-normal around
   typical shares with large dispersion (zips are strongly segregated; minority shares
   are skewed, as in census data), a median age, a male/female ratio and persons per
   household. These are the census proxies,
   identical for all accounts in a zip.
2. Each account picks a zip (log-normal zip popularity), then its ``race_ethnicity``
   from the zip composition (Native American, Native Hawaiian and Other collapse to
   ``"Other"``), ``sex`` from the zip's male/female ratio and ``age`` around the zip's
   median age.
3. A disadvantage index ``P`` (standardised over the portfolio) is built from
   ``1.0*Black + 0.8*Hispanic + 0.5*Other + 1.5*(1 - white_frac of zip)
   - 0.3*(age - 45)/13`` and the latent creditworthiness is
   ``L = -lam * P + sqrt(1 - lam^2) * e`` with ``lam = 0.6 * proxy_strength``.
4. Every credit attribute is a function of ``L`` plus its own noise (see
   :func:`generate_accounts`), so credit attributes act as proxies for protected
   attributes exactly to the extent set by ``proxy_strength``.
5. The true score is ``s_i = credit_effect_scale * (x_i' b + d_i' gamma)``, each part centred
   to mean zero within each vintage; ``x_i`` is the design in :data:`CREDIT_DESIGN`,
   ``b`` is :data:`CREDIT_COEFFICIENTS`, ``d_i`` the protected indicators and ``gamma``
   the ``protected_effect`` setting.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

ZIP_GROUPS: tuple[str, ...] = (
    "White", "Black", "Hispanic", "Asian", "NativeAmerican", "NativeHawaiian", "Other",
)
#: Zip composition: logistic-normal, ``shares = softmax(log(_ZIP_MEDIAN) + _ZIP_SIGMA * z)``.
_ZIP_MEDIAN = np.array([0.70, 0.04, 0.09, 0.015, 0.005, 0.0008, 0.025])
_ZIP_SIGMA = np.array([0.0, 1.8, 1.3, 1.3, 1.0, 1.0, 0.5])
RACE_CATEGORIES: tuple[str, ...] = ("White", "Black", "Hispanic", "Asian", "Other")
_GROUP_TO_RACE = np.array([0, 1, 2, 3, 4, 4, 4])
SUBCATEGORIES: tuple[str, ...] = ("CLASSIC", "GOLD", "PLATINUM", "PREFERRED", "SIGNATURE")
_SUBCATEGORY_CUTS = np.array([-0.6, 0.0, 0.6, 1.1])
_SUBCATEGORY_RATE_ADJ = np.array([1.0, 0.0, -0.5, -1.0, -2.0])
_SUBCATEGORY_LIMIT_MULT = np.array([0.8, 1.0, 1.2, 1.4, 1.8])

#: Exact design of the credit part ``x_i' b`` of the true score (constants are fixed,
#: not estimated from the sample).
CREDIT_DESIGN: dict[str, str] = {
    "bureau_score_z": "(bureau_score - 630) / 40",
    "interest_rate_z": "(interest_rate - 22) / 4",
    "subcategory": "one effect per subcategory (CLASSIC = 0 reference)",
    "credit_limit_log_z": "(ln(credit_limit) - ln(2500)) / 0.6, 0 where credit_limit is NaN",
    "credit_limit_missing": "1 if credit_limit is NaN",
    "balance_transfer_flag": "1 if balance_transfer > 0",
    "total_loan_balance_log_z": "(ln(1 + total_loan_balance) - 9) / 1.8, 0 where NaN",
    "total_loan_balance_missing": "1 if total_loan_balance is NaN",
    "total_deposits_log_z": "(ln(1 + total_deposits) - 6.5) / 2.5",
}

#: True credit coefficients ``b`` at ``credit_effect_scale = 1`` (log-odds per unit).
CREDIT_COEFFICIENTS: dict[str, float | dict[str, float]] = {
    "bureau_score_z": -0.45,
    "interest_rate_z": 0.10,
    "subcategory": {"CLASSIC": 0.0, "GOLD": 0.35, "PLATINUM": 0.15, "PREFERRED": -0.15,
                    "SIGNATURE": -0.5},
    "credit_limit_log_z": -0.10,
    "credit_limit_missing": 0.20,
    "balance_transfer_flag": 0.10,
    "total_loan_balance_log_z": -0.25,
    "total_loan_balance_missing": -0.10,
    "total_deposits_log_z": -0.40,
}

#: Documentation of the protected design ``d_i``.
PROTECTED_DESIGN: dict[str, str] = {
    "minority": "1 if race_ethnicity != 'White'",
    "male": "1 if sex == 'M'",
    "age_per_decade": "(age - 45) / 10",
    "race_Black": "1 if race_ethnicity == 'Black'",
    "race_Hispanic": "1 if race_ethnicity == 'Hispanic'",
    "race_Asian": "1 if race_ethnicity == 'Asian'",
    "race_Other": "1 if race_ethnicity == 'Other'",
}

PROXY_LOADING = 0.6


def generate_zips(rng: np.random.Generator, n_zips: int) -> pd.DataFrame:
    """Zip codes with census proxies.

    Returns
    -------
    pandas.DataFrame
        ``zip5`` (5-digit string), ``weight`` (account share), one ``frac_<group>``
        column per :data:`ZIP_GROUPS` and ``median_age``, ``mf_ratio``,
        ``persons_per_household``.
    """
    codes = rng.choice(np.arange(1001, 99951), size=n_zips, replace=False)
    codes.sort()
    comp = np.exp(np.log(_ZIP_MEDIAN) + _ZIP_SIGMA * rng.standard_normal((n_zips, len(ZIP_GROUPS))))
    comp /= comp.sum(axis=1, keepdims=True)
    weight = rng.lognormal(0.0, 1.0, n_zips)
    white = comp[:, 0]
    hisp = comp[:, 2]
    median_age = np.clip(38.5 + 6.0 * (white - 0.6) + rng.normal(0, 4.0, n_zips), 22, 65)
    mf_ratio = np.clip(0.97 + rng.normal(0, 0.06, n_zips), 0.7, 1.5)
    pph = np.clip(2.5 + 1.2 * (hisp - 0.17) + rng.normal(0, 0.25, n_zips), 1.5, 4.5)
    out = pd.DataFrame({"zip5": np.array([f"{c:05d}" for c in codes], dtype=object),
                        "weight": weight / weight.sum()})
    for j, g in enumerate(ZIP_GROUPS):
        out[f"frac_{g}"] = np.round(comp[:, j], 6)
    out["median_age"] = np.round(median_age, 1)
    out["mf_ratio"] = np.round(mf_ratio, 3)
    out["persons_per_household"] = np.round(pph, 2)
    return out


def _draw_categorical(rng: np.random.Generator, cum: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per row from per-row cumulative probabilities ``cum[rows]``."""
    u = rng.random(len(rows))
    out = np.zeros(len(rows), dtype=np.int8)
    for k in range(cum.shape[1] - 1):
        out += u >= cum[rows, k]
    return out


def _log_z(x: np.ndarray, centre: float, scale: float) -> np.ndarray:
    return np.where(np.isnan(x), 0.0, (np.log(np.where(np.isnan(x), 1.0, x)) - centre) / scale)


def credit_design_matrix(attrs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The numeric design ``x_i`` of :data:`CREDIT_DESIGN` from attribute arrays."""
    cl = np.asarray(attrs["credit_limit"], dtype=float)
    tlb = np.asarray(attrs["total_loan_balance"], dtype=float)
    return {
        "bureau_score_z": (np.asarray(attrs["bureau_score"], dtype=float) - 630.0) / 40.0,
        "interest_rate_z": (np.asarray(attrs["interest_rate"], dtype=float) - 22.0) / 4.0,
        "credit_limit_log_z": _log_z(cl, np.log(2500.0), 0.6),
        "credit_limit_missing": np.isnan(cl).astype(float),
        "balance_transfer_flag": (np.asarray(attrs["balance_transfer"]) > 0).astype(float),
        "total_loan_balance_log_z": np.where(np.isnan(tlb), 0.0,
                                             (np.log1p(np.nan_to_num(tlb)) - 9.0) / 1.8),
        "total_loan_balance_missing": np.isnan(tlb).astype(float),
        "total_deposits_log_z": (np.log1p(np.asarray(attrs["total_deposits"], dtype=float)) - 6.5) / 2.5,
    }


def credit_part(attrs: Mapping[str, np.ndarray]) -> np.ndarray:
    """``x_i' b`` (uncentred, scale 1) from attribute arrays (``subcategory`` as strings)."""
    x = credit_design_matrix(attrs)
    out = np.zeros(len(x["bureau_score_z"]))
    for name, col in x.items():
        out += float(CREDIT_COEFFICIENTS[name]) * col  # type: ignore[arg-type]
    sub = pd.Series(np.asarray(attrs["subcategory"], dtype=object))
    out += sub.map(CREDIT_COEFFICIENTS["subcategory"]).to_numpy(dtype=float)
    return out


def protected_part(race: np.ndarray, male: np.ndarray, age: np.ndarray,
                   effects: Mapping[str, float]) -> np.ndarray:
    """``d_i' gamma`` (uncentred, scale 1); ``race`` holds indices into :data:`RACE_CATEGORIES`."""
    out = effects.get("minority", 0.0) * (race != 0)
    out = out + effects.get("male", 0.0) * male + effects.get("age_per_decade", 0.0) * (age - 45.0) / 10.0
    for j, r in enumerate(RACE_CATEGORIES[1:], start=1):
        out = out + effects.get(f"race_{r}", 0.0) * (race == j)
    return np.asarray(out, dtype=float)


def centre_within(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Subtract the mean of ``values`` within each group (integer labels ``0..n_groups-1``)."""
    sums = np.bincount(groups, weights=values, minlength=n_groups)
    counts = np.bincount(groups, minlength=n_groups)
    means = np.divide(sums, counts, out=np.zeros(n_groups), where=counts > 0)
    return values - means[groups]


def generate_accounts(rng: np.random.Generator, n: int, zips: pd.DataFrame,
                      proxy_strength: float, latent_shift: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Draw the attributes of ``n`` accounts.

    Credit attributes given the latent creditworthiness ``L`` and independent standard
    normals ``e_k``:

    - ``bureau_score = round(clip(630 + 40 (0.8 L + 0.6 e1), 480, 760))``
    - ``subcategory`` from ``u = 0.6 L + 0.8 e5`` cut at -0.6, 0, 0.6, 1.1
      (CLASSIC < GOLD < PLATINUM < PREFERRED < SIGNATURE)
    - ``interest_rate = clip(22 - 0.05 (score - 630) + subcategory adj + 1.5 e_r, 7.9, 29.99)``
    - ``credit_limit = exp(ln 2500 + 0.6 (0.6 L + 0.8 e4)) * subcategory mult`` rounded to
      100 in ``[300, 30000]``; NaN for 6% (at random)
    - ``balance_transfer``: 0 for 80%, else log-normal (median 2,000)
    - ``total_loan_balance``: NaN for 30% (at random), else ``exp(9 + 1.8 (0.35 L + 0.94 e3)) - 1``
    - ``total_deposits``: 0 for 12%, else ``exp(6.5 + 2.2 (0.5 L + 0.87 e2)) - 1``

    ``latent_shift`` (optional, one value per account) is added to ``L`` before the credit
    attributes are drawn: a credit mix that drifts across vintages.

    Returns
    -------
    dict of numpy.ndarray
        Attribute arrays (zip-level census values already broadcast) plus ``_race``
        (category index) and ``_male`` used for the protected part.
    """
    zi = rng.choice(len(zips), size=n, p=zips["weight"].to_numpy())
    comp = zips[[f"frac_{g}" for g in ZIP_GROUPS]].to_numpy()
    comp = comp / comp.sum(axis=1, keepdims=True)
    group = _draw_categorical(rng, np.cumsum(comp, axis=1), zi)
    race = _GROUP_TO_RACE[group]
    mf = zips["mf_ratio"].to_numpy()
    male = (rng.random(n) < (mf / (1.0 + mf))[zi]).astype(np.int8)
    zip_age = zips["median_age"].to_numpy()[zi]
    age = np.clip(np.round(zip_age + 4.0 + rng.normal(0, 13.0, n)), 18, 90).astype(np.int64)

    white_zip = comp[zi, 0]
    p_raw = (1.0 * (race == 1) + 0.8 * (race == 2) + 0.5 * (race == 4)
             + 1.5 * (1.0 - white_zip) - 0.3 * (age - 45.0) / 13.0)
    sd = p_raw.std()
    p_idx = (p_raw - p_raw.mean()) / sd if sd > 0 else np.zeros(n)
    lam = PROXY_LOADING * proxy_strength
    latent = -lam * p_idx + np.sqrt(1.0 - lam**2) * rng.standard_normal(n)
    if latent_shift is not None:
        latent = latent + np.asarray(latent_shift, dtype=float)

    e = rng.standard_normal((6, n))
    score = np.round(np.clip(630 + 40 * (0.8 * latent + 0.6 * e[0]), 480, 760)).astype(np.int64)
    sub_idx = np.searchsorted(_SUBCATEGORY_CUTS, 0.6 * latent + 0.8 * e[1])
    rate = 22.0 - 0.05 * (score - 630) + _SUBCATEGORY_RATE_ADJ[sub_idx] + 1.5 * e[2]
    rate = np.round(np.clip(rate, 7.9, 29.99), 2)
    limit = np.exp(np.log(2500.0) + 0.6 * (0.6 * latent + 0.8 * e[3])) * _SUBCATEGORY_LIMIT_MULT[sub_idx]
    limit = np.clip(np.round(limit / 100.0) * 100.0, 300.0, 30000.0)
    limit[rng.random(n) < 0.06] = np.nan
    bt = np.where(rng.random(n) < 0.2, np.round(rng.lognormal(np.log(2000.0), 0.9, n), 2), 0.0)
    tlb = np.round(np.expm1(9.0 + 1.8 * (0.35 * latent + 0.937 * e[4])), 2)
    tlb[rng.random(n) < 0.30] = np.nan
    dep = np.round(np.expm1(6.5 + 2.2 * (0.5 * latent + 0.866 * e[5])), 2)
    dep[rng.random(n) < 0.12] = 0.0

    sub_labels = np.array(SUBCATEGORIES, dtype=object)
    race_labels = np.array(RACE_CATEGORIES, dtype=object)
    sex_labels = np.array(["F", "M"], dtype=object)
    out: dict[str, np.ndarray] = {
        "bureau_score": score,
        "interest_rate": rate,
        "subcategory": sub_labels[sub_idx],
        "credit_limit": limit,
        "balance_transfer": bt,
        "total_loan_balance": tlb,
        "total_deposits": dep,
        "zip5": zips["zip5"].to_numpy(dtype=object)[zi],
        "median_age": zips["median_age"].to_numpy()[zi],
        "mf_ratio": mf[zi],
        "persons_per_household": zips["persons_per_household"].to_numpy()[zi],
        "asian_frac": zips["frac_Asian"].to_numpy()[zi],
        "black_frac": zips["frac_Black"].to_numpy()[zi],
        "native_american_frac": zips["frac_NativeAmerican"].to_numpy()[zi],
        "native_hawaiian_frac": zips["frac_NativeHawaiian"].to_numpy()[zi],
        "hispanic_frac": zips["frac_Hispanic"].to_numpy()[zi],
        "age": age,
        "sex": sex_labels[male],
        "race_ethnicity": race_labels[race],
        "minority": (race != 0).astype(np.int8),
        "_race": race,
        "_male": male,
    }
    return out
