"""A self-contained HTML model report assembled from an output folder.

Every subcommand writes machine-readable results (``apc.json``, ``comparison.json``,
``audit.json``, ``stress.json``, ``lineage.json``) and PNG plots into its output folder.
The report reads only those files, so every number in its prose comes from the same
results as its tables, and any subcommand can write its part of the report
(``--report``) or the demo can write all of it.

The page opens with an executive summary (one screen: portfolio, identification, costs
of zeroing, dependence, calibration, stress, audit failures), each item linking to its
section. Each section is a function that reads its results and returns the context of
its template (``apcfair/templates/report/<key>.html``), or ``None`` when its results are
absent. Tables and figures are numbered in page order with captions. Pages are rendered
by the HTML kit (:mod:`apcfair._html`): values are escaped and formatted there, plots are
embedded as base64 PNG. Keys that newer result files carry (``costs``, calibration
``by_group``, dependence ``change_vs_credit``, stress ``drivers`` and quantiles) are shown
when present; older files give the same report without them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from apcfair import layout
from apcfair._html import data_uri, fmt_count, fmt_interval, fmt_num, formatter, render, table
from apcfair.audit.groups import excluded_text

# Written by ``apcfair unbiased`` as ``coefficients_<model>.csv``, one file per score model.
#: A vintage with fewer months of data than this is not ranked (its band is wide, its level
#: carried by the prior).
MIN_MONTHS_TO_RANK = 12
#: Fewer bootstrap replicates than this give unstable 95% interval ends: said in the report.
MIN_BOOTSTRAP = 1000
#: The two costs of zeroing (and the same-technique GBM one): key of ``costs`` in
#: ``cost_of_fairness.json`` -> (model A, model B, what the difference means).
COSTS = {
    "traditional_vs_zero": ("credit", "credit_restricted_zero", "cost against today's model"),
    "offset_vs_zero": ("credit_with_restricted_offset", "credit_restricted_zero", "what the restricted term carried"),
    "gbm_traditional_vs_zero": ("gbm_credit", "gbm_credit_restricted_zero", "cost against today's model (GBM)"),
}
SAMPLE_NAMES = {"in": "in sample", "out": "out of sample"}
#: Models whose calibration the executive summary shows: today's, zeroed, calibrated constant.
SUMMARY_MODELS = ("credit", "credit_restricted_zero", "credit_restricted_mean")


def model_label(model: str, label: str | None = None) -> str:
    """The human label of a score model (``label`` when the results carry one).

    >>> model_label("credit_restricted_zero")
    'APC Scoring, Credit with Restricted = 0'
    """
    if label:
        return str(label)
    from apcfair.unbiased.stages import MODEL_LABELS  # the one list of labels

    return MODEL_LABELS.get(model, model)


def _model(model: str, label: str | None = None) -> dict:
    return {"id": model, "label": model_label(model, label)}


class _Results:
    """The results in an output folder, each file read once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._json: dict[str, dict | list | None] = {}

    def json(self, name: str) -> dict | list | None:
        if name not in self._json:
            path = self.folder / name
            self._json[name] = json.loads(path.read_text()) if path.exists() else None
        return self._json[name]

    def csv(self, name: str) -> pd.DataFrame | None:
        path = self.folder / name
        return pd.read_csv(path) if path.exists() else None

    def plot(self, name: str) -> str | None:
        path = self.folder / name
        return data_uri(path) if path.exists() else None

    def lineage(self) -> dict | None:
        lin = self.json(layout.LINEAGE)
        for name in (layout.COST_OF_FAIRNESS, layout.APC_JSON):
            if lin is None:
                lin = (self.json(name) or {}).get("lineage")
        return lin or None

    # -- the unbiased comparison ----------------------------------------------------------
    def rows(self) -> list[dict]:
        return list(self.json(layout.COMPARISON) or [])

    def row(self, model: str, sample: str) -> dict | None:
        return next((r for r in self.rows() if r["model"] == model and r["sample"] == sample), None)

    def label(self, model: str) -> dict:
        row = next((r for r in self.rows() if r["model"] == model), {})
        return _model(model, row.get("label"))

    def costs(self) -> list[dict]:
        """Costs of zeroing: one record per (cost, sample), newest layout first."""
        meta = self.json(layout.COST_OF_FAIRNESS) or {}
        found = meta.get("costs") or {"traditional_vs_zero": meta.get("cost_of_fairness") or {}}
        out = []
        for key, by_sample in found.items():
            a, b, meaning = COSTS.get(key, (None, None, key.replace("_", " ")))
            for sample, c in (by_sample or {}).items():
                if not isinstance(c, dict):
                    continue
                ra, rb = (self.row(m, sample) if m else None for m in (a, b))
                out.append({"key": key, "meaning": meaning, "sample": sample, "where": SAMPLE_NAMES.get(sample, sample),
                            "a": self.label(c.get("model_a", a) or "model A"),
                            "b": self.label(c.get("model_b", b) or "model B"),
                            "auc_a": c.get("auc_a", (ra or {}).get("auc")), "auc_b": c.get("auc_b", (rb or {}).get("auc")),
                            "difference": c.get("difference"), "lower": c.get("lower"), "upper": c.get("upper"),
                            "p_value": c.get("p_value"), "method": c.get("method", ""),
                            "significant": c.get("p_value") is not None and c["p_value"] < 0.05})
        return out


@dataclass(frozen=True)
class _Section:
    key: str
    title: str
    data: dict


