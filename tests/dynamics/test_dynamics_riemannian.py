"""Riemannian GD on the Stiefel manifold: tangency, first-order convergence to the closed form."""

import numpy as np
import pytest
import torch
from dynamics_helpers import (
    integrate_oja,
    np_projector,
    random_orthonormal,
    symmetric_with_spectrum,
)

from selfsup.dynamics import grassmann_flow, retract, riemannian_gd, stiefel_project

SPECTRUM = [1.0, 0.8, 0.75, 0.5, 0.3, -0.2, -0.4, 0.1, 0.05, -1.0]


def _proj_err(A: torch.Tensor, B: torch.Tensor) -> float:
    return float(np.abs(np_projector(A.numpy()) - np_projector(B.numpy())).max())


def test_projection_is_tangent_and_matches_oja_direction(gen):
    C = symmetric_with_spectrum(SPECTRUM, gen)
    W = random_orthonormal(10, 3, gen)
    G = torch.randn(10, 3, generator=gen, dtype=torch.float64)
    V = stiefel_project(W, G)
    # tangent space of the Stiefel manifold: W^T V skew-symmetric
    assert torch.allclose(W.T @ V + V.T @ W, torch.zeros(3, 3, dtype=torch.float64), atol=1e-13)
    # for the quadratic loss it is -(I - W W^T) 2 C W, the paper's flow direction with a minus
    egrad = -2 * C @ W
    expected = -(torch.eye(10, dtype=torch.float64) - W @ W.T) @ (2 * C @ W)
    assert torch.allclose(stiefel_project(W, egrad), expected, atol=1e-13)


def test_projected_gradient_gives_the_directional_derivative(gen):
    # d/de L(retract(W, e V)) at 0 = <egrad, V> for tangent V, by central differences
    C = symmetric_with_spectrum(SPECTRUM, gen)
    W = random_orthonormal(10, 3, gen)
    V = stiefel_project(W, torch.randn(10, 3, generator=gen, dtype=torch.float64))

    def loss(M):
        return -torch.trace(M.T @ C @ M)

    for method in ("qr", "polar"):
        eps = 1e-5
        numeric = (loss(retract(W, eps * V, method)) - loss(retract(W, -eps * V, method))) / (
            2 * eps
        )
        assert numeric.item() == pytest.approx(torch.sum(-2 * C @ W * V).item(), rel=1e-6)


@pytest.mark.parametrize("method", ["qr", "polar"])
def test_retraction_stays_on_manifold_and_fixes_zero_step(gen, method):
    W = random_orthonormal(10, 4, gen)
    assert torch.allclose(retract(W, torch.zeros_like(W), method), W, atol=1e-14)
    Wn = retract(W, 0.3 * torch.randn(10, 4, generator=gen, dtype=torch.float64), method)
    assert torch.allclose(Wn.T @ Wn, torch.eye(4, dtype=torch.float64), atol=1e-13)


@pytest.mark.parametrize("method", ["qr", "polar"])
def test_gd_converges_to_the_flow_at_first_order(gen, method):
    C = symmetric_with_spectrum(SPECTRUM, gen)
    W0 = random_orthonormal(10, 3, gen)
    # reference from integration of the ODE, not from grassmann_flow
    reference = torch.from_numpy(integrate_oja(C.numpy(), W0.numpy(), np.array([0.0, 1.0]))[-1])
    lrs = [0.02, 0.01, 0.005, 0.0025]
    errors = [
        _proj_err(riemannian_gd(C, W0, lr, round(1 / lr), method)[-1], reference) for lr in lrs
    ]
    slope = np.polyfit(np.log(lrs), np.log(errors), 1)[0]
    assert 0.9 < slope < 1.1, (errors, slope)
    assert errors[-1] < 2e-3
    # and the closed form is the limit too
    assert _proj_err(grassmann_flow(C, W0, 1.0), reference) < 1e-10


def test_gd_trajectory_shape_and_long_time_limit(gen):
    C = symmetric_with_spectrum(SPECTRUM, gen)
    W0 = random_orthonormal(10, 1, gen)
    traj = riemannian_gd(C, W0, 0.1, 600, record_every=100)
    assert traj.shape == (7, 10, 1)
    assert torch.equal(traj[0], W0)
    lam, U = np.linalg.eigh(C.numpy())
    assert _proj_err(traj[-1], torch.from_numpy(U[:, -1:])) < 1e-8  # gap 0.2, t = 60


def test_gd_rejects_bad_arguments(gen):
    C = symmetric_with_spectrum(SPECTRUM, gen)
    W0 = random_orthonormal(10, 2, gen)
    with pytest.raises(ValueError, match="retraction"):
        riemannian_gd(C, W0, 0.1, 3, retraction="cayley")
    with pytest.raises(ValueError, match="lr > 0"):
        riemannian_gd(C, W0, -0.1, 3)
