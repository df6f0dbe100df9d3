"""Every notebook runs top to bottom (small parameters), shows its figures, and is committed with outputs stripped.

With ``APCFAIR_DOCS_OUT`` set (CI does), each executed notebook is also published as HTML under
``$APCFAIR_DOCS_OUT/notebooks`` by ``scripts/build_notebooks_html.py`` (a build product, never committed).
"""

import importlib.util
import os
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks_html", ROOT / "scripts" / "build_notebooks_html.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before committing"
            assert "matplotlib.use(" not in cell.source, f"{path.name}: leave the backend to the runner (figures vanish)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    build = _builder()
    monkeypatch.setenv("APCFAIR_NB_ACCOUNTS", os.environ.get("APCFAIR_NB_ACCOUNTS", "8000"))
    monkeypatch.setenv("MPLBACKEND", build.INLINE_BACKEND)  # headless, and figures become outputs
    nb = build.execute(path, timeout=600)
    if any("plot" in c.source for c in nb.cells if c.cell_type == "code"):
        assert build.count_figures(nb) >= 1, f"{path.name} plots but shows no figure"
    if os.environ.get("APCFAIR_DOCS_OUT"):
        build.export_html(nb, Path(os.environ["APCFAIR_DOCS_OUT"]) / "notebooks", path.stem)


def test_html_build_embeds_figures(tmp_path, monkeypatch):
    build = _builder()
    monkeypatch.setenv("MPLBACKEND", build.INLINE_BACKEND)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A title"),
                                         nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]);")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, path)
    executed = build.execute(path, timeout=120)
    assert build.count_figures(executed) == 1
    page = build.export_html(executed, tmp_path / "html", "tiny")
    text = page.read_text()
    assert "data:image/png;base64," in text and "A title" in text
    index = (tmp_path / "html" / "index.html").read_text()
    assert 'href="tiny.html"' in index and "A title" in index
