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

from selfsup.validation import (
    InputError,
    check_choice,
    check_finite,
    check_nonnegative,
    check_same_shape,
    check_tensor,
)

LIKELIHOODS = ("bernoulli", "gaussian")
# "elbo": the paper's objective; "official": the objective as alicebizeul/simvae computes it
# (src/model/models.py, BaseVAE.recon_and_entropy and the priors), see docs/simvae.md
WEIGHTINGS = ("elbo", "official")


def check_images(x: torch.Tensor, x_logits: torch.Tensor, fn: str, likelihood: str) -> None:
    """Targets and decoder outputs: floats of the same shape ``(..., C, H, W)``."""
    check_tensor(x, "x", fn)
    check_tensor(x_logits, "x_logits", fn)
    check_same_shape(x, x_logits, ("x", "x_logits"), fn)
    if x.ndim < 3 or x.numel() == 0:
        raise InputError(f"{fn}: x must be non-empty images (..., C, H, W), got {tuple(x.shape)}")
    check_choice(likelihood, "likelihood", fn, LIKELIHOODS)


def check_posterior(mu: torch.Tensor, logvar: torch.Tensor, fn: str) -> None:
    """``mu`` and ``logvar``: floats of the same shape with a latent dimension ``>= 1``."""
    check_tensor(mu, "mu", fn)
    check_tensor(logvar, "logvar", fn)
    check_same_shape(mu, logvar, ("mu", "logvar"), fn)
    if mu.ndim < 1 or mu.shape[-1] < 1:
        raise InputError(f"{fn}: mu must have a latent dimension L >= 1, got {tuple(mu.shape)}")


def check_finite_elbo(fn: str, likelihood: str, **tensors: torch.Tensor) -> None:
    """Every tensor finite and, for the Bernoulli likelihood, the targets ``x`` in [0, 1]; one
    host-device sync."""
    x = tensors["x"]
    conditions = {}
    if likelihood == "bernoulli":
        conditions[
            "x must lie in [0, 1] for the Bernoulli likelihood (images scaled to [0, 1], "
            "not normalised)"
        ] = ((x >= 0) & (x <= 1)).all()
    check_finite(fn, conditions=conditions, **tensors)


def _reconstruction_nll(
    x: torch.Tensor, x_logits: torch.Tensor, likelihood: str, log_sigma_x2: float
) -> torch.Tensor:
    if likelihood == "bernoulli":
        per_pixel = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none")
    else:
        per_pixel = (x - torch.sigmoid(x_logits)).pow(2) / (2 * math.exp(log_sigma_x2))
    return per_pixel.flatten(-3).sum(-1)


def weighted_reconstruction(
    x: torch.Tensor,
    x_logits: torch.Tensor,
    likelihood: str,
    log_sigma_x2: float,
    weighting: str,
) -> torch.Tensor:
    """Per-image reconstruction term ``(...)`` of either weighting (inputs already checked).

    The official code divides *both* likelihoods by ``exp(log_var_x)``: for the Gaussian that is
    the ELBO's ``1 / (2 sigma_x^2)`` already; for the Bernoulli it is an extra factor
    ``exp(-log_sigma_x2)`` (about 99.5 at the official -4.6) that the ELBO does not have."""
    rec = _reconstruction_nll(x, x_logits, likelihood, log_sigma_x2)
    if weighting == "official" and likelihood == "bernoulli":
        rec = rec * math.exp(-log_sigma_x2)
    return rec


