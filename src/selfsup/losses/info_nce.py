"""InfoNCE / NT-Xent, the SimCLR loss (Chen et al., ICML 2020)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from selfsup.losses._checks import check_pair
from selfsup.losses.distributed import gather_batch


class InfoNCETerms(NamedTuple):
    """NT-Xent and its alignment / uniformity split: ``loss = alignment + uniformity``.

    ``alignment`` is the mean of ``-cos(z_i, z_i+) / temperature`` (the invariance part);
    ``uniformity`` is the mean log-sum-exp over the 2B - 1 candidates, a kernel estimate of
    the embeddings' entropy up to sign and constants.
    """

    loss: torch.Tensor
    alignment: torch.Tensor
    uniformity: torch.Tensor


class _SymmetricGram(torch.autograd.Function):
    """``z z^T`` whose backward is one product, ``(G + G^T) z``, where autograd's generic
    matmul rule does two (``G z`` and ``G^T z``) because it does not know both factors are
    the same tensor. Written with differentiable ops, so double backward still works."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        return z @ z.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (z,) = ctx.saved_tensors
        return (grad + grad.T) @ z


def info_nce_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float = 0.1,
    gather_distributed: bool = False,
) -> InfoNCETerms:
    """NT-Xent over the 2B embeddings of two views.

    Each of the 2B L2-normalised embeddings is an anchor; its positive is the other view of
    the same sample, its negatives the remaining 2B - 2 embeddings; self-similarity is
    excluded. The loss is the cross-entropy towards the positive, averaged over all anchors.

    Args:
        z_a, z_b: ``(batch, dim)`` embeddings of two views (normalised here).
        temperature: divides the cosine similarities.
        gather_distributed: use the global batch across processes as negatives.
    """
    check_pair(z_a, z_b, "info_nce_loss")
    if gather_distributed:
        z_a, z_b = gather_batch(z_a), gather_batch(z_b)
    batch = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b], dim=0), dim=1)
    logits = _SymmetricGram.apply(z) / temperature
    self_mask = torch.eye(2 * batch, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positive_index = torch.arange(2 * batch, device=z.device).roll(batch)
    positive = logits[torch.arange(2 * batch, device=z.device), positive_index]
    log_partition = torch.logsumexp(logits, dim=1)
    alignment = -positive.mean()
    uniformity = log_partition.mean()
    return InfoNCETerms(alignment + uniformity, alignment, uniformity)


def info_nce_loss(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    temperature: float = 0.1,
    gather_distributed: bool = False,
) -> torch.Tensor:
    """NT-Xent loss, a scalar; see ``info_nce_terms``."""
    return info_nce_terms(z_a, z_b, temperature, gather_distributed).loss
