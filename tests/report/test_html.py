"""The HTML kit (apcfair._html): formats, escaping, self-contained pages, shipped templates."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

from apcfair import _html as kit
from apcfair import layout
from apcfair.audit import AuditResult, EqualOpportunityThresholds, audit
from apcfair.report import write_report
from apcfair.report.html import SECTIONS
from tests.report.conftest import (
    HOSTILE_ATTRIBUTE,
    HOSTILE_CAVEAT,
    HOSTILE_GROUP,
    HOSTILE_SCENARIO,
    external_refs,
)

ROOT = Path(__file__).resolve().parents[2]
MISSING = [None, float("nan"), np.nan, math.inf, pd.NA]


# ----------------------------------------------------------------------------- formats
def test_count_has_thousands_separators():
    assert kit.fmt_count(146500) == "146,500"
    assert kit.fmt_count(np.int64(1234567)) == "1,234,567"
    assert kit.fmt_count(7866.0) == "7,866"
    assert kit.fmt_count(12) == "12"


def test_rate_is_a_percentage():
    assert kit.fmt_rate(0.0321) == "3.2%"
    assert kit.fmt_rate(0.098912, 2) == "9.89%"
    assert kit.fmt_rate(0.8, 0) == "80%"


def test_auc_like_values_have_four_decimals():
    assert kit.fmt_auc(0.741868970) == "0.7419"
    assert kit.fmt_auc(0.5) == "0.5000"
    assert kit.fmt_auc(np.float32(0.25)) == "0.2500"
    assert kit.fmt_auc(0.741868970, 3) == "0.742"


def test_generic_numbers_have_four_significant_digits():
    assert kit.fmt_num(0.0123456) == "0.01235"
    assert kit.fmt_num(-4.56789) == "-4.568"
    assert kit.fmt_num(1.0) == "1"
    assert kit.fmt_num(11870.177) == "11,870"  # never scientific notation for large values
    assert kit.fmt_num(42) == "42"
    assert kit.fmt_num(0.123456, 2) == "0.12"


def test_fixed_and_signed():
    assert kit.fmt_fixed(1.18, 2, sign=True) == "+1.18"
    assert kit.fmt_fixed(-0.69, 2, sign=True) == "-0.69"
    assert kit.fmt_fixed(0.1, 4) == "0.1000"


def test_interval_is_value_then_bounds():
    assert kit.fmt_interval(0.5, 0.4, 0.61) == "0.5 [0.4, 0.61]"
    assert kit.fmt_interval(-7.22702, -7.48593, -6.94274, "fixed", digits=3) == "-7.227 [-7.486, -6.943]"
    assert kit.fmt_interval(0.72345, 0.7012, 0.7456, "auc") == "0.7235 [0.7012, 0.7456]"
    assert kit.fmt_interval(0.5, None, 0.6) == "0.5"


@pytest.mark.parametrize("x", MISSING)
def test_missing_values_read_na(x):
    for name in ("count", "rate", "auc", "num", "fixed"):
        assert kit.FORMATS[name](x) == "n/a", name


def test_filters_are_the_same_functions_in_templates():
    out = kit.render_string("{{ n|count }} {{ r|rate(2) }} {{ a|auc }} {{ x|num }} {{ m|interval(l, u) }}",
                            n=20000, r=0.0580, a=0.7419, x=5.13712, m=1.5, l=1.25, u=2.0)
    assert out == "20,000 5.80% 0.7419 5.137 1.5 [1.25, 2]"


def test_unknown_format_names_the_allowed_ones():
    with pytest.raises(ValueError, match="fmt='pct'.*'auc'"):
        kit.formatter("pct")


def test_table_formats_cells_by_type_and_column():
    df = pd.DataFrame({"group": ["A", "B"], "n": [1200, 35], "auc": [0.712345, np.nan], "ratio": [0.81234, 1.0],
                       "ok": [True, False], "status": ["PASS", "N/A"]})
    t = kit.table(df, {"auc": "auc"}, status="status", shade_rows=True)
    assert t.columns == ("group", "n", "auc", "ratio", "ok", "status")
    assert [c[0] for c in t.rows[0]] == ["A", "1,200", "0.7123", "0.8123", "True", "PASS"]
    assert [c[0] for c in t.rows[1]] == ["B", "35", "", "1", "False", "N/A"]
    assert t.rows[0][5][1] == "text pass" and t.rows[1][5][1] == "text na"
    assert t.row_classes == ("row-pass", "row-na")
    assert len(kit.table(None)) == 0


# ----------------------------------------------------------------------------- escaping
def test_autoescape_is_on_for_every_template():
    out = kit.render_string("<p>{{ label }}</p>", label=HOSTILE_GROUP)
    assert out == f"<p>{escape(HOSTILE_GROUP)}</p>" and "<script>" not in out


def test_table_cells_and_headers_are_escaped():
    t = kit.table(pd.DataFrame({HOSTILE_GROUP: [HOSTILE_CAVEAT]}))
    out = kit.render_string('{% from "_macros.html" import table %}{{ table(t) }}', t=t)
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp; more" in out


def test_audit_page_escapes_labels_and_caveats():
    rng = np.random.default_rng(1)
    pd_ = rng.uniform(0, 0.4, 500)
    y = (rng.random(500) < pd_).astype(int)
    res = audit(pd_, y, {HOSTILE_ATTRIBUTE: rng.choice(["A", HOSTILE_GROUP], 500)}, cutoff=0.2, n_boot=20,
                caveats=[HOSTILE_CAVEAT])
    page = res.to_html(title=HOSTILE_SCENARIO)
    assert "<script" not in page and '<img src="x"' not in page
    assert "&lt;script&gt;alert(&#39;caveat&#39;)&lt;/script&gt; &amp; more" in page
    assert "&lt;script&gt;alert(&#39;group&#39;)&lt;/script&gt;" in page
    assert external_refs(page) == []
    assert page.startswith("<!DOCTYPE html>")


def test_what_if_page_is_escaped_and_self_contained():
    rng = np.random.default_rng(2)
    group = rng.choice(["A", HOSTILE_GROUP], 2000)
    pd_ = rng.uniform(0, 0.4, 2000)
    y = (rng.random(2000) < pd_).astype(int)
    report = EqualOpportunityThresholds(cutoff=0.2).fit(pd_, y, group).report(pd_, y, group)
    page = report.to_html()
    assert "<script" not in page and "What-if tool." in page and "Accuracy cost (before - after): " in page
    assert "&lt;script&gt;" in page
    assert external_refs(page) == []
    assert page.count("data:image/png;base64,") == 2


def test_report_escapes_labels_caveats_and_scenarios(results_folder):
    text = write_report(results_folder, title="Report <script>").read_text()
    assert "<script" not in text and '<img src="x"' not in text
    assert "&lt;script&gt;alert(&#39;caveat&#39;)&lt;/script&gt; &amp; more" in text
    assert "&lt;script&gt;alert(&#39;scenario&#39;)&lt;/script&gt;" in text
    assert str(escape(HOSTILE_ATTRIBUTE)) in text


# ----------------------------------------------------------------------------- self-contained pages
def test_report_is_one_self_contained_file(results_folder):
    path = write_report(results_folder)
    assert path.name == layout.REPORT_HTML
    text = path.read_text()
    assert external_refs(text) == []
    assert text.count("data:image/png;base64,") == 5  # four PNG files + the audit's all-attribute gap chart
    assert '<meta name="viewport"' in text and '<div class="scroll"><table>' in text
    assert "overflow-x:auto" in text
    hrefs = {h for h in ("#data", "#vintage", "#audit", "#stress", "#appendix") if f'href="{h}"' in text}
    assert hrefs == {"#data", "#vintage", "#audit", "#stress", "#appendix"}


def test_self_contained_check_catches_external_resources():
    page = ('<link rel="stylesheet" href="https://x/s.css"><img src="p.png"><a href="#ok">ok</a>'
            '<script src="https://x/a.js"></script><style>body{background:url(http://x/b.png)}</style>')
    bad = external_refs(page)
    assert len(bad) == 6 and not any("#ok" in b for b in bad)


def test_report_sections_follow_the_results(results_folder):
    text = write_report(results_folder).read_text()
    ids = [key for key, _, _ in SECTIONS]
    present = [k for k in ids if f'<h2 id="{k}">' in text]
    assert present == ["data", "vintage", "audit", "stress", "appendix"]
    res = AuditResult.load(results_folder / layout.AUDIT_JSON)
    assert f"AUC {kit.fmt_auc(res.performance['auc'])}, Gini {kit.fmt_auc(res.performance['gini'])}" in text
    # conventions as a list, caveats as text (not JSON, not a Python list)
    assert "<h3>Conventions</h3>" in text and '{"outcome"' not in text and "[&#39;" not in text
    assert f"to {kit.fmt_rate(0.03, 2)} (" in text


# ----------------------------------------------------------------------------- figures
def test_data_uri_from_file_bytes_and_figure(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [1, 0])
    for source in (fig, ax):
        uri = kit.data_uri(source, dpi=30)
        assert uri.startswith("data:image/png;base64,iVBORw0KGgo")
    fig.savefig(tmp_path / "f.png")
    assert kit.data_uri(tmp_path / "f.png") == kit.data_uri((tmp_path / "f.png").read_bytes())
    assert kit.data_uri(str(tmp_path / "f.png")).startswith("data:image/png;base64,")


# ----------------------------------------------------------------------------- packaging
def test_every_template_ships_in_the_wheel():
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = conf["tool"]["setuptools"]["package-data"]["apcfair"]
    pkg = ROOT / "apcfair"
    shipped = {p for g in globs for p in pkg.glob(g)}
    templates = {p for p in kit.TEMPLATES.rglob("*") if p.is_file()}
    assert templates and templates <= shipped, sorted(str(p.relative_to(pkg)) for p in templates - shipped)
    assert any(d.startswith("jinja2") for d in conf["project"]["dependencies"])
