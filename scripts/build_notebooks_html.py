"""Execute the notebooks and publish them as self-contained HTML pages with their figures.

    python scripts/build_notebooks_html.py docs/_build/notebooks            # every notebook
    python scripts/build_notebooks_html.py OUT notebooks/01_*.ipynb          # some of them

The executed copies are a build product: they go to OUT (``docs/_build`` is git-ignored) and
are never committed; the committed notebooks stay stripped of outputs. Figures are rendered by
matplotlib's inline backend (headless), so every plot appears in the HTML as an embedded PNG.
``APCFAIR_NB_ACCOUNTS`` sets the synthetic portfolio size (default 8,000, as in CI).

CI builds the pages while the test suite executes the notebooks (``APCFAIR_DOCS_OUT`` makes
``tests/test_notebooks.py`` call :func:`export_html` after each run), so nothing runs twice.
"""

from __future__ import annotations

import argparse
import html
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: matplotlib backend for the kernel: renders figures as PNG outputs without a display.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as f:
        f.write(text)
    os.chmod(f.name, 0o644)  # a published page: readable by all, like any file the build writes
    os.replace(f.name, path)


def execute(path: Path, timeout: int = 900):
    """Run one notebook top to bottom in its folder, figures inline; returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    os.environ.setdefault("APCFAIR_NB_ACCOUNTS", "8000")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def count_figures(nb) -> int:
    """Number of PNG figures among the outputs of an executed notebook."""
    return sum("image/png" in out.get("data", {}) for cell in nb.cells for out in cell.get("outputs", []))


def export_html(nb, out_dir: Path, name: str) -> Path:
    """Write an executed notebook as ``out_dir/name.html`` (one file, images embedded) and refresh the index."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nb)
    page = Path(out_dir) / f"{name}.html"
    _atomic_write(page, body)
    write_index(Path(out_dir))
    return page


def write_index(out_dir: Path) -> Path:
    """``index.html`` linking every notebook page in ``out_dir`` with its first heading."""
    import re

    items = []
    for page in sorted(out_dir.glob("*.html")):
        if page.name == "index.html":
            continue
        m = re.search(r"<h1[^>]*>(.*?)<", page.read_text(encoding="utf-8"), flags=re.S)
        title = html.unescape(m.group(1)).strip() if m else page.stem
        items.append(f'<li><a href="{html.escape(page.name)}">{html.escape(title)}</a></li>')
    index = out_dir / "index.html"
    _atomic_write(index, "<!doctype html><meta charset='utf-8'>"
                         "<meta name='viewport' content='width=device-width, initial-scale=1'>"
                         "<title>apcfair notebooks</title><h1>apcfair notebooks (executed)</h1><ul>"
                         + "".join(items) + "</ul>")
    return index


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="output folder for the HTML pages")
    ap.add_argument("notebooks", type=Path, nargs="*", help="notebooks to build (default: notebooks/*.ipynb)")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        nb = execute(path)
        page = export_html(nb, args.out, path.stem)
        print(f"{page}  ({count_figures(nb)} figures)")
    print(args.out / "index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
