"""Input validation shared by the losses: one clear message instead of a broadcasting error."""

from __future__ import annotations

import torch


def check_pair(z_a: torch.Tensor, z_b: torch.Tensor, loss: str, min_batch: int = 2) -> None:
    """Raise ``ValueError`` unless ``z_a``, ``z_b`` are two ``(batch, dim)`` views of a batch."""
    if z_a.ndim != 2 or z_b.ndim != 2:
        raise ValueError(
            f"{loss} expects two (batch, dim) tensors, got shapes {tuple(z_a.shape)} and "
            f"{tuple(z_b.shape)}; flatten the embeddings first"
        )
    if z_a.shape != z_b.shape:
        raise ValueError(
            f"{loss} expects both views with the same shape, got {tuple(z_a.shape)} and "
            f"{tuple(z_b.shape)}; pass the two views of the same batch"
        )
    if z_a.shape[0] < min_batch:
        raise ValueError(
            f"{loss} needs a batch of at least {min_batch} samples, got shape {tuple(z_a.shape)}"
        )