class _Numbering:
    """Tables and figures numbered in the order the page shows them."""

    def __init__(self):
        self.tables = 0
        self.figures = 0

    def table(self, t, caption: str) -> dict | None:
        if t is None or not len(t):
            return None
        self.tables += 1
        return {"table": t, "caption": f"Table {self.tables}. {caption}", "id": f"table-{self.tables}"}

    def figure(self, uri: str | None, caption: str) -> dict | None:
        if not uri:
            return None
        self.figures += 1
        return {"uri": uri, "caption": f"Figure {self.figures}. {caption}", "id": f"figure-{self.figures}"}


def _interval(x, lo, hi, fmt="auc", **kw) -> str:
    return fmt_interval(x, lo, hi, fmt, **kw)


def _change(d) -> tuple[float | None, float | None, float | None]:
    """``(value, lower, upper)`` of a ``change_vs_credit`` entry (a number or a dict)."""
    if d is None:
        return None, None, None
    if isinstance(d, dict):
        value = next((d[k] for k in ("value", "difference", "change", "corr") if k in d), None)
        return value, d.get("lower"), d.get("upper")
    return float(d), None, None


def _months_by_vintage(res: _Results) -> dict[str, int]:
    cells = res.csv(layout.CELLS)
    if cells is None or not {"vintage", "age"} <= set(cells.columns):
        return {}
    if "at_risk" in cells.columns:
        cells = cells[cells["at_risk"] > 0]
    return {str(k): int(v) for k, v in cells.groupby("vintage")["age"].nunique().items()}


def rank_by_band(records: list[dict], months: dict[str, int] | None = None,
                 min_months: int = MIN_MONTHS_TO_RANK) -> dict:
    """What the bands of an APC function support saying about its highest and lowest values.

    Only indices with at least ``min_months`` months of data (when ``months`` is given) are
    ranked; an index is "above" / "below" the average only when its whole band is.

    Returns
    -------
    dict
        ``above`` / ``below``: records whose band lies wholly above / below zero, highest /
        lowest first; ``unranked``: indices left out for lack of data; ``n``: indices ranked.

    Examples
    --------
    >>> recs = [{"index": "2019-10", "mean": 0.2, "lower": 0.05, "upper": 0.4},
    ...         {"index": "2019-11", "mean": 0.36, "lower": -0.02, "upper": 0.77}]
    >>> r = rank_by_band(recs, months={"2019-10": 14, "2019-11": 1})
    >>> [x["index"] for x in r["above"]], r["unranked"]
    (['2019-10'], ['2019-11'])
    """
    months = months or {}
    unranked = [str(r["index"]) for r in records if months and months.get(str(r["index"]), 0) < min_months]
    ranked = [r for r in records if str(r["index"]) not in unranked]
    above = sorted((r for r in ranked if r["lower"] > 0), key=lambda r: -r["mean"])
    below = sorted((r for r in ranked if r["upper"] < 0), key=lambda r: r["mean"])
    return {"above": above, "below": below, "unranked": unranked, "n": len(ranked), "min_months": min_months}


