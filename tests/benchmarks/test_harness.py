"""benchmarks/harness.py: interleaved rounds, medians, same-run ratios, the closing line."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

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


def test_rounds_alternate_and_warmup_is_not_counted():
    clock, calls = FakeClock(), []
    durations = {"a": iter([100.0, 5.0, 1.0, 2.0]), "b": iter([100.0, 4.0, 4.0, 4.0])}

    def case(name):
        def run():
            calls.append(name)
            clock.now += next(durations[name])
            return len(calls)

        return run

    seconds, last = harness.interleaved({"a": case("a"), "b": case("b")}, 3, 1, clock=clock)
    assert calls == ["a", "b"] * 4  # a round of every case, then the next round
    assert seconds == {"a": [5.0, 1.0, 2.0], "b": [4.0, 4.0, 4.0]}  # the 100 s warm-up dropped
    assert last == {"a": 7, "b": 8}  # values of the last round
    # the median, not the best (1) nor the mean (2.67)
    assert harness.median(seconds["a"]) == 2.0
    assert harness.ratio(seconds, "b", "a") == 2.0
    assert harness.medians(seconds) == {"a": 2.0, "b": 4.0}
    assert "median 2 s (min 1, max 5, n 3)" == harness.spread(seconds["a"])


def test_repeats_must_be_positive():
    with pytest.raises(ValueError, match="repeats"):
        harness.interleaved({"a": lambda: None}, 0)


def test_closing_line_parses_back():
    pairs = {"speedup": 5.14159265, "steps": 120, "delta": -0.00123456, "name": "x"}
    line = harness.closing_line(pairs)
    parsed = dict(word.split("=", 1) for word in line.split(" "))
    assert parsed == {"speedup": "5.142", "steps": "120", "delta": "-0.001235", "name": "x"}
    with pytest.raises(ValueError, match="parse"):
        harness.closing_line({"two words": 1.0})


def test_machine_names_threads_cores_and_load():
    text = harness.machine()
    assert set(dict(w.split("=", 1) for w in text.split(" ", 2)[:2])) == {"torch_threads", "cpus"}
    assert "load=" in text


def test_a_benchmark_ends_with_the_closing_line(monkeypatch, capsys):
    """losses.py at a tiny size, run as a script is (its folder first on sys.path): the last
    line is its key=value ratios."""
    monkeypatch.syspath_prepend(str(BENCH))
    argv = ["losses.py", "--batch", "8", "--dim", "16", "--repeats", "3"]
    monkeypatch.setattr(sys, "argv", argv)
    spec = importlib.util.spec_from_file_location("bench_losses", BENCH / "losses.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
    out = capsys.readouterr().out
    last = dict(word.split("=", 1) for word in out.strip().splitlines()[-1].split(" "))
    assert set(last) == {
        "vicreg_over_matmul",
        "vicreg_textbook_over_matmul",
        "info_nce_over_matmul",
        "barlow_twins_over_matmul",
        "barlow_textbook_over_matmul",
    }
    assert all(float(v) > 0 for v in last.values())
