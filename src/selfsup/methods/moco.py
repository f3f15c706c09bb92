"""MoCo v2 (Chen, Fan, Girshick & He, 2020): queries of the online encoder against the momentum
encoder's key of the other view and a queue of earlier keys (InfoNCE, temperature 0.2).

Under DDP every process enqueues the keys of the *global* batch, gathered in rank order, so the
queue is the same on every process and equals a single process's queue with the whole batch.
With ``shuffle_bn`` the key encoder sees a seeded permutation of the global batch spread over
the processes (MoCo's shuffling BN: BatchNorm statistics of a key then do not come from the
process that holds its query); on one process BatchNorm sees the whole batch and shuffling
changes nothing, so it is skipped.

The queue is sized to the data by default (``queue_size: auto``): the largest power of two not
above the number of training images, at most the paper's 65,536. A queue longer than the
training set holds several stale keys of every image, which then act as negatives against
their own queries; on ImageNet (1.28M images) the rule gives the paper's 65,536, on MNIST or
CIFAR (50,000-60,000) 32,768, on the 1,437 training digits 1,024. ``queue_size: 65536``
restores the paper's value on any data.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.distributed as dist
import torch.nn.functional as F

from selfsup.losses import MoCoLoss, MoCoTerms
from selfsup.losses.distributed import is_distributed
from selfsup.losses.moco import gather_keys
from selfsup.methods.base import (
    encode_views,
    in_loss_precision,
    rename_state_on_load,
    sized_to_data,
)
from selfsup.methods.momentum import MomentumMethod
from selfsup.registry import register_method

#: MoCo's queue on ImageNet
PAPER_QUEUE = 65536


def auto_queue_size(train_size: int | None) -> int:
    """The largest power of two <= ``train_size``, capped at 65,536 (``None``: 65,536)."""
    if train_size is None:
        return PAPER_QUEUE
    return min(PAPER_QUEUE, 1 << (max(1, train_size).bit_length() - 1))


@register_method("moco")
class MoCo(MomentumMethod):
    """MoCo v2; ``symmetric`` adds the loss with the views swapped (and enqueues both keys).

    Args:
        temperature: InfoNCE temperature (0.2).
        queue_size: number of negatives K; ``"auto"`` (default): sized to the training set as
            the module says (65,536 on ImageNet-sized data, the paper's value).
        base_momentum: EMA rate of the key encoder at the first step (MoCo's constant 0.999).
        final_momentum: EMA rate at the last step; 1.0 gives the cosine schedule, equal to
            ``base_momentum`` a constant rate.
        symmetric: the symmetrised loss most reimplementations use; the paper's is one-sided.
        shuffle_bn: shuffle the key encoder's batch across processes (DDP only).
    """

    def __init__(
        self,
        *,
        temperature: float = 0.2,
        queue_size: int | Literal["auto"] = "auto",
        base_momentum: float = 0.999,
        final_momentum: float = 0.999,
        symmetric: bool = False,
        shuffle_bn: bool = True,
        **common,
    ) -> None:
        super().__init__(base_momentum=base_momentum, final_momentum=final_momentum, **common)
        queue_size = sized_to_data(
            "queue_size", queue_size, lambda: auto_queue_size(self.train_size)
        )
        self.symmetric, self.shuffle_bn = symmetric, shuffle_bn
        self.make_teacher("backbone", "projector")
        dim = self.projector[-1].out_features
        # the queue and its bookkeeping (a buffer, so checkpoints resume it exactly)
        self.criterion = MoCoLoss(dim, queue_size, temperature, self.gather_distributed)
        # checkpoints written before the queue moved into the loss module
        rename_state_on_load(
            self, {"queue": "criterion.queue", "queue_pointer": "criterion.queue_pointer"}
        )

    @torch.no_grad()
    def keys(self, views: list[torch.Tensor]) -> torch.Tensor:
        """Normalised momentum-encoder embeddings of the views, ``(len(views) * B, dim)``."""
        images = torch.cat(views)
        shuffle = self.shuffle_bn and self.gather_distributed and is_distributed()
        if shuffle:
            everyone = gather_keys(images)
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.global_step)
            order = torch.randperm(everyone.shape[0], generator=g).to(images.device)
            images = everyone[order].chunk(dist.get_world_size())[dist.get_rank()]
        k = self.teacher["projector"](
            encode_views(self.teacher["backbone"], [images], self.channels_last)
        )
        if shuffle:
            shuffled = gather_keys(k)
            k = torch.empty_like(shuffled)
            k[order] = shuffled
            k = k.chunk(dist.get_world_size())[dist.get_rank()]
        return F.normalize(k, dim=1)

    def compute_loss(self, views):
        x_a, x_b = views[0], views[1]
        features = encode_views(self.backbone, [x_a, x_b], self.channels_last)
        q_a, q_b = self.projector(features).chunk(2)
        k_a, k_b = self.keys([x_a, x_b]).chunk(2)
        terms = in_loss_precision(self.criterion.terms, q_a, k_b)
        new_keys = [k_b]
        if self.symmetric:
            other = in_loss_precision(self.criterion.terms, q_b, k_a)
            terms = MoCoTerms(*((x + y) / 2 for x, y in zip(terms, other, strict=True)))
            new_keys.append(k_a)
        for keys in new_keys:  # each view's keys of every process, as one process would
            self.criterion.enqueue(keys)
        return terms, features[: x_a.shape[0]]
