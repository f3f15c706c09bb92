"""Shared by the pinned-value tests: compare with a pin, print fresh pins."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest


def assert_matches_pin(name: str, got: tuple[float, float], want: tuple[float, float]) -> None:
    """``got`` and ``want`` are ``(loss, gradient norm)`` in float64: equal to 1e-9."""
    assert got[0] == pytest.approx(want[0], rel=1e-9), f"{name}: the loss changed"
    assert got[1] == pytest.approx(want[1], rel=1e-9), f"{name}: the gradient changed"


def print_pins(names: Iterable[str], compute: Callable[[str], tuple[float, float]]) -> None:
    """Print a ``PINNED = {...}`` block to paste into the test module."""
    print("PINNED = {")
    for name in names:
        print(f'    "{name}": {compute(name)!r},')
    print("}")
