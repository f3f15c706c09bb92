"""Two-layer nets: with a frozen linear first layer, SSL training is the Grassmannian flow of
C = sym(Phi^T Phi+ / n) / m; the Stiefel constraint holds while both layers train."""

import numpy as np
import pytest
import torch
from dynamics_helpers import integrate_oja, np_projector

from selfsup.dynamics import TwoLayerNet, ssl_step


def _views(gen, n=64, d=6):
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.linspace(2, 0.5, d)
    return x, x + 0.2 * torch.randn(n, d, generator=gen, dtype=torch.float64)


def test_frozen_first_layer_follows_the_grassmann_flow_of_feature_matrix(gen):
    x, x_pos = _views(gen)
    m, h, t = 12, 2, 1.0
    errors = []
    for lr in (0.02, 0.01, 0.005):
        net = TwoLayerNet(6, m, h, activation="tanh", orthonormal_output=True,
                          generator=torch.Generator().manual_seed(7))  # fmt: skip
        with torch.no_grad():
            phi, phi_pos = net.features(x), net.features(x_pos)
            cross = phi.T @ phi_pos / x.shape[0]
            C = ((cross + cross.T) / 2 / m).numpy()
            W0 = net.W2.clone().numpy()
        for _ in range(round(t / lr)):
            ssl_step(net, x, x_pos, lr, lr_hidden=0.0)
        ref = integrate_oja(C, W0, np.array([0.0, t]))[-1]
        errors.append(np.abs(np_projector(net.W2.detach().numpy()) - np_projector(ref)).max())
    # first order in lr, and small
    assert errors[0] / errors[1] == pytest.approx(2.0, rel=0.15)
    assert errors[1] / errors[2] == pytest.approx(2.0, rel=0.15)
    assert errors[-1] < 1e-2


def test_stiefel_constraint_holds_when_both_layers_train(gen):
    x, x_pos = _views(gen)
    net = TwoLayerNet(6, 32, 3, orthonormal_output=True, generator=gen)
    losses = [ssl_step(net, x, x_pos, 0.05) for _ in range(50)]
    W2 = net.W2.detach()
    assert torch.allclose(W2.T @ W2, torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert losses[-1] < losses[0]


def test_orthonormal_output_needs_width_at_least_h(gen):
    with pytest.raises(ValueError, match="m >= h"):
        TwoLayerNet(4, 2, 3, orthonormal_output=True, generator=gen)
