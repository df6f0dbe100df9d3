"""Every ``Examples`` section in apcfair runs: one test per module.

The examples are the documentation contract (numpydoc docstrings with runnable examples
on tiny inline or ``data_synth`` data), so they are executed like any other test. Output
is compared with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``.
"""

from __future__ import annotations

import doctest
import importlib
import io
import pkgutil

import pytest

import apcfair

#: Modules whose import is slow and that hold no examples (PyMC compiles on import).
SKIP = {"apcfair.apc._pymc"}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(apcfair.__path__, prefix="apcfair.")]
    return sorted(n for n in names if n not in SKIP)


@pytest.fixture(scope="module", autouse=True)
def _warm_imports():
    """Set the headless matplotlib backend once, before any module's examples plot."""
    import matplotlib

    matplotlib.use("Agg")


@pytest.mark.parametrize("name", _module_names())
def test_module_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    out = io.StringIO()
    for test in finder.find(module, name):
        runner.run(test, out=out.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, (
        f"{result.failed} of {result.attempted} examples failed in {name}:\n{out.getvalue()}"
    )
