"""Self-contained HTML for audit results and intervention reports (plots as base64 PNG)."""

from __future__ import annotations

import base64
import html as _html
import io

import numpy as np
import pandas as pd

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
h3{font-size:1.05em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}
.FAIL{background:#f8d7d3}.PASS{background:#dcefdc}.NA{background:#eee}
.caveat{background:#fff3cd;border:1px solid #e0c36c;padding:.6em;margin:.6em 0}
.whatif{background:#fde2e2;border:1px solid #d88;padding:.6em;margin:.6em 0}
.conv{font-size:.85em;color:#444}img{max-width:100%;margin:.3em}
"""


def fig_to_base64(fig, dpi: int = 90) -> str:
    """PNG bytes of a Matplotlib figure as a base64 string."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def img(ax) -> str:
    """An ``<img>`` tag embedding the figure of ``ax``."""
    fig = ax.figure
    data = fig_to_base64(fig)
    try:
        import sys

        if "matplotlib.pyplot" in sys.modules:
            import matplotlib.pyplot as plt

            plt.close(fig)
    except Exception:  # pragma: no cover
        pass
    return f'<img alt="plot" src="data:image/png;base64,{data}"/>'


def esc(x) -> str:
    """HTML-escape anything."""
    return _html.escape(str(x))


def table(df: pd.DataFrame, float_format: str = "{:.4f}", status_col: str | None = "status") -> str:
    """An HTML table; rows coloured by a PASS/FAIL status column when present."""
    if df is None or df.empty:
        return "<p><em>(none)</em></p>"
    cols = list(df.columns)
    out = ["<table><thead><tr>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr></thead><tbody>"]
    for _, r in df.iterrows():
        cls = ""
        if status_col and status_col in df.columns:
            cls = {"PASS": "PASS", "FAIL": "FAIL"}.get(str(r[status_col]), "NA")
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (float, np.floating)):
                s = "" if not np.isfinite(v) else float_format.format(v)
            elif v is None:
                s = ""
            else:
                s = str(v)
            cells.append(f"<td>{esc(s)}</td>")
        out.append(f'<tr class="{cls}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def page(title: str, body: list[str]) -> str:
    """Wrap sections into a complete HTML document (no external resources)."""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + esc(title) + "</title><style>" + _CSS
            + "</style></head><body><h1>" + esc(title) + "</h1>" + "\n".join(body) + "</body></html>")


def conventions_block(conv: dict) -> str:
    """The favourable-outcome conventions as a definition list."""
    items = "".join(f"<li><b>{esc(k)}</b>: {esc(v)}</li>" for k, v in conv.items())
    return f'<div class="conv"><h3>Conventions</h3><ul>{items}</ul></div>'


def audit_html(result, title: str = "Fairness audit") -> str:
    """HTML report of an :class:`~apcfair.audit.core.AuditResult`."""
    from apcfair.audit.plots import new_axes

    s = result.settings
    body = []
    for c in result.caveats:
        body.append(f'<div class="caveat"><b>Data caveat:</b> {esc(c)}</div>')
    ov = result.overall.iloc[0]
    cut = "" if s.get("cutoff") is None else f" with cutoff {s.get('cutoff')}"
    body.append(f"<p>{int(ov['n']):,} applicants; default rate {ov['base_rate']:.1%}; approval rate "
                f"{ov['approval_rate']:.1%}; {esc(result.conventions.get('decision_rule', ''))}{cut}; "
                f"groups with n &lt; {s.get('min_group_size')} are flagged and left out of the gaps.</p>")
    body.append(conventions_block(result.conventions))
    body.append("<h2>Performance</h2>")
    perf = pd.DataFrame([{k: result.performance.get(k) for k in ("auc", "gini", "ks", "brier", "ece", "n")}])
    body.append(table(perf, status_col=None))
    if not result.roc.empty or not result.calibration.empty:
        attr0 = s.get("attributes", [None])[0]
        body.append(img(result.plot_roc(attribute=attr0, ax=new_axes((4.8, 4.8), standalone=True)))
                    + img(result.plot_calibration(attribute=attr0, ax=new_axes((4.8, 4.8), standalone=True))))
    body.append("<h2>Summary of gaps</h2>")
    g = result.gaps[["attribute", "gap", "value", "ci_low", "ci_high", "threshold", "status", "low_group",
                     "high_group", "significant", "note"]]
    body.append(table(g))
    for attr in result.attributes:
        body.append(f"<h2>{esc(attr)}</h2>")
        sub = result.by_group[result.by_group["attribute"] == attr].drop(columns=["attribute"])
        body.append(table(sub, status_col=None))
        body.append(img(result.plot_fairness("approval_rate", attribute=attr, ax=new_axes(standalone=True)))
                    + img(result.plot_fairness("tpr", attribute=attr, ax=new_axes(standalone=True)))
                    + img(result.plot_gaps(attribute=attr, ax=new_axes(standalone=True))))
        body.append("<h3>Tests (decision vs group)</h3>")
        body.append(table(result.tests[result.tests["attribute"] == attr].drop(columns=["attribute"]),
                          status_col=None))
        pw = result.power[result.power["attribute"] == attr].drop(columns=["attribute"])
        body.append("<h3>Power: minimum detectable gaps (alpha 0.05, power 0.8)</h3>")
        body.append(table(pw, status_col=None))
    if result.by_stratum is not None:
        body.append(f"<h2>Within strata of {esc(s.get('control'))}</h2>")
        body.append(table(result.gaps_by_stratum[["stratum", "attribute", "gap", "value", "ci_low", "ci_high",
                                                  "status", "low_group", "high_group", "note"]]))
        body.append(table(result.by_stratum[["stratum", "attribute", "group", "n", "base_rate", "approval_rate",
                                             "tpr", "fpr", "precision", "small"]], status_col=None))
    if result.comparison is not None:
        body.append("<h2>Comparison with other scores</h2>")
        body.append(table(result.comparison))
    body.append("<h2>Settings and provenance</h2>")
    body.append(f"<pre>{esc(_pretty(result.settings))}\n{esc(_pretty(result.provenance.get('versions', {})))}</pre>")
    return page(title, body)


def _pretty(d) -> str:
    import json

    from apcfair.audit.core import _jsonable

    return json.dumps(_jsonable(d), indent=1)


def report_html(report, title: str | None = None) -> str:
    """HTML of a post-processing :class:`~apcfair.audit.postprocess.InterventionReport`."""
    from apcfair.audit.plots import new_axes, plot_intervention

    body = [f'<div class="whatif"><b>What-if tool.</b> {esc(report.what_if_note)}</div>']
    body.append(f"<p>Accuracy cost (before - after): {report.accuracy_cost:+.4f}</p>")
    body.append("<h2>Overall</h2>" + table(report.overall, status_col=None))
    body.append("<h2>By group</h2>" + table(report.by_group, status_col=None))
    for m in ("tpr", "approval_rate"):
        if m in report.by_group.columns:
            body.append(img(plot_intervention(report, metric=m, ax=new_axes((7, 4), standalone=True))))
    if report.details:
        body.append(f"<h2>Details</h2><pre>{esc(_pretty(report.details))}</pre>")
    return page(title or report.name, body)
