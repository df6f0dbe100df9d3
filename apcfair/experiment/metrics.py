"""Per cell × seed × model metrics of one procedure run, as tidy rows.

Definitions (every number is out of sample unless its name ends in ``_in``):

``auc_in``, ``auc_out``
    AUC of the cumulative PD over the horizon, complete-horizon accounts (the procedure's
    headline AUC).
``cost_traditional_vs_zero_{in,out}`` (+ ``_lower``, ``_upper``, ``_p_value``)
    AUC(credit) − AUC(credit_restricted_zero), paired DeLong 95% interval: the cost of the
    zeroed model against today's model. On rows of model ``credit_restricted_zero``.
``cost_offset_vs_zero_{in,out}`` (+ interval)
    AUC(credit_with_restricted_offset) − AUC(credit_restricted_zero): what the restricted
    term carried. On rows of model ``credit_restricted_zero``.
``cost_gbm_traditional_vs_zero_{in,out}``
    The same for boosted trees (``gbm_credit`` − ``gbm_credit_restricted_zero``), when the
    procedure fits ``gbm_credit``.
``corr_<a>``, ``dcor_<a>``, ``auc_group_<a>``, ``air_<a>``
    Pearson correlation / distance correlation / group AUC / adverse impact ratio of the
    model's cumulative PD with protected attribute ``a``.
``corr_change_vs_credit_<a>``
    ``corr_<a>`` of the model minus that of the traditional model ``credit``.
``calibration_overall``, ``calibration_<a>_<group>``
    Expected / actual defaults (expected: sum of monthly PDs over each account's exposure
    within the horizon; actual: defaults within the horizon), overall and per group.
``coef_bias_<term>``, ``coef_se_<term>``, ``coef_covered_<term>``
    Logit models only (``credit``; ``credit_with_restricted_offset``, whose coefficients
    the zeroed and calibrated models share): estimated − true credit coefficient, its
    standard error, and 1 if the 95% Wald interval covers the truth. The credit inputs are
    the generator's exact design columns entered linearly (and ``subcategory`` as
    categories), so each coefficient has a true value (``truth["credit_coefficients"]``);
    a subcategory level's truth is relative to the model's reference level.
``dep_total_<a>``, ``dep_legit_<a>``, ``dep_proxy_<a>``, ``dep_other_<a>``
    The decomposition of :func:`apcfair.experiment.decompose.decompose_dependence` of the
    model's logit account score (logit models).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


#: The credit inputs of the experiment: the generator's exact design (linear) and subcategory.
def credit_inputs() -> list[str]:
    """Credit input columns added to the loans by :func:`add_design_columns`."""
    from data_synth.attributes import CREDIT_DESIGN

    return [k for k in CREDIT_DESIGN if k != "subcategory"] + ["subcategory"]


#: Restricted inputs (the generator's direct effects are on these) and protected attributes.
RESTRICTED = ["minority", "sex", "age"]
PROTECTED = ["minority", "sex"]
LOGIT_COEFS = {"credit": "credit", "credit_with_restricted_offset": "credit_with_restricted_offset",
               "credit_restricted_zero": "credit_with_restricted_offset",
               "credit_restricted_mean": "credit_with_restricted_offset"}
COSTS = {"traditional_vs_zero": ("credit", "credit_restricted_zero"),
         "offset_vs_zero": ("credit_with_restricted_offset", "credit_restricted_zero"),
         "gbm_traditional_vs_zero": ("gbm_credit", "gbm_credit_restricted_zero")}


def add_design_columns(loans: pd.DataFrame) -> pd.DataFrame:
    """The loans with the generator's exact credit design columns (``bureau_score_z`` ...)."""
    from data_synth.attributes import credit_design_matrix

    return loans.assign(**credit_design_matrix(loans))


