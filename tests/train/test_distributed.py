"""Two processes on half-batches take the same step as one process on the whole batch."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.methods import build_method
from selfsup.nets import mlp

METHODS = ["vicreg", "simclr", "barlow_twins"]


def _model(method: str) -> torch.nn.Module:
    # SyncBatchNorm needs a GPU, so the equivalence is checked on networks without BatchNorm
    config = load_config(
        "vicreg_digits",
        [
            f"method.name={method}",
            "backbone.params.hidden=[32,16]",
            "backbone.params.batch_norm=false",
            "data.views=none",
        ],
    )
    data = load_dataset("digits")
    torch.manual_seed(0)
    model = build_method(config, data)
    model.projector = mlp([16, 32, 24], batch_norm=False)
    return model


def _batch(data_size: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.rand(data_size, 1, 8, 8, generator=g)


class _Loss(torch.nn.Module):
    """Routes the whole loss through ``forward`` so DDP sees every parameter used."""

    def __init__(self, method: torch.nn.Module) -> None:
        super().__init__()
        self.method = method

    def forward(self, views: list[torch.Tensor]) -> torch.Tensor:
        return self.method.compute_loss(views)[0].loss


def _sgd_step(module: torch.nn.Module, views: list[torch.Tensor]) -> None:
    optimiser = torch.optim.SGD(module.parameters(), lr=0.1)
    module(views).backward()
    optimiser.step()


def _worker(rank: int, world: int, port: int, method: str, out: str) -> None:
    dist.init_process_group(
        "gloo", rank=rank, world_size=world, init_method=f"tcp://127.0.0.1:{port}"
    )
    model = _model(method)
    model.gather_distributed = True
    x = _batch()
    part = x.chunk(world)[rank]
    _sgd_step(DistributedDataParallel(_Loss(model)), [part, part.flip(-1)])
    if rank == 0:
        torch.save(model.state_dict(), out)
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("method", METHODS)
def test_two_process_step_equals_one_process_step(method, tmp_path):
    out = str(tmp_path / "rank0.pt")
    mp.spawn(_worker, args=(2, _free_port(), method, out), nprocs=2, join=True)
    distributed = torch.load(out)
    model = _model(method)
    x = _batch()
    _sgd_step(_Loss(model), [x, x.flip(-1)])
    for name, p in model.state_dict().items():
        assert torch.allclose(p, distributed[name], atol=1e-5, rtol=0), name
    initial = _model(method).state_dict()
    assert any(not torch.equal(initial[n], p) for n, p in model.state_dict().items())


def test_cli_trains_with_two_cpu_processes(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "selfsup.cli",
        "train",
        "--config",
        "vicreg_digits",
        "--run-dir",
        str(tmp_path),
        "trainer.devices=2",
        "trainer.strategy=ddp",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "data.batch_size=64",
        "backbone.params.hidden=[64,32]",
        "method.projector=[64,64]",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    # quiet: neither our gather's deprecation nor Lightning's sync_dist hints (issue #21)
    assert "FutureWarning" not in done.stderr and "sync_dist" not in done.stderr, done.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # 1437 training images, global batch 2 x 64: 11 steps per epoch
    assert metrics["global_step"] == 11 and metrics["knn_top1"] > 0.5
