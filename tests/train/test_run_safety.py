"""A run directory is a safe, transactional store: no code from checkpoints, one process at a
time, the newest state always, files replaced atomically, metrics merged, disk errors early."""

import csv
import errno
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from selfsup.cli import main
from selfsup.config import load_config
from selfsup.errors import SelfsupError
from selfsup.train import checkpoints, load_method, train
from selfsup.train.atomic import atomic_file, atomic_write_text
from selfsup.train.checkpoint_io import RunCheckpointIO
from selfsup.train.checkpoints import (
    load_checkpoint,
    newest_checkpoint,
    prune_epoch_checkpoints,
)
from selfsup.train.run_lock import RunLock
from tests.conftest import TINY
from tests.train.run_helpers import REPO, selfsup_process

QUIET = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 2-epoch run (11 steps per epoch); tests work on copies of it."""
    run = tmp_path_factory.mktemp("trained") / "run"
    train(load_config(None, [*TINY, "checkpoint.keep=2"]), run)
    return run


def _copy(run: Path, tmp_path: Path, name: str = "run") -> Path:
    return Path(shutil.copytree(run, tmp_path / name))


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# --- loading never runs code from a file --------------------------------------------------


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the file appearing means code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _write_payload(path: Path, marker: Path, how: str) -> None:
    state = {"state_dict": {}, "selfsup_config": {}, "global_step": 1, "x": Payload(marker)}
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "zip":
        torch.save(state, path)
    elif how == "legacy":
        torch.save(state, path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(state, protocol=2))


@pytest.mark.parametrize("how", ["zip", "legacy", "pickle"])
@pytest.mark.parametrize("command", ["eval", "analyze", "resume"])
def test_a_malicious_checkpoint_is_refused_and_nothing_runs(tmp_path, capsys, command, how):
    run, marker = tmp_path / "run", tmp_path / "PWNED"
    _write_payload(run / "checkpoints" / "last.ckpt", marker, how)
    # the payload is real: an unrestricted load runs it
    file = run / "checkpoints" / "last.ckpt"
    pickle.loads(file.read_bytes()) if how == "pickle" else torch.load(file, weights_only=False)
    assert marker.exists()
    marker.unlink()
    argv = {
        "eval": ["eval", str(run)],
        "analyze": ["analyze", str(run), "--dataset", "digits"],
        "resume": ["train", "--run-dir", str(run), "--resume", *TINY],
    }[command]
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert "refused to load" in line and "which could run code" in line
    assert "it asks for io.open" in line
    assert not marker.exists()


@pytest.mark.parametrize("command", ["eval", "analyze"])
def test_a_malicious_file_is_refused_wherever_it_lies(trained, tmp_path, capsys, command):
    # named directly (loose, or inside a run), or an epoch file that the newest-state lookup
    # of an otherwise intact run directory reads
    run, marker = _copy(trained, tmp_path), tmp_path / "PWNED"
    loose, inside = tmp_path / "shared.ckpt", run / "checkpoints" / "epoch=009.ckpt"
    _write_payload(loose, marker, "zip")
    _write_payload(inside, marker, "legacy")
    for target in (loose, inside, run):
        argv = [command, str(target)] + (["--dataset", "digits"] if command == "analyze" else [])
        assert main(argv) == 2, target
        line = _one_error_line(capsys)
        assert f"refused to load {target if target != run else inside}: it asks for io.open" in line
        assert not marker.exists()


USER_ENCODER = """
from selfsup.train import load_method

def from_checkpoint():
    return load_method({path!r})[0].backbone
