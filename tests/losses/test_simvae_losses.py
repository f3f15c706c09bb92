"""ELBO terms against direct float64 references built from torch.distributions densities."""

import math

import pytest
import torch
from torch.distributions import Bernoulli, Normal

from selfsup.losses import cr_vae_elbo, gaussian_kl, simvae_elbo, vae_elbo


def _batch(B=5, J=3, L=4, C=1, H=3, W=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    kw = dict(generator=g, dtype=torch.float64)
    x = torch.rand(B, J, C, H, W, **kw)
    logits = 2 * torch.randn(B, J, C, H, W, **kw)
    mu = torch.randn(B, J, L, **kw)
    logvar = 0.5 * torch.randn(B, J, L, **kw)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(B, J, L, **kw)
    return x, logits, mu, logvar, z


def _reference(x, logits, mu, logvar, z, sigma2, likelihood, log_sigma_x2, hyperprior):
    """Per-sample loops over log-densities; constants added back where ours drops them."""
    B, J, L = mu.shape
    D = x[0, 0].numel()
    rec = ent = pri = hyp = 0.0
    for i in range(B):
        zbar = z[i].mean(0)
        for j in range(J):
            if likelihood == "bernoulli":
                # Bernoulli log-prob with continuous targets is x log p + (1-x) log(1-p)
                rec -= (
                    Bernoulli(logits=logits[i, j], validate_args=False)
                    .log_prob(x[i, j])
                    .sum()
                    .item()
                )
            else:
                sd = math.exp(0.5 * log_sigma_x2)
                lp = Normal(torch.sigmoid(logits[i, j]), sd).log_prob(x[i, j]).sum().item()
                rec -= lp + 0.5 * D * math.log(2 * math.pi * sd**2)  # drop the constant
            q = Normal(mu[i, j], torch.exp(0.5 * logvar[i, j]))
            # -entropy(q) + the constant L/2 log(2 pi e)
            ent -= q.entropy().sum().item() - 0.5 * L * math.log(2 * math.pi * math.e)
            p = Normal(zbar, math.sqrt(sigma2))
            pri -= p.log_prob(z[i, j]).sum().item() + 0.5 * L * math.log(2 * math.pi * sigma2)
        if hyperprior == "normal":
            hyp -= Normal(0.0, 1.0).log_prob(zbar).sum().item() + 0.5 * L * math.log(2 * math.pi)
    terms = [rec / B, ent / B, pri / B, hyp / B]
    return [sum(terms), *terms]


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("hyperprior", ["normal", "uniform"])
@pytest.mark.parametrize("J", [2, 4])
def test_simvae_terms_match_reference(likelihood, hyperprior, J):
    x, logits, mu, logvar, z = _batch(J=J)
    got = simvae_elbo(x, logits, mu, logvar, z, 0.15, likelihood, -4.6, hyperprior)
    want = _reference(x, logits, mu, logvar, z, 0.15, likelihood, -4.6, hyperprior)
    for name, g, w in zip(got._fields, got, want, strict=True):
        assert g.dtype == torch.float64
        assert abs(g.item() - w) < 1e-6 * max(1.0, abs(w)), name


def test_simvae_prior_known_answer():
    # two views at +-a around 0 in one dimension: prior = 1/2 * 2 a^2 / sigma2; hyperprior 0
    z = torch.tensor([[[0.3], [-0.3]]], dtype=torch.float64)
    x = torch.zeros(1, 2, 1, 1, 1, dtype=torch.float64)
    terms = simvae_elbo(x, torch.zeros_like(x), z, torch.zeros_like(z), z, sigma2=0.15)
    assert terms.prior.item() == pytest.approx(0.09 / 0.15, abs=1e-12)
    assert terms.hyperprior.item() == pytest.approx(0.0, abs=1e-12)
    assert terms.entropy.item() == 0.0
    assert terms.reconstruction.item() == pytest.approx(2 * math.log(2), abs=1e-12)  # p = 1/2


def test_simvae_prior_gradient_flows_through_the_mean():
    # zbar is a function of the z_j (not a detached constant): the analytic gradient must
    # equal central finite differences of the whole prior term
    x, logits, mu, logvar, z = _batch(B=2, J=2)
    z = z.clone().requires_grad_(True)
    simvae_elbo(x, logits, mu, logvar, z).prior.backward()
    eps = 1e-6
    for idx in [(0, 0, 1), (1, 1, 3)]:
        zp, zm = z.detach().clone(), z.detach().clone()
        zp[idx] += eps
        zm[idx] -= eps
        fd = (
            simvae_elbo(x, logits, mu, logvar, zp).prior
            - simvae_elbo(x, logits, mu, logvar, zm).prior
        ) / (2 * eps)
        assert z.grad[idx].item() == pytest.approx(fd.item(), rel=1e-6)


def test_vae_and_cr_vae_against_distributions():
    x, logits, mu, logvar, _ = _batch(J=2)
    q = Normal(mu, torch.exp(0.5 * logvar))
    kl = torch.distributions.kl_divergence(q, Normal(0.0, 1.0)).sum(-1)
    rec = -Bernoulli(logits=logits, validate_args=False).log_prob(x).flatten(2).sum(-1)
    flat = vae_elbo(
        x.flatten(0, 1), logits.flatten(0, 1), mu.flatten(0, 1), logvar.flatten(0, 1), 4.0
    )
    assert flat.kl.item() == pytest.approx(kl.mean().item(), abs=1e-10)
    assert flat.loss.item() == pytest.approx((rec + 4.0 * kl).mean().item(), abs=1e-9)
    q2 = Normal(mu[:, 1], torch.exp(0.5 * logvar[:, 1]))
    q1 = Normal(mu[:, 0], torch.exp(0.5 * logvar[:, 0]))
    cons = torch.distributions.kl_divergence(q2, q1).sum(-1).mean()
    cr = cr_vae_elbo(x, logits, mu, logvar, beta=1.0, gamma=0.5)
    assert cr.consistency.item() == pytest.approx(cons.item(), abs=1e-10)
    assert cr.loss.item() == pytest.approx((rec + kl).mean().item() + 0.5 * cons.item(), abs=1e-9)
    assert gaussian_kl(mu, logvar, mu, logvar).abs().max().item() < 1e-12


def test_bad_shapes_name_the_shapes():
    x, logits, mu, logvar, z = _batch()
    with pytest.raises(ValueError, match=r"\(B, J, L\)"):
        simvae_elbo(x, logits, mu[:, :2], logvar[:, :2], z[:, :2])
    with pytest.raises(ValueError, match="J >= 2"):
        simvae_elbo(x[:, :1], logits[:, :1], mu[:, :1], logvar[:, :1], z[:, :1])
    with pytest.raises(ValueError, match="same shape"):
        simvae_elbo(x, logits[..., :1], mu, logvar, z)
    with pytest.raises(ValueError, match="hyperprior"):
        simvae_elbo(x, logits, mu, logvar, z, hyperprior="laplace")


def _full_objective(elbo: str, hyperprior: str, likelihood: str):
    """The whole objective as a function of every tensor it is differentiated through."""
    if elbo == "simvae":
        return lambda x, lg, mu, lv, z: (
            simvae_elbo(x, lg, mu, lv, z, 0.15, likelihood, -1.0, hyperprior).loss
        )
    if elbo == "vae":
        return lambda x, lg, mu, lv, z: vae_elbo(
            x.flatten(0, 1), lg.flatten(0, 1), mu.flatten(0, 1), lv.flatten(0, 1), 2.0,
            likelihood, -1.0,
        ).loss  # fmt: skip
    return lambda x, lg, mu, lv, z: cr_vae_elbo(x, lg, mu, lv, 1.5, 0.7, likelihood, -1.0).loss


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
@pytest.mark.parametrize(
    "elbo, hyperprior",
    [("simvae", "normal"), ("simvae", "uniform"), ("vae", None), ("cr_vae", None)],
)
def test_gradcheck_of_the_full_objectives(elbo, hyperprior, likelihood):
    # every input at once, float64: a detached cluster mean (the hyperprior's gradient through
    # zbar), a dropped chain-rule factor or a wrong sign in any term fails here
    x, logits, mu, logvar, z = _batch(B=2, J=2, L=3, H=2, W=2, seed=3)
    inputs = tuple(t.clone().requires_grad_(True) for t in (x, logits, mu, logvar, z))
    assert torch.autograd.gradcheck(_full_objective(elbo, hyperprior, likelihood), inputs)


def test_hyperprior_gradient_reaches_every_view():
    # d/dz_ij of 1/2 ||zbar_i||^2 = zbar_i / J for every view j: the hyperprior's own term
    x, logits, mu, logvar, z = _batch(B=2, J=3, L=2)
    z = z.clone().requires_grad_(True)
    simvae_elbo(x, logits, mu, logvar, z, hyperprior="normal").hyperprior.backward()
    zbar = z.detach().mean(1, keepdim=True)
    torch.testing.assert_close(z.grad, (zbar / 3).expand_as(z) / 2)  # mean over B = 2
