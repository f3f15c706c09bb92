"""MoCo under DDP: the queue after a step on two processes (half-batches, keys gathered, key
encoder's batch shuffled across processes) equals one process's queue after the whole batch."""

import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.methods import build_method
from selfsup.methods.momentum import frozen_copy
from selfsup.nets import mlp

BATCH, QUEUE = 24, 40  # 40 is no multiple of 24: the second write wraps around the ring


def _model(symmetric: bool) -> torch.nn.Module:
    # SyncBatchNorm needs a GPU: BatchNorm-free networks make both runs comparable exactly
    config = load_config(
        "vicreg_digits",
        [
            "method.name=moco",
            f"method.params.queue_size={QUEUE}",
            f"method.params.symmetric={str(symmetric).lower()}",
            "backbone.params.hidden=[32,16]",
            "backbone.params.batch_norm=false",
            "data.views=none",
        ],
    )
    torch.manual_seed(0)
    model = build_method(config, load_dataset("digits"))
    model.projector = mlp([16, 32, 12], batch_norm=False)
    model.criterion.queue = torch.nn.functional.normalize(model.criterion.queue[:, :12], dim=1)
    model.teacher["projector"] = frozen_copy(model.projector)
    return model


def _views(step: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(100 + step)
    x = torch.rand(BATCH, 1, 8, 8, generator=g)
    return [x, x.flip(-1)]


def _run(model, rank: int = 0, world: int = 1) -> list[tuple[torch.Tensor, int]]:
    """Two steps (the second with the teacher moved); the queue and its pointer after each."""
    queues = []
    for step in range(2):
        model.update_teacher(0.5)
        views = [v.chunk(world)[rank] for v in _views(step)]
        model.compute_loss(views)
        queues.append((model.criterion.queue.clone(), int(model.criterion.queue_pointer)))
        with torch.no_grad():  # move the student, as an optimiser step would
            for p in model.parameters():
                if p.requires_grad:
                    p.add_(0.01)
    return queues


def _worker(rank: int, world: int, port: int, symmetric: bool, out: str) -> None:
    dist.init_process_group(
        "gloo", rank=rank, world_size=world, init_method=f"tcp://127.0.0.1:{port}"
    )
    model = _model(symmetric)
    queues = _run(model, rank, world)
    torch.save(queues, f"{out}.{rank}")
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("symmetric", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_two_process_queue_equals_single_process_double_batch(symmetric, tmp_path):
    out = str(tmp_path / "queue")
    mp.spawn(_worker, args=(2, _free_port(), symmetric, out), nprocs=2, join=True)
    single = _run(_model(symmetric))
    ranks = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]
    for step in range(2):
        for rank in range(2):
            queue, pointer = ranks[rank][step]
            assert pointer == single[step][1], (step, rank)
            assert torch.allclose(queue, single[step][0], rtol=0, atol=1e-6), (step, rank)
    # the keys entered: the initial random rows are overwritten, and the pointer moved on
    initial = _model(symmetric).criterion.queue
    written = BATCH * (2 if symmetric else 1)
    assert single[0][1] == written % QUEUE and single[1][1] == 2 * written % QUEUE
    rows = min(written, QUEUE)
    assert not torch.allclose(single[0][0][:rows], initial[:rows])