# ----------------------------------------------------------------------------- executive summary
def _executive(res: _Results) -> dict | None:
    cards = []
    lin = res.lineage()
    if lin and lin.get("portfolio"):
        p = lin["portfolio"]
        excluded = sum((lin.get("excluded") or {}).values())
        cards.append({"href": "#data", "title": "Portfolio", "lines": [
            f"{fmt_count(p['accounts'])} accounts, vintages {p['first_vintage']} to {p['last_vintage']}, "
            f"observed {p['window'][0]} to {p['window'][1]}",
            f"{fmt_count(p['defaults'])} defaults ({formatter('rate', digits=2)(p['default_rate_accounts'])} of accounts); "
            f"{fmt_count(p['account_months'])} account-months",
            f"{fmt_count(excluded)} input rows excluded (reasons counted in the lineage)"]})
    apc = res.json(layout.APC_JSON)
    if apc:
        text = str(apc["identification"])
        assumption = re.search(r"Assumption: ([^.]*\.)", text)
        level = int(100 * apc.get("credible_level", 0.95))
        cards.append({"href": "#apc", "title": "APC identification", "lines": [
            (assumption.group(1)[0].upper() + assumption.group(1)[1:] if assumption else text),
            f"Fitted rates and second differences do not depend on this choice; levels and slopes of F, G, H do. "
            f"Bands: {level}% credible."]})
    costs = [c for c in res.costs() if c["sample"] == "out"] or res.costs()
    if costs:
        cards.append({"href": "#unbiased", "title": "Cost of zeroing the restricted term (AUC)", "lines": [
            f"{c['meaning'].capitalize()} ({c['where']}): AUC {formatter('auc')(c['auc_a'])} → "
            f"{formatter('auc')(c['auc_b'])}, cost {_interval(c['difference'], c['lower'], c['upper'], 'fixed', digits=4, sign=True)}; "
            f"{'significant' if c['significant'] else 'not significant'} at 5% (p = {fmt_num(c['p_value'], 2)})"
            for c in costs]})
    dep = _dependence_rows(res)
    if dep:
        lines = []
        for d in dep:
            if d["model"] != "credit_restricted_zero":
                continue
            change = _interval(d["change"], d["change_lower"], d["change_upper"], "fixed", digits=3, sign=True)
            verdict = ("" if d["change_lower"] is None else
                       (" (not significant: interval includes 0)" if d["change_lower"] <= 0 <= d["change_upper"]
                        else " (significant)"))
            lines.append(f"{d['attribute']}: corr {formatter('fixed', digits=3, sign=True)(d['credit_corr'])} → "
                         f"{formatter('fixed', digits=3, sign=True)(d['corr'])}, change {change}{verdict}")
        if lines and all(d["change_lower"] is None for d in dep):
            lines.append("No interval for the change in these results (older comparison.json).")
        if lines:
            cards.append({"href": "#dependence", "title": "Dependence on protected attributes (out of sample, "
                          "traditional → zeroed)", "lines": lines})
    cal = _calibration_rows(res)
    if cal:
        lines = [f"{r['label']['label']}: expected/actual "
                 f"{_interval(r['ratio'], r['lower'], r['upper'], 'fixed', digits=2)}"
                 for r in cal if r["sample"] == "out" and r["model"] in SUMMARY_MODELS]
        for r in _group_calibration(res):
            if r["sample"] == "out" and r["model"] in ("credit_restricted_zero", "credit_restricted_mean"):
                lo, hi = r["worst_low"], r["worst_high"]
                lines.append(f"{r['label']['label']} by {r['attribute']}: from "
                             f"{_interval(lo['expected_over_actual'], lo.get('lower'), lo.get('upper'), 'fixed', digits=2)}"
                             f" ({lo['group']}) to "
                             f"{_interval(hi['expected_over_actual'], hi.get('lower'), hi.get('upper'), 'fixed', digits=2)}"
                             f" ({hi['group']})")
        cards.append({"href": "#calibration", "title": "Calibration (out of sample; 1 = calibrated)", "lines": lines})
    stress = _stress_rows(res)
    if stress:
        level = int(100 * ((res.json(layout.STRESS_JSON) or {}).get("credible_level") or 0.95))
        cards.append({"href": "#stress", "title": f"Stress: cumulative PD ({level}% band)", "lines": [
            f"{s['scenario']}: {_interval(s['cumulative_pd'], s['cumulative_pd_lower'], s['cumulative_pd_upper'], 'rate', digits=2)}"
            " net of attrition" + (
                f"; {_interval(s['cumulative_pd_unconditional'], s['cumulative_pd_unconditional_lower'], s['cumulative_pd_unconditional_upper'], 'rate', digits=2)}"
                " default before payoff" if s.get("cumulative_pd_unconditional") is not None else "")
            for s in stress]})
    audit = res.json(layout.AUDIT_JSON)
    if audit:
        fails = [g for g in _gap_rows(audit) if g["status"] == "fail"]
        lines = [f"{g['attribute']}: {g['metric']} {g['value_ci']}, limit {fmt_num(g['threshold'])}; "
                 f"{g['ci_vs_threshold'].replace(' threshold', '').replace('interval wholly ', 'interval ')}"
                 for g in fails]
        short = [g for g in _gap_rows(audit) if g["status"] == "insufficient"]
        lines += [f"{g['attribute']}: {g['metric']} has no verdict (INSUFFICIENT; {g['left_out'] or 'groups left out'})"
                  for g in short]
        cards.append({"href": "#audit", "title": f"Fairness audit: {len(fails)} failing gap{'s' if len(fails) != 1 else ''}"
                      + (f", {len(short)} without a verdict" if short else ""),
                      "lines": lines or ["No gap fails its threshold."], "alert": bool(fails or short)})
    return {"cards": cards} if cards else None


# ----------------------------------------------------------------------------- sections
def _data(res: _Results, num: _Numbering) -> dict | None:
    lin = res.lineage()
    if not lin:
        return None
    steps = pd.DataFrame([{"stage": s["stage"], "unit": s["unit"], "rows in": s["rows_in"], "rows out": s["rows_out"],
                           "excluded": "; ".join(f"{fmt_count(v)} {k}" for k, v in s["excluded"].items()) or "none"}
                          for s in lin["steps"]])
    return {"source": str(lin["source"]), "rows_in": lin["rows_in"], "portfolio": lin.get("portfolio"),
            "excluded": lin.get("excluded") or {},
            "steps": num.table(table(steps), "Lineage: rows in and out of each validation stage, with reasons.")}


def _vintage(res: _Results, num: _Numbering) -> dict | None:
    figures = [num.figure(res.plot(layout.VINTAGE_MONTHLY_PD_PLOT),
                          "Observed monthly default rate by months on book, one line per vintage group "
                          "(3-month smoothed; dark = early vintages, light = recent)."),
               num.figure(res.plot(layout.VINTAGE_CUMULATIVE_PLOT),
                          "Kaplan–Meier cumulative default by vintage group with bands; payoff and the end of "
                          "data are censoring."),
               num.figure(res.plot(layout.VINTAGE_INCIDENCE_PLOT),
                          "Left: Aalen–Johansen cumulative incidence of default by vintage group (payoff competing; "
                          "the unconditional definition; solid, with band) beside 1 − Kaplan–Meier (payoff censored; "
                          "dashed). Right: cumulative incidence of payoff/closure. The end of data is censoring.")]
    figures = [f for f in figures if f]
    return {"figures": figures} if figures else None


