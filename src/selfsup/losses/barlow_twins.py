"""Barlow Twins: redundancy reduction (Zbontar et al., ICML 2021)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from selfsup.losses._checks import check_pair
from selfsup.losses.distributed import gather_batch


class BarlowTwinsTerms(NamedTuple):
    """``loss = on_diagonal + lambd * off_diagonal``."""

    loss: torch.Tensor
    on_diagonal: torch.Tensor
    off_diagonal: torch.Tensor


def _standardise(z: torch.Tensor, eps: float) -> torch.Tensor:
    # BatchNorm1d(affine=False) in training mode: biased variance, eps inside the root
    mean = z.mean(dim=0)
    var = z.var(dim=0, unbiased=False)
    return (z - mean) / torch.sqrt(var + eps)


def _cross_frobenius_sq(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a^T b||_F^2`` for ``a, b`` of shape ``(n, d)``.

    For ``n < d`` it is ``sum((a a^T) * (b b^T))`` (the trace identity
    ``tr(b^T a a^T b) = tr(a a^T b b^T)``): two ``(n x n)`` Grams, O(n^2 d) work instead of
    the O(n d^2) of the ``(d x d)`` cross-correlation, and the same value.
    """
    if a.shape[0] < a.shape[1]:
        return ((a @ a.T) * (b @ b.T)).sum()
    c = (a.T @ b).reshape(-1)
    return torch.dot(c, c)


def barlow_twins_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    lambd: float = 5.1e-3,
    eps: float = 1e-5,
    gather_distributed: bool = False,
) -> BarlowTwinsTerms:
    """Barlow Twins loss on the cross-correlation of the standardised branches.

    Args:
        z_a, z_b: ``(batch, dim)``.
        lambd: weight of the off-diagonal (redundancy) term; the paper's 5.1e-3.
        eps: added to the variance when standardising.
        gather_distributed: standardise and correlate over the global batch.

    Returns:
        ``C = z_a_n^T z_b_n / B``; ``on_diagonal = sum((diag(C) - 1)^2)``,
        ``off_diagonal = sum(offdiag(C)^2)``.
    """
    check_pair(z_a, z_b, "barlow_twins_loss")
    if gather_distributed:
        z_a, z_b = gather_batch(z_a), gather_batch(z_b)
    batch = z_a.shape[0]
    a, b = _standardise(z_a, eps), _standardise(z_b, eps)
    diagonal = (a * b).sum(dim=0) / batch  # diag(C) without forming C
    on_diagonal = (diagonal - 1).pow(2).sum()
    off_diagonal = _cross_frobenius_sq(a, b) / batch**2 - diagonal.pow(2).sum()
    return BarlowTwinsTerms(on_diagonal + lambd * off_diagonal, on_diagonal, off_diagonal)


def barlow_twins_loss(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    lambd: float = 5.1e-3,
    eps: float = 1e-5,
    gather_distributed: bool = False,
) -> torch.Tensor:
    """Barlow Twins loss, a scalar; see ``barlow_twins_terms``."""
    return barlow_twins_terms(z_a, z_b, lambd, eps, gather_distributed).loss
