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
    registry.entries("method")  # the built-ins read first, so that they are what is restored
    entries = {kind: dict(found) for kind, found in registry._ENTRIES.items()}
    plugins = list(registry._PLUGINS)
    try:
        yield
    finally:
        for kind, found in entries.items():
            registry._ENTRIES[kind].clear()
            registry._ENTRIES[kind].update(found)
        for name in set(registry._PLUGINS) - set(plugins):
            sys.modules.pop(name, None)  # imported again, and registered again, when named
        registry._PLUGINS[:] = plugins
