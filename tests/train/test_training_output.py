"""What a training run tells its user: one flushed line per epoch when the output is a file,
epochs counted from 1 everywhere, where a resume continues, the curves after a Ctrl-C, and the
setting to change when the loss diverges."""

import csv
import re
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import torch

from selfsup.cli import main
from selfsup.data import make_views
from tests.conftest import TINY
from tests.train.run_helpers import REPO, run_selfsup

#: TINY with the progress display left on (as a user runs it)
SHOWN = [w for w in TINY if not w.startswith("trainer.enable_progress_bar")]
LINE = re.compile(
    r"^epoch (\d+)/(\d+)  loss (\d+\.\d{4})(?:  kNN (\d\.\d{4}))?  "
    r"elapsed (\d+:\d\d:\d\d)  ETA (\d+:\d\d:\d\d)$"
)
EPOCH_STEPS = 11  # 1437 digits, batch 128


def test_output_to_a_file_gets_one_flushed_line_per_epoch(tmp_path):
    run, log = tmp_path / "run", tmp_path / "train.log"
    argv = ["train", "--run-dir", str(run), *SHOWN, "trainer.max_epochs=3"]
    argv += ["eval.every_n_epochs=2"]  # the kNN monitor on epoch 2
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    with open(log, "w") as out:  # what nohup / SLURM do with stdout
        proc = subprocess.Popen(
            [sys.executable, "-m", "selfsup.cli", *argv],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 300
        # the first epoch's line is in the file while the run still works on the others
        while "epoch 1/3" not in log.read_text():
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            assert time.time() < deadline
            time.sleep(0.05)
        still_running = proc.poll() is None
        _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert still_running, "the epoch line came only when the run ended (not flushed)"
    lines = log.read_text().splitlines()
    epochs = [LINE.match(line) for line in lines[:3]]
    assert all(epochs), lines
    assert [int(m[1]) for m in epochs] == [1, 2, 3] and {m[2] for m in epochs} == {"3"}
    assert [m[4] is not None for m in epochs] == [False, True, False]
    assert epochs[-1][6] == "0:00:00"  # nothing left after the last epoch
    assert "\x1b" not in log.read_text() and "━" not in log.read_text()  # no bar, no colour
    assert lines[3].startswith("knn_top1=")  # then the final metrics, as before
    # the numbers are the run's own (metrics.csv)
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    loss = {int(r["epoch"]): float(r["train/loss_epoch"]) for r in rows if r["train/loss_epoch"]}
    knn = {int(r["epoch"]): float(r["val/knn_top1"]) for r in rows if r["val/knn_top1"]}
    for m in epochs:
        epoch = int(m[1]) - 1
        assert abs(float(m[3]) - loss[epoch]) < 1e-4
        if m[4] is not None:
            assert abs(float(m[4]) - knn[epoch]) < 1e-4


def test_no_line_when_progress_is_turned_off(tmp_path, capsys):
    assert main(["train", "--run-dir", str(tmp_path), *TINY, "trainer.max_epochs=1"]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"^epoch ", out, re.M), out


def test_the_bar_counts_epochs_from_one():
    from selfsup.train.progress import EpochBar

    bar = EpochBar()
    bar._trainer = SimpleNamespace(max_epochs=30)
    assert bar._get_train_description(0).strip() == "Epoch 1/30"
    assert bar._get_train_description(29).strip() == "Epoch 30/30"


def test_ctrl_c_writes_the_curves_and_the_resume_says_where_it_continues(tmp_path):
    run = tmp_path / "run"
    argv = ["train", "--run-dir", str(run), *TINY, "trainer.max_epochs=2"]
    once = (15, signal.SIGINT, tmp_path / "signalled")  # the marker: not again on the resume
    code, err = run_selfsup(argv, signal_at=once)
    assert code == 130, err[-2000:]
    assert (run / "training_curves.png").stat().st_size > 0
    code, err = run_selfsup([*argv, "--resume"], signal_at=once)
    assert code == 0, err[-2000:]
    note = re.search(
        r"resuming from \S+last\.ckpt: 1 epoch\(s\) done \(step (\d+)\); continuing with "
        r"epoch 2/2 at batch (\d+)",
        err,
    )
    assert note, err[-2000:]
    step, batch = int(note[1]), int(note[2])
    assert batch == step - EPOCH_STEPS + 1  # the next batch of epoch 2, counted from 1


def test_resuming_a_finished_epoch_names_the_next_epoch(tmp_path, capsys):
    argv = ["train", "--run-dir", str(tmp_path), *TINY, "trainer.max_epochs=1"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv[:-1], "trainer.max_epochs=2", "--resume"]) == 0
    err = capsys.readouterr().err
    assert f"1 epoch(s) done (step {EPOCH_STEPS}); continuing with epoch 2/2\n" in err


def test_a_diverging_run_names_the_learning_rate(tmp_path, capsys):
    assert main(["train", "--run-dir", str(tmp_path), *TINY, "optim.lr=1e6"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: loss became ")
    assert "try a smaller optim.lr (now 1e+06)" in err[0]


def test_views_accept_uint8_images():
    views = make_views("digits", 8)
    pixels = torch.randint(0, 256, (16, 1, 8, 8), dtype=torch.uint8)
    torch.manual_seed(0)
    from_uint8 = views(pixels)
    torch.manual_seed(0)
    from_floats = views(pixels / 255.0)
    assert all(torch.equal(a, b) for a, b in zip(from_uint8, from_floats, strict=True))
    view = views.views[0]
    torch.manual_seed(1)
    single = view(pixels)
    torch.manual_seed(1)
    assert torch.equal(single, view(pixels / 255.0))
