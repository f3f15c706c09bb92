"""What every benchmark here shares: interleaved timing, medians, ratios, one closing line.

    from harness import interleaved, median, ratio, machine, closing_line

- :func:`interleaved` runs every case once per round, round after round, so a change of load
  on the (shared) machine hits all cases alike; a warm-up round is run first and not counted.
- A case's figure is the **median** of its rounds (:func:`median`): robust to one round that
  another job slowed down, unlike the mean, and less flattering than the best.
- Speed is reported as a ratio against a baseline timed in the same run (:func:`ratio`),
  never against a number from another run.
- :func:`machine` says what the figures ran on (threads, cores, load) and
  :func:`closing_line` prints the last line, ``key=value`` pairs that scripts can parse.

The benchmarks are scripts (``python benchmarks/NAME.py``), so this module is imported by its
plain name from the scripts' own folder.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Mapping


def interleaved(
    cases: Mapping[str, Callable[[], object]],
    repeats: int,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Time each case ``repeats`` times, one round of all cases after another.

    Returns ``(seconds, last)``: the per-round times of each case (in ``cases`` order) and the
    value each case returned in the last round (to check accuracies or agreement with).
    ``warmup`` uncounted rounds come first (thread pools, allocator, lazy imports).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    last: dict[str, object] = {}
    for round_ in range(warmup + repeats):
        for name, fn in cases.items():
            start = clock()
            last[name] = fn()
            elapsed = clock() - start
            if round_ >= warmup:
                seconds[name].append(elapsed)
    return seconds, last


def median(times: list[float]) -> float:
    """The figure a case is reported by."""
    return statistics.median(times)


def medians(seconds: Mapping[str, list[float]]) -> dict[str, float]:
    return {name: median(times) for name, times in seconds.items()}


def ratio(seconds: Mapping[str, list[float]], case: str, baseline: str) -> float:
    """``median(case) / median(baseline)``: above 1 means ``case`` is slower."""
    return median(seconds[case]) / median(seconds[baseline])


def spread(times: list[float]) -> str:
    """``median 1.23 s (min 1.20, max 1.31, n 5)``, for the human-readable lines."""
    lo, hi = min(times), max(times)
    return f"median {median(times):.4g} s (min {lo:.4g}, max {hi:.4g}, n {len(times)})"


def machine() -> str:
    """Threads, cores and the 1/5/15-minute load, to be printed beside the figures."""
    import torch

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"torch_threads={torch.get_num_threads()} cpus={os.cpu_count()} load={load}"


def closing_line(pairs: Mapping[str, object], digits: int = 4) -> str:
    """The benchmark's last line: ``key=value`` pairs (floats to ``digits`` significant digits)."""
    words = []
    for key, value in pairs.items():
        if " " in key or "=" in key:
            raise ValueError(f"key {key!r} would not parse back")
        text = f"{value:.{digits}g}" if isinstance(value, float) else str(value)
        words.append(f"{key}={text}")
    return " ".join(words)
