"""Quiet by default: a run prints its result, not Lightning's notes; ``-v`` brings them back."""

from selfsup.cli import main
from tests.conftest import TINY

ARGS = [
    *(w for w in TINY if "model_summary" not in w),
    "trainer.max_epochs=1",
    "eval.linear_probe=false",
    "data.train_subset=256",
]


def test_train_is_quiet_unless_verbose(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("SELFSUP_VERBOSE", "0")  # quiet; and `-v` below is undone afterwards
    assert main(["train", "--run-dir", str(tmp_path / "quiet"), *ARGS]) == 0
    out, err = capfd.readouterr()
    assert "knn_top1=" in out
    for chatter in ("GPU available", "TPU available", "litlogger", "FLOPs", "Loading `train"):
        assert chatter not in out + err, chatter
    assert "Warning" not in err, err
    assert main(["-v", "train", "--run-dir", str(tmp_path / "loud"), *ARGS]) == 0
    out, err = capfd.readouterr()
    assert "GPU available" in out + err and "FLOPs" in out + err
