"""The reproduction framework on a toy experiment: options from the parameters dataclass,
seeds, resume, worker processes, results.json / report.md, one-line errors."""

import dataclasses
import json

import numpy as np
import pytest

from selfsup.experiments import command
from selfsup.experiments.claims import Claim, across_seeds, claims_table, fmt, verdict
from tests.experiments import toy

CLAIM_KEYS = {"claim", "paper", "ours", "holds", "tolerance", "regime", "evidence", "verdict"}
CLAIM_KEYS |= {"effect", "interval", "seeds", "deterministic", "above", "below", "unit"}
CLAIM_KEYS |= {"per_seed", "interval_method", "leaning", "parts"}


def run(tmp_path, *argv, out="out"):
    return command.run(toy.EXPERIMENT, ["--out", str(tmp_path / out), *argv])


def results(tmp_path, out="out") -> dict:
    return json.loads((tmp_path / out / "results.json").read_text())


def test_quick_run_writes_results_report_and_figure(tmp_path, capsys):
    assert run(tmp_path, "--quick", "--data-root", str(tmp_path / "d")) == 0
    r = results(tmp_path)
    assert r["experiment"] == "toy" and r["preset"] == "quick"
    assert r["seeds"] == [0, 1]  # the quick preset's default count
    assert r["params"] == {**dataclasses.asdict(toy.PRESETS["quick"].params), "groups": ["a", "b"]}
    assert set(r["runs"]) == {"a-s0", "a-s1", "b-s0", "b-s1"}
    # the numbers come from the runs: recompute one independently
    expected = np.mean([np.random.default_rng(s).standard_normal(50).mean() for s in (0, 1)])
    assert r["summary"]["a"]["mean"] == pytest.approx(expected, abs=1e-12)
    assert [set(c) for c in r["claims"]] == [CLAIM_KEYS, CLAIM_KEYS]
    assert r["claims"][0]["regime"] == "group a, n=50" and r["claims"][0]["paper"] == 0.0
    assert r["figures"] == ["means.png"]
    meta = r["meta"]
    assert meta["command"].startswith("selfsup reproduce toy --out")
    assert meta["data_root"] == str(tmp_path / "d") and meta["threads"] == 1
    assert {"git", "versions", "machine", "started"} <= set(meta)
    assert set(r["timing_s"]["runs"]) == set(r["runs"]) and r["timing_s"]["total"] > 0
    run_record = json.loads((tmp_path / "out/runs/a-s1/result.json").read_text())
    assert run_record["args"]["seed"] == 1 and run_record["result"]["n"] == 50
    report = (tmp_path / "out/report.md").read_text()
    assert report.startswith("# Toy: sample means")
    assert "## Claims" in report and "| 1 | The sample mean is near 0 | **inconclusive (" in report
    # two seeds: t = 12.7 at 1 degree of freedom makes the interval wider than the tolerance
    assert "95 % CI [-1, +1.1], 2 seeds" in report
    assert "## Means" in report and "![means](means.png)" in report
    printed = capsys.readouterr().out
    assert "[toy 4/4]" in printed and "seeds): The sample mean is near 0 [group a, n=50]" in printed


def test_seeds_is_a_count_and_options_change_parameters(tmp_path):
    argv = ["--seeds", "3", "--n", "7", "--scale", "0", "--groups", "b,c", "--widths", "4,5"]
    assert run(tmp_path, *argv) == 0
    r = results(tmp_path)
    assert r["seeds"] == [0, 1, 2] and set(r["runs"]) == {"b-s0", "b-s1", "b-s2"}
    assert r["params"]["n"] == 7 and r["params"]["widths"] == [4, 5]
    assert r["summary"]["b"]["mean"] == 0.0  # scale 0
    assert r["skipped"] == {"c": "group c is never run"}
    assert "- skipped c: group c is never run" in (tmp_path / "out/report.md").read_text()


