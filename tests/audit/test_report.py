"""Result objects: summary, JSON round trip, self-contained HTML, plots."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from apcfair.audit import AuditResult, audit


def test_json_html_summary_and_plots(scored, tmp_path):
    d = scored["test"].iloc[:1500]
    res = audit(d["pd"], d["default"], d[["group", "age_band"]], cutoff=scored["cutoff"], n_boot=100,
                caveats=["sex is not cleanly derivable"], compare={"other": np.clip(d["pd"] * 0.9, 0, 1)})
    s = res.summary()
    assert "CAVEAT: sex is not cleanly derivable" in s and "== group & age_band ==" in s
    blob = json.dumps(res.to_dict(), allow_nan=False)
    path = res.save(tmp_path / "a.json")
    back = AuditResult.load(path)
    pd.testing.assert_frame_equal(back.gaps[["attribute", "gap", "value", "ci_low", "ci_high", "status"]],
                                  res.gaps[["attribute", "gap", "value", "ci_low", "ci_high", "status"]])
    np.testing.assert_allclose(back.by_group["tpr"], res.by_group["tpr"])
    assert json.loads(blob)["comparison"][0]["score"] == "score"
    html = res.to_html()
    assert html.count("data:image/png;base64,") >= 8
    assert not re.search(r"(src|href)=['\"]https?://", html)
    assert "sex is not cleanly derivable" in html and "P(approved | creditworthy)" in html
    for fn in (res.plot_fairness, res.plot_gaps, res.plot_roc, res.plot_calibration):
        ax = fn(attribute="group")
        assert ax.__class__.__name__.endswith("Axes")
    assert back.plot_roc().__class__.__name__.endswith("Axes")