def _apc(res: _Results, num: _Numbering) -> dict | None:
    apc = res.json(layout.APC_JSON)
    if apc is None:
        return None
    d = apc.get("diagnostics", {})
    hyper = pd.DataFrame([{"parameter": k, **v} for k, v in apc.get("hyperparameters", {}).items()])
    slopes = pd.DataFrame([{"parameter": k, **v} for k, v in apc.get("identified_slopes", {}).items()])
    settings = apc["settings"]
    rw = settings["rw_orders"]
    age_peak = max(apc["lifecycle"], key=lambda r: r["mean"])
    level = int(100 * apc.get("credible_level", 0.95))
    return {
        "identification": apc["identification"], "engine": str(settings["engine"]),
        "likelihood": settings["likelihood"],
        "rw_orders": ", ".join(map(str, rw)) if isinstance(rw, list) else str(rw),
        "fit_seconds": d.get("fit_seconds"), "n_cells": d.get("n_cells"), "level": level,
        "age_peak": age_peak,
        "vintages": rank_by_band(apc["vintage"], _months_by_vintage(res)),
        "environment": rank_by_band(apc["environment"]),
        "intercept": apc["intercept"],
        "figures": [f for f in (
            num.figure(res.plot(layout.APC_COMPONENTS_PLOT),
                       f"Lifecycle F(a), vintage G(v) and environment H(t) on the log-odds scale, posterior mean "
                       f"with {level}% bands."),
            num.figure(res.plot(layout.APC_FITTED_CURVES_PLOT),
                       "Observed (dots) and fitted (lines, bands) monthly default rates for a few vintages."),
            num.figure(res.plot(layout.APC_RESIDUALS_PLOT),
                       "Pearson residuals by age and vintage; cells with few expected defaults are faded, "
                       "so sparse cells do not read as misfit.")) if f],
        "parameters": num.table(table(pd.concat([slopes, hyper], ignore_index=True)),
                                "Identified slopes (per period, log-odds) and smoothing hyperparameters.")
        if len(slopes) or len(hyper) else None,
        "warnings": d.get("warnings", []),
    }


def _coefficients(res: _Results, num: _Numbering) -> dict | None:
    files = sorted(res.folder.glob(layout.COEFFICIENTS_GLOB))
    if not files:
        return None
    prefix = layout.COEFFICIENTS_GLOB.split("*")[0]
    out = []
    for f in files:
        model = _model(f.stem.removeprefix(prefix))
        out.append((model, num.table(table(pd.read_csv(f)), f"Coefficients of {model['label']} (log-odds).")))
    return {"tables": out}


def _proxy(res: _Results, num: _Numbering) -> dict | None:
    """The proxy diagnostic (``proxy_correlations.csv``, paper's Table 1), when present."""
    from apcfair.unbiased.proxy import proxy_table

    t = res.csv(layout.PROXY_CORRELATIONS)
    if t is None or not len(t):
        return None
    method = str(t["method"].iloc[0])
    level = float(t["level"].iloc[0])
    how = ("Fisher z, assuming independent accounts" if method == "fisher"
           else "percentile bootstrap over resampled accounts")
    significant = t[(t["lower"] > 0) | (t["upper"] < 0)]
    strongest = t.loc[t["corr"].abs().idxmax()] if t["corr"].notna().any() else None
    return {"table": num.table(table(proxy_table(t).reset_index()),
                               f"Pearson correlation of each restricted input (rows) with each credit input "
                               f"(columns), {level:.0%} interval ({how}); n = {int(t['n'].max()):,} accounts."),
            "n_pairs": len(t), "n_significant": len(significant), "level": level, "method": method,
            "strongest": None if strongest is None else {
                "pair": f"{strongest['restricted']} × {strongest['credit']}", "corr": fmt_num(strongest["corr"])}}


def _dependence_rows(res: _Results) -> list[dict]:
    """Signed correlation of each model's forecast with each attribute, out of sample, with the
    change against the traditional credit model (and its interval when the results have one)."""
    out = []
    for r in res.rows():
        if r["sample"] != "out":
            continue
        base = res.row("credit", "out") or {}
        for attr, d in (r.get("dependence") or {}).items():
            credit_corr = ((base.get("dependence") or {}).get(attr) or {}).get("corr")
            change, lo, hi = _change(d.get("change_vs_credit"))
            if change is None and credit_corr is not None and r["model"] != "credit":
                change = d.get("corr") - credit_corr
            out.append({"model": r["model"], "label": _model(r["model"], r.get("label")), "attribute": attr,
                        "corr": d.get("corr"), "dcor": d.get("dcor"), "auc_group": d.get("auc_group"),
                        "air": (d.get("air") or {}).get("air") if isinstance(d.get("air"), dict) else d.get("air"),
                        "credit_corr": credit_corr, "change": change, "change_lower": lo, "change_upper": hi})
    return out


def _calibration_rows(res: _Results) -> list[dict]:
    out = []
    for r in res.rows():
        c = r.get("calibration") or {}
        cu = r.get("calibration_unconditional") or {}  # the outcome's own definition: default before payoff
        out.append({"model": r["model"], "label": _model(r["model"], r.get("label")), "sample": r["sample"],
                    "ratio": c.get("expected_over_actual"), "lower": c.get("expected_over_actual_lower", c.get("lower")),
                    "upper": c.get("expected_over_actual_upper", c.get("upper")),
                    "expected": c.get("expected_defaults"), "actual": c.get("actual_defaults"),
                    "ratio_unconditional": cu.get("expected_over_actual"),
                    "ratio_net_window": cu.get("net_expected_over_actual")})
    return out


def _group_calibration(res: _Results) -> list[dict]:
    """Per model, sample and attribute: the groups with the lowest and highest expected/actual."""
    out = []
    for r in res.rows():
        for attr, groups in ((r.get("calibration") or {}).get("by_group") or {}).items():
            groups = [g for g in groups if g.get("expected_over_actual") is not None]
            if not groups:
                continue
            ordered = sorted(groups, key=lambda g: g["expected_over_actual"])
            out.append({"model": r["model"], "label": _model(r["model"], r.get("label")), "sample": r["sample"],
                        "attribute": attr, "groups": groups, "worst_low": ordered[0], "worst_high": ordered[-1]})
    return out