def test_resume_reuses_only_runs_with_the_same_args(tmp_path, capsys):
    assert run(tmp_path, "--quick") == 0
    marker = tmp_path / "out/runs/a-s0/marker.json"
    before = marker.stat().st_mtime_ns
    (tmp_path / "out/runs/b-s1/result.json").unlink()  # as if interrupted during b-s1
    capsys.readouterr()
    assert run(tmp_path, "--quick", "--resume") == 0
    assert marker.stat().st_mtime_ns == before
    r = results(tmp_path)
    assert {k for k, v in r["runs"].items() if not v["reused"]} == {"b-s1"}
    assert "a-s0: reused" in capsys.readouterr().out
    # other parameters: nothing is reused
    assert run(tmp_path, "--quick", "--resume", "--n", "60") == 0
    assert not any(v["reused"] for v in results(tmp_path)["runs"].values())
    # without --resume every run is redone
    assert run(tmp_path, "--quick", "--n", "60") == 0
    assert not any(v["reused"] for v in results(tmp_path)["runs"].values())


def test_what_runs_print_goes_to_their_logs_unless_verbose(tmp_path, capfd):
    assert run(tmp_path, "--quick", "--loud", "--groups", "a") == 0
    assert "drawn a 1" in (tmp_path / "out/runs/a-s1/log.txt").read_text()
    printed = capfd.readouterr().out
    assert "drawn" not in printed and "[toy 2/2] a-s1" in printed
    assert run(tmp_path, "--quick", "--loud", "--groups", "a", "--verbose", out="v") == 0
    assert "drawn a 1" in capfd.readouterr().out
    assert not (tmp_path / "v/runs/a-s1/log.txt").exists()


def test_worker_processes_give_the_same_numbers(tmp_path):
    assert run(tmp_path, "--quick", out="one") == 0
    assert run(tmp_path, "--quick", "--workers", "2", out="two") == 0
    assert results(tmp_path, "one")["summary"] == results(tmp_path, "two")["summary"]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--n", "0"], "--n must be >= 1, got 0"),
        (["--n", "x"], "--n takes one integer, got 'x'"),
        (["--groups", "a,z"], "--groups: unknown ['z']; valid: a, b, c"),
        (["--widths", "1,x"], "--widths takes comma-separated integers, got '1,x'"),
        (["--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--preset", "tiny"], "invalid choice: 'tiny'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, argv, expected):
    assert run(tmp_path, *argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: selfsup reproduce toy"), err
    assert expected in err[0]
    assert not (tmp_path / "out").exists()


def test_unwritable_output_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert command.run(toy.EXPERIMENT, ["--out", str(tmp_path / "file" / "sub")]) == 2
    assert "cannot create output folder" in capsys.readouterr().err


def test_help_lists_every_option(capsys):
    assert command.run(toy.EXPERIMENT, ["--help"]) == 0
    text = capsys.readouterr().out
    for flag in ("--quick", "--preset", "--out", "--seeds", "--data-root", "--resume", "--verbose"):
        assert flag in text
    for flag in ("--n N", "--scale X", "--groups NAME,...", "--widths N,...", "--loud"):
        assert flag in text
    assert "--tolerance" not in text  # preset-only fields are not options


def test_claims_as_data():
    a = Claim("c", ours=0.1234567, holds=True, tolerance=0.5, evidence="e0")
    b = dataclasses.replace(a, ours=0.9, holds=False, verdict="", evidence="e1")
    assert verdict(a) == "holds" and verdict(b) == "does not hold"
    assert verdict(dataclasses.replace(a, holds=None, verdict="")) == "inconclusive"
    assert fmt(0.1234567) == "0.123" and fmt({"x": 1.0, "y": "z"}) == "x: 1; y: z"
    merged = across_seeds({0: [a], 1: [b]})  # bare verdicts: every seed must hold
    assert merged[0].holds is False and merged[0].ours == {"seed 0": a.ours, "seed 1": 0.9}
    assert merged[0].evidence == "seed 0: e0 | seed 1: e1"
    table = claims_table([dataclasses.replace(a, claim="x | y")])
    assert table[2].startswith("| 1 | x \\| y | **holds** | — | 0.123 |")
