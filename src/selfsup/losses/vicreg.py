"""VICReg: variance-invariance-covariance regularisation (Bardes, Ponce & LeCun, ICLR 2022)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from selfsup.losses._checks import check_pair
from selfsup.losses.distributed import gather_batch


class VICRegTerms(NamedTuple):
    """The weighted total and the three unweighted terms of the VICReg loss."""

    loss: torch.Tensor
    invariance: torch.Tensor
    variance: torch.Tensor
    covariance: torch.Tensor


def variance_term(z: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Mean over dimensions of ``relu(1 - sqrt(var + eps))``, unbiased variance over the batch.

    Args:
        z: ``(batch, dim)``.
    """
    std = torch.sqrt(z.var(dim=0) + eps)
    return F.relu(1.0 - std).mean()


def covariance_term(z: torch.Tensor) -> torch.Tensor:
    """Sum of squared off-diagonal covariances (``1/(B-1)`` normalisation) divided by ``dim``.

    Args:
        z: ``(batch, dim)``.
    """
    batch, dim = z.shape
    z = z - z.mean(dim=0)
    # sum of off-diagonal squares = ||C||_F^2 - sum(diag(C)^2), C = z^T z / (B - 1). The
    # Frobenius norm is computed through the smaller Gram matrix: ||z^T z||_F = ||z z^T||_F,
    # so for B < dim the (dim x dim) covariance is never formed, O(B^2 dim) work not
    # O(B dim^2) (32x fewer multiply-adds at B=256, dim=8192); the value is the same.
    total = _gram_frobenius_sq(z) / (batch - 1) ** 2
    diagonal = z.pow(2).sum(dim=0) / (batch - 1)
    return (total - diagonal.pow(2).sum()) / dim


def _gram_frobenius_sq(z: torch.Tensor) -> torch.Tensor:
    """``||z^T z||_F^2`` for ``z`` of shape ``(n, d)``, through the smaller of the two Grams."""
    gram = z @ z.T if z.shape[0] < z.shape[1] else z.T @ z
    # a dot product of the flattened matrix with itself: no squared temporary of its size
    flat = gram.reshape(-1)
    return torch.dot(flat, flat)


def vicreg_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
    gather_distributed: bool = False,
) -> VICRegTerms:
    """VICReg loss and its terms, as in the official ``main_vicreg.py``.

    Args:
        z_a, z_b: ``(batch, dim)`` embeddings of two views of the same samples.
        sim_coeff, std_coeff, cov_coeff: weights of invariance, variance and covariance
            (the paper's 25 / 25 / 1).
        eps: added to the variance before the square root.
        gather_distributed: compute variance and covariance on the global batch gathered
            from every process (see ``selfsup.losses.distributed``). The invariance term is
            gathered too, so every rank computes the full-batch loss.

    Returns:
        ``VICRegTerms``: ``loss = sim * invariance + std * variance + cov * covariance`` where
        variance and covariance are each the mean of the two branches' terms.
    """
    check_pair(z_a, z_b, "vicreg_loss")
    if gather_distributed:
        z_a, z_b = gather_batch(z_a), gather_batch(z_b)
    invariance = F.mse_loss(z_a, z_b)
    variance = (variance_term(z_a, eps) + variance_term(z_b, eps)) / 2
    covariance = covariance_term(z_a) + covariance_term(z_b)
    loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
    return VICRegTerms(loss, invariance, variance, covariance)


def vicreg_loss(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
    gather_distributed: bool = False,
) -> torch.Tensor:
    """VICReg loss, a scalar; see ``vicreg_terms`` for the arguments and the terms."""
    return vicreg_terms(z_a, z_b, sim_coeff, std_coeff, cov_coeff, eps, gather_distributed).loss
