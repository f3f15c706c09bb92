"""Gathering a batch across processes, with gradients.

Convention (as in the official VICReg code): every rank gathers the embeddings of all ranks,
computes the loss on the full global batch, and backpropagates through the gather. The gather's
backward sums the incoming gradients over ranks and returns each rank its own slice, so each
rank's parameter gradient is ``world_size`` times its share of the full-batch gradient; DDP's
gradient *averaging* then divides by ``world_size``, and one step on W processes equals one
single-process step on the concatenated batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch.distributed import _functional_collectives as funcol


def is_distributed() -> bool:
    """True when a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def gather_batch(z: torch.Tensor) -> torch.Tensor:
    """Concatenate ``z`` of every rank along dim 0, keeping the autograd graph.

    Args:
        z: ``(batch, ...)`` this rank's part of the batch.

    Returns:
        ``(world_size * batch, ...)``, ranks in order; ``z`` itself when not distributed.
    """
    if not is_distributed():
        return z
    # torch's differentiable gather (torch.distributed.nn.functional.all_gather is deprecated
    # and warned on every step); its backward is the sum-reduce-scatter described above
    gathered = funcol.all_gather_single_autograd(z.contiguous(), 0, dist.group.WORLD)
    return funcol.wait_tensor(gathered)
