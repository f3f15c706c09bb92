"""End-to-end runs on digits with tiny networks: artefacts, resume, the finite-loss guard."""

import json
import math

import lightning as L
import pytest
import torch

from selfsup.cli import main
from selfsup.config import load_config
from selfsup.methods import NonFiniteLossError
from selfsup.train import load_method, train
from tests.conftest import TINY


class CrashAfterEpoch(L.Callback):
    """Simulates a crash once epoch ``epoch`` is over and checkpointed."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError("simulated crash")


class PoisonAt(L.Callback):
    """Makes a weight NaN just before step ``step``, as a diverging run would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.projector.parameters()).fill_(float("nan"))


def test_run_writes_every_artefact(tmp_path):
    metrics = train(load_config(None, TINY), tmp_path)
    for name in (
        "config.yaml",
        "metrics.csv",
        "metrics.json",
        "training_curves.png",
        "checkpoints/last.ckpt",
        "checkpoints/epoch=000.ckpt",
    ):
        assert (tmp_path / name).exists(), name
    # TensorBoard is opt-in (trainer.logger=tensorboard, tests/train/test_own_data_runs.py)
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["knn_top1"] == pytest.approx(metrics["knn_top1"])
    assert 0.5 < written["knn_top1"] <= 1.0 and 0.5 < written["linear_top1"] <= 1.0
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0]
    assert "train/invariance_epoch" in header and "val/online_probe_top1" in header


def test_interrupted_run_resumes_to_the_same_result(tmp_path):
    config = load_config(None, [*TINY, "trainer.max_epochs=3"])
    straight = train(config, tmp_path / "straight")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(config, tmp_path / "crashed", extra_callbacks=[CrashAfterEpoch(1)])
    assert (tmp_path / "crashed" / "checkpoints" / "last.ckpt").exists()
    resumed = train(config, tmp_path / "crashed", resume=True)
    for key in ("knn_top1", "linear_top1", "global_step"):
        assert resumed[key] == straight[key], key
    a, _ = load_method(tmp_path / "straight")
    b, _ = load_method(tmp_path / "crashed")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    # the log keeps the epochs before the crash
    epochs = {
        line.split(",")[0]
        for line in (tmp_path / "crashed" / "metrics.csv").read_text().splitlines()[1:]
    }
    assert {"0", "1", "2"} <= epochs


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    config = load_config(None, TINY)
    with pytest.raises(NonFiniteLossError, match="loss became nan at step 14"):
        train(config, tmp_path, extra_callbacks=[PoisonAt(14)])  # 11 steps per epoch
    method, _ = load_method(tmp_path)
    assert all(torch.isfinite(p).all() for p in method.parameters())


def test_cli_reports_a_nan_loss_in_one_line(tmp_path, capsys, monkeypatch):
    # embeddings that are NaN from the first step (a diverged network), the loss refuses them
    from selfsup.methods.vicreg import VICReg

    objective = VICReg.objective
    monkeypatch.setattr(VICReg, "objective", lambda self, a, b: objective(self, a * math.nan, b))
    code = main(["train", "--run-dir", str(tmp_path), *TINY])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: loss became nan at step 0") and "no checkpoint yet" in err[0]


def test_cli_refuses_a_bad_loss_parameter_in_one_line(tmp_path, capsys):
    # a negative eps inside VICReg's square root: refused by the loss's validation
    code = main(["train", "--run-dir", str(tmp_path), *TINY, "method.params.eps=-1e6"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("error: vicreg_loss: eps must be a positive finite number"), err


@pytest.mark.parametrize("method", ["simclr", "barlow_twins"])
def test_other_methods_train(tmp_path, method):
    metrics = train(
        load_config(None, [*TINY, f"method.name={method}", "trainer.max_epochs=1"]), tmp_path
    )
    assert metrics["method"] == method and metrics["knn_top1"] > 0.5


def test_eval_command_rebuilds_from_the_checkpoint(tmp_path, capsys):
    train(load_config(None, [*TINY, "trainer.max_epochs=1"]), tmp_path)
    before = json.loads((tmp_path / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "checkpoints" / "last.ckpt")]) == 0
    assert f"knn_top1={before['knn_top1']:.4f}" in capsys.readouterr().out
