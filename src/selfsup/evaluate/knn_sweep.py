"""kNN accuracy for several k at the price of one: neighbours are found once for the largest k."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from selfsup.errors import InputError


@torch.no_grad()
def knn_sweep(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    ks: Sequence[int] = (1, 5, 10, 20),
    temperature: float = 0.07,
    chunk_size: int = 2048,
) -> dict[int, float]:
    """Top-1 accuracy of the cosine-weighted kNN vote (as ``knn_predict``) for each k in ``ks``.

    Args:
        train_features: ``(N, dim)``, train_labels ``(N,)``; test_features ``(M, dim)``,
            test_labels ``(M,)``.

    Returns:
        ``{k: accuracy}``.
    """
    if train_features.ndim != 2 or test_features.shape[1:] != train_features.shape[1:]:
        raise InputError(
            f"features must be (n, dim) with the same dim, got {tuple(train_features.shape)} "
            f"and {tuple(test_features.shape)}"
        )
    if not ks or min(ks) < 1:
        raise InputError(f"ks must be positive integers, got {list(ks)}")
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    k_max = min(max(ks), train_features.shape[0])
    train = F.normalize(train_features.float(), dim=1)
    correct = {k: 0 for k in ks}
    for start in range(0, test_features.shape[0], chunk_size):
        test = F.normalize(test_features[start : start + chunk_size].float(), dim=1)
        truth = test_labels[start : start + chunk_size]
        sim, idx = (test @ train.T).topk(k_max, dim=1)  # sorted, nearest first
        votes = (
            F.one_hot(train_labels[idx], num_classes).float() * (sim / temperature).exp()[..., None]
        )
        running = votes.cumsum(1)  # (m, k_max, classes): votes of the first k neighbours
        for k in ks:
            pred = running[:, min(k, k_max) - 1].argmax(1)
            correct[k] += int((pred == truth).sum())
    return {k: correct[k] / test_features.shape[0] for k in ks}
