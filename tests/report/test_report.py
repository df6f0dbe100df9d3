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
    assert f"{cost['auc_a']:.3f} (traditional credit model) to {cost['auc_b']:.3f}" in html
    stress = {k: v["cumulative_pd"] for k, v in results["stress"].items()}
    worst = max(stress, key=stress.get)
    assert f"to {stress[worst]:.2%} ({worst})" in html


def test_report_renders_in_headless_chromium(demo_dir, tmp_path):
    spec = importlib.util.spec_from_file_location("shot", ROOT / "scripts" / "screenshot_report.py")
    shot = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shot)
    if shot.chromium() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    png = shot.screenshot(demo_dir / "report.html", tmp_path / "report.png", height=1600)
    from PIL import Image

    im = Image.open(png).convert("L")
    assert im.size == (1200, 1600)
    # a rendered page, not a blank one: many distinct grey levels
    assert len(np.unique(np.asarray(im))) > 50
