"""Sweep workers sharing one SQLite study: trials counted exactly, none run twice, a killed
worker's trial marked failed and the study continued by the next command."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

# each starts selfsup worker processes (imports and tiny trials): about a minute of CPU each
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TINY_TRIAL = [
    "data.train_subset=200",
    "data.test_subset=100",
    "backbone.params.hidden=[32]",
    "method.projector=[32]",
    "data.batch_size=100",
    "eval.linear_probe=false",
    "eval.online_probe=false",
    "eval.knn_monitor=false",
    "optim.lr=loguniform(1e-4,1e-2)",
]


def _worker(out: Path, trials: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "selfsup.cli",
        "sweep",
        "--config",
        "vicreg_digits",
        "--out",
        str(out),
        "--trials",
        str(trials),
        "--n-samples",
        "64",
        *TINY_TRIAL,
        *extra,
    ]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _states(out: Path) -> dict[int, str]:
    with sqlite3.connect(out / "study.db") as db:
        return dict(db.execute("select number, state from trials order by number"))


def test_two_workers_share_one_study(tmp_path):
    out = tmp_path / "sweep"
    workers = [_worker(out, 2, "trainer.max_epochs=1"), _worker(out, 2, "trainer.max_epochs=1")]
    for w in workers:
        _, err = w.communicate(timeout=500)
        assert w.returncode == 0, err
    assert _states(out) == {0: "COMPLETE", 1: "COMPLETE", 2: "COMPLETE", 3: "COMPLETE"}
    dirs = sorted(p.name for p in out.glob("trial-*"))
    assert dirs == ["trial-000", "trial-001", "trial-002", "trial-003"]
    for d in dirs:  # each an ordinary, finished run, trained once
        metrics = json.loads((out / d / "metrics.json").read_text())
        assert metrics["status"] == "finished" and metrics["epochs"] == 1
    summary = json.loads((out / "sweep.json").read_text())
    numbers = [t["number"] for t in summary["trials"]]
    assert sorted(numbers) == [0, 1, 2, 3]
    assert {t["dir"] for t in summary["trials"]} == set(dirs)


def test_killed_worker_trial_fails_and_the_study_continues(tmp_path):
    out = tmp_path / "sweep"
    worker = _worker(out, 2, "trainer.max_epochs=400")  # long enough to be killed in training
    deadline = time.time() + 300
    while time.time() < deadline:  # wait for the trial's training to be under way
        metrics = out / "trial-000" / "metrics.json"
        if metrics.exists() and '"training"' in metrics.read_text():
            break
        assert worker.poll() is None, worker.communicate()[1]
        time.sleep(0.5)
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate()
    assert _states(out) == {0: "RUNNING"}
    again = _worker(out, 1, "trainer.max_epochs=1")
    stdout, err = again.communicate(timeout=300)
    assert again.returncode == 0, err
    assert "trials [0] of a stopped worker marked failed" in stdout
    assert _states(out) == {0: "FAIL", 1: "COMPLETE"}
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["counts"] == {"COMPLETE": 1, "FAIL": 1}
    assert summary["trials"][0]["error"] == "its worker stopped"
