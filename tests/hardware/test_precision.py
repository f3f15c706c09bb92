"""bfloat16 autocast on CPU: detection, losses kept in float32, a training run that works."""

import pytest
import torch

from selfsup import hardware
from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.losses import vicreg_loss
from selfsup.methods import build_method
from tests.conftest import TINY
from tests.losses.textbook import textbook_vicreg


def test_native_bf16_detection_reads_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "fma"})
    assert not hardware.cpu_native_bf16()
    monkeypatch.setattr(hardware, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert hardware.cpu_native_bf16()
    assert "native bfloat16: True" in hardware.describe_cpu()


def test_cpu_flags_on_this_machine_are_consistent_with_torch():
    flags = hardware.cpu_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo")
    assert ("avx2" in flags) == torch.cpu._is_avx2_supported()


def test_loss_stays_float32_under_bf16_autocast():
    """Under autocast the method's loss must be the float32 loss of its (bf16) embeddings:
    computed in bfloat16, VICReg's covariance term has ~3 significant digits."""
    config = load_config("vicreg_digits", ["method.projector=[64,64]"])
    torch.manual_seed(0)
    method = build_method(config, load_dataset("digits"))
    # a hard input: one dominant direction and a large offset
    views = [torch.rand(64, 1, 8, 8) * 3 + 100 for _ in range(2)]
    captured = {}
    original = method.objective

    def spy(z_a, z_b):
        captured["dtype"] = (z_a.dtype, z_b.dtype, torch.is_autocast_enabled("cpu"))
        captured["z"] = (z_a.detach(), z_b.detach())
        return original(z_a, z_b)

    method.objective = spy
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms, _ = method.compute_loss(views)
    assert captured["dtype"] == (torch.float32, torch.float32, False)
    assert terms.loss.dtype == torch.float32
    z_a, z_b = captured["z"]
    reference = textbook_vicreg(z_a.double(), z_b.double()).item()  # the paper's formula
    assert abs(terms.loss.item() - reference) <= 1e-5 * abs(reference)
    # what the guard prevents: the plain formula left to bfloat16 is off by far more (our
    # vicreg_loss itself computes half / bfloat16 input in float32 since issue 19, so it stays
    # close; the other objectives rely on the guard)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        unguarded = textbook_vicreg(z_a.bfloat16(), z_b.bfloat16()).item()
        ours_in_bf16 = vicreg_loss(z_a.bfloat16(), z_b.bfloat16()).item()
    assert abs(unguarded - reference) > 1e-4 * abs(reference)
    assert abs(ours_in_bf16 - reference) <= 1e-4 * abs(reference)


def test_bf16_mixed_training_runs_on_cpu(tmp_path):
    from selfsup.train import train

    config = load_config(
        None,
        [
            *TINY,
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=3",
            "trainer.precision=bf16-mixed",
            "eval.linear_probe=false",
        ],
    )
    metrics = train(config, tmp_path / "run")
    assert metrics is not None and 0.0 <= metrics["knn_top1"] <= 1.0
