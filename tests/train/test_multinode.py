"""trainer.num_nodes through torchrun's rendezvous: 2 nodes x 1 process on localhost.

Two ``torchrun --nnodes=2 --nproc-per-node=1 --rdzv-backend=c10d`` launches, as on two
machines sharing a file system, train one run; it must equal one process with the doubled
batch (what tests/train/test_distributed.py checks for 2 processes on one node). Networks
without BatchNorm and without random views, so the two computations are the same maths.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from selfsup.train.checkpoints import load_selfsup_checkpoint

REPO = Path(__file__).resolve().parents[2]
SAME_MATHS = [
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.enable_model_summary=false",
    "backbone.params.hidden=[32,16]",
    "backbone.params.batch_norm=false",
    "method.projector=[24]",  # one linear layer: no BatchNorm in the projector either
    "data.views=none",
    "eval.online_probe=false",
    "eval.knn_monitor=false",
    "eval.linear_probe=false",
    # SGD, as the 2-process test: Adam divides by sqrt(v), which turns the last-bit differences
    # of a differently ordered sum into visible ones for weights whose gradient is tiny
    "optim.name=sgd",
    "optim.lr=0.05",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO / "src")}
    env["OMP_NUM_THREADS"] = "1"
    return env


def _weights(run_dir: Path) -> dict:
    return load_selfsup_checkpoint(run_dir / "checkpoints" / "last.ckpt")["state_dict"]


def _initial_weights(words: list[str]) -> dict:
    import lightning as L

    from selfsup.config import load_config
    from selfsup.data.from_config import load_data
    from selfsup.methods import build_method

    config = load_config("vicreg_digits", words)
    L.seed_everything(config.seed, workers=True, verbose=False)  # as train() does
    return build_method(config, load_data(config)).state_dict()


@pytest.mark.slow
def test_two_nodes_through_torchrun_equal_one_process_with_the_doubled_batch(tmp_path):
    port = _free_port()
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2"]
    torchrun += ["--nproc-per-node=1", "--rdzv-backend=c10d"]
    torchrun += [f"--rdzv-endpoint=127.0.0.1:{port}", "--rdzv-id=selfsup-test"]
    train = ["-m", "selfsup.cli", "train", "--run-dir", str(tmp_path / "nodes")]
    words = [*SAME_MATHS, "data.batch_size=32", "trainer.num_nodes=2", "trainer.devices=1"]
    words.append("trainer.strategy=ddp")
    nodes = [
        subprocess.Popen(
            [*torchrun, *train, *words],
            env=_env(),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [node.communicate(timeout=600)[0] for node in nodes]
    for node, out in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, out[-3000:]
    single = [sys.executable, "-m", "selfsup.cli", "train", "--run-dir", str(tmp_path / "one")]
    done = subprocess.run(
        [*single, *SAME_MATHS, "data.batch_size=64"],
        env=_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    nodes_w, one_w = _weights(tmp_path / "nodes"), _weights(tmp_path / "one")
    assert nodes_w.keys() == one_w.keys()
    # 1437 digits, global batch 64: 22 AdamW steps in both runs
    for run in ("nodes", "one"):
        ckpt = load_selfsup_checkpoint(tmp_path / run / "checkpoints" / "last.ckpt")
        assert ckpt["global_step"] == 22, run
    gap = max((nodes_w[n] - w).abs().max().item() for n, w in one_w.items())
    print(f"largest weight difference {gap:.2e}")
    assert gap < 1e-5
    # ... and not because nothing moved: the runs start from the same seeded initialisation
    initial = _initial_weights([*SAME_MATHS, "data.batch_size=64"])
    assert max((one_w[n] - w).abs().max().item() for n, w in initial.items()) > 1e-2
