"""Ctrl-C and SIGTERM save a checkpoint and say how to continue; a process killed outright
loses no earlier log row; a resumed run ends where an uninterrupted one does."""

import csv
import json
import os
import shlex
import signal
import time

import pytest
import torch

from selfsup.config import load_config
from selfsup.train import checkpoints, train
from selfsup.train.interrupt import Interrupted, SignalGuard
from tests.conftest import TINY
from tests.train.run_helpers import run_selfsup, selfsup_process

EPOCH_STEPS = 11  # 1437 digits, batch 128


def _rows(run) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def _epoch_rows(run) -> set[int]:
    """Epochs whose end-of-epoch training row is in metrics.csv."""
    return {int(r["epoch"]) for r in _rows(run) if r.get("train/loss_epoch")}


def _assert_equal(x, y, where: str) -> None:
    """Nested dicts / lists of tensors and plain values are identical."""
    if isinstance(x, dict):
        assert x.keys() == y.keys(), where
        for key in x:
            _assert_equal(x[key], y[key], f"{where}.{key}")
    elif isinstance(x, list | tuple):
        assert len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y, strict=True)):
            _assert_equal(u, v, f"{where}[{i}]")
    elif isinstance(x, torch.Tensor):
        assert torch.equal(x, y), where
    else:
        assert x == y, where


