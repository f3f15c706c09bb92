"""The SimVAE objective, ELBO_SSL (Bizeul, Schölkopf & Allen, TMLR 2024).

Generative model of J views of one sample: ``y ~ p(y)``, ``z_j ~ N(mu_y, sigma^2 I)``,
``x_j ~ p(x | z_j)``. Each view has its own posterior ``q(z|x_j) = N(mu_j, diag s_j^2)``; the
cluster centre ``mu_y`` is replaced by the mean ``zbar`` of the J sampled latents (gradient
flows through it), as in the published algorithm.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from selfsup.losses._wrappers import scalar_loss
from selfsup.losses.vae import (
    WEIGHTINGS,
    _check_log_sigma,
    check_finite_elbo,
    check_images,
    check_posterior,
    entropy_term,
    weighted_reconstruction,
)
from selfsup.validation import InputError, check_choice, check_positive, check_same_shape

HYPERPRIORS = ("normal", "uniform")


class SimVAETerms(NamedTuple):
    """``loss = reconstruction + entropy + prior + hyperprior``, each a mean over samples of the
    sum over the sample's J views (the hyperprior is one term per sample)."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    entropy: torch.Tensor
    prior: torch.Tensor
    hyperprior: torch.Tensor


def simvae_elbo(
    x: torch.Tensor,
    x_logits: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    z: torch.Tensor,
    sigma2: float = 0.15,
    likelihood: str = "bernoulli",
    log_sigma_x2: float = -4.6,
    hyperprior: str = "normal",
    weighting: str = "elbo",
) -> SimVAETerms:
    """Negative ELBO_SSL of a batch, and its named terms (constants dropped).

    Per sample i with views j = 1..J and ``zbar_i = mean_j z_ij``:

    - reconstruction: ``sum_j -log p(x_ij | z_ij)`` (see ``reconstruction_nll``);
    - entropy: ``-1/2 sum_j sum_d logvar_ijd`` (minus the entropy of q, up to a constant);
    - prior: ``1/2 sum_j ||z_ij - zbar_i||^2 / sigma2`` (``-log p(z_ij | y)`` up to a constant);
    - hyperprior: ``1/2 ||zbar_i||^2`` for an ``N(0, I)`` hyperprior on the cluster centre
      (``"normal"``, the official default) or 0 for ``"uniform"``.

    ``weighting="official"`` is the official code's objective (``SelfSup`` in
    alicebizeul/simvae, ``src/model/models.py`` and ``src/model/priors.py``) term for term,
    its per-batch sum divided by B: the reconstruction divided by ``exp(log_sigma_x2)`` for
    the Bernoulli likelihood too (x ~99.5 at -4.6; see ``weighted_reconstruction``) and the
    entropy ``-1/2 sum 2 pi logvar`` (see ``entropy_term``); prior and hyperprior are the same
    as above. Additive constants are dropped in both (the official uniform hyperprior adds
    ``L log(num_data)`` per sample).

    Args:
        x: ``(B, J, C, H, W)`` views in [0, 1] (the reconstruction targets).
        x_logits: ``(B, J, C, H, W)`` decoder outputs before the sigmoid.
        mu: ``(B, J, L)`` posterior mean of each view.
        logvar: ``(B, J, L)`` posterior log-variance of each view.
        z: ``(B, J, L)`` reparameterised samples ``mu + exp(logvar / 2) * eps``.
        sigma2: variance of ``p(z | y)`` (official 0.15).
        likelihood: ``"bernoulli"`` or ``"gaussian"``; log_sigma_x2: Gaussian log variance
            (official -4.6, i.e. sigma_x^2 ~ 0.01).
        hyperprior: ``"normal"`` or ``"uniform"``.
        weighting: ``"elbo"`` (the paper's ELBO, default) or ``"official"``.

    Returns:
        ``SimVAETerms`` averaged over the B samples.
    """
    fn = "simvae_elbo"
    check_images(x, x_logits, fn, likelihood)
    check_posterior(mu, logvar, fn)
    check_same_shape(mu, z, ("mu", "z"), fn)
    if x.ndim != 5:
        raise InputError(f"{fn} expects x of shape (B, J, C, H, W), got {tuple(x.shape)}")
    if mu.ndim != 3 or mu.shape[:2] != x.shape[:2]:
        raise InputError(
            f"{fn} expects mu, logvar, z of shape (B, J, L) matching x's (B, J) = "
            f"{tuple(x.shape[:2])}, got mu {tuple(mu.shape)}, z {tuple(z.shape)}"
        )
    if x.shape[1] < 2:
        raise InputError(f"{fn} needs J >= 2 views per sample, got x {tuple(x.shape)}")
    check_positive(sigma2, "sigma2", fn, " (the official 0.15)")
    check_choice(hyperprior, "hyperprior", fn, HYPERPRIORS)
    check_choice(weighting, "weighting", fn, WEIGHTINGS)
    _check_log_sigma(log_sigma_x2, fn)
    check_finite_elbo(fn, likelihood, x=x, x_logits=x_logits, mu=mu, logvar=logvar, z=z)
    rec = weighted_reconstruction(x, x_logits, likelihood, log_sigma_x2, weighting).sum(1).mean()
    entropy = entropy_term(logvar, weighting).sum(1).mean()
    zbar = z.mean(1, keepdim=True)
    # zbar's rounding is common to the J views, so it cancels to first order in the sum of
    # squares (the deviations sum to zero): one pass is as accurate as two (measured in
    # tests/losses/test_hard_batches.py at offsets of 1e3). The gradient of this term through
    # zbar is zero by construction; the hyperprior's is not.
    prior = 0.5 * ((z - zbar).pow(2).sum((1, 2)) / sigma2).mean()
    if hyperprior == "normal":
        hyper = 0.5 * zbar.pow(2).sum((1, 2)).mean()
    else:
        hyper = torch.zeros((), dtype=z.dtype, device=z.device)
    return SimVAETerms(rec + entropy + prior + hyper, rec, entropy, prior, hyper)


simvae_loss = scalar_loss(simvae_elbo, name="simvae_loss")