def entropy_term(logvar: torch.Tensor, weighting: str) -> torch.Tensor:
    """Minus the posterior entropy, up to a constant, summed over the last dim: ``(..., L)`` ->
    ``(...)``. ``"elbo"``: ``-1/2 sum logvar``; ``"official"``: ``-1/2 sum 2 pi logvar`` as the
    official code writes it (``0.5 * torch.sum(2*math.pi*log_var_z)``, gradient ``-pi`` per
    log-variance instead of ``-1/2``)."""
    scale = math.pi if weighting == "official" else 0.5
    return -scale * logvar.sum(-1)


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
        x: targets, ``(..., C, H, W)`` (or any trailing pixel dims); in [0, 1] for Bernoulli.
        x_logits: decoder output before the sigmoid, same shape as ``x``.
        likelihood: ``"bernoulli"``: binary cross-entropy ``-[x log p + (1-x) log(1-p)]`` with
            ``p = sigmoid(x_logits)``; ``"gaussian"``: ``||x - sigmoid(x_logits)||^2 /
            (2 sigma_x^2)`` with ``log sigma_x^2 = log_sigma_x2``.
        log_sigma_x2: log variance of the Gaussian likelihood (ignored for Bernoulli).

    Returns:
        ``(...)``: one value per image (the last three dims are summed).
    """
    fn = "reconstruction_nll"
    check_images(x, x_logits, fn, likelihood)
    _check_log_sigma(log_sigma_x2, fn)
    check_finite_elbo(fn, likelihood, x=x, x_logits=x_logits)
    return _reconstruction_nll(x, x_logits, likelihood, log_sigma_x2)


def _check_log_sigma(log_sigma_x2: float, fn: str) -> None:
    if not isinstance(log_sigma_x2, int | float) or not math.isfinite(log_sigma_x2):
        raise InputError(f"{fn}: log_sigma_x2 must be a finite number, got {log_sigma_x2!r}")


def _gaussian_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    mu_p: torch.Tensor | None = None,
    logvar_p: torch.Tensor | None = None,
) -> torch.Tensor:
    if mu_p is None:
        diff = logvar
        quad = mu.pow(2)
    else:
        diff = logvar - logvar_p
        quad = (mu - mu_p).pow(2) * torch.exp(-logvar_p)
    # exp(d) - 1 - d through expm1: the plain form loses every digit for |d| << 1
    return 0.5 * (torch.expm1(diff) - diff + quad).sum(-1)


def gaussian_kl(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    mu_p: torch.Tensor | None = None,
    logvar_p: torch.Tensor | None = None,
) -> torch.Tensor:
    """``KL(N(mu, diag e^logvar) || N(mu_p, diag e^logvar_p))`` summed over the last dim.

    The prior defaults to ``N(0, I)``. Shapes ``(..., L)`` -> ``(...)``. The
    ``exp(d) - 1 - d`` part (``d`` the log-variance difference) is computed as
    ``expm1(d) - d``, accurate when the two variances are close.
    """
    fn = "gaussian_kl"
    check_posterior(mu, logvar, fn)
    if (mu_p is None) != (logvar_p is None):
        raise InputError(f"{fn}: pass both mu_p and logvar_p, or neither (the N(0, I) prior)")
    if mu_p is not None:
        check_posterior(mu_p, logvar_p, fn)
        check_same_shape(mu, mu_p, ("mu", "mu_p"), fn)
    check_finite(fn, mu=mu, logvar=logvar, mu_p=mu_p, logvar_p=logvar_p)
    return _gaussian_kl(mu, logvar, mu_p, logvar_p)


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
    weighting: str = "elbo",
    z: torch.Tensor | None = None,
) -> VAETerms:
    """Negative ELBO of a VAE with a standard-normal prior (beta-VAE when ``beta != 1``).

    ``weighting="elbo"`` (default): ``rec + beta * KL(q(z|x) || N(0, I))`` with the analytic KL.
    ``weighting="official"``: the VAE baseline of the official SimVAE code
    (``GmmVAEWithAugments``: ``Prior_StdGauss`` and ``BaseVAE.recon_and_entropy``) per image:
    the reconstruction weighted as in ``weighted_reconstruction``, and in place of the KL its
    one-sample estimate as that code writes it, ``-pi sum logvar + 1/2 ||z||^2`` (additive
    constants dropped), which needs the sample ``z``; ``beta`` multiplies that term.

    Args:
        x: ``(N, C, H, W)`` targets in [0, 1] (views of a batch may be stacked along N).
        x_logits: ``(N, C, H, W)`` decoder output before its sigmoid.
        mu: ``(N, L)`` mean of ``q(z|x) = N(mu, diag exp(logvar))``.
        logvar: ``(N, L)`` log-variance of ``q(z|x)``.
        beta: weight of the KL term (1: the plain VAE).
        likelihood: the decoder's likelihood; see ``reconstruction_nll``.
        log_sigma_x2: the Gaussian likelihood's log-variance; see ``reconstruction_nll``.
        weighting: ``"elbo"`` or ``"official"``.
        z: ``(N, L)`` reparameterised samples; required by ``"official"``, unused otherwise.

    Returns:
        ``VAETerms`` averaged over the N images.
    """
    fn = "vae_elbo"
    check_images(x, x_logits, fn, likelihood)
    check_posterior(mu, logvar, fn)
    if mu.ndim != 2 or mu.shape[0] != x.shape[0]:
        raise InputError(
            f"{fn}: mu must be (N, L) with N = {x.shape[0]} images, got {tuple(mu.shape)}"
        )
    check_nonnegative(beta, "beta", fn)
    _check_log_sigma(log_sigma_x2, fn)
    check_choice(weighting, "weighting", fn, WEIGHTINGS)
    if weighting == "official":
        if z is None:
            raise InputError(f"{fn}: weighting='official' needs the latent samples z")
        check_same_shape(mu, z, ("mu", "z"), fn)
    extra = {} if z is None else {"z": z}
    check_finite_elbo(fn, likelihood, x=x, x_logits=x_logits, mu=mu, logvar=logvar, **extra)
    rec = weighted_reconstruction(x, x_logits, likelihood, log_sigma_x2, weighting).mean()
    if weighting == "official":
        kl = (entropy_term(logvar, weighting) + 0.5 * z.pow(2).sum(-1)).mean()
    else:
        kl = _gaussian_kl(mu, logvar).mean()
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
        x: ``(B, 2, C, H, W)`` two views per sample, in [0, 1].
        x_logits: ``(B, 2, C, H, W)`` the decoder's outputs for them, before the sigmoid.
        mu: ``(B, 2, L)`` posterior means of the two views.
        logvar: ``(B, 2, L)`` posterior log-variances of the two views.
        beta: weight of the KL to ``N(0, I)``.
        gamma: weight of the consistency term.
    """
    fn = "cr_vae_elbo"
    check_images(x, x_logits, fn, likelihood)
    check_posterior(mu, logvar, fn)
    if x.ndim != 5 or x.shape[1] != 2 or mu.ndim != 3 or mu.shape[:2] != x.shape[:2]:
        raise InputError(
            f"{fn} expects x (B, 2, C, H, W) and mu (B, 2, L), got {tuple(x.shape)} "
            f"and {tuple(mu.shape)}"
        )
    check_nonnegative(beta, "beta", fn)
    check_nonnegative(gamma, "gamma", fn)
    _check_log_sigma(log_sigma_x2, fn)
    check_finite_elbo(fn, likelihood, x=x, x_logits=x_logits, mu=mu, logvar=logvar)
    rec = _reconstruction_nll(x, x_logits, likelihood, log_sigma_x2).mean()
    kl = _gaussian_kl(mu, logvar).mean()
    consistency = _gaussian_kl(mu[:, 1], logvar[:, 1], mu[:, 0], logvar[:, 0]).mean()
    return CRVAETerms(rec + beta * kl + gamma * consistency, rec, kl, consistency)
