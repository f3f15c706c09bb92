"""Radial-VICReg (Kuang, Dagade, Chakraborty, Learned-Miller, Balestriero, Rudner & LeCun 2026,
arXiv 2602.14272): VICReg plus a term that pulls the distribution of embedding norms
``r = ||z||`` towards the Chi distribution with ``D`` degrees of freedom, the law of the norm of
a standard Gaussian in ``D`` dimensions. VICReg fixes first and second moments only; a radial
marginal that is not Chi_D shows the embedding is not ``N(0, I)`` although its covariance may be.

Two forms of the radial term, as in the authors' code (github.com/YilunKuang/RadialVCReg,
``synthetic_experiments/train_xdist.py``, read to check the formulas):

* ``kl`` -- the forward KL ``KL(p_r || Chi_D) = E_p[-log chi_D(r)] - H(r)``: the cross-entropy
  of the norms under the Chi density minus their entropy, estimated with the m-spacing
  estimator (Learned-Miller & Fisher's RADICAL form, ``m = round(sqrt(n))``). We keep the Chi
  normaliser, so the value is a KL estimate in nats (the authors drop the constant).
* ``w1`` -- the 1-D Wasserstein-1 distance between the empirical law of the norms and Chi_D:
  sorted norms against Chi quantiles. The authors compare with as many sorted *samples* of
  Chi_D; we use the quantiles at ``(i - 1/2) / n`` (scipy), the same distance without
  sampling noise. Like their default, both radii are divided by ``sqrt(D - 1)`` first.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import torch

from selfsup.errors import InputError
from selfsup.losses._checks import pair_inputs
from selfsup.losses._wrappers import scalar_loss
from selfsup.losses.vicreg import vicreg_terms
from selfsup.validation import check_choice, check_nonnegative

RADIAL_FORMS = ("kl", "w1")


class RadialVICRegTerms(NamedTuple):
    """The total and its unweighted terms: VICReg's three and the radial divergence (the mean
    over the two branches)."""

    loss: torch.Tensor
    invariance: torch.Tensor
    variance: torch.Tensor
    covariance: torch.Tensor
    radial: torch.Tensor


def chi_log_density(r: torch.Tensor, dim: int) -> torch.Tensor:
    """``log chi_D(r) = (D - 1) log r - r^2 / 2 - (D/2 - 1) log 2 - lgamma(D / 2)``, ``r > 0``."""
    log_normaliser = (dim / 2 - 1) * math.log(2.0) + math.lgamma(dim / 2)
    return (dim - 1) * torch.log(r) - r.pow(2) / 2 - log_normaliser


def m_spacing_entropy(x: torch.Tensor, m: int | None = None, eps: float = 1e-6) -> torch.Tensor:
    """m-spacing estimate of the differential entropy (nats) of 1-D samples.

    ``H = 1 / (n - m) * sum_{i=1}^{n-m} log((n + 1) / m * (x_(i+m) - x_(i)) + eps)`` over the
    sorted sample ``x_(1) <= ... <= x_(n)``; differentiable through the sort.

    Args:
        x: ``(n,)`` samples.
        m: spacing; ``round(sqrt(n))`` by default.
        eps: keeps ties finite.
    """
    n = x.shape[0]
    m = max(1, round(math.sqrt(n))) if m is None else m
    if not 1 <= m < n:
        raise InputError(f"m_spacing_entropy needs 1 <= m < n, got m={m}, n={n}")
    s, _ = torch.sort(x)
    spacings = (s[m:] - s[:-m]) * ((n + 1) / m)
    return torch.log(spacings + eps).mean()


def radial_kl(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Estimate of ``KL(law of ||z|| || Chi_D)`` in nats for ``z`` of shape ``(batch, D)``."""
    r = torch.linalg.vector_norm(z, dim=1).clamp_min(eps)
    cross_entropy = -chi_log_density(r, z.shape[1]).mean()
    return cross_entropy - m_spacing_entropy(r, eps=eps)


@lru_cache(maxsize=64)
def _chi_quantiles(n: int, dim: int) -> tuple[float, ...]:
    from scipy.stats import chi

    return tuple(chi.ppf((torch.arange(n, dtype=torch.float64) + 0.5).numpy() / n, dim))


def radial_w1(z: torch.Tensor, normalise_radius: bool = True) -> torch.Tensor:
    """Wasserstein-1 distance between the law of ``||z||`` and Chi_D, for ``z`` ``(batch, D)``.

    ``W1 = mean_i |r_(i) - F^-1((i - 1/2) / n)|`` over the sorted norms, ``F`` the Chi_D CDF;
    with ``normalise_radius`` both sides are divided by ``sqrt(D - 1)`` (a scale of ~1 in any D).
    """
    n, dim = z.shape
    r, _ = torch.sort(torch.linalg.vector_norm(z, dim=1))
    q = torch.tensor(_chi_quantiles(n, dim), dtype=z.dtype, device=z.device)
    scale = math.sqrt(max(dim - 1, 1)) if normalise_radius else 1.0
    return (r - q).abs().mean() / scale


def radial_vicreg_terms(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    radial: str = "kl",
    radial_coeff: float = 1.0,
    sim_coeff: float = 25.0,
    std_coeff: float = 25.0,
    cov_coeff: float = 1.0,
    eps: float = 1e-4,
    gather_distributed: bool = False,
) -> RadialVICRegTerms:
    """VICReg (``selfsup.losses.vicreg_terms``) plus ``radial_coeff`` times the radial term.

    Args:
        z_a: ``(batch, dim)`` embeddings of two views.
        z_b: as ``z_a``.
        radial: ``"kl"`` (m-spacing forward KL) or ``"w1"`` (Wasserstein-1), see the module.
        radial_coeff: weight of the radial term. The paper's image-experiment weights were not
            available to us; 1.0 is our choice (see docs/results.md for what it gave).
        sim_coeff: weight of VICReg's invariance term (25).
        std_coeff: weight of VICReg's variance term (25).
        cov_coeff: weight of VICReg's covariance term (1).
        eps: added to the variance before the square root, as in VICReg.
        gather_distributed: compute every term on the global batch across processes.
    """
    fn = "radial_vicreg_loss"
    check_choice(radial, "radial", fn, RADIAL_FORMS)
    check_nonnegative(radial_coeff, "radial_coeff", fn)
    z_a, z_b = pair_inputs(z_a, z_b, fn, gather_distributed)
    base = vicreg_terms(z_a, z_b, sim_coeff, std_coeff, cov_coeff, eps)
    term = radial_kl if radial == "kl" else radial_w1
    radial_value = (term(z_a) + term(z_b)) / 2
    loss = base.loss + radial_coeff * radial_value
    return RadialVICRegTerms(loss, base.invariance, base.variance, base.covariance, radial_value)


radial_vicreg_loss = scalar_loss(radial_vicreg_terms)
