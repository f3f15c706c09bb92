"""The GPU scripts' code paths on the CPU: a chunked run that restores, resumes, stops on
SIGTERM and comes back twice; chunk summaries; vs_lightly's device check."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPTS = REPO / "benchmarks" / "gpu"
TINY_CHUNK = (
    "backbone.params.hidden=[64,32] method.projector=[64,64] data.batch_size=128 "
    "trainer.max_epochs=10000 trainer.log_every_n_steps=1 trainer.enable_model_summary=false "
    "eval.mlp_probe=false"
)


def _env(out: Path, run_dir: Path, **more: str) -> dict[str, str]:
    return {
        **os.environ,
        "OUT": str(out),
        "RUN_DIR": str(run_dir),
        "CONFIG": "vicreg_digits",
        "PYTHON": sys.executable,
        "SELFSUP_GPU_SCRIPT_ACCELERATOR": "cpu",
        "SELFSUP_GPU_NEEDS_MNIST": "0",
        "SELFSUP_GPU_OVERRIDES": TINY_CHUNK,
        **more,
    }


def _descendants(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = [int(c) for c in children.read_text().split()] if children.exists() else []
    return found + [d for c in found for d in _descendants(c)]


def _chunk(out: Path, run_dir: Path, **more: str) -> str:
    """Run one chunk; once it has saved an epoch checkpoint (those never travel in the packed
    run, so one in ``run_dir`` is this chunk's), send SIGTERM to its ``timeout``, as the time
    limit would (a wall-clock limit would make the test depend on the machine's load)."""
    proc = subprocess.Popen(
        ["bash", str(SCRIPTS / "simvae_chunk.sh")],
        env=_env(out, run_dir, LIMIT="600", **more),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not list((run_dir / "checkpoints").glob("epoch=*.ckpt")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)
    stoppers = [p for p in _descendants(proc.pid) if _comm(p) == "timeout"]
    assert len(stoppers) == 1
    os.kill(stoppers[0], signal.SIGTERM)
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output[-3000:]
    return output


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _last_line(text: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in text.strip().splitlines()[-1].split())


def test_chunks_resume_across_fresh_machines(tmp_path):
    """Chunk 1 on one 'machine', its pieces carried to a fresh one, chunk 2 continues there."""
    first = _chunk(tmp_path / "out1", tmp_path / "machine1" / "run")
    assert "stopped by SIGTERM (time limit or a scheduler)" in first
    assert "SIGTERM: newest state in" in first
    one = _last_line(first)
    assert int(one["steps"]) > 0 and one["nonfinite"] == "0"
    pieces = sorted((tmp_path / "out1").glob("simvae_run.tar.gz.part-*"))
    assert pieces, first
    carried = tmp_path / "carried"
    carried.mkdir()
    for piece in pieces:
        shutil.copy(piece, carried / piece.name)
    rows_1 = (tmp_path / "out1" / "simvae_metrics.csv").read_text().splitlines()[1:]

    restore = str(carried / "simvae_run.tar.gz")
    second = _chunk(tmp_path / "out2", tmp_path / "machine2" / "run", RESTORE=restore)
    assert "restored" in second and "--resume" in second
    two = _last_line(second)
    assert int(two["steps"]) > int(one["steps"]) and two["nonfinite"] == "0"
    rows_2 = (tmp_path / "out2" / "simvae_metrics.csv").read_text().splitlines()[1:]
    # the first chunk's rows are kept, in order, ahead of the second's
    assert rows_2[: len(rows_1)] == rows_1 and len(rows_2) > len(rows_1)
    steps = [int(r.split(",")[1]) for r in rows_2]
    assert steps == sorted(steps)


def test_chunk_refuses_a_restore_without_a_checkpoint(tmp_path):
    env = _env(tmp_path / "out", tmp_path / "run", RESTORE=str(tmp_path / "nothing"))
    done = subprocess.run(
        ["bash", str(SCRIPTS / "simvae_chunk.sh")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: RESTORE={tmp_path / 'nothing'} is neither a run dir, a .tar.gz nor the prefix "
        "of .part-* files"
    ]


def test_chunk_summary_flags_non_finite_values_and_reads_the_curves():
    sys.path.insert(0, str(SCRIPTS))
    try:
        from chunk_summary import summarise
    finally:
        sys.path.remove(str(SCRIPTS))
    rows = [
        {"epoch": "0", "step": "9", "train/loss_step": "3.0", "val/online_probe_top1": ""},
        {"epoch": "0", "step": "9", "train/loss_epoch": "2.5", "val/online_probe_top1": "0.5"},
        {"epoch": "1", "step": "19", "train/loss_step": "nan", "val/online_probe_top1": ""},
        {"epoch": "1", "step": "19", "train/loss_epoch": "inf", "val/online_probe_top1": "0.6"},
    ]
    s = summarise(rows)
    assert s["steps"] == 20 and s["epochs"] == 2
    assert s["nonfinite"] == [("19", "train/loss_step"), ("19", "train/loss_epoch")]
    assert s["probe"] == [(0, 0.5), (1, 0.6)]
    assert s["loss"][0] == (0, 2.5)


def test_vs_lightly_on_cuda_without_cuda_is_one_line():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "vs_lightly.py"), "--recipe", "cifar"]
        + ["--device", "cuda"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --device cuda, but torch sees no CUDA device (torch.cuda.is_available() is "
        "False); run on the GPU box or use --device cpu"
    ]


def _benchmarks_module(name: str):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_gpu_sampler_reads_nvidia_smi(tmp_path, monkeypatch):
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho '57, 1234'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    sampler = _benchmarks_module("gpu_util").GpuSampler()
    with sampler:
        time.sleep(1.3)
    assert len(sampler.util) >= 1 and set(sampler.util) == {57.0}
    assert set(sampler.memory) == {1234.0}
    assert sampler.mean_util() == 57.0


def test_fp16_stepper_scales_the_loss_and_takes_the_plain_step():
    """With a gradient scaler the step equals the unscaled one (the scale is a power of 2)."""
    import torch

    vs = _benchmarks_module("vs_lightly_sides")
    results = []
    for precision in ("32", "16-mixed"):
        w = torch.nn.Parameter(torch.tensor([3.0, -2.0, 1e-3]))
        opt = torch.optim.SGD([w], lr=0.1)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
        step = vs._Stepper(opt, sched, precision, "cpu")
        assert (step.scaler is not None) == (precision == "16-mixed")
        step((w**2).sum())
        results.append(w.detach().clone())
    expected = torch.tensor([3.0, -2.0, 1e-3], dtype=torch.float64) * (1 - 2 * 0.1)
    for got in results:
        torch.testing.assert_close(got.double(), expected, rtol=1e-6, atol=0)
