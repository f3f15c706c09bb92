"""Few-shot linear probes (the semi-supervised protocol of SimCLR / BYOL): a linear classifier
trained on 1% or 10% of the labels, drawn class-balanced with a seed, scored on the full test
split; several seeds give a mean and a spread."""

from __future__ import annotations

import torch

from selfsup.errors import InputError
from selfsup.evaluate.probes import LinearProbe


def balanced_subset(labels: torch.Tensor, fraction: float, seed: int = 0) -> torch.Tensor:
    """Indices of ``fraction`` of the samples of every class (at least one each), at random.

    Args:
        labels: ``(N,)`` integer class labels.
        fraction: in ``(0, 1]``.
        seed: the draw; the same seed gives the same subset.

    Returns:
        Sorted int64 indices ``(n,)`` with ``n_c = max(1, round(fraction * N_c))`` from class c.
    """
    if not 0 < fraction <= 1:
        raise InputError(f"fraction must be in (0, 1], got {fraction}")
    g = torch.Generator().manual_seed(seed)
    chosen = []
    for c in torch.unique(labels):
        members = torch.nonzero(labels == c).flatten()
        k = max(1, round(fraction * members.numel()))
        chosen.append(members[torch.randperm(members.numel(), generator=g)[:k]])
    return torch.cat(chosen).sort().values


def fewshot_linear(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    fractions: tuple[float, ...] = (0.01, 0.1),
    seeds: tuple[int, ...] = (0, 1, 2),
    weight_decay: float = 1e-4,
) -> dict[str, float]:
    """Test accuracy of ``LinearProbe`` trained on class-balanced label fractions.

    Args:
        train_features: ``(N, dim)`` frozen features of the training images.
        test_features: ``(M, dim)`` frozen features of the test images.
        train_labels: ``(N,)`` integer labels of ``train_features``.
        test_labels: ``(M,)`` integer labels of ``test_features``.

    Returns:
        ``fewshot_{p}pct_top1`` (mean over seeds) and ``fewshot_{p}pct_top1_std`` (sample std;
        0 for one seed), and ``fewshot_{p}pct_n`` the labelled samples used, per fraction.
    """
    out: dict[str, float] = {}
    for fraction in fractions:
        name = f"fewshot_{100 * fraction:g}pct"
        scores = []
        for seed in seeds:
            idx = balanced_subset(train_labels, fraction, seed)
            probe = LinearProbe(weight_decay=weight_decay)
            probe.fit(train_features[idx], train_labels[idx])
            scores.append(probe.score(test_features, test_labels))
        values = torch.tensor(scores, dtype=torch.float64)
        out[f"{name}_top1"] = values.mean().item()
        out[f"{name}_top1_std"] = values.std().item() if len(scores) > 1 else 0.0
        out[f"{name}_n"] = int(idx.numel())
    return out
