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


def test_final_line_parses_back(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("SELFSUP_BENCH_JSON", str(tmp_path / "result.json"))
    line = harness.final_line(speedup=5.14159265, steps=120, delta=-0.000123456, name="x")
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0] == line
    assert printed[1] == f"results written to {tmp_path / 'result.json'}"
    parsed = dict(word.split("=", 1) for word in line.split(" "))
    assert parsed == {"speedup": "5.14159", "steps": "120", "delta": "-1.235e-04", "name": "x"}


def test_final_line_writes_a_json_record(tmp_path, monkeypatch):
    """The record a docs table is rendered from: what ran, where, at which commit, when."""
    import json
    import sys

    target = tmp_path / "sub" / "augment.json"
    monkeypatch.setenv("SELFSUP_BENCH_JSON", str(target))
    monkeypatch.setattr(sys, "argv", [str(BENCH / "augment.py"), "--sizes", "32"])
    load = harness.LoadLog()
    rows = [{"size": 32, "ratio": 15.2}, {"size": 96, "ratio": 4.6}]
    harness.final_line(table=rows, load=load, ratio_32=15.2)
    record = json.loads(target.read_text())
    assert record["command"] == "python benchmarks/augment.py --sizes 32"
    assert record["values"] == {"ratio_32": 15.2}
    assert record["table"] == rows
    assert f"{__import__('os').cpu_count()} cores" in record["machine"]
    assert len(record["date"]) == 10 and record["date"][4] == "-"
    assert record["commit"] and record["commit"] != "unknown"  # the tests run in a git checkout
    lo, hi = (float(x) for x in record["load"].split("-"))
    assert 0 <= lo <= hi
    assert list(target.parent.iterdir()) == [target]  # written whole, no partial file left


def test_a_record_defaults_to_runs(tmp_path, monkeypatch):
    import sys

    monkeypatch.delenv("SELFSUP_BENCH_JSON", raising=False)
    monkeypatch.setattr(sys, "argv", ["benchmarks/some_bench.py"])
    monkeypatch.setattr(harness, "REPO", tmp_path)
    path = harness.write_record({"x": 1})
    assert path == tmp_path / "runs" / "benchmarks" / "some_bench.json"