def _wait_for_training(proc, run, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while True:
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.time() < deadline, "training did not start"
        path = run / "metrics.json"
        if path.exists() and json.loads(path.read_text()).get("status") == "training":
            return
        time.sleep(0.1)


def test_ctrl_c_saves_prints_the_resume_command_and_the_resume_finishes(tmp_path):
    run = tmp_path / "run"
    proc = selfsup_process(["train", "--run-dir", str(run), *TINY])  # 2 epochs
    try:
        _wait_for_training(proc, run)
        proc.send_signal(signal.SIGINT)  # what a terminal sends on Ctrl-C
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    last = err.strip().splitlines()[-1]
    command = f"selfsup train --run-dir {run} --resume"
    assert last == f"Ctrl-C: newest state in {run}/checkpoints/last.ckpt; continue with: {command}"
    assert "Traceback" not in err
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "interrupted"
    saved = checkpoints.checkpoint_step(run / "checkpoints" / "last.ckpt")
    assert 0 < saved == metrics["global_step"] < 2 * EPOCH_STEPS
    # the printed command, as printed
    code, err = run_selfsup(shlex.split(last.split("continue with: ")[1])[1:])
    assert code == 0, err[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["global_step"] == 2 * EPOCH_STEPS
    assert _epoch_rows(run) == {0, 1}


def test_sigterm_mid_epoch_then_resume_ends_where_an_uninterrupted_run_does(tmp_path):
    config = TINY  # 2 epochs
    straight = train(load_config(None, config), tmp_path / "straight")
    run, marker = tmp_path / "run", tmp_path / "signalled"
    # SIGTERM before step 15 = batch 4 of epoch 1: saved after that step, mid-epoch
    code, err = run_selfsup(
        ["train", "--run-dir", str(run), *config], signal_at=(15, signal.SIGTERM, marker)
    )
    assert code == 143, err[-2000:]
    assert f"continue with: selfsup train --run-dir {run} --resume" in err.splitlines()[-1]
    assert checkpoints.checkpoint_step(run / "checkpoints" / "last.ckpt") == 16
    assert json.loads((run / "metrics.json").read_text())["epochs"] == 1
    resume = ["train", "--run-dir", str(run), "--resume"]
    code, err = run_selfsup(resume, signal_at=(15, signal.SIGTERM, marker))
    assert code == 0, err[-2000:]
    resumed = json.loads((run / "metrics.json").read_text())
    for key in ("knn_top1", "linear_top1", "global_step", "online_probe_top1"):
        assert resumed[key] == straight[key], key
    # the whole training state: weights, optimiser moments, the online probe and its optimiser
    a = checkpoints.load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.ckpt")
    b = checkpoints.load_checkpoint(run / "checkpoints" / "last.ckpt")
    for part in ("state_dict", "optimizer_states", "lr_schedulers"):
        _assert_equal(a[part], b[part], part)
    _assert_equal(a["callbacks"]["OnlineLinearProbe"], b["callbacks"]["OnlineLinearProbe"], "probe")
    # every per-step row is the same; the interrupted epoch's epoch means cover only the
    # steps its last attempt ran (Lightning keeps no running means in a checkpoint)
    rows_a, rows_b = _rows(tmp_path / "straight"), _rows(run)
    assert len(rows_a) == len(rows_b)
    for ra, rb in zip(rows_a, rows_b, strict=True):
        assert (ra["epoch"], ra["step"]) == (rb["epoch"], rb["step"])
        for key, value in ra.items():
            if key.endswith("_step") or (ra["epoch"] != "1" and value):
                assert rb[key] == value, (ra["step"], key)


def test_a_killed_run_keeps_every_finished_epochs_log_row(tmp_path):
    run = tmp_path / "run"
    config = ["train", "--run-dir", str(run), *TINY]  # 2 epochs
    # killed outright in epoch 1 (step 15), then again in the resumed attempt (step 18)
    code, _ = run_selfsup(config, signal_at=(15, signal.SIGKILL, tmp_path / "k1"))
    assert code == -signal.SIGKILL
    assert _epoch_rows(run) == {0}
    assert checkpoints.checkpoint_step(run / "checkpoints" / "last.ckpt") == EPOCH_STEPS
    resume = ["train", "--run-dir", str(run), "--resume"]
    code, _ = run_selfsup(resume, signal_at=(18, signal.SIGKILL, tmp_path / "k2"))
    assert code == -signal.SIGKILL
    assert _epoch_rows(run) == {0}  # the earlier attempt's rows survive a kill
    code, err = run_selfsup(resume, signal_at=(18, signal.SIGKILL, tmp_path / "k2"))
    assert code == 0, err[-2000:]
    rows = _rows(run)
    assert _epoch_rows(run) == {0, 1}
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(steps), "rows logged again after a resume were kept twice"
    keys = [(r["step"], tuple(k for k, v in r.items() if v)) for r in rows]
    assert len(keys) == len(set(keys))


def test_a_second_signal_stops_at_once(tmp_path):
    # the handler the guard replaces: Python's default, or SIG_IGN where the test runs in a
    # background job of a non-interactive shell (which starts it with SIGINT ignored)
    before = signal.getsignal(signal.SIGINT)
    with SignalGuard() as guard:
        guard.deferred = True
        os.kill(os.getpid(), signal.SIGINT)
        assert guard.pending == signal.SIGINT
        with pytest.raises(Interrupted) as stop:
            os.kill(os.getpid(), signal.SIGTERM)
        assert stop.value.exit_code == 143 and stop.value.checkpoint is None
    assert signal.getsignal(signal.SIGINT) is before  # put back


@pytest.mark.slow
def test_ctrl_c_under_ddp_stops_every_process_at_the_same_step(tmp_path):
    run = tmp_path / "run"
    ddp = [
        "trainer.devices=2",
        "trainer.strategy=ddp",
        "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false",
        "data.batch_size=64",
        "backbone.params.hidden=[64,32]",
        "method.projector=[64,64]",
    ]
    # only process 0 gets the signal; the flag is reduced over both at every step
    code, err = run_selfsup(
        ["train", "--run-dir", str(run), *ddp],
        signal_at=(5, signal.SIGINT, tmp_path / "s"),
        timeout=900,  # two processes on a shared 2-core box took over 300 s
    )
    assert code == 130, err[-3000:]
    assert checkpoints.checkpoint_step(run / "checkpoints" / "last.ckpt") == 6
    code, err = run_selfsup(
        ["train", "--run-dir", str(run), "--resume"],
        signal_at=(5, signal.SIGINT, tmp_path / "s"),
        timeout=900,
    )
    assert code == 0, err[-3000:]
    assert json.loads((run / "metrics.json").read_text())["global_step"] == 2 * EPOCH_STEPS


def test_ctrl_c_during_the_final_evaluation(tmp_path, monkeypatch):
    from selfsup.train import run as run_module

    def interrupted_evaluation(*args):
        os.kill(os.getpid(), signal.SIGINT)

    config = load_config(None, [*TINY, "trainer.max_epochs=1"])
    monkeypatch.setattr(run_module, "evaluate_encoder", interrupted_evaluation)
    with pytest.raises(Interrupted) as stop:
        train(config, tmp_path)
    monkeypatch.undo()
    assert stop.value.exit_code == 130
    assert stop.value.message.endswith(
        f"continue with: selfsup train --run-dir {tmp_path} --resume"
    )
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"
    metrics = train(config, tmp_path, resume=True)  # nothing left to train: evaluates
    assert metrics["status"] == "finished" and metrics["knn_top1"] > 0.5
