"""docs/extending.md shows the plug-ins of docs/examples verbatim, and each registers what the
page says (the slow documented-commands check trains with each of them)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from selfsup import registry
from tests.plugin_helpers import registry_restored

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = sorted((DOCS / "examples").glob("*.py"))
REGISTERS = {
    "halfvic": ("method", "halfvic"),
    "corners": ("dataset", "corners"),
    "tiny_cnn": ("backbone", "tiny_cnn"),
    "gentle_views": ("views", "gentle"),
}


def test_every_example_is_shown_verbatim():
    page = (DOCS / "extending.md").read_text()
    shown = re.findall(r"^```python\n(.*?)^```", page, re.S | re.M)
    assert {p.stem for p in EXAMPLES} == set(REGISTERS)
    for path in EXAMPLES:
        assert path.read_text() in shown, f"{path.name} differs from its block in extending.md"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_registers_its_name(path):
    kind, name = REGISTERS[path.stem]
    sys.path.insert(0, str(path.parent))
    try:
        with registry_restored():
            assert name not in registry.names(kind)
            registry.load_plugins([path.stem])
            assert registry.entry(kind, name).plugin == path.stem
            module = importlib.import_module(path.stem)
            assert registry.get(kind, name) in vars(module).values()
    finally:
        sys.path.remove(str(path.parent))
    assert name not in registry.names(kind)
