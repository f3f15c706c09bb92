"""Weighted k-nearest-neighbour classification on frozen features (as in solo-learn / InstDisc)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from selfsup.errors import InputError


@torch.no_grad()
def knn_predict(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
    num_classes: int | None = None,
    chunk_size: int = 2048,
) -> torch.Tensor:
    """Class scores by cosine-similarity-weighted votes of the ``k`` nearest training samples.

    Each neighbour votes for its class with weight ``exp(cos / temperature)``.

    Args:
        train_features: ``(N, dim)``; train_labels: ``(N,)`` int.
        test_features: ``(M, dim)``.
        chunk_size: test rows per similarity block, bounding memory to ``chunk_size * N``.

    Returns:
        ``(M, num_classes)`` vote totals; ``argmax(1)`` is the prediction.
    """
    if train_features.ndim != 2 or test_features.ndim != 2:
        raise InputError(
            f"features must be (n, dim), got {tuple(train_features.shape)} and "
            f"{tuple(test_features.shape)}"
        )
    if train_features.shape[1] != test_features.shape[1]:
        raise InputError(
            f"train and test features differ in dim: {tuple(train_features.shape)} "
            f"vs {tuple(test_features.shape)}"
        )
    if train_labels.shape != (train_features.shape[0],):
        raise InputError(
            f"train_labels must be ({train_features.shape[0]},), got {tuple(train_labels.shape)}"
        )
    num_classes = num_classes or int(train_labels.max()) + 1
    k = min(k, train_features.shape[0])
    train = F.normalize(train_features.float(), dim=1)
    labels = train_labels.to(train.device)
    scores = []
    for start in range(0, test_features.shape[0], chunk_size):
        test = F.normalize(
            test_features[start : start + chunk_size].float().to(train.device), dim=1
        )
        sim, idx = (test @ train.T).topk(k, dim=1)
        weights = (sim / temperature).exp()
        votes = torch.zeros(test.shape[0], num_classes, device=train.device)
        votes.scatter_add_(1, labels[idx], weights)
        scores.append(votes)
    return torch.cat(scores)


def knn_accuracy(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    k: int = 20,
    temperature: float = 0.07,
) -> float:
    """Top-1 accuracy of ``knn_predict`` on the test set."""
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    scores = knn_predict(train_features, train_labels, test_features, k, temperature, num_classes)
    return (scores.argmax(1).cpu() == test_labels.cpu()).float().mean().item()