def _unbiased(res: _Results, num: _Numbering) -> dict | None:
    rows = res.rows()
    if not rows:
        return None
    meta = res.json(layout.COST_OF_FAIRNESS) or {}
    settings = meta.get("settings", {})
    models = list(dict.fromkeys(r["model"] for r in rows))
    auc_rows = []
    for m in models:
        rec = {"model": res.label(m)["label"]}
        for s in ("in", "out"):
            r = res.row(m, s) or {}
            rec[f"AUC {SAMPLE_NAMES[s]} [95% CI]"] = _interval(r.get("auc"), r.get("auc_lower"), r.get("auc_upper"))
            rec[f"Gini {SAMPLE_NAMES[s]}"] = r.get("gini")
        auc_rows.append(rec)
    auc_table = table(pd.DataFrame(auc_rows), float_format="auc", hover={"model": models})
    costs = res.costs()
    cost_table = table(pd.DataFrame([{
        "comparison": c["meaning"], "sample": c["where"], "model A": c["a"]["label"], "AUC A": c["auc_a"],
        "model B": c["b"]["label"], "AUC B": c["auc_b"],
        "AUC A − B [95% CI]": _interval(c["difference"], c["lower"], c["upper"], "fixed", digits=4, sign=True),
        "p-value": fmt_num(c["p_value"], 2), "method": c["method"]} for c in costs]), float_format="auc") if costs else None
    dep = [d for d in _dependence_rows(res)]
    dep_table = None
    if dep:
        df = pd.DataFrame([{"model": d["label"]["label"], "attribute": d["attribute"],
                            "corr (signed)": formatter("fixed", digits=3, sign=True)(d["corr"]),
                            "change vs traditional [95% CI]": "" if d["model"] == "credit" else
                            _interval(d["change"], d["change_lower"], d["change_upper"], "fixed", digits=3, sign=True),
                            "distance corr": d["dcor"], "AUC of attribute": d["auc_group"],
                            "adverse impact ratio": d["air"]} for d in dep])
        dep_table = table(df, float_format=formatter("fixed", digits=3), hover={"model": [d["model"] for d in dep]})
    cal = _calibration_rows(res)
    cal_table = table(pd.DataFrame([{
        "model": c["label"]["label"], "sample": SAMPLE_NAMES.get(c["sample"], c["sample"]),
        "expected defaults": c["expected"], "actual defaults": c["actual"],
        "expected / actual": _interval(c["ratio"], c["lower"], c["upper"], "fixed", digits=3),
        **({"expected / actual, unconditional PD (default before payoff)":
            formatter("fixed", digits=3)(c["ratio_unconditional"]),
            "expected / actual, net PD (as if nobody paid off)": formatter("fixed", digits=3)(c["ratio_net_window"])}
           if c.get("ratio_unconditional") is not None else {})} for c in cal]),
        float_format="count", hover={"model": [c["model"] for c in cal]})
    groups = _group_calibration(res)
    group_rows = [{"model": g["label"]["label"], "sample": SAMPLE_NAMES.get(g["sample"], g["sample"]),
                   "attribute": g["attribute"], "group": str(x["group"]), "accounts": x.get("n"),
                   "expected / actual [95% CI]": _interval(x["expected_over_actual"], x.get("lower"), x.get("upper"),
                                                          "fixed", digits=3)}
                  for g in groups for x in g["groups"]]
    group_table = table(pd.DataFrame(group_rows), hover={"model": [
        g["model"] for g in groups for _ in g["groups"]]}) if group_rows else None
    horizon = settings.get("horizon", 36)
    return {
        "horizon": horizon, "approval_rate": settings.get("approval_rate", 0.8),
        "auc_table": num.table(auc_table, f"Discrimination of {horizon}-month cumulative forecasts (Breeden & "
                               "Leonova Tables 6–7 analogue): AUC with 95% interval, Gini = 2 AUC − 1. Hover a model "
                               "for its identifier."),
        "cost_table": num.table(cost_table, "Costs of zeroing the restricted term: paired AUC differences "
                                "(positive = AUC lost by zeroing)."),
        "costs": costs,
        "roc": num.figure(res.plot(layout.ROC_PLOT), "ROC curves in and out of sample (top) and the difference in "
                          "true positive rate from the traditional credit model (bottom)."),
        "dependence": num.table(dep_table, "Dependence of out-of-sample forecasts on protected attributes: signed "
                                "Pearson correlation and its change from the traditional model, distance correlation, "
                                "AUC of the forecast as a discriminator of a binary attribute (0.5 = none) and the "
                                "adverse impact ratio."),
        "dependence_plot": num.figure(res.plot(layout.DEPENDENCE_PLOT),
                                      "Signed correlation of each model's forecast with each attribute (out of sample)."),
        "calibration": num.table(cal_table, "Calibration: expected defaults summed over the months each account was "
                                 "at risk against actual defaults (1 = calibrated). Where an attrition model was "
                                 "fitted, also on the outcome's own definition: defaulted_within_horizon counts "
                                 "defaults before payoff, so its forecast is the unconditional cumulative PD "
                                 "(default before any other exit, cum_pd_unconditional); the net cumulative PD "
                                 "(cum_pd: 1 − Π(1 − PD), as if nobody paid off) over the same window is shown "
                                 "for contrast: it counts defaults the accounts that pay off never reach, so it is "
                                 "higher by about the share of defaults that payoff pre-empts."),
        "group_calibration": num.table(group_table, "Calibration by protected group: expected / actual defaults."),
        "calibration_plot": num.figure(res.plot(layout.CALIBRATION_PLOT),
                                       "Predicted cumulative PD net of attrition (cum_pd) against Kaplan–Meier "
                                       "cumulative default by vintage year (payoff censored: also net of "
                                       "attrition, so the two share one definition)."),
    }


