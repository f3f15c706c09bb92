"""Barlow Twins: redundancy reduction (Zbontar et al., ICML 2021)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from selfsup.losses._checks import pair_inputs
from selfsup.losses._offdiag import compute_dtype, cross_offdiag_squares
from selfsup.losses._wrappers import LossModule, scalar_loss
from selfsup.validation import check_nonnegative, check_positive


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


def barlow_twins_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    lambd: float = 5.1e-3,
    eps: float = 1e-5,
    gather_distributed: bool = False,
) -> BarlowTwinsTerms:
    """Barlow Twins loss on the cross-correlation of the standardised branches.

    Args:
        z_a: ``(batch, dim)``.
        z_b: as ``z_a``.
        lambd: weight of the off-diagonal (redundancy) term; the paper's 5.1e-3.
        eps: added to the variance when standardising.
        gather_distributed: standardise and correlate over the global batch.

    Returns:
        ``C = z_a_n^T z_b_n / B``; ``on_diagonal = sum((diag(C) - 1)^2)``,
        ``off_diagonal = sum(offdiag(C)^2)``.
    """
    fn = "barlow_twins_loss"
    check_nonnegative(lambd, "lambd", fn, " (the paper's 5.1e-3)")
    check_positive(eps, "eps", fn, " (BatchNorm's 1e-5)")
    z_a, z_b = pair_inputs(z_a, z_b, fn, gather_distributed)
    batch, dtype = z_a.shape[0], compute_dtype(z_a)
    a, b = _standardise(z_a.to(dtype), eps), _standardise(z_b.to(dtype), eps)
    # diag(C) without forming C; summed in float64 (a B x D pass) as (d - 1)^2 amplifies
    # its rounding near d = 1
    diagonal = (a.to(torch.float64) * b.to(torch.float64)).sum(dim=0) / batch
    on_diagonal = (diagonal - 1).pow(2).sum().to(dtype)
    # the off-diagonal squares without cancellation (selfsup.losses._offdiag)
    off_diagonal = (cross_offdiag_squares(a, b) / batch**2).to(dtype)
    return BarlowTwinsTerms(on_diagonal + lambd * off_diagonal, on_diagonal, off_diagonal)


barlow_twins_loss = scalar_loss(barlow_twins_terms)


class BarlowTwinsLoss(LossModule, terms=barlow_twins_terms):
    """Barlow Twins' loss as a module (Zbontar, Jing, Misra, LeCun & Deny, "Barlow Twins:
    Self-Supervised Learning via Redundancy Reduction", ICML 2021).

    ``BarlowTwinsLoss(lambd=5.1e-3, eps=1e-5, gather_distributed=False)``: the settings and
    defaults of :func:`barlow_twins_terms` (the paper's 5.1e-3). ``loss(z_a, z_b)`` with
    ``z_a, z_b: (batch, dim)`` returns the scalar loss; ``loss.terms(z_a, z_b)`` the
    :class:`BarlowTwinsTerms`.
    """