"""


def test_a_user_encoder_loading_a_checkpoint_gets_the_safe_loader(tmp_path, capsys, monkeypatch):
    # analyze --encoder module:callable runs the user's code by design (README, trust model);
    # a callable that loads a shared checkpoint through selfsup still runs nothing from it
    marker = tmp_path / "PWNED"
    _write_payload(tmp_path / "shared.ckpt", marker, "zip")
    code = USER_ENCODER.format(path=str(tmp_path / "shared.ckpt"))
    (tmp_path / "encoder_from_ckpt.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["analyze", "--encoder", "encoder_from_ckpt:from_checkpoint", "--dataset", "digits"]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    assert "refused to load" in _one_error_line(capsys)
    assert not marker.exists()


def test_analyze_of_a_checkpoint_file_writes_nothing_into_checkpoints(trained, tmp_path):
    run = _copy(trained, tmp_path)
    small = ["--n-samples", "64", "--n-gaussianity", "2", "--n-views", "20"]
    assert main(["analyze", str(run / "checkpoints" / "epoch=000.ckpt"), *small]) == 0
    assert (run / "analysis" / "report.md").exists()
    assert all(p.suffix == ".ckpt" for p in (run / "checkpoints").iterdir())
    loose = Path(shutil.copy(run / "checkpoints" / "last.ckpt", tmp_path / "model.ckpt"))
    assert main(["analyze", str(loose), *small]) == 0
    assert (tmp_path / "model-analysis" / "report.md").exists()


def test_lightnings_resume_loads_through_the_safe_loader(tmp_path):
    # Trainer.fit(ckpt_path=...) loads with strategy.checkpoint_io, whatever weights_only it asks
    marker = tmp_path / "PWNED"
    _write_payload(tmp_path / "evil.ckpt", marker, "zip")
    with pytest.raises(SelfsupError, match="refused to load"):
        RunCheckpointIO().load_checkpoint(tmp_path / "evil.ckpt", weights_only=False)
    assert not marker.exists()


def test_unreadable_files_get_one_line_each(tmp_path, capsys, trained):
    good = (trained / "checkpoints" / "last.ckpt").read_bytes()
    cases = {
        "text.ckpt": (b"hello: world\n", "is not a PyTorch checkpoint"),
        "empty.ckpt": (b"", "is not a PyTorch checkpoint (it is empty)"),
        "truncated.ckpt": (good[: len(good) // 2], "is truncated or corrupted"),
    }
    for name, (data, _) in cases.items():
        (tmp_path / name).write_bytes(data)
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "foreign.ckpt")
    cases["foreign.ckpt"] = (None, "was not written by selfsup")
    torch.save([torch.zeros(2)], tmp_path / "list.ckpt")
    cases["list.ckpt"] = (None, "not a checkpoint dict")
    np.savez(tmp_path / "arrays.npz", w=np.zeros(2))  # a zip, but not torch.save's layout
    cases["arrays.npz"] = (None, "is a zip archive but not a PyTorch checkpoint (no data.pkl")
    with zipfile.ZipFile(tmp_path / "flat.ckpt", "w") as flat:  # data.pkl, but not in a folder
        flat.writestr("data.pkl", b"\x80\x02}q\x00.")
    cases["flat.ckpt"] = (None, "is a zip archive but not a PyTorch checkpoint")
    for name, (_, expected) in cases.items():
        assert main(["eval", str(tmp_path / name)]) == 2, name
        assert expected in _one_error_line(capsys), name


class CustomState:
    """A callback state that is not a tensor or a plain value."""


def test_a_checkpoint_that_would_not_load_safely_is_never_written(tmp_path):
    io = RunCheckpointIO()
    with pytest.raises(SelfsupError, match="would hold .*test_run_safety.CustomState"):
        io.save_checkpoint({"state_dict": {}, "x": CustomState()}, tmp_path / "a.ckpt")
    assert list(tmp_path.iterdir()) == []


# --- the newest state, wherever the directory was copied ----------------------------------


def test_a_copied_run_resumes_and_evaluates_its_newest_state(trained, tmp_path, capsys):
    # the scenario: cp -r runs/a runs/b; resume b to more epochs; eval b
    a = _copy(trained, tmp_path, "a")
    b = _copy(a, tmp_path, "b")
    assert main(["train", "--run-dir", str(b), "--resume", "trainer.max_epochs=4"]) == 0
    names = sorted(p.name for p in (b / "checkpoints").iterdir())
    assert names == ["epoch=002.ckpt", "epoch=003.ckpt", "last.ckpt"]  # keep=2, no last-v1
    assert checkpoints.checkpoint_step(b / "checkpoints" / "last.ckpt") == 44
    assert sorted(p.name for p in (a / "checkpoints").iterdir()) == sorted(
        p.name for p in (trained / "checkpoints").iterdir()
    )  # the original is untouched
    capsys.readouterr()
    assert main(["eval", str(b)]) == 0
    metrics = json.loads((b / "metrics.json").read_text())
    assert metrics["eval"]["digits"]["global_step"] == 44 and metrics["global_step"] == 44
    assert metrics["eval"]["digits"]["knn_top1"] == pytest.approx(metrics["knn_top1"])
    # a later resume continues from the newest state too
    assert main(["train", "--run-dir", str(b), "--resume", "trainer.max_epochs=5"]) == 0
    assert json.loads((b / "metrics.json").read_text())["global_step"] == 55


def test_the_newest_checkpoint_wins_whatever_its_name(trained, tmp_path):
    run = _copy(trained, tmp_path)
    folder = run / "checkpoints"
    # killed between writing epoch=001 and last.ckpt: last.ckpt still holds epoch 0
    shutil.copy(folder / "epoch=000.ckpt", folder / "last.ckpt")
    assert newest_checkpoint(run) == folder / "epoch=001.ckpt"
    # an older version's last-v1.ckpt beside a stale last.ckpt
    shutil.move(folder / "epoch=001.ckpt", folder / "last-v1.ckpt")
    assert newest_checkpoint(run) == folder / "last-v1.ckpt"
    method, _ = load_method(run)
    state = load_checkpoint(folder / "last-v1.ckpt")
    for name, p in method.state_dict().items():
        assert torch.equal(p, state["state_dict"][name]), name
    # a resume continues from it, and the stale duplicate goes once last.ckpt is newer
    # (keep=2: epoch 0's file and the new epoch 2's)
    train(load_config(run / "config.yaml", ["trainer.max_epochs=3"]), run, resume=True)
    assert sorted(p.name for p in folder.iterdir()) == [
        "epoch=000.ckpt",
        "epoch=002.ckpt",
        "last.ckpt",
    ]
    assert checkpoints.checkpoint_step(folder / "last.ckpt") == 33


@pytest.mark.parametrize("keep, left", [(-1, [0, 1, 2, 3]), (0, []), (1, [3]), (2, [2, 3])])
def test_keep_leaves_the_newest_epoch_files(tmp_path, keep, left):
    for epoch in (3, 0, 2, 1):
        (tmp_path / f"epoch={epoch:03d}.ckpt").write_bytes(b"x")
    (tmp_path / "last.ckpt").write_bytes(b"x")
    prune_epoch_checkpoints(tmp_path, keep)
    assert sorted(p.name for p in tmp_path.glob("epoch=*")) == [f"epoch={e:03d}.ckpt" for e in left]
    assert (tmp_path / "last.ckpt").exists()


# --- one process per directory ------------------------------------------------------------


def test_a_second_training_is_refused_and_the_first_finishes(tmp_path, capsys):
    run = tmp_path / "run"
    first = selfsup_process(["train", "--run-dir", str(run), *TINY, "trainer.max_epochs=3"])
    try:
        deadline = time.time() + 240
        while not (run / "metrics.json").exists():  # written once the first is training
            assert first.poll() is None and time.time() < deadline, first.stderr.read()
            time.sleep(0.2)
        config = (run / "config.yaml").read_bytes()
        for argv in (
            ["train", "--run-dir", str(run), *TINY],
            ["train", "--run-dir", str(run), "--resume", *TINY, "trainer.max_epochs=9"],
            ["eval", str(run)],
        ):
            assert main(argv) == 2
            line = _one_error_line(capsys)
            assert f"{run} is in use by pid {first.pid}" in line, line
            assert "train: " in line and "--run-dir" in line  # the holder's command
        assert (run / "config.yaml").read_bytes() == config
        _, err = first.communicate(timeout=240)
        assert first.returncode == 0, err[-2000:]
    finally:
        first.kill()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["status"] == "finished" and metrics["global_step"] == 33
    assert "max_epochs: 3" in (run / "config.yaml").read_text()


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    code = (
        "import sys, time; from selfsup.train.run_lock import RunLock; "
        "RunLock(sys.argv[1], 'train').acquire(); print('locked', flush=True); time.sleep(600)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(SelfsupError, match=f"in use by pid {holder.pid} on "):
            RunLock(tmp_path, "eval").acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        with RunLock(tmp_path, "eval") as lock:
            assert lock.held
            assert json.loads((tmp_path / ".selfsup.lock").read_text())["pid"] == os.getpid()
    finally:
        holder.kill()


# --- integrity: refused resumes change nothing, metrics are merged ------------------------


@pytest.mark.parametrize(
    "override, expected",
    [
        ("backbone.params.hidden=[16,8]", "cannot change backbone.params.hidden ([64, 32] -> ["),
        ("optim.name=sgd", "cannot change optim.name ('adamw' -> 'sgd')"),
        ("method.name=simclr", "cannot change method.name ('vicreg' -> 'simclr')"),
        ("data.batch_size=64", "cannot change data.batch_size (128 -> 64)"),
        ("data.colour=1", "unknown config key 'data.colour'"),
        (None, "does not fit this config (Error(s) in loading state_dict"),
    ],
)
def test_a_refused_resume_changes_no_file(trained, tmp_path, capsys, override, expected):
    run = _copy(trained, tmp_path)
    if override is None:  # weights that do not fit the config stored beside them
        last = run / "checkpoints" / "last.ckpt"
        state = load_checkpoint(last)
        state["selfsup_config"]["backbone"]["params"]["hidden"] = [16, 8]
        torch.save(state, last)
        config = (run / "config.yaml").read_text().replace("- 64\n    - 32", "- 16\n    - 8")
        (run / "config.yaml").write_text(config)
        assert "- 16" in config
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    argv = ["train", "--run-dir", str(run), "--resume", "trainer.max_epochs=3"]
    assert main(argv + ([override] if override else [])) == 2
    assert expected in _one_error_line(capsys)
    after = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    assert after.keys() == before.keys()
    for path, data in before.items():
        if path.name != ".selfsup.lock":  # emptied on release
            assert after[path] == data, path


def test_eval_keeps_the_training_metrics(trained, tmp_path, capsys):
    run = _copy(trained, tmp_path)
    training = json.loads((run / "metrics.json").read_text())
    assert {"epochs", "global_step", "method", "online_probe_top1", "train_seconds"} <= set(
        training
    )
    assert main(["eval", str(run)]) == 0
    assert main(["eval", str(run / "checkpoints" / "epoch=000.ckpt")]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert {k: v for k, v in metrics.items() if k != "eval"} == training
    assert metrics["eval"]["digits"]["global_step"] == 22
    assert metrics["eval"]["digits@epoch=000"]["global_step"] == 11
    assert metrics["eval"]["digits"]["knn_top1"] == pytest.approx(training["knn_top1"])
    assert all(p.suffix == ".ckpt" for p in (run / "checkpoints").iterdir())
    # a checkpoint outside any run directory: its results beside it
    loose = Path(shutil.copy(run / "checkpoints" / "last.ckpt", tmp_path / "model.ckpt"))
    assert main(["eval", str(loose)]) == 0
    assert json.loads((tmp_path / "model.eval.json").read_text())["global_step"] == 22


def test_eval_takes_another_evaluation_and_still_merges(trained, tmp_path):
    from selfsup.train.trained import evaluate_checkpoint

    run = _copy(trained, tmp_path)
    seen = []

    def protocol(method, data, config):
        seen.append((type(method).__name__, data.name))
        return {"fewshot_top1": 0.5}

    metrics, written = evaluate_checkpoint(run, "digits", evaluate=protocol)
    assert seen == [("VICReg", "digits")] and written == run / "metrics.json"
    stored = json.loads(written.read_text())
    assert stored["eval"]["digits"]["fewshot_top1"] == 0.5 and "knn_top1" in stored


class SeeCheckpointIO(L.Callback):
    def on_fit_start(self, trainer, pl_module) -> None:
        self.io = trainer.strategy.checkpoint_io


def test_resuming_a_finished_run_adds_up_the_training_time(trained, tmp_path):
    run = _copy(trained, tmp_path)
    before = json.loads((run / "metrics.json").read_text())
    seen = SeeCheckpointIO()
    metrics = train(load_config(run / "config.yaml"), run, resume=True, extra_callbacks=[seen])
    assert metrics["global_step"] == before["global_step"] and metrics["status"] == "finished"
    assert metrics["train_seconds"] >= before["train_seconds"] > 0  # the earlier time kept
    assert isinstance(seen.io, RunCheckpointIO)  # what Lightning loaded the checkpoint with


# --- atomic writes and a full disk --------------------------------------------------------


def test_an_atomic_write_that_fails_leaves_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    atomic_write_text(target, "old")

    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), atomic_file(target, "w") as f:
        f.write("new, half")
        raise BoomError
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == [target.name]


def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    run = tmp_path / "run"
    real_save, calls = torch.save, []

    def save_until_the_disk_is_full(obj, f, *args, **kwargs):
        calls.append(getattr(f, "name", f))
        if len(calls) < 3:  # epoch=000 and last.ckpt of the first epoch go through
            return real_save(obj, f, *args, **kwargs)
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save_until_the_disk_is_full)  # checkpoint_io saves
    with pytest.raises(SelfsupError, match="could not write .*No space left on device"):
        train(load_config(None, [*TINY, "checkpoint.keep=1"]), run)
    monkeypatch.undo()
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["epoch=000.ckpt", "last.ckpt"]  # no partial file, no temporary file
    method, _ = load_method(run)
    assert checkpoints.checkpoint_step(run / "checkpoints" / "last.ckpt") == 11
    assert all(torch.isfinite(p).all() for p in method.parameters())
    assert json.loads((run / "metrics.json").read_text())["status"] == "failed"


@pytest.fixture
def small_tmpfs(tmp_path):
    """An 8 MiB tmpfs (needs root and a kernel that allows it; skipped otherwise)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_a_disk_too_small_is_refused_before_training(small_tmpfs, capsys):
    # vicreg_digits' checkpoints need ~45 MiB; the disk has 8 MiB
    argv = ["train", "--config", "vicreg_digits", "--run-dir", str(small_tmpfs / "run")]
    assert main([*argv, *QUIET]) == 2
    line = _one_error_line(capsys)
    assert "MiB free on the disk of" in line and "checkpoints need about" in line
    assert not (small_tmpfs / "run" / "checkpoints" / "last.ckpt").exists()