def _ci_vs_threshold(kind: str, lo, hi, thr) -> str:
    """Where a gap's interval lies against its threshold (the strength of PASS / FAIL)."""
    if lo is None or hi is None or thr is None:
        return "no interval"
    if kind == "ratio":  # fails if value < threshold
        return ("interval wholly beyond threshold" if hi < thr else
                "interval wholly within threshold" if lo >= thr else "interval straddles threshold")
    if kind == "max_difference":  # fails if value > threshold
        return ("interval wholly beyond threshold" if lo > thr else
                "interval wholly within threshold" if hi <= thr else "interval straddles threshold")
    if lo > thr or hi < -thr:
        return "interval wholly beyond threshold"
    if -thr <= lo and hi <= thr:
        return "interval wholly within threshold"
    return "interval straddles threshold"


def _gap_rows(audit: dict) -> list[dict]:
    rows = []
    for attr, by_gap in (audit.get("gaps") or {}).items():
        for metric, g in (by_gap.items() if isinstance(by_gap, dict) else []):
            if not isinstance(g, dict):
                continue
            status = str(g.get("status") or ("pass" if g.get("passed", g.get("pass")) else "fail")).lower()
            ci = g.get("ci") or [g.get("lower"), g.get("upper")]
            thr = g.get("threshold")
            sig = g.get("significant")
            rows.append({"attribute": attr, "metric": metric, "description": g.get("description", ""),
                         "value": g.get("value"), "lower": ci[0], "upper": ci[1],
                         "value_ci": _interval(g.get("value"), ci[0], ci[1], "fixed", digits=3),
                         "rule": str(g.get("rule", "")).replace("value", metric) + (f" {fmt_num(thr)}" if thr is not None
                                                                                   and "threshold" not in str(g.get("rule", "")) else ""),
                         "threshold": thr, "status": status,
                         "left_out": excluded_text(g.get("excluded"), (audit.get("settings") or {}).get("min_rate_denominator")),
                         "significance": "not tested" if sig is None else ("gap ≠ 0 (significant)" if sig else
                                                                           "gap not significant"),
                         "ci_vs_threshold": _ci_vs_threshold(g.get("kind", ""), ci[0], ci[1], thr)})
    for r in rows:
        r["rule"] = r["rule"].replace("threshold", fmt_num(r["threshold"])) if r["threshold"] is not None else r["rule"]
    return rows


def _audit_gap_figure(res: _Results, attributes: list[str]) -> str | None:
    """Gaps of every attribute, failing ones first, one panel each."""
    try:
        from matplotlib.figure import Figure

        from apcfair.audit import AuditResult
        from apcfair.audit.plots import plot_gaps

        result = AuditResult.load(res.folder / layout.AUDIT_JSON)
        attributes = [a for a in attributes if a in result.attributes]
        if not attributes:
            return None
        cols = 2 if len(attributes) > 1 else 1
        nrows = int(np.ceil(len(attributes) / cols))
        fig = Figure(figsize=(6.2 * cols, 2.9 * nrows))
        for k, attr in enumerate(attributes):
            plot_gaps(result, attribute=attr, ax=fig.add_subplot(nrows, cols, k + 1))
        fig.tight_layout()
        return data_uri(fig, dpi=80)
    except Exception:  # noqa: BLE001 - the report shows the tables when a chart cannot be drawn
        return None


def _audit(res: _Results, num: _Numbering) -> dict | None:
    audit = res.json(layout.AUDIT_JSON)
    if audit is None:
        return None
    settings = audit.get("settings") or {}
    perf = {k: (audit.get("performance") or {}).get(k) for k in ("auc", "gini", "ks", "brier", "n", "default_rate")}
    score = settings.get("score_name") or next((c.get("score") for c in audit.get("comparison") or []
                                                 if c.get("score")), None)
    rows = _gap_rows(audit)
    order = list(dict.fromkeys(r["attribute"] for r in rows))
    failing = {r["attribute"] for r in rows if r["status"] == "fail"}
    order = [a for a in order if a in failing] + [a for a in order if a not in failing]
    gaps = []
    for attr in order:
        sub = [r for r in rows if r["attribute"] == attr]
        sub.sort(key=lambda r: r["status"] != "fail")
        df = pd.DataFrame([{"gap": r["description"] or r["metric"], "value [CI]": r["value_ci"], "fails if": r["rule"],
                            "result": r["status"].upper(), "significance": r["significance"],
                            "interval against threshold": r["ci_vs_threshold"],
                            "groups left out": r["left_out"] or "none"} for r in sub])
        if not any(r["left_out"] for r in sub):
            df = df.drop(columns="groups left out")
        n_fail = sum(r["status"] == "fail" for r in sub)
        gaps.append((attr, n_fail, num.table(table(df, status="result", hover={"gap": [r["metric"] for r in sub]}),
                                             f"Fairness gaps by {attr}: value with "
                                             f"{int(100 * settings.get('ci', 0.95))}% bootstrap interval, "
                                             "threshold, result and significance.")))
    n_boot = settings.get("n_boot")
    caveats = audit.get("caveats") or audit.get("data_caveat") or []
    return {
        "score": score, "n": perf.get("n") or (audit.get("overall") or {}).get("n"),
        "cutoff": settings.get("cutoff"), "sample": settings.get("sample"),
        "decision_rule": (audit.get("conventions") or {}).get("decision_rule"),
        "n_boot": n_boot, "bootstrap": settings.get("bootstrap"), "few_boot": n_boot is not None and 0 < n_boot < MIN_BOOTSTRAP,
        "min_boot": MIN_BOOTSTRAP,
        "performance": perf, "conventions": audit.get("conventions") or {}, "gaps": gaps,
        "failing": [a for a in order if a in failing],
        "insufficient": [f"{r['attribute']}: {r['description'] or r['metric']} ({r['left_out']})" for r in rows
                         if r["status"] == "insufficient"],
        "gap_figure": num.figure(_audit_gap_figure(res, order),
                                 "Gaps of every attribute (failing attributes first) with bootstrap intervals and "
                                 "threshold ticks; red = FAIL."),
        "fairness_plot": num.figure(res.plot(layout.AUDIT_FAIRNESS_PLOT),
                                    "Approval rate by group of the first attribute with intervals."),
        "caveats": [caveats] if isinstance(caveats, str) else [str(c) for c in caveats],
    }


