"""What every benchmark here shares: timing, ratios in one run, the load, the last line.

- ``interleave(cases, rounds)`` times every case once per round, in turn (a slow spell of a
  shared machine then falls on all cases alike), and ``median`` summarises the rounds;
- ``ratio`` divides by a baseline timed in the same run, never by a figure from another run;
- ``LoadLog`` keeps the 1-minute load average of every round, printed next to the figures;
- ``final_line`` prints the ``key=value`` pairs that end every benchmark's output and writes
  them, with the command, the machine, the commit and the date, as a JSON record
  (``write_record``): ``runs/benchmarks/<script>.json`` by default, or the file named by
  ``$SELFSUP_BENCH_JSON`` (``SELFSUP_BENCH_JSON=benchmarks/results/augment.json python
  benchmarks/augment.py`` refreshes the table the documentation renders from that file).

Benchmarks import it as a sibling module (``python benchmarks/NAME.py`` puts ``benchmarks/``
on ``sys.path``).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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


def final_line(
    table: list[dict[str, float | int | str]] | None = None,
    load: LoadLog | None = None,
    **pairs: float | int | str,
) -> str:
    """Print (and return) the ``key=value`` line that ends a benchmark's output, and write it
    (with ``table``, the rows behind it, when given) as a JSON record (:func:`write_record`)."""
    line = " ".join(f"{k}={_fmt(v)}" for k, v in pairs.items())
    print(line, flush=True)
    path = write_record(pairs, table=table, load=load)
    print(f"results written to {path}", flush=True)
    return line


def describe_machine() -> str:
    """One line naming the machine: CPU model and cores, GPU if any, OS, Python and torch."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    parts = [f"{cpu}, {os.cpu_count()} cores"]
    try:
        import torch

        if torch.cuda.is_available():
            parts.append(torch.cuda.get_device_name(0))
        else:
            parts.append(f"no GPU, CPU capability {torch.backends.cpu.get_cpu_capability()}")
        parts.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    parts.append(f"{platform.system()} {platform.release()}, Python {platform.python_version()}")
    return "; ".join(parts)


def git_commit() -> str:
    """The short commit of the code measured (``+dirty`` when the tree has changes)."""
    from selfsup.experiments.meta import git_state

    state = git_state(REPO)
    return (state["commit"] or "unknown")[:7] + ("+dirty" if state["dirty"] else "")


def write_record(
    values: dict[str, float | int | str],
    table: list[dict[str, float | int | str]] | None = None,
    load: LoadLog | None = None,
    path: str | os.PathLike | None = None,
) -> Path:
    """Write one run's results as JSON: the command, machine, commit, UTC date, the load range
    over the run, ``values`` (the final line) and ``table`` (rows), atomically.

    ``path``: else ``$SELFSUP_BENCH_JSON``, else ``runs/benchmarks/<script>.json``.
    """
    script = Path(sys.argv[0])
    if path is None:
        path = os.environ.get("SELFSUP_BENCH_JSON") or REPO / "runs" / "benchmarks" / (
            script.stem + ".json"
        )
    path = Path(path)
    try:
        shown = script.resolve().relative_to(REPO)
    except ValueError:
        shown = script
    record = {
        "command": shlex.join(["python", str(shown), *sys.argv[1:]]),
        "machine": describe_machine(),
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "load": f"{min(load.samples):.1f}-{max(load.samples):.1f}" if load else None,
        "values": values,
        "table": table or [],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(record, indent=1) + "\n")
    partial.replace(path)
    return path


def _fmt(v: float | int | str) -> str:
    if isinstance(v, float):
        return f"{v:.6g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)
