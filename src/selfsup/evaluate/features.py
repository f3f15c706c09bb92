"""Frozen features of any encoder over a dataset."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from selfsup.data.datasets import BatchDataset
from selfsup.data.loading import batch_loader
from selfsup.data.views import to_unit_float


@torch.no_grad()
def extract_features(
    encoder: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    dataset: BatchDataset,
    preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 1024,
    device: torch.device | str | None = None,
    num_workers: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode every image of ``dataset`` in eval mode.

    Args:
        encoder: maps a float batch ``(n, C, H, W)`` to ``(n, dim)`` (or anything flattenable).
        preprocess: applied to the [0, 1] float images first (e.g. normalisation).
        device: defaults to the encoder's parameters' device (CPU for a plain callable).

    Returns:
        ``features`` float32 ``(N, dim)`` on the CPU and ``labels`` int64 ``(N,)``.
    """
    was_training = isinstance(encoder, nn.Module) and encoder.training
    if isinstance(encoder, nn.Module):
        encoder.eval()
        if device is None:
            device = next(iter(encoder.parameters()), torch.empty(0)).device
    device = torch.device(device or "cpu")
    features, labels = [], []
    loader = batch_loader(
        dataset, batch_size, shuffle=False, drop_last=False, num_workers=num_workers
    )
    for images, y in loader:
        x = to_unit_float(images.to(device, non_blocking=True))
        if preprocess is not None:
            x = preprocess(x)
        features.append(encoder(x).flatten(1).float().cpu())
        labels.append(y)
    if was_training:
        encoder.train()
    return torch.cat(features), torch.cat(labels)