def true_terms(truth: dict, coef_table: pd.DataFrame) -> dict[str, float]:
    """True coefficient per model term (subcategory levels relative to the model's reference)."""
    out = {}
    terms = set(coef_table["term"])
    for name, value in truth["credit_coefficients"].items():
        if isinstance(value, dict):
            present = [lv for lv in value if f"{name} {lv}" in terms]
            ref = [lv for lv in value if lv not in present]
            base = value[ref[0]] if len(ref) == 1 else 0.0
            out.update({f"{name} {lv}": value[lv] - base for lv in present})
        elif name in terms:
            out[name] = float(value)
    return out


def _design(loans: pd.DataFrame, terms: list[str]) -> np.ndarray:
    """Columns of the model terms (linear numeric or ``"column level"`` indicators)."""
    cols = []
    for t in terms:
        if t in loans.columns:
            cols.append(loans[t].to_numpy(float))
        else:
            col, level = t.split(" ", 1)
            cols.append((loans[col].astype(str) == level).to_numpy(float))
    return np.column_stack(cols)


def _cost(y, a, b) -> dict:
    from apcfair.unbiased import delong_auc_difference

    return delong_auc_difference(y, a, b)


def cost_rows(result, in_sample: np.ndarray, complete: np.ndarray) -> list[tuple[str, str, float]]:
    """``(model, metric, value)`` for the costs of zeroing, from the result's ``costs`` when it
    carries them (issue 11), else computed with DeLong from its forecasts."""
    out = []
    fc = result.forecasts
    models = set(fc["model"])
    y = fc.loc[fc["model"] == "credit", "defaulted_within_horizon"].to_numpy()
    costs = getattr(result, "cost_of_fairness", {}) or {}
    carried = costs.get("costs") if isinstance(costs, dict) else None
    for name, (a, b) in COSTS.items():
        if a not in models or b not in models:
            continue
        wa = fc.loc[fc["model"] == a, "cum_pd_observed_window"].to_numpy()
        wb = fc.loc[fc["model"] == b, "cum_pd_observed_window"].to_numpy()
        for sample, mask in (("in", in_sample), ("out", ~in_sample)):
            d = (carried or {}).get(name, {}).get(sample) if carried else None
            if d is None:
                m = mask & complete
                d = _cost(y[m], wa[m], wb[m])
            for key, suffix in (("difference", ""), ("lower", "_lower"), ("upper", "_upper"), ("p_value", "_p_value")):
                if d.get(key) is not None:
                    out.append((b, f"cost_{name}_{sample}{suffix}", float(d[key])))
    return out