class FillTheDisk(L.Callback):
    """Fills the disk of ``path`` when epoch ``epoch`` starts."""

    def __init__(self, path: Path, epoch: int) -> None:
        self.path, self.epoch = path, epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            free = shutil.disk_usage(self.path.parent).free
            self.path.write_bytes(b"\0" * (free - 8192))


def test_a_real_full_disk_keeps_the_previous_checkpoint(small_tmpfs):
    run = small_tmpfs / "run"
    config = load_config(None, [*TINY, "backbone.params.hidden=[16]", "method.projector=[16]"])
    with pytest.raises(SelfsupError, match="could not write .*No space left on device"):
        train(config, run, extra_callbacks=[FillTheDisk(small_tmpfs / "filler", epoch=1)])
    assert checkpoints.checkpoint_step(run / "checkpoints" / "last.ckpt") == 11
    load_method(run)
    assert not list((run / "checkpoints").glob(".*")) and not list(run.glob(".*.tmp"))


def test_an_unwritable_run_directory_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert main(["train", "--run-dir", str(tmp_path / "file" / "run"), *TINY]) == 2
    assert "cannot use " in _one_error_line(capsys)


def test_a_read_only_disk_is_refused_before_training(small_tmpfs, capsys):
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    assert main(["train", "--run-dir", str(small_tmpfs / "run"), *TINY]) == 2
    line = _one_error_line(capsys)
    assert f"cannot use {small_tmpfs / 'run'} as a run directory (Read-only file system)" in line


