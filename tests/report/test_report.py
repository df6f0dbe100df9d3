"""The HTML report: self-contained, numbers from the results, renders in headless Chromium."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from apcfair.cli import main
from tests.report.conftest import external_refs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "demo"
    assert main(["demo", "--out", str(out), "--accounts", "5000", "--seed", "2"]) == 0
    return out


def test_report_is_self_contained_and_has_every_section(demo_dir):
    html = (demo_dir / "report.html").read_text()
    for section in ("Data and lineage", "Vintage curves", "Age–period–cohort functions", "Model coefficient tables",
                    "the cost of fairness", "Fairness audit scorecard", "Stress scenarios", "Model documentation"):
        assert section in html, section
    assert "<script src" not in html and 'src="http' not in html  # nothing fetched from outside
    assert external_refs(html) == []  # only data: URIs and in-page anchors
    assert html.count("data:image/png;base64,") >= 8


def test_prose_numbers_come_from_the_results(demo_dir):
    html = (demo_dir / "report.html").read_text()
    results = json.loads((demo_dir / "results.json").read_text())
    port = results["portfolio"]
    assert f"<b>{port['accounts']:,}</b> accounts" in html
    assert f"<b>{port['defaults']:,}</b> defaults" in html
    cost = results["cost_of_fairness"]["out"]
    assert f"from {cost['auc_a']:.4f} (" in html and f"to {cost['auc_b']:.4f} (" in html
    lo, hi = (f"{cost[k]:+.4f}" for k in ("lower", "upper"))
    assert f"{cost['difference']:+.4f} [{lo}, {hi}]" in html  # the cost with its interval
    stress = {k: v["cumulative_pd"] for k, v in results["stress"].items()}
    worst = max(stress, key=stress.get)
    assert f"to {stress[worst]:.2%} ({worst})" in html


def test_executive_summary_comes_first_and_links_every_card(demo_dir):
    html = (demo_dir / "report.html").read_text()
    assert html.index('<h2 id="summary">Executive summary</h2>') < html.index('<h2 id="data">')
    summary = html[html.index('id="summary"'):html.index('<h2 id="data">')]
    for href in ("#data", "#apc", "#unbiased", "#dependence", "#calibration", "#stress", "#audit"):
        assert f'href="{href}"' in summary, href
        assert f'id="{href[1:]}"' in html, href  # every link has its target
    stress = json.loads((demo_dir / "stress.json").read_text())["scenarios"]["baseline"]
    assert f"baseline: {stress['cumulative_pd']:.2%} [{stress['cumulative_pd_lower']:.2%}, " in summary


def test_tables_and_figures_are_numbered_in_order(demo_dir):
    import re

    html = (demo_dir / "report.html").read_text()
    for kind in ("Table", "Figure"):
        numbers = [int(n) for n in re.findall(rf"<(?:caption|figcaption)>{kind} (\d+)\.", html)]
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 6, (kind, numbers)
    assert html.count("<figcaption>") == html.count("data:image/png;base64,")  # every figure has a caption


def test_model_names_are_labels_with_identifier_on_hover(demo_dir):
    html = (demo_dir / "report.html").read_text()
    assert 'title="credit_restricted_zero">APC Scoring, Credit with Restricted = 0<' in html
    assert "0.08919535189067651" not in html  # cut-offs to 4 significant digits


def _screenshot_module():
    spec = importlib.util.spec_from_file_location("shot", ROOT / "scripts" / "screenshot_report.py")
    shot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shot)
    return shot


@pytest.mark.parametrize("width", [1400, 390])
def test_report_renders_in_headless_chromium(demo_dir, tmp_path, width):
    shot = _screenshot_module()
    if shot.chromium() is None:
        reason = ("Chromium is not installed, so the report was not rendered in a browser; "
                  "install Debian's package (apt-get install chromium) to run this test")
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    png = shot.screenshot(demo_dir / "report.html", tmp_path / "report.png", width=width, height=1400)
    from PIL import Image

    im = np.asarray(Image.open(png).convert("L"))
    assert im.shape == (1400, width)
    # a rendered page, not a blank one: many distinct grey levels
    assert len(np.unique(im)) > 50
    # nothing wider than the screen: the rightmost columns are page background (tables scroll inside their box)
    assert (im[:, -4:] > 245).all()