def run_metrics(result, loans: pd.DataFrame, truth: dict | None, *, horizon: int, window_end: int,
                protected: list[str]) -> pd.DataFrame:
    """All metrics of one run: ``model, metric, value`` rows (see the module docstring).

    With ``truth=None`` (a real book) the coefficient bias is replaced by ``coef_change_<term>``
    (traditional − restricted-offset coefficient, on rows of ``credit``) and the decomposition
    uses :func:`~apcfair.experiment.decompose.real_data_parts`.
    """
    from apcfair.experiment.decompose import decompose_dependence
    from apcfair.forecast.cumulative import expected_defaults, observed_default_within
    from apcfair.portfolio.spells import Spells

    rows: list[tuple[str, str, float]] = []
    fc = result.forecasts
    first = fc["model"].iloc[0]
    in_sample = (fc.loc[fc["model"] == first, "sample"] == "in").to_numpy()
    out = ~in_sample
    obs = observed_default_within(loans, horizon, window_end=window_end)
    complete = obs["complete"].to_numpy(bool)
    for r in result.rows:
        rows.append((r["model"], f"auc_{r['sample']}", float(r["auc"])))
    rows += cost_rows(result, in_sample, complete)
    # dependence (out of sample)
    dep = result.dependence_table.query("sample == 'out'")
    base_corr = dep[dep["model"] == "credit"].set_index("attribute")["corr"]
    for rec in dep.itertuples(index=False):
        for key in ("corr", "dcor", "auc_group", "air"):
            val = getattr(rec, key)
            if val is not None and np.isfinite(val):
                rows.append((rec.model, f"{key}_{rec.attribute}", float(val)))
        if rec.attribute in base_corr.index:
            rows.append((rec.model, f"corr_change_vs_credit_{rec.attribute}", float(rec.corr - base_corr[rec.attribute])))
    # calibration by group (out of sample)
    offsets = result.apc_result.offset_table(include_intercept=True, max_age=horizon, last_period=window_end + horizon)
    vintage = Spells.from_loans(loans).vintage
    actual = obs["defaulted"].to_numpy(float)
    scores = result.account_scores
    for model in [c for c in scores.columns if c != "account_id"]:
        expected = expected_defaults(vintage, scores[model].to_numpy(), offsets, horizon,
                                     start_age=obs["start_age"].to_numpy(), end_age=obs["exposure_end_age"].to_numpy())
        if actual[out].sum():
            rows.append((model, "calibration_overall", float(expected[out].sum() / actual[out].sum())))
        for attr in protected:
            groups = loans[attr].astype(str).to_numpy()
            for g in np.unique(groups[out]):
                m = out & (groups == g)
                if actual[m].sum():
                    rows.append((model, f"calibration_{attr}_{g}", float(expected[m].sum() / actual[m].sum())))
    if truth is None:
        return pd.DataFrame(rows + real_book_rows(result, loans, out, protected), columns=["model", "metric", "value"])
    # coefficient bias against the truth, and the decomposition (logit models)
    true_part = None
    for model, table_name in LOGIT_COEFS.items():
        if model not in scores.columns or table_name not in result.coefficient_tables:
            continue
        table = result.coefficient_tables[table_name].set_index("term")
        truth_terms = true_terms(truth, table.reset_index())
        names = list(truth_terms)
        est = table.loc[names, "estimate"].to_numpy(float)
        se = table.loc[names, "std_error"].to_numpy(float)
        true = np.array([truth_terms[n] for n in names])
        if model == table_name:
            for n, e, s, t in zip(names, est, se, true, strict=True):
                key = n.replace(" ", "_")
                rows += [(model, f"coef_bias_{key}", float(e - t)), (model, f"coef_se_{key}", float(s)),
                         (model, f"coef_covered_{key}", float(abs(e - t) <= 1.959964 * s))]
        x = _design(loans, names)
        if true_part is None:
            true_part = x @ true
        score = scores[model].to_numpy(float)
        for attr in protected:
            d = loans[attr]
            dnum = (d.astype(str) == sorted(d.astype(str).unique())[-1]).to_numpy(float) if d.dtype == object \
                else d.to_numpy(float)
            parts = decompose_dependence(score[out], dnum[out], legit=true_part[out], proxy=(x @ (est - true))[out])
            for k, v in parts.items():
                rows.append((model, f"dep_{k}_{attr}", v))
    return pd.DataFrame(rows, columns=["model", "metric", "value"])


def _binary(col: pd.Series) -> np.ndarray:
    """A protected attribute as numbers: numeric as is, else 1 for its last level in sorted order."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col.to_numpy(float)
    text = col.astype(str)
    return (text == sorted(text.unique())[-1]).to_numpy(float)


def real_book_rows(result, loans: pd.DataFrame, out: np.ndarray, protected: list[str]) -> list[tuple[str, str, float]]:
    """No truth: traditional − restricted-offset coefficients and the real-data decomposition."""
    from apcfair.experiment.decompose import decompose_dependence, real_data_parts

    rows: list[tuple[str, str, float]] = []
    tables = result.coefficient_tables
    if {"credit", "credit_with_restricted_offset"} <= set(tables):
        a = tables["credit"].set_index("term")["estimate"]
        b = tables["credit_with_restricted_offset"].set_index("term")["estimate"]
        for term in a.index.intersection(b.index):
            rows.append(("credit", f"coef_change_{str(term).replace(' ', '_')}", float(a[term] - b[term])))
    scores = result.account_scores
    if {"credit", "credit_restricted_zero"} <= set(scores.columns):
        score, legit, proxy = real_data_parts(scores)
        for attr in protected:
            parts = decompose_dependence(score[out], _binary(loans[attr])[out], legit=legit[out], proxy=proxy[out])
            rows += [("credit", f"dep_{k}_{attr}", v) for k, v in parts.items()]
    return rows
