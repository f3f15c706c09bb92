"""Every module imports, the import graph has no cycle, and no layer imports one above it.

Both module-level and function-level (lazy) imports count: a lazy import is still a
dependency, and a cycle hidden behind one is still a cycle.
"""

import ast
import importlib
from pathlib import Path

import pytest

import selfsup

SRC = Path(selfsup.__file__).resolve().parent.parent
#: top-level part of selfsup -> layer; a module may import its own layer and those below
LAYERS = {
    "errors": 0,
    "version": 0,  # selfsup.__version__, for the modules that record it
    "validation": 0,  # argument checks shared by every loss and estimator
    "registry": 0,  # the names configs may use; filled where things are defined
    "registry_entry": 0,
    "registry_scan": 0,  # the built-ins' registrations read from their source
    "registry_tables": 0,  # the docs' tables of the registry
    "rules": 0,  # what a config value may hold
    "param_rules": 0,  # rules from type hints
    "info": 1,
    "dynamics": 1,
    "losses": 2,  # the info-theoretic VICReg losses use selfsup.info
    "config": 3,
    "config_schema": 3,  # the config's rules, checked before torch is imported
    "allocator": 3,
    "hardware": 3,
    "optim": 3,
    "data": 3,
    "nets": 3,
    "encoder": 3,  # an exported encoder: nets + normalisation, no training code
    "evaluate": 4,
    "methods": 4,
    "train": 5,
    "experiments": 6,
    "analysis": 6,  # `selfsup analyze`: the lens on one encoder, its report
    "export": 6,  # `selfsup export`: reads a run's checkpoint
    "compare": 6,  # `selfsup compare`: reads runs, measures their encoders, draws figures
    "tune": 6,  # `selfsup sweep`: Optuna studies of runs, scored as compare scores them
    "load": 6,  # selfsup.load_encoder: an export, or a run's checkpoint through export
    "cli": 7,
}
CORE = ("info", "dynamics", "losses")  # pure maths: nothing of the training or command side


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / "selfsup").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the selfsup modules it imports (``from pkg import sub`` counts as ``pkg.sub``)."""

    def resolve(name: str) -> str:
        while name not in mods:
            name = name.rpartition(".")[0]
        return name

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets = [f"{base}.{a.name}" for a in node.names]
            for t in targets:
                if t == "selfsup" or t.startswith("selfsup."):
                    target = resolve(t)
                    if target != name:
                        edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


MODULES = modules()
EDGES = graph(MODULES)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports(name):
    importlib.import_module(name)


def test_no_import_cycles():
    assert cycles(EDGES) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_layers_point_inwards():
    unknown = sorted({part(m) for m in MODULES if part(m)} - set(LAYERS))
    assert not unknown, f"add {unknown} to LAYERS in {__file__} (which layer is it?)"
    upward = [
        f"{m} -> {t}"
        for m, targets in EDGES.items()
        if part(m)
        for t in targets
        if part(t) and LAYERS[part(t)] > LAYERS[part(m)]
    ]
    assert upward == []


def test_core_imports_nothing_of_training_or_commands():
    banned = ("experiments", "train", "cli", "methods", "data", "nets", "evaluate")
    bad = [f"{m} -> {t}" for m in EDGES if part(m) in CORE for t in EDGES[m] if part(t) in banned]
    assert bad == []


def test_module_size_limit():
    big = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 500}
    assert big == {}


def test_graph_sees_lazy_and_relative_imports(tmp_path):
    # the circle datasets <-> shapes used to hide behind an import inside a function
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("def f():\n    from selfsup.pkg.b import g\n")
    (tmp_path / "pkg" / "b.py").write_text("from . import a\n")
    mods = {
        "selfsup.pkg": tmp_path / "pkg" / "__init__.py",
        "selfsup.pkg.a": tmp_path / "pkg" / "a.py",
        "selfsup.pkg.b": tmp_path / "pkg" / "b.py",
    }
    edges = graph(mods)
    assert edges["selfsup.pkg.a"] == {"selfsup.pkg.b"} and edges["selfsup.pkg.b"] == {
        "selfsup.pkg.a"
    }
    assert cycles(edges) == [["selfsup.pkg.a", "selfsup.pkg.b"]]
