"""MoCo's InfoNCE against a queue of negatives (He et al., CVPR 2020; MoCo v2, Chen et al. 2020).

The pure pieces are the loss of a batch of queries against its positive keys and a queue
(``moco_terms``) and the ring-buffer write that returns the next queue (``enqueue``);
``MoCoLoss`` holds the queue (a FIFO of past keys) as a buffer and does the bookkeeping.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from selfsup.losses._wrappers import scalar_loss, setting_default
from selfsup.losses.distributed import is_distributed
from selfsup.validation import (
    InputError,
    check_finite,
    check_positive,
    check_same_shape,
    check_samples,
)


class MoCoTerms(NamedTuple):
    """``loss = alignment + uniformity`` as for InfoNCE.

    ``alignment`` is the mean of ``-q.k+ / temperature``; ``uniformity`` the mean log-sum-exp
    over the positive and the ``K`` queued negatives.
    """

    loss: torch.Tensor
    alignment: torch.Tensor
    uniformity: torch.Tensor


def _check_moco(query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, t: float) -> None:
    fn = "moco_loss"
    check_samples(query, "query", fn)
    check_samples(key, "key", fn)
    check_same_shape(query, key, ("query", "key"), fn)
    check_samples(queue, "queue", fn)
    if queue.shape[1] != query.shape[1]:
        raise InputError(
            f"{fn}: queue must be (queue_size, dim={query.shape[1]}), got {tuple(queue.shape)}"
        )
    check_positive(t, "temperature", fn)
    check_finite(fn, query=query, key=key, queue=queue)


def moco_terms(
    query: torch.Tensor,
    key: torch.Tensor,
    queue: torch.Tensor,
    temperature: float = 0.2,
) -> MoCoTerms:
    """InfoNCE of each query against its key (the positive) and every queued key.

    ``loss = mean_i -log( exp(q_i.k_i / t) / (exp(q_i.k_i / t) + sum_j exp(q_i.n_j / t)) )``
    with ``q``, ``k`` L2-normalised here; the queue is used as given (it holds normalised
    keys). Gradients flow into ``query`` only: keys and queue come from the momentum encoder.

    Args:
        query: ``(batch, dim)`` embeddings of the online (query) encoder.
        key: ``(batch, dim)`` embeddings of the other view from the momentum encoder.
        queue: ``(K, dim)`` negatives, L2-normalised keys of earlier batches.
        temperature: MoCo v2's 0.2 (MoCo v1: 0.07).
    """
    _check_moco(query, key, queue, temperature)
    q = F.normalize(query, dim=1)
    k = F.normalize(key.detach(), dim=1)
    positive = (q * k).sum(1, keepdim=True)
    negative = q @ queue.detach().to(q.dtype).T
    logits = torch.cat([positive, negative], dim=1) / temperature
    alignment = -logits[:, 0].mean()
    uniformity = torch.logsumexp(logits, dim=1).mean()
    return MoCoTerms(alignment + uniformity, alignment, uniformity)


moco_loss = scalar_loss(moco_terms)


def enqueue(queue: torch.Tensor, pointer: int, keys: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Write ``keys`` into the ring buffer ``queue`` from row ``pointer`` on, wrapping around.

    Args:
        queue: ``(K, dim)``; updated in place.
        pointer: the row the oldest entry sits in (the next one to overwrite).
        keys: ``(n, dim)`` new keys (normalised by the caller); ``n > K`` keeps the last K.

    Returns:
        The queue and the new pointer ``(pointer + n) mod K``.
    """
    size = queue.shape[0]
    keys = keys.detach().to(queue.dtype)
    n = keys.shape[0]
    if n >= size:  # only the newest K survive; they land where a row-by-row write would put them
        rows = (pointer + torch.arange(n - size, n, device=queue.device)) % size
        queue[rows] = keys[n - size :]
    else:
        rows = (pointer + torch.arange(n, device=queue.device)) % size
        queue[rows] = keys
    return queue, int((pointer + n) % size)


@torch.no_grad()
def gather_keys(keys: torch.Tensor) -> torch.Tensor:
    """The rows of every process in rank order, without gradient (keys never need one);
    ``keys`` itself when not distributed."""
    if not is_distributed():
        return keys
    parts = [torch.empty_like(keys) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, keys.contiguous())
    return torch.cat(parts)


class MoCoLoss(nn.Module):
    """MoCo's InfoNCE against a queue of negatives, the queue held as a buffer (He, Fan, Wu,
    Xie & Girshick, "Momentum Contrast for Unsupervised Visual Representation Learning",
    CVPR 2020; MoCo v2: Chen, Fan, Girshick & He, 2020).

    ``loss(query, key)`` with ``query, key: (batch, dim)`` (online encoder's queries, momentum
    encoder's keys of the other view) returns :func:`moco_terms`'s loss against the queue as
    it was, then enqueues the L2-normalised keys (first in, first out: the oldest are
    overwritten). ``loss.terms(query, key)`` returns the :class:`MoCoTerms` and leaves the
    queue alone; ``loss.enqueue(keys)`` writes normalised keys in (e.g. both views' keys
    after a symmetrised loss).

    Args:
        dim: the embeddings' dimension (the queue's width).
        queue_size: number of negatives ``K`` (the paper's 65,536 on ImageNet).
        temperature: :func:`moco_terms`'s default, MoCo v2's 0.2.
        gather_distributed: enqueue the keys of every process (the global batch in rank
            order), so every process holds the same queue.

    Buffers (saved in the ``state_dict``, so a checkpoint resumes the queue exactly):
    ``queue`` ``(K, dim)``, random unit vectors at first; ``queue_pointer``, the row the
    oldest key sits in.
    """

    def __init__(
        self,
        dim: int,
        queue_size: int = 65536,
        temperature: float = setting_default(moco_terms, "temperature"),
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("queue_size", queue_size)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"MoCoLoss: {name} must be an integer >= 1, got {value!r}")
        check_positive(temperature, "temperature", "MoCoLoss")
        self.temperature, self.gather_distributed = temperature, gather_distributed
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, dim), dim=1))
        self.register_buffer("queue_pointer", torch.zeros((), dtype=torch.long))

    def terms(self, query: torch.Tensor, key: torch.Tensor) -> MoCoTerms:
        """The loss and its terms against the current queue; the queue is not changed."""
        return moco_terms(query, key, self.queue, temperature=self.temperature)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write ``keys: (n, dim)``, L2-normalised by the caller, over the oldest rows (with
        ``gather_distributed``, every process's keys, in rank order)."""
        keys = keys.detach()
        if self.gather_distributed:
            keys = gather_keys(keys)
        # out of place: a loss computed before still holds the old queue for its backward
        queue, pointer = enqueue(self.queue.clone(), int(self.queue_pointer), keys)
        self.queue = queue
        self.queue_pointer.fill_(pointer)

    def forward(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        loss = self.terms(query, key).loss
        self.enqueue(F.normalize(key.detach(), dim=1))
        return loss

    def extra_repr(self) -> str:
        size, dim = self.queue.shape
        return f"dim={dim}, queue_size={size}, temperature={self.temperature}"
