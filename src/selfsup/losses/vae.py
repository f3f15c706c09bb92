"""VAE objectives: the reconstruction likelihood, the standard ELBO (beta-VAE) and CR-VAE.

Kingma & Welling (2014); beta-VAE: Higgins et al. (2017); CR-VAE (consistency-regularised
VAE): Sinha & Dieng (2021). All values are per-sample averages of *negative* log-likelihood
style quantities (lower is better), without additive constants that do not depend on the
parameters (e.g. ``D/2 log(2 pi sigma_x^2)`` of a Gaussian likelihood with fixed variance).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

LIKELIHOODS = ("bernoulli", "gaussian")


def check_posterior(mu: torch.Tensor, logvar: torch.Tensor, loss: str) -> None:
    """Raise ``ValueError`` unless ``mu`` and ``logvar`` have the same shape."""
    if mu.shape != logvar.shape:
        raise ValueError(
            f"{loss}: mu and logvar must have the same shape, got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}"
        )


def reconstruction_nll(
    x: torch.Tensor,
    x_logits: torch.Tensor,
    likelihood: str = "bernoulli",
    log_sigma_x2: float = -4.6,
) -> torch.Tensor:
    """``-log p(x | z)`` per image, summed over pixels (constants dropped).

    The decoder's last layer is a sigmoid; it is passed here *before* the sigmoid
    (``x_logits``) so the Bernoulli term can use the numerically stable logits form.

    Args:
        x: targets in [0, 1], ``(..., C, H, W)`` (or any trailing pixel dims).
        x_logits: decoder output before the sigmoid, same shape as ``x``.
        likelihood: ``"bernoulli"``: binary cross-entropy ``-[x log p + (1-x) log(1-p)]`` with
            ``p = sigmoid(x_logits)``; ``"gaussian"``: ``||x - sigmoid(x_logits)||^2 /
            (2 sigma_x^2)`` with ``log sigma_x^2 = log_sigma_x2``.
        log_sigma_x2: log variance of the Gaussian likelihood (ignored for Bernoulli).

    Returns:
        ``(...)``: one value per image (the last three dims are summed).
    """
    if x.shape != x_logits.shape:
        raise ValueError(
            f"reconstruction_nll: x and x_logits must have the same shape, got "
            f"{tuple(x.shape)} and {tuple(x_logits.shape)}"
        )
    if x.ndim < 3:
        raise ValueError(f"reconstruction_nll expects images (..., C, H, W), got {tuple(x.shape)}")
    if likelihood == "bernoulli":
        per_pixel = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    elif likelihood == "gaussian":
        per_pixel = (x - torch.sigmoid(x_logits)).pow(2) / (2 * math.exp(log_sigma_x2))
    else:
        raise ValueError(f"unknown likelihood '{likelihood}'; valid: {', '.join(LIKELIHOODS)}")
    return per_pixel.flatten(-3).sum(-1)


def gaussian_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    mu_p: torch.Tensor | None = None,
    logvar_p: torch.Tensor | None = None,
) -> torch.Tensor:
    """``KL(N(mu, diag e^logvar) || N(mu_p, diag e^logvar_p))`` summed over the last dim.

    The prior defaults to ``N(0, I)``. Shapes ``(..., L)`` -> ``(...)``.
    """
    if mu_p is None:
        mu_p = torch.zeros_like(mu)
    if logvar_p is None:
        logvar_p = torch.zeros_like(logvar)
    ratio = torch.exp(logvar - logvar_p)
    return 0.5 * (ratio + (mu - mu_p).pow(2) / torch.exp(logvar_p) - 1 - (logvar - logvar_p)).sum(
        -1
    )


class VAETerms(NamedTuple):
    """Negative ELBO (``loss = reconstruction + beta * kl``) and its terms, per-image means."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor


def vae_elbo(
    x: torch.Tensor,
    x_logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
    likelihood: str = "bernoulli",
    log_sigma_x2: float = -4.6,
) -> VAETerms:
    """Negative ELBO of a VAE with a standard-normal prior (beta-VAE when ``beta != 1``).

    Args:
        x: ``(N, C, H, W)`` targets in [0, 1] (views of a batch may be stacked along N).
        x_logits: ``(N, C, H, W)`` decoder output before its sigmoid.
        mu, logvar: ``(N, L)`` parameters of ``q(z|x) = N(mu, diag exp(logvar))``.
        beta: weight of the KL term (1: the plain VAE).
        likelihood, log_sigma_x2: see ``reconstruction_nll``.

    Returns:
        ``VAETerms`` averaged over the N images.
    """
    check_posterior(mu, logvar, "vae_elbo")
    if mu.ndim != 2 or mu.shape[0] != x.shape[0]:
        raise ValueError(
            f"vae_elbo: mu must be (N, L) with N = {x.shape[0]} images, got {tuple(mu.shape)}"
        )
    rec = reconstruction_nll(x, x_logits, likelihood, log_sigma_x2).mean()
    kl = gaussian_kl(mu, logvar).mean()
    return VAETerms(rec + beta * kl, rec, kl)


class CRVAETerms(NamedTuple):
    """CR-VAE loss and its terms (per-image means over both views)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    kl: torch.Tensor
    consistency: torch.Tensor


def cr_vae_elbo(
    x: torch.Tensor,
    x_logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    beta: float = 1.0,
    gamma: float = 1.0,
    likelihood: str = "bernoulli",
    log_sigma_x2: float = -4.6,
) -> CRVAETerms:
    """Consistency-regularised VAE: the ELBO of both views plus a posterior-consistency KL.

    ``loss = mean_j [rec_j + beta * kl_j] + gamma * KL(q(z|x_2) || q(z|x_1))`` where ``x_1``
    is the first view (the "original") and ``x_2`` the augmented one, as in Sinha & Dieng.

    Args:
        x, x_logits: ``(B, 2, C, H, W)``: two views per sample and their decoder outputs.
        mu, logvar: ``(B, 2, L)``.
        beta: weight of the KL to ``N(0, I)``; gamma: weight of the consistency term.
    """
    check_posterior(mu, logvar, "cr_vae_elbo")
    if x.ndim != 5 or x.shape[1] != 2 or mu.ndim != 3 or mu.shape[:2] != x.shape[:2]:
        raise ValueError(
            f"cr_vae_elbo expects x (B, 2, C, H, W) and mu (B, 2, L), got {tuple(x.shape)} "
            f"and {tuple(mu.shape)}"
        )
    rec = reconstruction_nll(x, x_logits, likelihood, log_sigma_x2).mean()
    kl = gaussian_kl(mu, logvar).mean()
    consistency = gaussian_kl(mu[:, 1], logvar[:, 1], mu[:, 0], logvar[:, 0]).mean()
    return CRVAETerms(rec + beta * kl + gamma * consistency, rec, kl, consistency)
