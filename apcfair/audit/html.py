"""Self-contained HTML for audit results and post-processing what-if reports.

Both pages are rendered by the HTML kit (:mod:`apcfair._html`) from the templates
``audit.html`` and ``intervention.html``: values are escaped and formatted there, plots
are embedded as base64 PNG. This module only picks what each page shows.
"""

from __future__ import annotations

import json

import pandas as pd

from apcfair._html import data_uri, render, table
from apcfair._io import to_jsonable
from apcfair.audit.groups import excluded_text
from apcfair.audit.plots import new_axes, plot_intervention

# AUC-like columns get the kit's ``auc`` format (4 decimals); other floats 4 significant digits.
_AUC_LIKE = {"auc": "auc", "gini": "auc", "ks": "auc"}


def _pretty(d) -> str:
    return json.dumps(to_jsonable(d), indent=1)


def _with_excluded(gaps: pd.DataFrame, columns: list[str], minimum) -> pd.DataFrame:
    """The gap columns shown, with the groups each gap left out as one text cell."""
    out = gaps[[c for c in columns if c in gaps.columns]].copy()
    if "excluded" in gaps.columns:
        out["left out (insufficient data / small)"] = [excluded_text(e, minimum) for e in gaps["excluded"]]
    return out


def audit_html(result, title: str = "Fairness audit") -> str:
    """HTML report of an :class:`~apcfair.audit.core.AuditResult`.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit import audit
    >>> rng = np.random.default_rng(0)
    >>> pd_ = rng.uniform(0, 0.4, 400)
    >>> y = (rng.random(400) < pd_).astype(int)
    >>> res = audit(pd_, y, rng.choice(["A", "<b>B</b>"], 400), cutoff=0.2, n_boot=20,
    ...             caveats=["<script>alert(1)</script>"])
    >>> page = audit_html(res)
    >>> "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    True
    """
    s = result.settings
    minimum = s.get("min_rate_denominator")
    attr0 = s.get("attributes", [None])[0]
    overview = []
    if not result.roc.empty or not result.calibration.empty:
        overview = [data_uri(result.plot_roc(attribute=attr0, ax=new_axes((4.8, 4.8), standalone=True))),
                    data_uri(result.plot_calibration(attribute=attr0, ax=new_axes((4.8, 4.8), standalone=True)))]
    perf = {k: result.performance.get(k) for k in ("auc", "gini", "ks", "brier", "ece", "n")}
    attributes = []
    for attr in result.attributes:
        def of(df, attr=attr):
            return df[df["attribute"] == attr].drop(columns=["attribute"])

        attributes.append({
            "name": attr,
            "groups": table(of(result.by_group)),
            "plots": [data_uri(result.plot_fairness("approval_rate", attribute=attr, ax=new_axes(standalone=True))),
                      data_uri(result.plot_fairness("tpr", attribute=attr, ax=new_axes(standalone=True))),
                      data_uri(result.plot_gaps(attribute=attr, ax=new_axes(standalone=True)))],
            "tests": table(of(result.tests)),
            "power": table(of(result.power)),
        })
    strata = None
    if result.by_stratum is not None:
        strata = {
            "control": s.get("control"),
            "gaps": table(_with_excluded(result.gaps_by_stratum, ["stratum", "attribute", "gap", "value", "ci_low",
                                                                  "ci_high", "status", "low_group", "high_group",
                                                                  "note"], minimum),
                          status="status", shade_rows=True),
            "groups": table(result.by_stratum[["stratum", "attribute", "group", "n", "base_rate", "approval_rate",
                                               "tpr", "fpr", "precision", "small"]]),
        }
    gaps = _with_excluded(result.gaps, ["attribute", "gap", "value", "ci_low", "ci_high", "threshold", "status",
                                        "low_group", "high_group", "significant", "note"], minimum)
    return render(
        "audit.html", title=title, caveats=list(result.caveats), overall=result.overall.iloc[0],
        decision_rule=result.conventions.get("decision_rule", ""), cutoff=s.get("cutoff"),
        min_group_size=s.get("min_group_size"), min_rate_denominator=minimum, conv=result.conventions,
        n_boot=f"{s.get('n_boot', 0):,}" if s.get("n_boot") else None, ci=s.get("ci", 0.95),
        bootstrap=s.get("bootstrap", ""),
        performance=table(pd.DataFrame([perf]), _AUC_LIKE), overview_plots=overview,
        gaps=table(gaps, status="status", shade_rows=True), attributes=attributes, strata=strata,
        comparison=None if result.comparison is None else table(result.comparison, status="status",
                                                                 shade_rows=True),
        settings_json=_pretty(result.settings), versions_json=_pretty(result.provenance.get("versions", {})),
    )


def report_html(report, title: str | None = None) -> str:
    """HTML of a post-processing :class:`~apcfair.audit.postprocess.InterventionReport`.

    Examples
    --------
    >>> import numpy as np
    >>> from apcfair.audit import EqualOpportunityThresholds
    >>> rng = np.random.default_rng(0)
    >>> group = rng.choice(["A", "B"], 2000)
    >>> pd_ = rng.uniform(0, 0.4, 2000)
    >>> y = (rng.random(2000) < pd_).astype(int)
    >>> eo = EqualOpportunityThresholds(cutoff=0.2).fit(pd_, y, group)
    >>> page = report_html(eo.report(pd_, y, group))
    >>> page.startswith("<!DOCTYPE html>"), "What-if tool." in page
    (True, True)
    """
    plots = [data_uri(plot_intervention(report, metric=m, ax=new_axes((7, 4), standalone=True)))
             for m in ("tpr", "approval_rate") if m in report.by_group.columns]
    return render(
        "intervention.html", title=title or report.name, what_if_note=report.what_if_note,
        accuracy_cost=report.accuracy_cost, overall=table(report.overall, _AUC_LIKE),
        by_group=table(report.by_group, _AUC_LIKE), plots=plots,
        details_json=_pretty(report.details) if report.details else "",
    )
