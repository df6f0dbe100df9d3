"""A small results folder for the report tests, and a check that a page is self-contained."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from apcfair import layout, load_portfolio
from apcfair.audit import audit

#: Labels that would run as code if a page did not escape them.
HOSTILE_GROUP = "<script>alert('group')</script>"
HOSTILE_CAVEAT = "<script>alert('caveat')</script> & more"
HOSTILE_SCENARIO = "<script>alert('scenario')</script>"
HOSTILE_ATTRIBUTE = '<img src="x" onerror="alert(1)">'



class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "action", "poster") and value is not None:
                self.refs.append((tag, name, value))


def external_refs(html: str) -> list[str]:
    """Everything in ``html`` that a browser would fetch or run: [] for a self-contained page.

    Allowed: ``data:`` URIs and in-page anchors (``#...``). Not allowed: any other
    ``src``/``href``, ``<script>``, ``<link>``, ``<iframe>``, CSS ``url(...)``/``@import``
    of anything but ``data:``.
    """
    p = _Refs()
    p.feed(html)
    bad = [f"<{t} {n}={v[:60]!r}>" for t, n, v in p.refs if not (v.startswith("data:") or v.startswith("#"))]
    bad += [f"<{t}>" for t in sorted(p.tags & {"script", "link", "iframe", "object", "embed", "base"})]
    for css in re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S):
        bad += [f"css {m}" for m in re.findall(r"url\(\s*['\"]?(?!data:)[^)]*\)|@import", css)]
    return bad


def _png(path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1, 2], [0, 1, 0])
    fig.savefig(path, format="png", dpi=40)


@pytest.fixture(scope="session")
def results_folder(tmp_path_factory):
    """Lineage, audit (hostile labels and caveat), stress and plots: a report in seconds."""
    folder = tmp_path_factory.mktemp("results")
    loans = pd.DataFrame({"account_id": [1, 2, 3], "origination": ["2019-01", "2019-01", "2019-02"],
                          "last_month": ["2019-03", "2019-02", "2019-06"], "default": [0, 1, 0]})
    (folder / layout.LINEAGE).write_text(json.dumps(load_portfolio(loans).lineage.to_dict()))
    rng = np.random.default_rng(0)
    pd_ = rng.uniform(0, 0.4, 600)
    y = (rng.random(600) < pd_).astype(int)
    groups = rng.choice(["A", HOSTILE_GROUP], 600)
    audit(pd_, y, {HOSTILE_ATTRIBUTE: groups}, cutoff=0.2, n_boot=20, caveats=[HOSTILE_CAVEAT]).save(folder / layout.AUDIT_JSON)
    months = ["2020-01", "2020-02", "2020-03"]
    scenarios = {name: {"month": months, "pd": [0.001 * k, 0.002 * k, 0.0015 * k], "cumulative_pd": 0.01 * k,
                        "expected_defaults": [12.0 * k, 20.5 * k, 15.0 * k]}
                 for k, name in ((1, "baseline"), (3, HOSTILE_SCENARIO))}
    (folder / layout.STRESS_JSON).write_text(json.dumps({"scenarios": scenarios}))
    for name in (layout.VINTAGE_MONTHLY_PD_PLOT, layout.VINTAGE_CUMULATIVE_PLOT, layout.AUDIT_FAIRNESS_PLOT,
                 layout.FAN_CHART_PLOT):
        _png(folder / name)
    return folder
