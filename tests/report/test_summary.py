"""Summary: text rule width, and HTML rendered by the HTML kit (escaped, the kit's table)."""

import pandas as pd
import pytest

from apcfair._summary import Summary
from tests.report.conftest import HOSTILE_GROUP


def test_rule_width_sets_the_title_rule():
    assert Summary.from_blocks("Fit", ["ok"]).splitlines()[1] == "==="
    assert Summary.from_blocks("Fit", ["ok"], rule_width=72).splitlines()[1] == "=" * 72
    with pytest.raises(ValueError, match="rule_width=0"):
        Summary.from_blocks("Fit", ["ok"], rule_width=0)


def test_html_uses_the_kit_table_and_escapes():
    df = pd.DataFrame({"group": [HOSTILE_GROUP, "B"], "n": [1200, 35], "rate": [0.123456, 0.5]})
    html = Summary.from_blocks("Title <b>", ["one line", "two\nlines", ("Table 1. Groups", df)],
                               float_format=".3f").as_html()
    assert "<script>" not in html and "&lt;script&gt;" in html and "Title &lt;b&gt;" in html
    assert '<div class="scroll"><table>' in html and "<caption>Table 1. Groups</caption>" in html
    assert "<td>1,200</td>" in html and "<td>0.123</td>" in html  # counts with separators, floats by float_format
    assert "<p>one line</p>" in html and "<pre>two\nlines</pre>" in html


def test_wrapped_text_renders_as_pre():
    s = Summary("a < b\nc")
    assert s.as_html() == "<pre>a &lt; b\nc</pre>" and s == "a < b\nc"
