"""VICReg with its variance + covariance terms replaced by an entropy estimate.

Shwartz-Ziv, Balestriero, Kawaguchi, Rudner & LeCun, *An Information-Theoretic Perspective on
Variance-Invariance-Covariance Regularization* (NeurIPS 2023): two views ``z_a, z_b`` of a batch,

    loss = sim_coeff * F.mse_loss(z_a, z_b) - entropy_coeff * (H(z_a) + H(z_b)) / 2,

with ``H`` either the LogDet entropy ``1/2 log det(I + beta Sigma_Z)`` (Zhouyin & Liu 2021) or
the Kolchinsky-Tracey pairwise-distance entropy of the batch seen as a mixture of isotropic
Gaussians ``N(z_i, s^2 I)`` (Kolchinsky & Tracey 2017). ``H`` is in nats summed over the
embedding dimensions, the quantity in the bound ``I(Z; Z') >= H(Z) - E||z - z'||^2 / 2 + c``.

Scale, compared with VICReg (25 / 25 / 1, variance and covariance terms averaged over the ``d``
dimensions): ``F.mse_loss`` averages over dimensions too, so ``25 * mse`` weighs the squared view
distance by ``25 / d``, while ``H`` grows with ``d``. For the LogDet loss each covariance
eigen-direction ``lambda`` with invariance ratio ``r = E(z_a - z_b)^2 / lambda`` along it settles
where ``50 r / d = beta / (1 + beta lambda)``, i.e. ``lambda ~ d / (50 r)``: outputs with std
of a few units for d = 512-1024, where VICReg's hinge holds std near 1. No direction collapses
unless ``r > d beta / 50``, which cannot happen for ``r <= 4``; this is the job VICReg's
variance hinge (floor on each variance) and covariance penalty (diagonal ``Sigma``, the Hadamard
bound ``log det Sigma <= sum log Var``) do together. For the pairwise-distance loss the entropy
saturates at ``H(component) + log n`` once neighbours are more than a few ``s`` apart, so the
batch spreads until typical distances are a few ``s`` and the invariance term stops it.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from selfsup.info.gaussian import _logdet_entropy
from selfsup.info.mixture import _pairwise_distance_entropy, check_pairwise_args
from selfsup.losses._checks import pair_inputs
from selfsup.losses._offdiag import compute_dtype
from selfsup.losses._wrappers import scalar_loss
from selfsup.validation import check_nonnegative, check_positive


def _mse(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    # half precision inputs: the mean of squares in float32, like the entropies
    dtype = compute_dtype(z_a)
    return F.mse_loss(z_a.to(dtype), z_b.to(dtype))


class InfoVICRegTerms(NamedTuple):
    """Named terms: ``loss = sim_coeff * invariance - entropy_coeff * entropy``."""

    loss: torch.Tensor  # 0-d
    invariance: torch.Tensor  # 0-d, F.mse_loss(z_a, z_b) (mean over batch and dims)
    entropy: torch.Tensor  # 0-d, nats, mean of the two branches' estimates


def vicreg_logdet_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    sim_coeff: float = 25.0,
    logdet_coeff: float = 1.0,
    beta: float | None = None,
    eps: float = 1.0,
    gather_distributed: bool = False,
) -> InfoVICRegTerms:
    """VICReg-LogDet: ``sim_coeff * mse(z_a, z_b) - logdet_coeff * mean_b H_LD(z_b)``.

    ``H_LD(z) = 1/2 log det(I + beta S)`` nats, ``S`` the unbiased covariance of branch ``z``.

    Args:
        z_a: ``(batch, dim)`` embeddings of two views of the same batch.
        z_b: as ``z_a``.
        sim_coeff: weight of the invariance (VICReg's 25).
        logdet_coeff: weight of the LogDet entropy (nats, summed over dims).
        beta: precision of the reference noise; overrides ``eps`` when given.
        eps: resolution, in embedding units, below which spread does not count:
            ``beta = 1 / eps^2``. Default 1.0, VICReg's target std.
        gather_distributed: gather both branches from all processes with
            :func:`selfsup.losses.distributed.gather_batch` first (covariance of the global batch).

    Returns:
        :class:`InfoVICRegTerms`; ``log det`` is computed through the
        smaller of the ``dim x dim`` and ``batch x batch`` Gram matrices in float64.
    """
    fn = "vicreg_logdet_loss"
    check_nonnegative(sim_coeff, "sim_coeff", fn)
    check_nonnegative(logdet_coeff, "logdet_coeff", fn)
    if beta is None:
        check_positive(eps, "eps", fn)
        beta = 1.0 / eps**2
    check_positive(beta, "beta", fn)
    z_a, z_b = pair_inputs(z_a, z_b, fn, gather_distributed)
    invariance = _mse(z_a, z_b)
    entropy = 0.5 * (_logdet_entropy(z_a, float(beta)) + _logdet_entropy(z_b, float(beta)))
    return InfoVICRegTerms(sim_coeff * invariance - logdet_coeff * entropy, invariance, entropy)


vicreg_logdet_loss = scalar_loss(vicreg_logdet_terms)


def vicreg_pairdist_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    sim_coeff: float = 25.0,
    entropy_coeff: float = 1.0,
    sigma: float = 1.0,
    bound: str = "bhattacharyya",
    gather_distributed: bool = False,
) -> InfoVICRegTerms:
    """VICReg-PairDist: ``sim_coeff * mse(z_a, z_b) - entropy_coeff * mean_b H_D(z_b)``.

    ``H_D`` is the Kolchinsky-Tracey pairwise-distance entropy of ``(1/n) sum_i N(z_i, s^2 I)``
    (:func:`selfsup.info.pairwise_distance_entropy`); only its ``-(1/n) sum_i log sum_j
    exp(-||z_i - z_j||^2 / (c s^2))`` part (``c = 8`` Bhattacharyya, ``2`` KL) depends on ``z``:
    a uniformity term, like the log-sum-exp of InfoNCE.

    Args:
        z_a: ``(batch, dim)`` embeddings of two views of the same batch.
        z_b: as ``z_a``.
        sim_coeff: weight of the invariance (VICReg's 25).
        entropy_coeff: weight of the entropy (nats).
        sigma: isotropic component std ``s``, in embedding units.
        bound: ``"bhattacharyya"`` (the lower bound on the mixture entropy) or ``"kl"`` (upper).
        gather_distributed: gather both branches across processes first.

    Returns:
        :class:`InfoVICRegTerms`.
    """
    fn = "vicreg_pairdist_loss"
    check_nonnegative(sim_coeff, "sim_coeff", fn)
    check_nonnegative(entropy_coeff, "entropy_coeff", fn)
    check_pairwise_args(sigma, bound, fn)
    z_a, z_b = pair_inputs(z_a, z_b, fn, gather_distributed)
    invariance = _mse(z_a, z_b)
    sigma = float(sigma)
    entropy = 0.5 * (
        _pairwise_distance_entropy(z_a, sigma, bound)
        + _pairwise_distance_entropy(z_b, sigma, bound)
    )
    return InfoVICRegTerms(sim_coeff * invariance - entropy_coeff * entropy, invariance, entropy)


vicreg_pairdist_loss = scalar_loss(vicreg_pairdist_terms)
