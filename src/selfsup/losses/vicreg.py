"""VICReg: variance-invariance-covariance regularisation (Bardes, Ponce & LeCun, ICLR 2022)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from selfsup.losses._checks import pair_inputs
from selfsup.losses._offdiag import centred_offdiag_squares, compute_dtype
from selfsup.losses._wrappers import LossModule, scalar_loss
from selfsup.validation import check_nonnegative, check_positive


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


def covariance_term(z: torch.Tensor, route: str = "auto") -> torch.Tensor:
    """Sum of squared off-diagonal covariances (``1/(B-1)`` normalisation) divided by ``dim``.

    Exact in float32 on every batch: through the ``B x B`` Grams in float64, the most spread
    features apart, when ``dim >= 16 B``, else through the ``dim x dim`` covariance with its
    diagonal zeroed (``selfsup.losses._offdiag``). Returned in ``z``'s dtype (float32 for
    half precision input).

    Args:
        z: ``(batch, dim)``.
        route: ``"auto"``; ``"gram"`` / ``"dxd"`` force a route (tests, benchmarks).
    """
    batch, dim = z.shape
    squares = centred_offdiag_squares(z, route)
    return (squares / ((batch - 1) ** 2 * dim)).to(compute_dtype(z))


def vicreg_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
    gather_distributed: bool = False,
) -> VICRegTerms:
    """VICReg loss and its terms (Bardes, Ponce & LeCun, ICLR 2022), as the official
    ``main_vicreg.py`` computes them.

    ``loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance``: the
    invariance (mean squared error) pulls the two views of each sample together, the variance
    hinge keeps every dimension's standard deviation over the batch at 1 or above, and the
    covariance term pushes the off-diagonal covariances to zero. :func:`vicreg_loss` returns the
    scalar alone.

    Args:
        z_a: ``(batch, dim)`` embeddings of one view of each sample; ``batch >= 2``.
        z_b: ``(batch, dim)`` embeddings of another view of the same samples, row for row.
        sim_coeff: weight of the invariance term (the paper's 25).
        std_coeff: weight of the variance term (the paper's 25).
        cov_coeff: weight of the covariance term (the paper's 1).
        eps: added to the variance before the square root.
        gather_distributed: compute variance and covariance on the global batch gathered
            from every process (see ``selfsup.losses.distributed``). The invariance term is
            gathered too, so every rank computes the full-batch loss.

    Returns:
        ``VICRegTerms`` of scalar tensors (float32 for half-precision inputs): ``loss``,
        ``invariance``, ``variance`` (the mean of the two branches' variance terms) and
        ``covariance`` (the sum of their covariance terms, as the official code).

    Raises:
        InputError: mismatched shapes, a batch of one, non-finite values or negative weights.

    Example:
        ```python
        import torch
        from selfsup.losses import vicreg_loss, vicreg_terms

        z_a, z_b = torch.randn(256, 128), torch.randn(256, 128)
        loss = vicreg_loss(z_a, z_b)  # a scalar
        terms = vicreg_terms(z_a, z_b)  # terms.invariance, terms.variance, terms.covariance
        ```
    """
    fn = "vicreg_loss"
    check_nonnegative(sim_coeff, "sim_coeff", fn)
    check_nonnegative(std_coeff, "std_coeff", fn)
    check_nonnegative(cov_coeff, "cov_coeff", fn)
    check_positive(eps, "eps", fn, " (the paper's 1e-4)")
    z_a, z_b = pair_inputs(z_a, z_b, fn, gather_distributed)
    z_a, z_b = z_a.to(compute_dtype(z_a)), z_b.to(compute_dtype(z_b))  # half -> float32
    invariance = F.mse_loss(z_a, z_b)
    variance = (variance_term(z_a, eps) + variance_term(z_b, eps)) / 2
    covariance = covariance_term(z_a) + covariance_term(z_b)
    loss = sim_coeff * invariance + std_coeff * variance + cov_coeff * covariance
    return VICRegTerms(loss, invariance, variance, covariance)


vicreg_loss = scalar_loss(vicreg_terms)


class VICRegLoss(LossModule, terms=vicreg_terms):
    """VICReg's loss as a module (Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning", ICLR 2022).

    ``VICRegLoss(sim_coeff=25.0, std_coeff=25.0, cov_coeff=1.0, eps=1e-4,
    gather_distributed=False)``: the settings and defaults of :func:`vicreg_terms` (the
    paper's 25 / 25 / 1). ``loss(z_a, z_b)`` with ``z_a, z_b: (batch, dim)`` returns the
    scalar loss; ``loss.terms(z_a, z_b)`` the :class:`VICRegTerms`.
    """
