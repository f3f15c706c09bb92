"""``weighting="official"`` against an independent re-derivation of the official SimVAE code.

The reference below follows alicebizeul/simvae (``src/model/models.py``: ``BaseVAE.forward``,
``recon_and_entropy``, ``loss``; ``src/model/priors.py``: ``Prior_Sup``, ``Prior_StdGauss``;
``main.py``: ``batch_loss = recon + prior + entropy``) line by line on the flattened batch of
B * J images, sigmoid then ``nn.BCELoss(reduction="sum")`` / ``0.5 * nn.MSELoss(sum)``, and
keeps the code's additive constants. Our functions drop those constants and divide by B (SimVAE)
or by the number of images (VAE), so the test removes the constants in closed form.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from selfsup.losses import simvae_elbo, vae_elbo


def _official_batch_loss(
    x,
    mu_x_logits,
    mu_z,
    log_var_z,
    z,
    log_var_x,
    binarise,
    num_sim,
    var_z_y=None,
    p_y_prior="gaussian",
    num_data=50000,
):
    """The official per-batch objective; ``x`` etc. flattened to (B * J, ...) images in the
    official order (the J views of a sample adjacent). ``var_z_y=None``: the VAE baseline."""
    mu_x = torch.sigmoid(mu_x_logits)
    if binarise:
        recon = nn.BCELoss(reduction="sum")(mu_x, x)
    else:
        recon = 0.5 * nn.MSELoss(reduction="sum")(mu_x, x)
    entropy = 0.5 * torch.sum(2 * math.pi * log_var_z)
    recon = recon / math.exp(log_var_x)
    if var_z_y is None:  # Prior_StdGauss
        log_2_pi = torch.log(2 * torch.tensor(math.pi, dtype=z.dtype))
        prior = -0.5 * torch.sum(log_2_pi + z.pow(2))
    else:  # Prior_Sup
        zz = z.view(-1, num_sim, *z.shape[1:])
        c_means = torch.mean(zz, 1).unsqueeze(1)
        log_p_z_y = -0.5 * torch.sum(torch.pow(zz - c_means, 2) / var_z_y, dim=1)
        if p_y_prior == "uniform":
            log_p_y = math.log(num_data)
        else:
            log_p_y = -0.5 * torch.sum(torch.pow(c_means, 2), 1)
        prior = torch.sum(log_p_z_y + log_p_y, dim=(0, 1))
    return recon + (-prior) + (-entropy)


def _inputs(b=5, j=2, latent=4, seed=0, binary=True, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    shape = (b, j, 1, 3, 3)
    x = torch.rand(shape, generator=g, dtype=torch.float64)
    if binary:
        x = (x > 0.5).double()
    logits = 3 * scale * torch.randn(shape, generator=g, dtype=torch.float64)
    mu = scale * torch.randn(b, j, latent, generator=g, dtype=torch.float64)
    logvar = torch.randn(b, j, latent, generator=g, dtype=torch.float64) - 1
    eps = torch.randn(b, j, latent, generator=g, dtype=torch.float64)
    return x, logits, mu, logvar, eps


def _grads(fn, x, logits, mu, logvar, eps):
    leaves = [t.clone().requires_grad_(True) for t in (logits, mu, logvar)]
    lg, m, lv = leaves
    z = m + torch.exp(0.5 * lv) * eps  # gradients through the sample, as in training
    loss = fn(x, lg, m, lv, z)
    return loss.detach(), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize(
    "likelihood, log_var_x, prior, seed",
    [
        ("bernoulli", -4.6, "gaussian", 0),
        ("bernoulli", -1.0, "uniform", 1),
        ("gaussian", -4.6, "gaussian", 2),
        ("gaussian", 0.5, "uniform", 3),
    ],
)
@pytest.mark.parametrize("j", [2, 3])
def test_simvae_official_equals_the_official_code(likelihood, log_var_x, prior, seed, j):
    b, latent, num_data = 5, 4, 60000
    inputs = _inputs(b, j, latent, seed, binary=likelihood == "bernoulli")
    hyper = "normal" if prior == "gaussian" else "uniform"

    def ours(x, lg, m, lv, z):
        return simvae_elbo(x, lg, m, lv, z, 0.15, likelihood, log_var_x, hyper, "official").loss

    def theirs(x, lg, m, lv, z):
        flat = [t.flatten(0, 1) for t in (x, lg, m, lv, z)]
        total = _official_batch_loss(
            *flat, log_var_x, likelihood == "bernoulli", j, 0.15, prior, num_data
        )
        constant = -b * latent * math.log(num_data) if prior == "uniform" else 0.0
        return (total - constant) / b

    loss_a, grads_a = _grads(ours, *inputs)
    loss_b, grads_b = _grads(theirs, *inputs)
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-12, abs=1e-8)
    for ga, gb in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(ga, gb, rtol=0, atol=1e-8)


@pytest.mark.parametrize("likelihood, log_var_x", [("bernoulli", -4.6), ("gaussian", -2.0)])
@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_vae_official_equals_the_official_baseline(likelihood, log_var_x, beta):
    b, j, latent = 4, 2, 3
    inputs = _inputs(b, j, latent, 7, binary=likelihood == "bernoulli")

    def ours(x, lg, m, lv, z):
        flat = [t.flatten(0, 1) for t in (x, lg, m, lv, z)]
        x, lg, m, lv, z = flat
        return vae_elbo(x, lg, m, lv, beta, likelihood, log_var_x, "official", z).loss

    def theirs(x, lg, m, lv, z):
        flat = [t.flatten(0, 1) for t in (x, lg, m, lv, z)]
        n = b * j
        if beta == 1.0:
            total = _official_batch_loss(*flat, log_var_x, likelihood == "bernoulli", j)
            constant = 0.5 * n * latent * math.log(2 * math.pi)
            return (total - constant) / n
        # beta-VAE: the official code has none; beta weighs its entropy + prior terms
        recon_only = _official_batch_loss(
            flat[0],
            flat[1],
            flat[2],
            torch.zeros_like(flat[3]),
            torch.zeros_like(flat[4]),
            log_var_x,
            likelihood == "bernoulli",
            j,
        ) - 0.5 * n * latent * math.log(2 * math.pi)
        everything = _official_batch_loss(*flat, log_var_x, likelihood == "bernoulli", j)
        everything = everything - 0.5 * n * latent * math.log(2 * math.pi)
        return (recon_only + beta * (everything - recon_only)) / n

    loss_a, grads_a = _grads(ours, *inputs)
    loss_b, grads_b = _grads(theirs, *inputs)
    assert loss_a.item() == pytest.approx(loss_b.item(), rel=1e-12, abs=1e-8)
    for ga, gb in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(ga, gb, rtol=0, atol=1e-8)


def test_official_bernoulli_weight_and_entropy_slope():
    """The two differences from the ELBO, in numbers: the Bernoulli reconstruction weighs
    exp(4.6) ~ 99.5 times as much, and the entropy's slope per log-variance is pi, not 1/2."""
    x, logits, mu, logvar, eps = _inputs(3, 2, 4, 11)
    z = mu + torch.exp(0.5 * logvar) * eps
    elbo = simvae_elbo(x, logits, mu, logvar, z, weighting="elbo")
    official = simvae_elbo(x, logits, mu, logvar, z, weighting="official")
    assert math.exp(4.6) == pytest.approx(99.484, abs=1e-3)
    assert official.reconstruction.item() == pytest.approx(
        math.exp(4.6) * elbo.reconstruction.item(), rel=1e-12
    )
    assert official.entropy.item() == pytest.approx(2 * math.pi * elbo.entropy.item(), rel=1e-12)
    assert official.prior.item() == elbo.prior.item()
    assert official.hyperprior.item() == elbo.hyperprior.item()


def test_official_float32_matches_float64_on_hard_inputs():
    """Large offsets and a dominant dimension: float32 within float32's reach of float64."""
    x, logits, mu, logvar, eps = _inputs(2, 2, 6, 5, scale=1.0)
    mu = mu + 1e3
    mu[..., 0] *= 100
    z = mu + torch.exp(0.5 * logvar) * eps
    ref = simvae_elbo(x, logits, mu, logvar, z, weighting="official").loss.item()
    low = simvae_elbo(
        *(t.float() for t in (x, logits, mu, logvar, z)), weighting="official"
    ).loss.item()
    assert low == pytest.approx(ref, rel=1e-5)


def test_weighting_errors_name_the_choice():
    from selfsup.validation import InputError

    x, logits, mu, logvar, eps = _inputs(2, 2, 3, 0)
    with pytest.raises(InputError, match="weighting"):
        simvae_elbo(x, logits, mu, logvar, mu, weighting="paper")
    with pytest.raises(InputError, match="needs the latent samples z"):
        vae_elbo(x[:, 0], logits[:, 0], mu[:, 0], logvar[:, 0], weighting="official")
