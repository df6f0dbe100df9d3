"""A self-contained HTML model report assembled from an output folder.

Every subcommand writes machine-readable results (``apc.json``, ``comparison.json``,
``audit.json``, ``stress.json``, ``lineage.json``) and PNG plots into its output folder.
The report reads only those files, so every number in its prose comes from the same
results as its tables, and any subcommand can write its part of the report
(``--report``) or the demo can write all of it. Plots are embedded as base64 PNG.
"""

from __future__ import annotations

import base64
import html
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.45;padding:0 1em}
h1{border-bottom:3px solid #1f77b4;padding-bottom:.3em} h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;margin:1em 0;font-size:.85em} th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f3f6fa} td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5em 0} .note{background:#fff8e1;border-left:4px solid #f0ad4e;padding:.6em 1em}
.pass{color:#2e7d32;font-weight:bold} .fail{color:#c62828;font-weight:bold} nav a{margin-right:1em}
.small{font-size:.8em;color:#555}
"""


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(df: pd.DataFrame, floatfmt: str = "{:.4g}") -> str:
    return df.to_html(index=False, border=0, float_format=lambda x: floatfmt.format(x), na_rep="", escape=True)


def _read_json(path: Path):
    return json.loads(path.read_text()) if path.exists() else None


class _Report:
    def __init__(self, folder: Path):
        self.folder = folder
        self.sections: list[tuple[str, str, str]] = []

    def add(self, key: str, title: str, body: str) -> None:
        self.sections.append((key, title, body))

    def img(self, name: str, alt: str) -> str:
        p = self.folder / name
        return _img(p, alt) if p.exists() else ""

    def render(self, title: str) -> str:
        nav = " ".join(f'<a href="#{k}">{html.escape(t)}</a>' for k, t, _ in self.sections)
        body = "\n".join(f'<h2 id="{k}">{html.escape(t)}</h2>\n{b}' for k, t, b in self.sections)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>"
                f"<p class='small'>Generated {stamp} by apcfair from the results in this folder.</p>"
                f"<nav>{nav}</nav>{body}</body></html>")


# ----------------------------------------------------------------------------- sections
def _data_section(rep: _Report, facts: dict) -> None:
    lin = _read_json(rep.folder / "lineage.json")
    for name in ("cost_of_fairness.json", "apc.json"):
        if lin is None:
            lin = (_read_json(rep.folder / name) or {}).get("lineage")
    if not lin:
        return
    steps = pd.DataFrame([{"stage": s["stage"], "unit": s["unit"], "rows in": s["rows_in"], "rows out": s["rows_out"],
                           "excluded": "; ".join(f"{v:,} {k}" for k, v in s["excluded"].items()) or "none"}
                          for s in lin["steps"]])
    parts = [f"<p>Source: <code>{html.escape(str(lin['source']))}</code>. {lin['rows_in']:,} rows were read.</p>"]
    desc = lin.get("portfolio")
    if desc:
        facts["portfolio"] = desc
        parts.append(
            f"<p>The validated portfolio has <b>{desc['accounts']:,}</b> accounts originated from "
            f"{desc['first_vintage']} to {desc['last_vintage']}, observed over {desc['window'][0]} to "
            f"{desc['window'][1]}: {desc['account_months']:,} account-months at risk and "
            f"<b>{desc['defaults']:,}</b> defaults ({desc['default_rate_accounts']:.2%} of accounts).</p>")
    excl = lin.get("excluded", {})
    parts.append("<p>No row was excluded.</p>" if not excl else
                 "<p class='note'>Excluded rows: " + "; ".join(f"{v:,} {html.escape(k)}" for k, v in excl.items()) + ".</p>")
    parts.append(_table(steps))
    rep.add("data", "Data and lineage", "\n".join(parts))


def _vintage_section(rep: _Report) -> None:
    imgs = rep.img("vintage_monthly_pd.png", "monthly default rate by age") + rep.img(
        "vintage_cumulative_default.png", "cumulative default by vintage")
    if imgs:
        rep.add("vintage", "Vintage curves",
                "<p>Observed monthly default rates by months on book (first plot) and Kaplan–Meier "
                "cumulative default by vintage year, with payoff and the end of data treated as censoring (second).</p>" + imgs)


def _apc_section(rep: _Report, facts: dict) -> None:
    apc = _read_json(rep.folder / "apc.json")
    if apc is None:
        return
    facts["apc"] = apc
    d = apc.get("diagnostics", {})

    def peak(comp, fn=max):
        rec = fn(apc[comp], key=lambda r: r["mean"])
        return rec["index"], rec["mean"]

    a_pk, a_v = peak("lifecycle")
    v_pk, v_v = peak("vintage")
    e_pk, e_v = peak("environment")
    e_lo, e_lv = peak("environment", min)
    hyper = pd.DataFrame([{"parameter": k, **v} for k, v in apc.get("hyperparameters", {}).items()])
    slopes = pd.DataFrame([{"parameter": k, **v} for k, v in apc.get("identified_slopes", {}).items()])
    level = int(100 * apc.get("credible_level", 0.95))
    body = [
        f"<p class='note'><b>Identification.</b> {html.escape(apc['identification'])}</p>",
        f"<p>Engine: <b>{html.escape(str(apc['settings']['engine']))}</b> ({apc['settings']['likelihood']} likelihood, "
        f"random-walk orders {apc['settings']['rw_orders']}), fitted in {d.get('fit_seconds', 'n/a')} s on "
        f"{d.get('n_cells', 'n/a'):,} cells. Bands are {level}% credible intervals.</p>",
        f"<p>The lifecycle F(a) peaks at {a_pk} months on book ({a_v:+.2f} log-odds around its mean); the riskiest "
        f"vintage is {v_pk} ({v_v:+.2f}); the environment H(t) is worst in {e_pk} ({e_v:+.2f}) and best in "
        f"{e_lo} ({e_lv:+.2f}). Intercept {apc['intercept']['mean']:.3f} "
        f"({apc['intercept']['lower']:.3f} to {apc['intercept']['upper']:.3f}).</p>",
        rep.img("apc_components.png", "APC functions with bands"),
        rep.img("apc_fitted_vintage_curves.png", "observed vs fitted vintage curves"),
        rep.img("apc_residuals.png", "residual heat map"),
        "<h3>Identified slopes and hyperparameters</h3>",
        _table(pd.concat([slopes, hyper], ignore_index=True)) if len(slopes) or len(hyper) else "",
    ]
    for w in d.get("warnings", []):
        body.append(f"<p class='note'>Warning: {html.escape(w)}</p>")
    rep.add("apc", "Age–period–cohort functions", "\n".join(body))


def _coef_section(rep: _Report) -> None:
    files = sorted(rep.folder.glob("coefficients_*.csv"))
    if not files:
        return
    body = ["<p>Panel logistic regressions with F(a)+H(t) from the APC model as a fixed offset "
            "(coefficient 1); standard errors from the inverse information matrix.</p>"]
    for f in files:
        df = pd.read_csv(f)
        name = html.escape(f.stem.replace("coefficients_", ""))
        body.append(f"<details><summary><b>{name}</b> ({len(df)} terms)</summary>{_table(df)}</details>")
    rep.add("coefficients", "Model coefficient tables", "\n".join(body))


def _unbiased_section(rep: _Report, facts: dict) -> None:
    rows = _read_json(rep.folder / "comparison.json")
    if rows is None:
        return
    meta = _read_json(rep.folder / "cost_of_fairness.json") or {}
    facts["comparison"] = rows
    tab = pd.DataFrame([{"model": r["label"], "sample": r["sample"], "AUC": r["auc"], "Gini": r["gini"],
                         "AUC 95% CI": f"{r['auc_lower']:.3f}–{r['auc_upper']:.3f}",
                         "expected / actual defaults": (r["calibration"].get("expected_over_actual") or float("nan"))}
                        for r in rows])
    wide = tab.pivot_table(index="model", columns="sample", values=["AUC", "Gini"], sort=False)
    wide.columns = [f"{a} ({'in-sample' if s == 'in' else 'out-of-sample'})" for a, s in wide.columns]
    wide = wide.reset_index()
    cost = meta.get("cost_of_fairness", {})
    prose = []
    for s, c in cost.items():
        sig = "statistically significant" if c["p_value"] < 0.05 else "not statistically significant"
        prose.append(f"{'In' if s == 'in' else 'Out of'} sample, zeroing the restricted term changes the AUC from "
                     f"{c['auc_a']:.3f} (traditional credit model) to {c['auc_b']:.3f}: a cost of "
                     f"{c['difference']:+.4f} (95% CI {c['lower']:+.4f} to {c['upper']:+.4f}, DeLong p = "
                     f"{c['p_value']:.3g}), {sig} at the 5% level.")
    dep = pd.read_csv(rep.folder / "dependence.csv") if (rep.folder / "dependence.csv").exists() else None
    dep_html = ""
    if dep is not None:
        out = dep[dep["sample"] == "out"].drop(columns="sample")
        dep_html = ("<h3>Dependence of forecasts on restricted attributes (out of sample)</h3>"
                    "<p>Pearson correlation, distance correlation (also nonlinear), AUC of the forecast as a "
                    "discriminator of a binary attribute (0.5 = none) and the adverse impact ratio at the "
                    f"stated approval rate ({meta.get('settings', {}).get('approval_rate', 0.8):.0%} approved). "
                    "Proxies correlated with protected status still carry information after zeroing: "
                    "the zeroed rows show how much.</p>" + _table(out, "{:.3f}"))
    body = [
        "<p>Models of Breeden &amp; Leonova (2021), Table 5, evaluated as in their Tables 6–7: cumulative "
        f"{meta.get('settings', {}).get('horizon', 36)}-month forecasts from origination with the estimated environment, "
        "AUC and Gini on the estimation half (in-sample) and the held-out half (out-of-sample), among "
        "accounts observed for the whole horizon.</p>",
        _table(wide, "{:.3f}"), "<p>" + " ".join(prose) + "</p>",
        rep.img("roc.png", "ROC curves"), dep_html, rep.img("dependence.png", "dependence bars"),
        "<h3>Calibration</h3><p>Expected defaults summed over the months each account was at risk, against "
        "actual defaults (ratio 1 = calibrated), and cumulative default by vintage year against Kaplan–Meier.</p>",
        _table(tab[["model", "sample", "expected / actual defaults"]], "{:.3f}"),
        rep.img("calibration.png", "calibration by vintage year"),
    ]
    rep.add("unbiased", "Unbiased by design: the cost of fairness", "\n".join(body))


def _audit_section(rep: _Report, facts: dict) -> None:
    audit = _read_json(rep.folder / "audit.json")
    if audit is None:
        return
    facts["audit"] = audit
    perf = audit.get("performance", {})
    body = [f"<p>Audited score: AUC {perf.get('auc', float('nan')):.3f}, Gini {perf.get('gini', float('nan')):.3f}, "
            f"KS {perf.get('ks', float('nan')):.3f}, Brier {perf.get('brier', float('nan')):.4f}.</p>"]
    conv = audit.get("conventions")
    if conv:
        body.append(f"<p class='small'>Conventions: {html.escape(json.dumps(conv)[:600])}</p>")
    for attr, gaps in (audit.get("gaps") or {}).items():
        rows = []
        items = gaps.items() if isinstance(gaps, dict) else []
        for metric, g in items:
            if not isinstance(g, dict):
                continue
            passed = g.get("passed", g.get("pass"))
            ci = g.get("ci") or [g.get("lower"), g.get("upper")]
            ci_txt = f"{ci[0]:.3f} to {ci[1]:.3f}" if ci and None not in ci else ""
            rows.append({"metric": metric, "description": g.get("description", ""), "value": g.get("value"),
                         "95% CI": ci_txt, "threshold": g.get("threshold"),
                         "result": "<span class='pass'>pass</span>" if passed else "<span class='fail'>fail</span>"})
        if rows:
            body.append(f"<h3>{html.escape(attr)}</h3>" + pd.DataFrame(rows).to_html(index=False, escape=False, border=0,
                                                                                    float_format=lambda x: f"{x:.3f}"))
    for png in sorted(rep.folder.glob("audit_*.png")):
        body.append(rep.img(png.name, png.stem))
    caveat = audit.get("caveats") or audit.get("data_caveat")
    if caveat:
        body.append(f"<p class='note'>{html.escape(str(caveat))}</p>")
    rep.add("audit", "Fairness audit scorecard", "\n".join(body))


def _stress_section(rep: _Report, facts: dict) -> None:
    stress = _read_json(rep.folder / "stress.json")
    if stress is None:
        return
    facts["stress"] = stress
    rows = []
    for name, sc in stress.get("scenarios", {}).items():
        pd_path = sc.get("pd", [])
        rows.append({"scenario": name, "months": len(sc.get("month", [])),
                     "peak monthly PD": max(pd_path) if pd_path else float("nan"),
                     "cumulative PD": sc.get("cumulative_pd"),
                     "expected defaults": sum(sc.get("expected_defaults", []))})
    tab = pd.DataFrame(rows)
    prose = ""
    if len(tab):
        worst = tab.loc[tab["cumulative PD"].astype(float).idxmax()]
        best = tab.loc[tab["cumulative PD"].astype(float).idxmin()]
        prose = (f"<p>Over the horizon, the portfolio's cumulative PD ranges from {best['cumulative PD']:.2%} "
                 f"({html.escape(str(best['scenario']))}) to {worst['cumulative PD']:.2%} "
                 f"({html.escape(str(worst['scenario']))}).</p>")
    body = [prose, _table(tab, "{:.4g}")]
    for png in ("fan_chart.png", "environment_scenarios.png"):
        body.append(rep.img(png, png))
    rep.add("stress", "Stress scenarios", "\n".join(body))


def _appendix(rep: _Report, facts: dict) -> None:
    desc = facts.get("portfolio", {})
    apc = facts.get("apc")
    lines = [
        "<h3>Intended use</h3><p>Estimating lifecycle, vintage and environment effects on monthly default "
        "rates; account-level default forecasts with those effects as fixed offsets; measuring and limiting the "
        "dependence of credit forecasts on protected status; stress scenarios for the environment. Not intended "
        "for automated decisions without human oversight, nor for use of protected attributes at decision time.</p>",
        "<h3>Data</h3><p>" + (f"{desc.get('accounts', 0):,} accounts, {desc.get('account_months', 0):,} account-months, "
                              f"window {' to '.join(desc.get('window', []))}. " if desc else "")
        + "Every excluded row is counted with its reason in the lineage table above (data governance, "
          "EU AI Act Art. 10).</p>",
        "<h3>Assumptions</h3><ul>"
        + (f"<li>Identification: {html.escape(apc['identification'])}</li>" if apc else "")
        + "<li>Logit-additive effects of age, vintage and calendar time; random-walk smoothness priors.</li>"
          "<li>Score models take F(a)+H(t) as fixed; attributes at origination are static.</li>"
          "<li>Payoff is treated as independent censoring in observed cumulative default.</li></ul>",
        "<h3>Limitations and risks (Art. 9)</h3><ul><li>Cells hide account heterogeneity: cell-level APC fits "
        "can distort the lifecycle at high ages (frailty selection).</li><li>Extrapolated environments and macro "
        "links are scenario tools, not predictions.</li><li>Zeroing the restricted term removes the direct "
        "protected effect, not the information carried by correlated credit inputs (see the dependence table).</li>"
        "<li>Post-processing tools that use protected attributes at decision time are what-if analyses only.</li></ul>",
        "<h3>Transparency (Art. 13)</h3><p>Settings, library versions and the settings hash are stored in each "
        "JSON result (<code>provenance</code>); models are saved as JSON/netCDF, never pickled.</p>",
    ]
    if apc and apc.get("provenance"):
        prov = apc["provenance"]
        lines.append("<p class='small'>Versions: " + html.escape(", ".join(f"{k} {v}" for k, v in prov.get("versions", {}).items()))
                     + f"; settings hash {html.escape(prov.get('settings_hash', ''))}.</p>")
    rep.add("appendix", "Model documentation", "\n".join(lines))


def write_report(folder: str | Path, title: str = "apcfair model report", filename: str = "report.html") -> Path:
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
    rep = _Report(folder)
    facts: dict = {}
    _data_section(rep, facts)
    _vintage_section(rep)
    _apc_section(rep, facts)
    _coef_section(rep)
    _unbiased_section(rep, facts)
    _audit_section(rep, facts)
    _stress_section(rep, facts)
    _appendix(rep, facts)
    path = folder / filename
    path.write_text(rep.render(title), encoding="utf-8")
    return path
