"""What every benchmark here shares: timing, ratios in one run, the load, the last line.

- ``interleave(cases, rounds)`` times every case once per round, in turn (a slow spell of a
  shared machine then falls on all cases alike), and ``median`` summarises the rounds;
- ``ratio`` divides by a baseline timed in the same run, never by a figure from another run;
- ``LoadLog`` keeps the 1-minute load average of every round, printed next to the figures;
- ``final_line`` prints the ``key=value`` pairs that end every benchmark's output.

Benchmarks import it as a sibling module (``python benchmarks/NAME.py`` puts ``benchmarks/``
on ``sys.path``).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object], clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds one call of ``fn`` takes on ``clock``."""
    start = clock()
    fn()
    return clock() - start


class LoadLog:
    """The machine's 1-minute load average, sampled when asked."""

    def __init__(self) -> None:
        self.samples: list[float] = [os.getloadavg()[0]]

    def sample(self) -> None:
        self.samples.append(os.getloadavg()[0])

    def __str__(self) -> str:
        lo, hi = min(self.samples), max(self.samples)
        return f"load average {lo:.2f}-{hi:.2f} over the run ({os.cpu_count()} CPUs)"


def interleave(
    cases: dict[str, Callable[[], object]],
    rounds: int,
    warmup: int = 1,
    load: LoadLog | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Each case's seconds per call over ``rounds`` rounds, the cases taking turns.

    ``warmup`` untimed calls of every case come first (thread pools, caches, allocator).
    """
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            times[name].append(timed(fn, clock))
        if load is not None:
            load.sample()
    return times


def ratio(times: dict[str, list[float]], case: str, baseline: str) -> float:
    """How many times faster ``case`` is than ``baseline`` (ratio of median seconds)."""
    return median(times[baseline]) / median(times[case])


def final_line(**pairs: float | int | str) -> str:
    """Print (and return) the ``key=value`` line that ends a benchmark's output."""
    line = " ".join(f"{k}={_fmt(v)}" for k, v in pairs.items())
    print(line, flush=True)
    return line


def _fmt(v: float | int | str) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)
