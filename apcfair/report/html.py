"""A self-contained HTML model report assembled from an output folder.

Every subcommand writes machine-readable results (``apc.json``, ``comparison.json``,
``audit.json``, ``stress.json``, ``lineage.json``) and PNG plots into its output folder.
The report reads only those files, so every number in its prose comes from the same
results as its tables, and any subcommand can write its part of the report
(``--report``) or the demo can write all of it.

Each section is a function that reads its results and returns the context of its
template (``apcfair/templates/report/<key>.html``), or ``None`` when its results are
absent. Pages are rendered by the HTML kit (:mod:`apcfair._html`): values are escaped and
formatted there, plots are embedded as base64 PNG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from apcfair import layout
from apcfair._html import data_uri, fmt_count, formatter, render, table

COEFFICIENTS_GLOB = layout.COEFFICIENTS_GLOB


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

    def plots(self, *named: tuple[str, str]) -> list[tuple[str, str]]:
        """``(alt, data URI)`` of the PNG files ``(name, alt)`` that exist."""
        return [(alt, data_uri(self.folder / name)) for name, alt in named if (self.folder / name).exists()]

    def plot(self, name: str) -> str | None:
        path = self.folder / name
        return data_uri(path) if path.exists() else None

    def lineage(self) -> dict | None:
        lin = self.json(layout.LINEAGE)
        for name in (layout.COST_OF_FAIRNESS, layout.APC_JSON):
            if lin is None:
                lin = (self.json(name) or {}).get("lineage")
        return lin or None


@dataclass(frozen=True)
class _Section:
    key: str
    title: str
    data: dict


# ----------------------------------------------------------------------------- sections
def _data(res: _Results) -> dict | None:
    lin = res.lineage()
    if not lin:
        return None
    steps = pd.DataFrame([{"stage": s["stage"], "unit": s["unit"], "rows in": s["rows_in"], "rows out": s["rows_out"],
                           "excluded": "; ".join(f"{fmt_count(v)} {k}" for k, v in s["excluded"].items()) or "none"}
                          for s in lin["steps"]])
    return {"source": str(lin["source"]), "rows_in": lin["rows_in"], "portfolio": lin.get("portfolio"),
            "excluded": lin.get("excluded") or {}, "steps": table(steps)}


def _vintage(res: _Results) -> dict | None:
    plots = res.plots((layout.VINTAGE_MONTHLY_PD_PLOT, "monthly default rate by age"),
                      (layout.VINTAGE_CUMULATIVE_PLOT, "cumulative default by vintage"))
    return {"plots": plots} if plots else None


def _apc(res: _Results) -> dict | None:
    apc = res.json(layout.APC_JSON)
    if apc is None:
        return None
    d = apc.get("diagnostics", {})

    def peak(comp, fn=max):
        rec = fn(apc[comp], key=lambda r: r["mean"])
        return rec["index"], rec["mean"]

    hyper = pd.DataFrame([{"parameter": k, **v} for k, v in apc.get("hyperparameters", {}).items()])
    slopes = pd.DataFrame([{"parameter": k, **v} for k, v in apc.get("identified_slopes", {}).items()])
    settings = apc["settings"]
    rw = settings["rw_orders"]
    return {
        "identification": apc["identification"], "engine": str(settings["engine"]),
        "likelihood": settings["likelihood"],
        "rw_orders": ", ".join(map(str, rw)) if isinstance(rw, list) else str(rw),
        "fit_seconds": d.get("fit_seconds"), "n_cells": d.get("n_cells"),
        "level": int(100 * apc.get("credible_level", 0.95)),
        "age_peak": peak("lifecycle"), "vintage_peak": peak("vintage"),
        "env_worst": peak("environment"), "env_best": peak("environment", min),
        "intercept": apc["intercept"],
        "plots": res.plots((layout.APC_COMPONENTS_PLOT, "APC functions with bands"),
                           (layout.APC_FITTED_CURVES_PLOT, "observed vs fitted vintage curves"),
                           (layout.APC_RESIDUALS_PLOT, "residual heat map")),
        "parameters": table(pd.concat([slopes, hyper], ignore_index=True)) if len(slopes) or len(hyper) else None,
        "warnings": d.get("warnings", []),
    }


def _coefficients(res: _Results) -> dict | None:
    files = sorted(res.folder.glob(COEFFICIENTS_GLOB))
    if not files:
        return None
    prefix = COEFFICIENTS_GLOB.split("*")[0]
    return {"tables": [(f.stem.removeprefix(prefix), table(pd.read_csv(f))) for f in files]}


def _unbiased(res: _Results) -> dict | None:
    rows = res.json(layout.COMPARISON)
    if rows is None:
        return None
    meta = res.json(layout.COST_OF_FAIRNESS) or {}
    settings = meta.get("settings", {})
    auc3 = formatter("auc", digits=3)
    tab = pd.DataFrame([{"model": r["label"], "sample": r["sample"], "AUC": r["auc"], "Gini": r["gini"],
                         "expected / actual defaults": r["calibration"].get("expected_over_actual")}
                        for r in rows])
    wide = tab.pivot_table(index="model", columns="sample", values=["AUC", "Gini"], sort=False)
    wide.columns = [f"{a} ({'in-sample' if s == 'in' else 'out-of-sample'})" for a, s in wide.columns]
    wide = wide.reset_index()
    cost = [{**c, "where": "In sample" if s == "in" else "Out of sample", "significant": c["p_value"] < 0.05}
            for s, c in meta.get("cost_of_fairness", {}).items()]
    dep = res.csv(layout.DEPENDENCE_CSV)
    dependence = None
    if dep is not None:
        dependence = table(dep[dep["sample"] == "out"].drop(columns="sample"), float_format=auc3)
    calibration = tab[["model", "sample", "expected / actual defaults"]]
    return {
        "horizon": settings.get("horizon", 36), "approval_rate": settings.get("approval_rate", 0.8),
        "auc_table": table(wide, float_format=auc3), "cost": cost,
        "dependence": dependence,
        "calibration": table(calibration, float_format=formatter("fixed", digits=3)),
        "roc_plot": res.plot(layout.ROC_PLOT), "dependence_plot": res.plot(layout.DEPENDENCE_PLOT),
        "calibration_plot": res.plot(layout.CALIBRATION_PLOT),
    }


def _audit(res: _Results) -> dict | None:
    audit = res.json(layout.AUDIT_JSON)
    if audit is None:
        return None
    perf = {k: (audit.get("performance") or {}).get(k) for k in ("auc", "gini", "ks", "brier")}
    fixed3 = formatter("fixed", digits=3)
    gaps = []
    for attr, by_gap in (audit.get("gaps") or {}).items():
        rows = []
        for metric, g in (by_gap.items() if isinstance(by_gap, dict) else []):
            if not isinstance(g, dict):
                continue
            status = str(g.get("status") or ("pass" if g.get("passed", g.get("pass")) else "fail")).lower()
            ci = g.get("ci") or [g.get("lower"), g.get("upper")]
            rows.append({"metric": metric, "description": g.get("description", ""), "value": g.get("value"),
                         "95% CI": f"{fixed3(ci[0])} to {fixed3(ci[1])}" if None not in ci else "",
                         "threshold": g.get("threshold"), "result": status})
        if rows:
            gaps.append((attr, table(pd.DataFrame(rows), float_format=fixed3, status="result")))
    caveats = audit.get("caveats") or audit.get("data_caveat") or []
    return {
        "performance": perf, "conventions": audit.get("conventions") or {}, "gaps": gaps,
        "plots": res.plots((layout.AUDIT_FAIRNESS_PLOT, "audit_fairness"), (layout.AUDIT_GAPS_PLOT, "audit_gaps")),
        "caveats": [caveats] if isinstance(caveats, str) else [str(c) for c in caveats],
    }


def _stress(res: _Results) -> dict | None:
    stress = res.json(layout.STRESS_JSON)
    if stress is None:
        return None
    rows = []
    for name, sc in stress.get("scenarios", {}).items():
        pd_path = sc.get("pd", [])
        rows.append({"scenario": name, "months": len(sc.get("month", [])),
                     "peak monthly PD": max(pd_path) if pd_path else float("nan"),
                     "cumulative PD": sc.get("cumulative_pd"),
                     "expected defaults": sum(sc.get("expected_defaults", []))})
    tab = pd.DataFrame(rows)
    best = worst = None
    if len(tab):
        cum = tab["cumulative PD"].astype(float)
        best, worst = ({"scenario": str(tab.at[i, "scenario"]), "cumulative_pd": cum[i]}
                       for i in (cum.idxmin(), cum.idxmax()))
    return {"best": best, "worst": worst, "scenarios": table(tab),
            "plots": res.plots((layout.FAN_CHART_PLOT, layout.FAN_CHART_PLOT),
                               (layout.ENVIRONMENT_SCENARIOS_PLOT, layout.ENVIRONMENT_SCENARIOS_PLOT))}


def _appendix(res: _Results) -> dict:
    apc = res.json(layout.APC_JSON)
    prov = (apc or {}).get("provenance") or {}
    return {"portfolio": (res.lineage() or {}).get("portfolio"),
            "identification": apc["identification"] if apc else None,
            "versions": prov.get("versions", {}) if prov else None,
            "settings_hash": prov.get("settings_hash", "")}


SECTIONS: tuple[tuple[str, str, Callable[[_Results], dict | None]], ...] = (
    ("data", "Data and lineage", _data),
    ("vintage", "Vintage curves", _vintage),
    ("apc", "Age–period–cohort functions", _apc),
    ("coefficients", "Model coefficient tables", _coefficients),
    ("unbiased", "Unbiased by design: the cost of fairness", _unbiased),
    ("audit", "Fairness audit scorecard", _audit),
    ("stress", "Stress scenarios", _stress),
    ("appendix", "Model documentation", _appendix),
)


def render_report(folder: str | Path, title: str = "apcfair model report") -> str:
    """The report's HTML for the results in ``folder`` (see :func:`write_report`)."""
    res = _Results(Path(folder))
    sections = []
    for key, heading, build in SECTIONS:
        data = build(res)
        if data is not None:
            sections.append(_Section(key, heading, data))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return render("report.html", title=title, generated=stamp, sections=sections)


def write_report(folder: str | Path, title: str = "apcfair model report",
                 filename: str = layout.REPORT_HTML) -> Path:
    """Assemble ``report.html`` from the results found in ``folder``.

    Parameters
    ----------
    folder : path
        An output folder of ``apcfair`` subcommands (or of ``apcfair demo``). Sections are
        written for the results present (``lineage.json``, ``apc.json``,
        ``comparison.json``, ``audit.json``, ``stress.json`` and their plots); missing
        ones are left out.
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
    >>> [key for key in ("data", "apc", "audit", "stress") if f'<h2 id="{key}">' in text]
    ['data', 'audit']
    """
    folder = Path(folder)
    path = folder / filename
    path.write_text(render_report(folder, title), encoding="utf-8")
    return path
