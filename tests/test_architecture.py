"""The house drawing: each floor imports only floors below it, and nothing imports in a cycle.

Every ``import apcfair...`` / ``from apcfair... import`` in the package is read with ``ast``
(module-level and function-level imports alike, since a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import apcfair

ROOT = Path(apcfair.__file__).parent

#: Floor of each unit (a top-level module or subpackage of apcfair). A unit may import
#: units on its own floor or below; never above. The ``apcfair`` package ``__init__`` is
#: the facade and is not a unit.
FLOORS: dict[str, int] = {
    "_io": 0, "_options": 0, "errors": 0, "_provenance": 0, "_base": 0, "_summary": 0,
    "layout": 0, "_html": 0, "_optional": 0,
    "portfolio": 1, "plots": 1,
    "offsets": 2, "apc": 2,
    "scoring": 3,
    "forecast": 4,
    "audit": 5,
    "unbiased": 6, "fairness": 6,
    "report": 7, "outputs": 7, "experiment": 7,
    "cli": 8, "__main__": 8,
}

#: The audit takes arrays, never models: it may use only the lowest floors.
AUDIT_MAY_IMPORT = {"_io", "_options", "_optional", "errors", "_provenance", "_base", "_summary", "layout",
                    "_html", "portfolio", "plots", "audit"}


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute apcfair module names imported anywhere in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("apcfair")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("apcfair"):
                out.add(mod)
                out |= {f"{mod}.{a.name}" for a in node.names}
    return out


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        graph[name] = {m for m in _imports(path) if m in modules and m != name}
    return graph


def _unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_unit_has_a_floor():
    units = {_unit(m) for m in _graph()} - {None}
    assert units <= set(FLOORS), f"units without a floor (add them to FLOORS): {sorted(units - set(FLOORS))}"


def test_no_import_runs_up_a_floor():
    bad = []
    for mod, deps in _graph().items():
        u = _unit(mod)
        if u is None:
            continue
        for dep in deps:
            d = _unit(dep)
            if d is not None and d != u and FLOORS[d] > FLOORS[u]:
                bad.append(f"{mod} (floor {FLOORS[u]}) imports {dep} (floor {FLOORS[d]})")
    assert not bad, "imports that run up the house:\n" + "\n".join(sorted(bad))


def test_audit_takes_arrays_not_models():
    bad = sorted(f"{m} imports {d}" for m, deps in _graph().items() if _unit(m) == "audit"
                 for d in deps if _unit(d) not in AUDIT_MAY_IMPORT)
    assert not bad, "\n".join(bad)


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if colour.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if colour.get(m) is None:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(graph):
        if colour.get(n) is None:
            found = visit(n)
            if found:
                return found
    return None


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package ``__init__`` re-exporting its own submodules is not a cycle of logic:
    drop edges from a package to modules inside it."""
    return {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}


def test_no_module_import_cycle():
    cycle = _find_cycle(_without_package_inits(_graph()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_unit_import_cycle():
    units: dict[str, set[str]] = {}
    for mod, deps in _graph().items():
        u = _unit(mod)
        if u is None:
            continue
        units.setdefault(u, set()).update(d for d in map(_unit, deps) if d is not None and d != u)
    cycle = _find_cycle(units)
    assert cycle is None, "import cycle between units: " + " -> ".join(cycle)


def test_data_synth_imports_nothing_from_apcfair():
    root = ROOT.parent / "data_synth"
    bad = [str(p.name) for p in root.rglob("*.py") if any(m.startswith("apcfair") for m in _imports_any(p))]
    assert not bad


def _imports_any(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}}, True),
    ({"a": {"b"}, "b": set()}, False),
])
def test_cycle_finder_finds_cycles(graph, expected):
    assert (_find_cycle(graph) is not None) == expected