def _stress_rows(res: _Results) -> list[dict]:
    stress = res.json(layout.STRESS_JSON)
    if stress is None:
        return []
    rows = []
    for name, sc in stress.get("scenarios", {}).items():
        pd_path = np.asarray(sc.get("pd", []), dtype=float)
        k = int(np.argmax(pd_path)) if pd_path.size else None

        def at(key, sc=sc, k=k):
            values = sc.get(key) or []
            return values[k] if k is not None and k < len(values) else None

        total = sc.get("expected_defaults_total", sum(sc.get("expected_defaults", [])) or None)
        rows.append({"scenario": name, "months": len(sc.get("month", [])), "cumulative_pd": sc.get("cumulative_pd"),
                     "cumulative_pd_lower": sc.get("cumulative_pd_lower"), "cumulative_pd_upper": sc.get("cumulative_pd_upper"),
                     "cumulative_pd_median": sc.get("cumulative_pd_median"),
                     "cumulative_pd_unconditional": sc.get("cumulative_pd_unconditional"),
                     "cumulative_pd_unconditional_lower": sc.get("cumulative_pd_unconditional_lower"),
                     "cumulative_pd_unconditional_upper": sc.get("cumulative_pd_unconditional_upper"),
                     "quantiles": sc.get("cumulative_pd_quantiles") or {},
                     "peak_pd": at("pd"), "peak_pd_lower": at("pd_lower"), "peak_pd_upper": at("pd_upper"),
                     "peak_month": at("month"),
                     "expected_defaults": total, "expected_defaults_lower": sc.get("expected_defaults_total_lower"),
                     "expected_defaults_upper": sc.get("expected_defaults_total_upper")})
    rows.sort(key=lambda r: (r["cumulative_pd"] is None, r["cumulative_pd"] or 0))
    return rows


def _macro_from_text(path: Path) -> dict | None:
    """Coefficients, R² and Durbin–Watson of ``macro_model.txt`` (the macro model's summary)."""
    if not path.exists():
        return None
    text = path.read_text()
    stats = {}
    for key, pattern in (("R²", r"\bR2 ([-\d.]+)"), ("adjusted R²", r"adj\. R2 ([-\d.]+)"),
                         ("Durbin–Watson", r"Durbin-Watson ([-\d.]+)"), ("residual AR(1)", r"residual AR\(1\) ([-\d.]+)")):
        m = re.search(pattern, text)
        if m:
            stats[key] = float(m.group(1))
    coef = None
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.startswith("Coefficients")), None)
    if start is not None and start + 1 < len(lines):
        header = lines[start + 1].split()
        body = []
        for ln in lines[start + 2:]:
            parts = ln.split()
            if len(parts) != len(header):
                break
            body.append([parts[0], *map(float, parts[1:])])
        if body:
            coef = pd.DataFrame(body, columns=header)
    return {"stats": stats, "coefficients": coef, "method": lines[2] if len(lines) > 2 else ""}


def _stress(res: _Results, num: _Numbering) -> dict | None:
    stress = res.json(layout.STRESS_JSON)
    if stress is None:
        return None
    level = int(100 * (stress.get("credible_level") or 0.95))
    rows = _stress_rows(res)
    has_q = any(r["quantiles"] for r in rows)
    has_unc = any(r["cumulative_pd_unconditional"] is not None for r in rows)
    tab = pd.DataFrame([{
        "scenario": r["scenario"], "months": r["months"],
        f"cumulative PD, net of attrition [{level}% band]": _interval(r["cumulative_pd"], r["cumulative_pd_lower"],
                                                                      r["cumulative_pd_upper"], "rate", digits=2),
        **({f"cumulative PD, default before payoff [{level}% band]": _interval(
            r["cumulative_pd_unconditional"], r["cumulative_pd_unconditional_lower"],
            r["cumulative_pd_unconditional_upper"], "rate", digits=2)} if has_unc else {}),
        **({"median (net)": formatter("rate", digits=2)(r["cumulative_pd_median"]),
            "5%–95% of draws (net)": " to ".join(formatter("rate", digits=2)(r["quantiles"].get(q)) for q in ("0.05", "0.95"))}
           if has_q else {}),
        f"peak monthly PD [{level}% band]": _interval(r["peak_pd"], r["peak_pd_lower"], r["peak_pd_upper"], "rate",
                                                      digits=3),
        "peak month": r["peak_month"],
        f"expected defaults [{level}% band]": _interval(r["expected_defaults"], r["expected_defaults_lower"],
                                                       r["expected_defaults_upper"], "count")} for r in rows])
    drivers = stress.get("drivers") or []
    driver_table = table(pd.DataFrame([{
        "driver": d.get("name"), "transform": d.get("transform", ""),
        "coefficient [95% CI]": _interval(d.get("coefficient"), d.get("lower"), d.get("upper"), "num"),
        "p-value": fmt_num(d.get("p_value"), 2), "expected sign": d.get("expected_sign") or "",
        "warning": d.get("warning") or ""} for d in drivers])) if drivers else None
    macro = _macro_from_text(res.folder / layout.MACRO_MODEL_TXT)
    macro_table = None
    if macro and macro["coefficients"] is not None:
        coef = macro["coefficients"]
        coef = coef[~coef["term"].str.match(r"month_\d+")]  # seasonal dummies are not driver evidence
        macro_table = table(coef, float_format="num")
    stats = (macro or {}).get("stats") or {}
    dw = stats.get("Durbin–Watson")
    return {
        "level": level, "definitions": stress.get("definitions") or {},
        "best": rows[0] if rows else None, "worst": rows[-1] if rows else None,
        "scenarios": num.table(table(tab), f"Stress scenarios over {stress.get('horizon', '')} months from "
                               f"{stress.get('forecast_start', '')}: cumulative PD, peak monthly PD and expected "
                               f"defaults with {level}% bands over posterior draws (sorted from mildest). The "
                               "cumulative PD net of attrition (1 − Π(1 − PD)) is the default probability of an "
                               "account that stays open; the one with default before payoff (unconditional) lets "
                               "accounts pay off or close first, at the book's attrition rate, and is lower: it "
                               "is the one to compare with observed defaults and with expected defaults."),
        "drivers": num.table(driver_table, "Macro drivers of the environment: coefficients, intervals, expected signs "
                             "and warnings."),
        "macro": num.table(macro_table, "Macro model of H(t) (from macro_model.txt): coefficients of the trend and "
                           "drivers (month-of-year dummies left out: not driver evidence)."),
        "macro_stats": stats, "macro_method": (macro or {}).get("method", ""),
        "dw_low": dw is not None and dw < 1.5,
        "figures": [f for f in (
            num.figure(res.plot(layout.FAN_CHART_PLOT), f"Fan chart: monthly PD of the book per scenario "
                       f"(50%, 80% and {level}% bands)."),
            num.figure(res.plot(layout.FAN_CHART_BY_SCENARIO_PLOT), "Fan charts, one panel per scenario."),
            num.figure(res.plot(layout.ENVIRONMENT_SCENARIOS_PLOT), "Environment H(t) under each scenario."),
            num.figure(res.plot(layout.MACRO_MODEL_FIT_PLOT), "Macro model fit to the estimated environment."))
            if f],
    }


