"""Empirical NTK against finite differences and hand-derived kernels; the lazy regime."""

import math

import pytest
import torch
from torch import nn

from selfsup.dynamics import (
    TwoLayerNet,
    empirical_ntk,
    ntk_relative_change,
    supervised_step,
    two_layer_ntk,
)


class Linear(nn.Module):
    def __init__(self, W: torch.Tensor) -> None:
        super().__init__()
        self.W = nn.Parameter(W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W


def test_linear_model_ntk_is_gram_times_identity(gen):
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    K = empirical_ntk(Linear(torch.randn(4, 3, generator=gen, dtype=torch.float64)), x, chunk=2)
    expected = (x @ x.T)[:, None, :, None] * torch.eye(3, dtype=torch.float64)[None, :, None, :]
    assert K.shape == (5, 3, 5, 3)
    assert torch.allclose(K, expected, atol=1e-12)


def _finite_difference_ntk(net: TwoLayerNet, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    rows = []
    with torch.no_grad():
        for p in (net.W1, net.A):
            flat = p.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + eps
                plus = net(x).clone()
                flat[i] = old - eps
                minus = net(x).clone()
                flat[i] = old
                rows.append(((plus - minus) / (2 * eps)).reshape(-1))
    J = torch.stack(rows, dim=1)  # (n h, P)
    n, h = x.shape[0], net.h
    return (J @ J.T).reshape(n, h, n, h)


@pytest.mark.parametrize("activation", ["tanh", "relu", "identity"])
def test_two_layer_ntk_matches_finite_differences(gen, activation):
    net = TwoLayerNet(3, 6, 2, activation=activation, generator=gen)
    x = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    reference = _finite_difference_ntk(net, x)
    assert torch.allclose(empirical_ntk(net, x), reference, rtol=1e-6, atol=1e-8)
    assert torch.allclose(two_layer_ntk(net, x), reference, rtol=1e-6, atol=1e-8)


def test_ntk_relative_change():
    K0 = torch.eye(3, dtype=torch.float64)
    assert ntk_relative_change(K0, K0) == 0.0
    assert ntk_relative_change(K0, 2 * K0) == pytest.approx(1.0)


def test_supervised_training_is_lazier_when_wider(gen):
    # textbook NTK regime: relative kernel change shrinks like m^-1/2 (here 16x wider -> ~4x)
    x = torch.randn(32, 5, generator=gen, dtype=torch.float64)
    y = torch.sin(x[:, :2])
    changes = {}
    for m in (64, 1024):
        vals = []
        for seed in range(3):
            net = TwoLayerNet(5, m, 2, generator=torch.Generator().manual_seed(seed))
            K0 = two_layer_ntk(net, x)
            for _ in range(30):
                supervised_step(net, x, y, 0.2)
            vals.append(ntk_relative_change(K0, two_layer_ntk(net, x)))
        changes[m] = sorted(vals)[1]
    ratio = changes[64] / changes[1024]
    assert 2.0 < ratio, changes
    assert math.isfinite(ratio)
