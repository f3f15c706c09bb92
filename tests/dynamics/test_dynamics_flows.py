"""Closed-form flows against independent references: matrix_exp and DOP853 integration."""

import numpy as np
import pytest
import torch
from dynamics_helpers import (
    integrate_oja,
    np_projector,
    random_orthonormal,
    symmetric_with_spectrum,
)

from selfsup.dynamics import grassmann_flow, quadratic_loss, top_eigenspace, unconstrained_flow

SPECTRA = {
    "positive": [2.0, 1.5, 1.2, 1.0, 0.8, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01],
    "indefinite": [1.0, 0.7, -0.2, 0.4, -1.3, 0.1, -0.6, 0.9, -2.0, 0.0, 0.3, -0.05],
    # repeated eigenvalues, including a tie across the h = 3 boundary (1.0 is 3rd and 4th)
    "repeated": [1.5, 1.0, 1.0, 1.0, -0.5, -0.5, -0.5, 0.2, 0.2, -1.0, -1.0, -1.0],
}


def test_unconstrained_flow_matches_matrix_exponential(gen):
    C = symmetric_with_spectrum(SPECTRA["indefinite"], gen)
    W0 = torch.randn(12, 4, generator=gen, dtype=torch.float64)
    times = torch.tensor([0.0, 0.3, 1.0, 2.5], dtype=torch.float64)
    W = unconstrained_flow(C, W0, times)
    assert W.shape == (4, 12, 4)
    for t, Wt in zip(times, W, strict=True):
        expected = torch.linalg.matrix_exp(2 * t * C) @ W0
        assert torch.allclose(Wt, expected, rtol=1e-10, atol=1e-12)
    assert unconstrained_flow(C, W0, 1.0).shape == (12, 4)


@pytest.mark.parametrize("spectrum", list(SPECTRA))
@pytest.mark.parametrize("h", [1, 3, 5])
def test_grassmann_flow_matches_numerical_integration(gen, spectrum, h):
    C = symmetric_with_spectrum(SPECTRA[spectrum], gen)
    W0 = random_orthonormal(12, h, gen)
    times = np.linspace(0.0, 2.0, 9)
    reference = integrate_oja(C.numpy(), W0.numpy(), times)
    W = grassmann_flow(C, W0, torch.tensor(times))
    assert W.shape == (9, 12, h)
    for Wt, Wref in zip(W.numpy(), reference, strict=True):
        assert np.abs(Wt.T @ Wt - np.eye(h)).max() < 1e-12
        assert np.abs(np_projector(Wt) - np_projector(Wref)).max() < 1e-10


def test_grassmann_flow_degenerate_start_uses_direct_formula(gen):
    # W0 orthogonal to the top eigenvector: the flow cannot reach the top-h eigenspace
    C = torch.diag(torch.tensor([3.0, 2.0, 1.0, 0.5, -1.0], dtype=torch.float64))
    W0 = torch.zeros(5, 2, dtype=torch.float64)
    W0[1, 0] = W0[3, 1] = 1.0
    W0[4, 1] = 1e-3
    W0 = torch.linalg.qr(W0).Q
    times = np.linspace(0.0, 1.5, 4)
    reference = integrate_oja(C.numpy(), W0.numpy(), times)
    W = grassmann_flow(C, W0, torch.tensor(times))
    for Wt, Wref in zip(W.numpy(), reference, strict=True):
        assert np.abs(np_projector(Wt) - np_projector(Wref)).max() < 1e-10


def test_grassmann_flow_starts_at_w0_and_ends_in_top_eigenspace(gen):
    C = symmetric_with_spectrum(SPECTRA["indefinite"], gen)
    W0 = random_orthonormal(12, 3, gen)
    W = grassmann_flow(C, W0, torch.tensor([0.0, 60.0], dtype=torch.float64))
    assert np.abs(np_projector(W[0].numpy()) - np_projector(W0.numpy())).max() < 1e-13
    lam, U = np.linalg.eigh(C.numpy())
    top = U[:, np.argsort(lam)[::-1][:3]]
    assert np.abs(np_projector(W[1].numpy()) - np_projector(top)).max() < 1e-10
    assert np.abs(np_projector(top_eigenspace(C, 3).numpy()) - np_projector(top)).max() < 1e-12


def test_loss_decreases_along_the_flow(gen):
    C = symmetric_with_spectrum(SPECTRA["repeated"], gen)
    W0 = random_orthonormal(12, 4, gen)
    losses = quadratic_loss(C, grassmann_flow(C, W0, torch.linspace(0, 8, 33, dtype=torch.float64)))
    assert (losses.diff() <= 1e-12).all()
    # ... towards minus the sum of the top-4 eigenvalues
    assert losses[-1] == pytest.approx(-(1.5 + 1.0 + 1.0 + 1.0), abs=1e-3)


def test_flows_reject_bad_inputs(gen):
    C = symmetric_with_spectrum(SPECTRA["positive"], gen)
    with pytest.raises(ValueError, match="symmetric"):
        grassmann_flow(C + torch.triu(torch.ones_like(C)), random_orthonormal(12, 2, gen), 1.0)
    with pytest.raises(ValueError, match="orthonormal"):
        grassmann_flow(C, 2 * random_orthonormal(12, 2, gen), 1.0)
    with pytest.raises(ValueError, match="shape"):
        unconstrained_flow(C, torch.ones(11, 2, dtype=torch.float64), 1.0)