def _appendix(res: _Results, num: _Numbering) -> dict:
    apc = res.json(layout.APC_JSON)
    prov = (apc or {}).get("provenance") or {}
    return {"portfolio": (res.lineage() or {}).get("portfolio"),
            "identification": apc["identification"] if apc else None,
            "versions": prov.get("versions", {}) if prov else None,
            "settings_hash": prov.get("settings_hash", "")}


SECTIONS: tuple[tuple[str, str, Callable[[_Results, _Numbering], dict | None]], ...] = (
    ("data", "Data and lineage", _data),
    ("vintage", "Vintage curves", _vintage),
    ("apc", "Age–period–cohort functions", _apc),
    ("coefficients", "Model coefficient tables", _coefficients),
    ("proxy", "Proxy diagnostic: restricted vs credit inputs", _proxy),
    ("unbiased", "Unbiased by design: the cost of fairness", _unbiased),
    ("audit", "Fairness audit scorecard", _audit),
    ("stress", "Stress scenarios", _stress),
    ("appendix", "Model documentation", _appendix),
)


def render_report(folder: str | Path, title: str = "apcfair model report") -> str:
    """The report's HTML for the results in ``folder`` (see :func:`write_report`)."""
    res = _Results(Path(folder))
    num = _Numbering()
    sections = []
    for key, heading, build in SECTIONS:
        data = build(res, num)
        if data is not None:
            sections.append(_Section(key, heading, data))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render("report.html", title=title, generated=stamp, sections=sections, executive=_executive(res))


def write_report(folder: str | Path, title: str = "apcfair model report",
                 filename: str = layout.REPORT_HTML) -> Path:
    """Assemble ``report.html`` from the results found in ``folder``.

    Parameters
    ----------
    folder : path
        An output folder of ``apcfair`` subcommands (or of ``apcfair demo``). Sections are
        written for the results present (``lineage.json``, ``apc.json``,
        ``comparison.json``, ``audit.json``, ``stress.json`` and their plots); missing
        ones are left out. An executive summary with links to the sections comes first.
    title : str
        Title of the page.
    filename : str
        Name of the HTML file written into ``folder``.

    Returns
    -------
    pathlib.Path
        The report's path.

    Examples
    --------
    A folder holding a lineage and an audit result gives a report with those sections:

    >>> import json, pathlib, tempfile
    >>> import numpy as np, pandas as pd
    >>> from apcfair import load_portfolio
    >>> from apcfair.audit import audit
    >>> from apcfair.report import write_report
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> loans = pd.DataFrame({"account_id": [1, 2], "origination": ["2019-01", "2019-01"],
    ...                       "last_month": ["2019-03", "2019-02"], "default": [0, 1]})
    >>> _ = (folder / "lineage.json").write_text(json.dumps(load_portfolio(loans).lineage.to_dict()))
    >>> rng = np.random.default_rng(0)
    >>> pd_ = rng.uniform(0, 0.4, 400)
    >>> y = (rng.random(400) < pd_).astype(int)
    >>> _ = audit(pd_, y, rng.choice(["A", "B"], 400), cutoff=0.2, n_boot=50).save(folder / "audit.json")
    >>> path = write_report(folder, title="Demo report")
    >>> path.name
    'report.html'
    >>> text = path.read_text()
    >>> [key for key in ("summary", "data", "apc", "audit", "stress") if f'<h2 id="{key}">' in text]
    ['summary', 'data', 'audit']
    """
    folder = Path(folder)
    path = folder / filename
    path.write_text(render_report(folder, title), encoding="utf-8")
    return path
