"""InfoNCE / NT-Xent, the SimCLR loss (Chen et al., ICML 2020)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from selfsup.losses._checks import pair_inputs
from selfsup.losses._offdiag import compute_dtype, gram
from selfsup.losses._wrappers import LossModule, scalar_loss
from selfsup.validation import check_positive


class InfoNCETerms(NamedTuple):
    """NT-Xent and its alignment / uniformity split: ``loss = alignment + uniformity`` (up to
    rounding: the loss is computed per anchor, the two parts as separate means).

    ``alignment`` is the mean of ``-cos(z_i, z_i+) / temperature`` (the invariance part);
    ``uniformity`` is the mean log-sum-exp over the 2B - 1 candidates, a kernel estimate of
    the embeddings' entropy up to sign and constants.
    """

    loss: torch.Tensor
    alignment: torch.Tensor
    uniformity: torch.Tensor


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
        z_a: ``(batch, dim)`` embeddings of two views (normalised here).
        z_b: as ``z_a``.
        temperature: divides the cosine similarities (positive).
        gather_distributed: use the global batch across processes as negatives.

    Needs a (global) batch of at least 2: with one sample each anchor has no negative and
    the loss is identically 0 (SimCLR's code returns that 0; we refuse the batch instead,
    see docs/losses.md). Conventions against SimCLR's ``add_contrastive_loss``: theirs is
    ``loss_a + loss_b``, twice ours (ours is the mean over all 2B anchors).
    """
    fn = "info_nce_loss"
    check_positive(temperature, "temperature", fn, " (SimCLR uses 0.1 - 0.5)")
    z_a, z_b = pair_inputs(z_a, z_b, fn, gather_distributed)
    batch = z_a.shape[0]
    z = torch.cat([z_a, z_b], dim=0)
    z = F.normalize(z.to(compute_dtype(z)), dim=1)
    # one-product backward: both factors of z z^T are the same tensor
    logits = gram(z) / temperature
    self_mask = torch.eye(2 * batch, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    positive_index = torch.arange(2 * batch, device=z.device).roll(batch)
    positive = logits[torch.arange(2 * batch, device=z.device), positive_index]
    log_partition = torch.logsumexp(logits, dim=1)
    # the loss as one cross-entropy per anchor (lse - positive, fused): the two means below
    # are each ~1/temperature and their difference can be far smaller (near-identical
    # embeddings), so subtracting them would lose digits
    loss = F.cross_entropy(logits, positive_index)
    alignment = -positive.mean()
    uniformity = log_partition.mean()
    return InfoNCETerms(loss, alignment, uniformity)


info_nce_loss = scalar_loss(info_nce_terms)


class NTXentLoss(LossModule, terms=info_nce_terms):
    """SimCLR's NT-Xent (InfoNCE) loss as a module (Chen, Kornblith, Norouzi & Hinton, "A
    Simple Framework for Contrastive Learning of Visual Representations", ICML 2020).

    ``NTXentLoss(temperature=0.1, gather_distributed=False)``: the settings and defaults of
    :func:`info_nce_terms`. ``loss(z_a, z_b)`` with ``z_a, z_b: (batch, dim)`` returns the
    mean cross-entropy over all ``2 * batch`` anchors; ``loss.terms(z_a, z_b)`` the
    :class:`InfoNCETerms`. Also available as ``InfoNCELoss``.
    """


InfoNCELoss = NTXentLoss
