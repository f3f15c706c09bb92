"""VICReg-LogDet and VICReg-PairDist against references written from the formulas."""

import math

import pytest
import torch

import selfsup.losses._checks as pair_checks
from selfsup.losses.info_vicreg import (
    vicreg_logdet_loss,
    vicreg_logdet_terms,
    vicreg_pairdist_loss,
    vicreg_pairdist_terms,
)


def _pair(n: int = 64, d: int = 32, seed: int = 0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(n, d, generator=g, dtype=dtype)
    z_b = z_a + 0.3 * torch.randn(n, d, generator=g, dtype=dtype)
    return z_a.requires_grad_(), z_b.requires_grad_()


def _ref_logdet(z, beta):
    # d x d covariance and slogdet, unlike the implementation's Gram / Cholesky path.
    zc = z - z.mean(0)
    cov = zc.T @ zc / (z.shape[0] - 1)
    return 0.5 * torch.linalg.slogdet(torch.eye(z.shape[1], dtype=z.dtype) + beta * cov)[1]


def _ref_pairdist(z, s, c):
    n, d = z.shape
    dist2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    comp = 0.5 * d * math.log(2 * math.pi * math.e * s**2)
    return comp - torch.log(torch.exp(-dist2 / (c * s**2)).mean(1)).mean()


@pytest.mark.parametrize("n,d", [(64, 32), (16, 48)])
@pytest.mark.parametrize("eps,beta", [(1.0, None), (0.5, None), (1.0, 3.0)])
def test_logdet_loss_and_gradient_match_reference(n, d, eps, beta):
    z_a, z_b = _pair(n, d)
    b = beta if beta is not None else 1 / eps**2
    terms = vicreg_logdet_terms(z_a, z_b, sim_coeff=25.0, logdet_coeff=2.0, beta=beta, eps=eps)
    inv = ((z_a - z_b) ** 2).mean()
    ent = 0.5 * (_ref_logdet(z_a, b) + _ref_logdet(z_b, b))
    ref = 25.0 * inv - 2.0 * ent
    torch.testing.assert_close(terms.invariance, inv)
    torch.testing.assert_close(terms.entropy, ent)
    torch.testing.assert_close(terms.loss, ref)
    g_ours = torch.autograd.grad(terms.loss, (z_a, z_b))
    g_ref = torch.autograd.grad(ref, (z_a, z_b))
    for a, r in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, r)
    assert vicreg_logdet_loss(z_a, z_b, 25.0, 2.0, beta, eps).item() == pytest.approx(ref.item())


@pytest.mark.parametrize("bound,c", [("bhattacharyya", 8.0), ("kl", 2.0)])
@pytest.mark.parametrize("sigma", [1.0, 2.5])
def test_pairdist_loss_and_gradient_match_reference(bound, c, sigma):
    z_a, z_b = _pair(48, 16, seed=1)
    terms = vicreg_pairdist_terms(z_a, z_b, 10.0, 3.0, sigma, bound)
    inv = ((z_a - z_b) ** 2).mean()
    ent = 0.5 * (_ref_pairdist(z_a, sigma, c) + _ref_pairdist(z_b, sigma, c))
    ref = 10.0 * inv - 3.0 * ent
    torch.testing.assert_close(terms.entropy, ent)
    torch.testing.assert_close(terms.loss, ref)
    g_ours = torch.autograd.grad(terms.loss, (z_a, z_b))
    g_ref = torch.autograd.grad(ref, (z_a, z_b))
    for a, r in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, r)
    loss = vicreg_pairdist_loss(z_a, z_b, 10.0, 3.0, sigma, bound)
    assert loss.item() == pytest.approx(ref.item())


@pytest.mark.parametrize("loss_fn", [vicreg_logdet_loss, vicreg_pairdist_loss])
def test_collapse_costs_more_and_gradient_spreads(loss_fn):
    g = torch.Generator().manual_seed(2)
    spread = torch.randn(256, 64, generator=g) * 0.5
    # Dimensional collapse: the same batch squeezed onto 2 directions, identical views.
    collapsed = spread[:, :2] @ torch.randn(2, 64, generator=g) * 0.1
    assert loss_fn(collapsed, collapsed) > loss_fn(spread, spread)
    # A gradient step on the loss (views identical: only the entropy acts) raises the entropy.
    z = collapsed.clone().requires_grad_()
    (grad,) = torch.autograd.grad(loss_fn(z, z), z)
    stepped = collapsed - 0.05 * grad / grad.norm() * collapsed.norm()
    terms = vicreg_logdet_terms if loss_fn is vicreg_logdet_loss else vicreg_pairdist_terms
    assert terms(stepped, stepped).entropy > terms(collapsed, collapsed).entropy


def test_invariance_pulls_views_together():
    z_a, z_b = _pair(32, 8, seed=3)
    for loss in (
        vicreg_logdet_loss(z_a, z_b, logdet_coeff=0.0),
        vicreg_pairdist_loss(z_a, z_b, entropy_coeff=0.0),
    ):
        g_a, g_b = torch.autograd.grad(loss, (z_a, z_b))
        # With the entropy switched off, -grad on z_a points towards z_b and vice versa.
        assert ((-g_a) * (z_b - z_a)).sum() > 0 and ((-g_b) * (z_a - z_b)).sum() > 0
        torch.testing.assert_close(g_a, 25.0 * 2 * (z_a - z_b) / z_a.numel())


@pytest.mark.parametrize("fn", [vicreg_logdet_terms, vicreg_pairdist_terms])
def test_shape_errors_name_shapes(fn):
    with pytest.raises(ValueError, match=r"\(8, 4\) and \(8, 5\)"):
        fn(torch.randn(8, 4), torch.randn(8, 5))
    with pytest.raises(ValueError, match=r"\(8, 4\) and \(6, 4\)"):
        fn(torch.randn(8, 4), torch.randn(6, 4))
    with pytest.raises(ValueError, match=r"\(8, 2, 2\)"):
        fn(torch.randn(8, 2, 2), torch.randn(8, 2, 2))


@pytest.mark.parametrize("fn", [vicreg_logdet_terms, vicreg_pairdist_terms])
def test_gather_distributed_gathers_both_branches(fn, monkeypatch):
    calls = []

    def fake_gather(z):  # stands in for two ranks holding the same shard
        calls.append(z.shape)
        return torch.cat([z, z + 1.0])

    z_a, z_b = _pair(16, 8, seed=4)
    plain = fn(z_a, z_b)
    monkeypatch.setattr(pair_checks, "gather_batch", fake_gather)
    gathered = fn(z_a, z_b, gather_distributed=True)
    assert calls == [z_a.shape, z_b.shape]
    expected = fn(torch.cat([z_a, z_a + 1.0]), torch.cat([z_b, z_b + 1.0]))
    torch.testing.assert_close(gathered.loss, expected.loss)
    assert not torch.allclose(gathered.entropy, plain.entropy)


def test_float32_and_large_projector_shapes():
    g = torch.Generator().manual_seed(5)
    z_a = torch.randn(256, 1024, generator=g)
    z_b = z_a + 0.1 * torch.randn(256, 1024, generator=g)
    for fn in (vicreg_logdet_terms, vicreg_pairdist_terms):
        t = fn(z_a, z_b)
        assert t.loss.dtype == torch.float32 and torch.isfinite(t.loss)
