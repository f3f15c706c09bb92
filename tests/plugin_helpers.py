"""Plug-ins in a test process: the registry as it was before, afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from selfsup import registry


@contextmanager
def registry_restored() -> Iterator[None]:
    """Whatever plug-ins the block imports and registers is forgotten when it ends (their
    modules too), so other tests see the built-ins only."""
    entries = {kind: dict(found) for kind, found in registry._ENTRIES.items()}
    plugins, modules = list(registry._PLUGINS), set(sys.modules)
    try:
        yield
    finally:
        for kind, found in entries.items():
            registry._ENTRIES[kind].clear()
            registry._ENTRIES[kind].update(found)
        registry._PLUGINS[:] = plugins
        for name in set(sys.modules) - modules:
            if name not in plugins and not name.startswith(("selfsup", "torch", "lightning")):
                sys.modules.pop(name, None)
