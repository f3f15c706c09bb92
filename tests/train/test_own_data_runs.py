"""Runs on your own data: unlabelled data trains and skips evaluation with a note; the kNN
monitor; trackers through trainer.logger; the CLI on a striped folder."""

import csv
import importlib.util
import json
import sys

import numpy as np
import pytest

from selfsup.cli import main as cli_main
from selfsup.config import load_config
from selfsup.errors import SelfsupError
from selfsup.train import train
from selfsup.train.report import read_metrics_csv
from tests.conftest import TINY
from tests.data import fakes


def _digits_npz(tmp_path, labelled=True):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images * 16).clip(0, 255).astype(np.uint8)
    if labelled:
        np.savez(tmp_path / "train.npz", x=x[:1200], y=d.target[:1200])
    else:
        np.savez(tmp_path / "train.npz", x=x[:1200])
    np.savez(tmp_path / "test.npz", x=x[1200:], y=d.target[1200:])


def test_unlabelled_folder_trains_and_skips_evaluation_with_a_note(tmp_path, capsys):
    fakes.stripes(tmp_path / "images", {"train": 8})  # no test split
    argv = [
        "train",
        "--run-dir",
        str(tmp_path / "run"),
        *TINY,
        "data.name=folder",
        f"data.path={tmp_path / 'images'}",
        "data.params={image_size: 8}",
        "data.views=cifar",
        "data.batch_size=8",
    ]
    assert cli_main(argv) == 0
    err = capsys.readouterr().err
    notes = [line for line in err.splitlines() if line.startswith("note: evaluation skipped")]
    assert notes == [
        "note: evaluation skipped: 'folder' has no test split; kNN and probes need labelled "
        "train and test splits"
    ]
    assert "Traceback" not in err
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["status"] == "finished" and record["global_step"] == 4
    assert "knn_top1" not in record and "eval_skipped" in record
    # selfsup eval needs labels: one line, exit 2
    assert cli_main(["eval", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.startswith("error: evaluation needs labelled train and test")


def test_knn_monitor_logs_every_n_epochs_and_its_last_value_is_the_final_knn(tmp_path):
    _digits_npz(tmp_path)
    words = [
        *TINY,
        "data.name=tensors",
        f"data.path={tmp_path / 'train.npz'}",
        f"data.test_path={tmp_path / 'test.npz'}",
        "trainer.max_epochs=4",
        "eval.every_n_epochs=2",
        "eval.linear_probe=false",
    ]
    metrics = train(load_config(None, words), tmp_path / "run")
    with open(tmp_path / "run" / "metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val/knn_top1")]
    assert [int(r["epoch"]) for r in rows] == [1, 3]
    # the same encoder, k and temperature: the monitor's last value is the final evaluation
    assert float(rows[-1]["val/knn_top1"]) == pytest.approx(metrics["knn_top1"], abs=1e-6)
    # and the run report's curves plot it
    assert "val/knn_top1" in read_metrics_csv(tmp_path / "run" / "metrics.csv")


def test_knn_monitor_can_be_turned_off(tmp_path):
    _digits_npz(tmp_path)
    words = [
        *TINY,
        "data.name=tensors",
        f"data.path={tmp_path / 'train.npz'}",
        f"data.test_path={tmp_path / 'test.npz'}",
        "trainer.max_epochs=1",
        "eval.knn_monitor=false",
        "eval.linear_probe=false",
    ]
    train(load_config(None, words), tmp_path / "run")
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
    assert "val/knn_top1" not in header and "val/online_probe_top1" in header


def _tags(folder) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for stream in folder.glob("events.out.tfevents.*"):
        events = EventAccumulator(str(stream))
        events.Reload()
        tags |= set(events.Tags()["scalars"])
    return tags


@pytest.mark.skipif(importlib.util.find_spec("tensorboard") is None, reason="no tensorboard")
def test_tensorboard_logger_gets_steps_epochs_probes_and_final_metrics(tmp_path):
    config = load_config(None, [*TINY, "trainer.logger=tensorboard", "trainer.max_epochs=1"])
    train(config, tmp_path)
    tags = _tags(tmp_path / "tensorboard")
    expected = {
        "train/loss_step",  # per step
        "train/invariance_epoch",  # per epoch
        "val/online_probe_top1",
        "val/knn_top1",
        "final/knn_top1",
        "final/linear_top1",
    }
    assert expected <= tags, sorted(tags)


def test_default_logger_is_csv_only(tmp_path):
    train(load_config(None, [*TINY, "trainer.max_epochs=1"]), tmp_path)
    assert (tmp_path / "metrics.csv").exists() and not (tmp_path / "tensorboard").exists()


@pytest.mark.parametrize("name", ["wandb", "mlflow", "tensorboard"])
def test_a_missing_tracker_is_a_one_line_install_hint(tmp_path, monkeypatch, capsys, name):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == name else real(n, *a)
    )
    assert cli_main(["train", "--run-dir", str(tmp_path), f"trainer.logger={name}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"error: trainer.logger={name} needs the '{name}' package: pip install "
        f"'selfsup[{name}]' (or pip install {name}), or choose another logger"
    )


def test_an_unknown_logger_is_refused_with_the_valid_names():
    with pytest.raises(SelfsupError, match="unknown logger 'neptune'; valid: csv, tensorboard"):
        load_config(None, ["trainer.logger=neptune"])
    assert load_config(None, ["trainer.logger=[csv,tensorboard]"]).trainer.logger == [
        "csv",
        "tensorboard",
    ]


@pytest.mark.skipif(importlib.util.find_spec("wandb") is None, reason="wandb not installed")
def test_wandb_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    train(load_config(None, [*TINY, "trainer.logger=wandb", "trainer.max_epochs=1"]), tmp_path)
    assert list((tmp_path / "wandb").glob("offline-run-*"))


@pytest.mark.skipif(importlib.util.find_spec("mlflow") is None, reason="mlflow not installed")
def test_mlflow_to_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    train(load_config(None, [*TINY, "trainer.logger=mlflow", "trainer.max_epochs=1"]), tmp_path)
    assert any(p.name == "knn_top1" for p in (tmp_path / "mlruns").rglob("*"))


def test_striped_folder_with_the_shipped_recipe(tmp_path, capsys):
    """The README's first command, smaller: the vicreg_folder recipe on striped PNGs."""
    fakes.stripes(tmp_path / "stripes", {"train": 16, "test": 8})
    argv = ["train", "--config", "vicreg_folder", "--run-dir", str(tmp_path / "run")]
    argv += [f"data.path={tmp_path / 'stripes'}", "trainer.max_epochs=3"]
    argv += ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
    assert cli_main(argv) == 0, capsys.readouterr().err
    record = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert record["dataset"] == "folder" and 0.0 <= record["knn_top1"] <= 1.0
    assert record["global_step"] == 3  # 32 images, batch 32, 3 epochs
    assert "lightning" in sys.modules  # (the export test checks the opposite for load_encoder)
