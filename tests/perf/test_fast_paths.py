"""The fast paths give the textbook numbers: losses computed through B x B Grams (and the
one-product InfoNCE backward) against the formulas that form the D x D matrices."""

from __future__ import annotations

import pytest
import torch

from selfsup.losses import barlow_twins_loss, info_nce_loss, vicreg_loss
from selfsup.losses.textbook import textbook_barlow_twins, textbook_info_nce, textbook_vicreg

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


def test_float32_vicreg_matches_the_textbook_formula_at_wide_dims():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(64, 2048, generator=g), torch.randn(64, 2048, generator=g)
    torch.testing.assert_close(vicreg_loss(a, b), textbook_vicreg(a, b), rtol=1e-5, atol=1e-5)


def test_info_nce_double_backward_still_works():
    a = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(info_nce_loss, (a, b))


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
