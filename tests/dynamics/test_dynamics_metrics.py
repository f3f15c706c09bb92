"""Subspace distance and effective rank against scipy and hand-computed values."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from selfsup.dynamics import effective_rank, subspace_distance, top_direction_alignment


@pytest.mark.parametrize(("h1", "h2"), [(3, 3), (2, 5), (5, 2), (1, 1)])
def test_angles_match_scipy_and_projection_matches_explicit_projectors(gen, h1, h2):
    A = torch.randn(9, h1, generator=gen, dtype=torch.float64)
    B = torch.randn(9, h2, generator=gen, dtype=torch.float64)
    result = subspace_distance(A, B)
    expected = np.sort(scipy.linalg.subspace_angles(A.numpy(), B.numpy()))
    assert np.allclose(result.angles.numpy(), expected, atol=1e-12)
    P1 = A.numpy() @ np.linalg.pinv(A.numpy())
    P2 = B.numpy() @ np.linalg.pinv(B.numpy())
    explicit = np.linalg.norm(P1 - P2) / math.sqrt(h1 + h2)
    assert result.projection.item() == pytest.approx(explicit, rel=1e-12)


def test_tiny_angles_are_resolved(gen):
    # rotate one basis vector by theta: exactly one principal angle theta,
    # ||P1 - P2||_F = sqrt(2) sin(theta), so the distance is sin(theta) / sqrt(h)
    h, theta = 3, 1e-9
    W1 = torch.eye(6, dtype=torch.float64)[:, :h]
    W2 = W1.clone()
    W2[:, 0] = math.cos(theta) * W1[:, 0]
    W2[h, 0] = math.sin(theta)
    result = subspace_distance(W1, W2)
    assert result.projection.item() == pytest.approx(math.sin(theta) / math.sqrt(h), rel=1e-6)
    assert result.angles.max().item() == pytest.approx(theta, rel=1e-6)


def test_batched_distance(gen):
    A = torch.randn(4, 7, 2, generator=gen, dtype=torch.float64)
    B = torch.randn(7, 2, generator=gen, dtype=torch.float64)
    batched = subspace_distance(A, B).projection
    assert batched.shape == (4,)
    for i in range(4):
        assert batched[i] == pytest.approx(subspace_distance(A[i], B).projection.item(), rel=1e-12)


def test_effective_rank_known_values(gen):
    u = torch.randn(8, 1, generator=gen, dtype=torch.float64)
    v = torch.randn(1, 5, generator=gen, dtype=torch.float64)
    assert effective_rank(u @ v).item() == pytest.approx(1.0, abs=1e-6)
    Q = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64)).Q
    assert effective_rank(3.0 * Q).item() == pytest.approx(6.0, rel=1e-12)
    # singular values 3 and 1: p = (3/4, 1/4)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    M = torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64))
    assert effective_rank(Q[:, :2] @ M).item() == pytest.approx(math.exp(entropy), rel=1e-12)


def test_top_direction_alignment():
    W = torch.tensor([[3.0, 0.0], [0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)
    u = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert top_direction_alignment(W, u).item() == pytest.approx(0.9)