def test_rows_of_earlier_attempts_are_merged_once(tmp_path):
    from selfsup.train.csv_log import EARLIER_LOG, RunCSVLogger, earlier_rows, write_rows

    # an older version's stash beside the log of an attempt that died after it
    write_rows(tmp_path / EARLIER_LOG, [{"epoch": 0, "step": 9, "a": 1}, {"epoch": 1, "step": 19}])
    write_rows(
        tmp_path / "metrics.csv", [{"epoch": 1, "step": 19, "a": 2}, {"epoch": 2, "step": 29}]
    )
    rows = earlier_rows(tmp_path)
    assert [(r["step"], r.get("a")) for r in rows] == [("9", "1"), ("19", "2"), ("29", "")]
    logger = RunCSVLogger(tmp_path, rows)
    logger.log_metrics({"b": 5.0}, step=29)  # the resumed attempt logs step 29 again
    logger.finalize("success")
    with open(tmp_path / "metrics.csv", newline="") as f:
        written = list(csv.DictReader(f))
    assert [(r["step"], r["a"], r["b"]) for r in written] == [
        ("9", "1", ""),
        ("19", "2", ""),
        ("29", "", "5.0"),
    ]
    assert list(written[0])[:2] == ["epoch", "step"] and not (tmp_path / EARLIER_LOG).exists()


def test_each_flush_of_the_log_holds_every_row_so_far(tmp_path):
    from selfsup.train.csv_log import RunCSVLogger, read_rows

    earlier = [{"epoch": "0", "step": str(s), "loss": str(s / 10)} for s in (4, 9, 14, 19)]
    logger = RunCSVLogger(tmp_path, earlier)
    logged = []
    batches = [
        [({"loss": 1.5}, 14), ({"loss": 1.25}, 19)],  # steps 14 and 19 logged again: theirs win
        [({"loss": 1.0}, 24)],
        [({"loss": 0.5, "acc": 0.75}, 29)],  # a new column: the whole file gets it
        [({"acc": 0.875}, 34)],
    ]
    for batch in batches:
        for values, step in batch:
            logger.log_metrics(values, step=step)
            logged.append({"step": step, **values})
        logger.flush()
        columns = {k for r in earlier + logged for k in r}
        expected = [r for r in earlier if float(r["step"]) < 14] + logged
        expected = [{k: str(r.get(k, "")) for k in columns} for r in expected]
        assert read_rows(tmp_path / "metrics.csv") == expected
