"""MoCo's InfoNCE against a queue of negatives (He et al., CVPR 2020; MoCo v2, Chen et al. 2020).

The queue itself (a FIFO of past keys) is state and lives with the method
(``selfsup.methods.moco``); here are the pure pieces: the loss of a batch of queries against
its positive keys and the queue, and the ring-buffer write that returns the next queue.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

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


def moco_loss(
    query: torch.Tensor, key: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2
) -> torch.Tensor:
    """MoCo loss, a scalar; see ``moco_terms``."""
    return moco_terms(query, key, queue, temperature).loss


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
