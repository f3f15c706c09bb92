"""The fast paths give the textbook numbers: both routes of the off-diagonal squares (float64
B x B Grams over sorted feature groups; D x D with a one-product backward) and the one-product
InfoNCE backward, against the plain formulas (tests/losses/textbook.py), values, gradients and
second derivatives."""

from __future__ import annotations

import pytest
import torch

from selfsup.losses import barlow_twins_loss, info_nce_loss, vicreg_loss
from selfsup.losses._offdiag import cross_offdiag_squares, top_block_size
from selfsup.losses.vicreg import covariance_term
from tests.losses import textbook
from tests.losses.textbook import textbook_barlow_twins, textbook_info_nce, textbook_vicreg

# batch < dim (Gram path), batch > dim (covariance path), and equal
SHAPES = [(16, 64), (64, 16), (32, 32)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "fast, textbook",
    [
        (vicreg_loss, textbook_vicreg),
        (barlow_twins_loss, textbook_barlow_twins),
        (info_nce_loss, textbook_info_nce),
    ],
)
def test_loss_and_gradients_match_the_textbook_formula(shape, fast, textbook):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)
    b = (a.detach() + 0.5 * torch.randn(*shape, generator=g, dtype=torch.float64)).requires_grad_()
    ours, ref = fast(a, b), textbook(a, b)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-10, abs=1e-12)
    grads = zip(torch.autograd.grad(ours, (a, b)), torch.autograd.grad(ref, (a, b)), strict=True)
    for x, y in grads:
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-12)


def test_float32_vicreg_matches_the_float64_formula_at_wide_dims():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(64, 2048, generator=g), torch.randn(64, 2048, generator=g)
    want = textbook_vicreg(a.double(), b.double()).float()
    torch.testing.assert_close(vicreg_loss(a, b), want, rtol=1e-6, atol=0)


def _offdiag_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    m = a.T @ b
    return m[~torch.eye(m.shape[0], dtype=torch.bool)].pow(2).sum()


@pytest.mark.parametrize("route", ["gram", "dxd"])
@pytest.mark.parametrize("shape", [(6, 40), (40, 6), (5, 1), (3, 17)])
def test_both_routes_in_float64(route, shape):
    g = torch.Generator().manual_seed(2)
    z = torch.randn(*shape, generator=g, dtype=torch.float64)
    z = (z * torch.logspace(-2, 2, shape[1], dtype=torch.float64)).requires_grad_()
    n, d = shape
    ours = covariance_term(z, route=route)
    ref = textbook.vicreg_terms(z, z)["covariance"] / 2
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12, abs=1e-300)
    torch.testing.assert_close(*(torch.autograd.grad(v, z)[0] for v in (ours, ref)))
    a, b = torch.randn(2, n, d, generator=g, dtype=torch.float64).unbind(0)
    torch.testing.assert_close(cross_offdiag_squares(a, b, route), _offdiag_reference(a, b))


@pytest.mark.parametrize("route", ["gram", "dxd"])
def test_both_routes_have_exact_first_and_second_derivatives(route):
    g = torch.Generator().manual_seed(3)
    # 70 features: the Gram route's top block (64) and the rest both take part
    z = torch.randn(3, 70, generator=g, dtype=torch.float64) * torch.logspace(1, -1, 70)
    z.requires_grad_(True)
    b = torch.randn(3, 70, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: covariance_term(t, route=route), (z,))
    # gradgradcheck only checks the double backward against the create_graph backward: that
    # backward (rebuilt from differentiable ops) must equal the plain one
    for fn, inputs in ((lambda t: covariance_term(t, route=route), (z,)),
                       (lambda s, t: cross_offdiag_squares(s, t, route), (z, b))):  # fmt: skip
        plain = torch.autograd.grad(fn(*inputs), inputs)
        graph = torch.autograd.grad(fn(*inputs), inputs, create_graph=True)
        for p, q in zip(plain, graph, strict=True):
            torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-12)
    # second derivatives in fast mode (random projections of the Jacobian): the full check
    # takes minutes on 420 inputs, and a wrong second derivative still fails it
    assert torch.autograd.gradgradcheck(
        lambda t: covariance_term(t, route=route), (z,), fast_mode=True
    )
    assert torch.autograd.gradcheck(lambda s, t: cross_offdiag_squares(s, t, route), (z, b))
    assert torch.autograd.gradgradcheck(
        lambda s, t: cross_offdiag_squares(s, t, route), (z, b), fast_mode=True
    )


def test_gram_route_top_block_covers_the_accuracy_argument():
    # m >= D / n features apart, so (D - m) / (n m) <= 1; at least 64 (or all of D)
    for n, d in [(2, 16), (16, 128), (256, 8192), (16, 8192), (4, 100000)]:
        m = top_block_size(n, d)
        assert min(d, 64) <= m <= d and (d - m) <= n * m
    # a route test where the top block does not cover D (m = 64 < D = 1024)
    g = torch.Generator().manual_seed(4)
    z = torch.randn(8, 1024, generator=g, dtype=torch.float64) * torch.logspace(3, -3, 1024)
    ours = covariance_term(z, route="gram")
    ref = covariance_term(z, route="dxd")
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)


def test_info_nce_double_backward_still_works():
    a = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(info_nce_loss, (a, b), fast_mode=True)


def test_convnet_pool_before_relu_matches_the_textbook_block_order():
    from torch import nn

    from selfsup.nets import ConvNet

    torch.manual_seed(0)
    net = ConvNet((1, 28, 28)).double()
    assert [type(m) for m in net.net[:4]] == [nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.ReLU]
    textbook = list(net.net)  # conv-BN-ReLU-maxpool, the usual order, same modules
    for i in range(len(textbook) - 1):
        if isinstance(textbook[i], nn.MaxPool2d) and isinstance(textbook[i + 1], nn.ReLU):
            textbook[i], textbook[i + 1] = textbook[i + 1], textbook[i]
    textbook = nn.Sequential(*textbook)
    assert [type(m) for m in textbook[:4]] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    x = torch.randn(16, 1, 28, 28, dtype=torch.float64)
    outs, grads = [], []
    for model in (net, textbook):
        net.zero_grad()
        out = model(x)
        (out * torch.linspace(-1, 1, out.shape[1], dtype=out.dtype)).sum().backward()
        outs.append(out.detach())
        grads.append([p.grad.clone() for p in net.parameters()])
    assert torch.equal(outs[0], outs[1])
    for g_fast, g_ref in zip(*grads, strict=True):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-12, atol=1e-12)
