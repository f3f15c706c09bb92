"""Quiet by default: a run prints its result, not Lightning's notes; ``-v`` brings them back.

Each run is its own ``selfsup`` process: Lightning binds its log handler to the stderr of the
moment it is imported, which inside pytest may be another test's capture.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import TINY

REPO = Path(__file__).resolve().parents[2]
ARGS = [
    *(w for w in TINY if "model_summary" not in w),
    "trainer.max_epochs=1",
    "eval.linear_probe=false",
    "data.train_subset=256",
]


def selfsup(*argv: str) -> tuple[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("SELFSUP_VERBOSE", None)
    done = subprocess.run(
        [sys.executable, "-m", "selfsup.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def test_train_is_quiet_unless_verbose(tmp_path):
    out, err = selfsup("train", "--run-dir", str(tmp_path / "quiet"), *ARGS)
    assert "knn_top1=" in out
    for chatter in ("GPU available", "TPU available", "litlogger", "FLOPs", "Loading `train"):
        assert chatter not in out + err, chatter
    assert "Warning" not in err, err
    out, err = selfsup("-v", "train", "--run-dir", str(tmp_path / "loud"), *ARGS)
    assert "GPU available" in out + err and "FLOPs" in out + err
