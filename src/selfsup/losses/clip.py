"""CLIP's symmetric cross-modal InfoNCE (Radford et al., ICML 2021)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from selfsup.losses._checks import pair_inputs
from selfsup.losses._offdiag import compute_dtype
from selfsup.losses._wrappers import scalar_loss
from selfsup.validation import check_positive


class CLIPTerms(NamedTuple):
    """``loss = (a_to_b + b_to_a) / 2``."""

    loss: torch.Tensor
    a_to_b: torch.Tensor
    b_to_a: torch.Tensor


def clip_terms(
    a: torch.Tensor,
    b: torch.Tensor,
    logit_scale: torch.Tensor | float,
    gather_distributed: bool = False,
) -> CLIPTerms:
    """Symmetric InfoNCE between two encoders' outputs (e.g. image and text).

    Args:
        a: ``(batch, dim)`` embeddings of one modality or view.
        b: ``(batch, dim)``; row i of ``a`` and row i of ``b`` are a positive pair.
        logit_scale: multiplies the cosine similarities, positive (CLIP learns its log and
            exponentiates; pass ``log_scale.exp()``).
        gather_distributed: use the global batch across processes.

    Same value as open_clip's ``ClipLoss`` on L2-normalised features (it expects them
    normalised; we normalise here). With one pair the loss is 0 (a single candidate).
    """
    fn = "clip_loss"
    check_positive(logit_scale, "logit_scale", fn, " (CLIP starts at 1 / 0.07)")
    scale = {"logit_scale": logit_scale} if isinstance(logit_scale, torch.Tensor) else None
    a, b = pair_inputs(a, b, fn, gather_distributed, min_batch=1, names=("a", "b"), positive=scale)
    dtype = compute_dtype(a)
    logits = logit_scale * F.normalize(a.to(dtype), dim=1) @ F.normalize(b.to(dtype), dim=1).T
    target = torch.arange(a.shape[0], device=a.device)
    a_to_b = F.cross_entropy(logits, target)
    b_to_a = F.cross_entropy(logits.T, target)
    return CLIPTerms((a_to_b + b_to_a) / 2, a_to_b, b_to_a)


clip_loss = scalar_loss(clip_terms)
