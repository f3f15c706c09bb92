"""benchmarks/harness.py: interleaved rounds, medians, same-run ratios, the closing line."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
_spec = importlib.util.spec_from_file_location("bench_harness", BENCH / "harness.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)


class FakeClock:
    """A clock that only moves when a case moves it (by its scripted duration)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_rounds_alternate_and_warmup_is_not_timed():
    clock, calls = FakeClock(), []
    durations = {"a": iter([100.0, 5.0, 1.0, 2.0]), "b": iter([100.0, 4.0, 4.0, 4.0])}

    def case(name):
        def run():
            calls.append(name)
            clock.now += next(durations[name])

        return run

    load = harness.LoadLog()
    times = harness.interleave({"a": case("a"), "b": case("b")}, 3, 1, load=load, clock=clock)
    assert calls == ["a", "b"] * 4  # one warm-up round of every case, then the rounds in turn
    assert times == {"a": [5.0, 1.0, 2.0], "b": [4.0, 4.0, 4.0]}  # the 100 s warm-up dropped
    assert len(load.samples) == 1 + 3  # at the start and after every timed round
    # the median, not the best (1) nor the mean (2.67); ratio = baseline / case (a speed-up)
    assert harness.median(times["a"]) == 2.0
    assert harness.ratio(times, "a", "b") == 2.0
    assert "load average" in str(load)


def test_final_line_parses_back(capsys):
    line = harness.final_line(speedup=5.14159265, steps=120, delta=-0.000123456, name="x")
    assert capsys.readouterr().out.strip() == line
    parsed = dict(word.split("=", 1) for word in line.split(" "))
    assert parsed == {"speedup": "5.14159", "steps": "120", "delta": "-1.235e-04", "name": "x"}
