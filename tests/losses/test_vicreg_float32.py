"""``vicreg_loss`` in float32 on hard batches: value and gradients within 10x the error of the
plain float32 formula, both measured against the plain formula in float64.

The plain formula is written here from the paper (Bardes et al. 2022, Algorithm 1): MSE,
``relu(1 - sqrt(var + eps))``, and the squared off-diagonal covariances divided by ``dim``.
Hard batches: one dimension 300x the others (its row and column of the covariance dominate
the sum of squares), every value offset by 1e3, tiny batches; shapes on both routes of the
covariance term (``dim >= 16 batch``: float64 Grams; otherwise ``dim x dim``).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from selfsup.losses import vicreg_loss

EPS32 = torch.finfo(torch.float32).eps


def plain_vicreg(z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    n, d = z_a.shape

    def std_term(z):
        return F.relu(1 - torch.sqrt(z.var(dim=0) + 1e-4)).mean()

    def cov_term(z):
        zc = z - z.mean(dim=0)
        cov = zc.T @ zc / (n - 1)
        off = cov - torch.diag(torch.diagonal(cov))
        return off.pow(2).sum() / d

    invariance = F.mse_loss(z_a, z_b)
    return (
        25 * invariance + 25 * (std_term(z_a) + std_term(z_b)) / 2 + cov_term(z_a) + cov_term(z_b)
    )


def hard_pair(case: str, batch: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    z_b = z_a + 0.3 * torch.randn(batch, dim, generator=g, dtype=torch.float64)
    if case == "dominant":
        z_a[:, 0] *= 300
        z_b[:, 0] *= 300
    elif case == "offset":
        z_a, z_b = z_a + 1e3, z_b + 1e3
    # rounded to float32 first: both float32 formulas and the float64 reference see one input
    return z_a.float().double(), z_b.float().double()


def _value_and_grads(fn, z_a, z_b):
    z_a, z_b = z_a.detach().requires_grad_(), z_b.detach().requires_grad_()
    value = fn(z_a, z_b)
    return value.detach().double(), [g.double() for g in torch.autograd.grad(value, (z_a, z_b))]


def _relative(x: torch.Tensor, ref: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x - ref) / torch.linalg.vector_norm(ref))


@pytest.mark.parametrize(
    "case, batch, dim",
    [
        ("dominant", 512, 1024),  # D x D route, the batch the float32 sum of squares failed on
        ("dominant", 64, 256),
        ("dominant", 8, 256),  # Gram route
        ("offset", 128, 256),
        ("offset", 8, 256),
        ("dominant", 2, 64),  # tiny batches
        ("offset", 3, 8),
    ],
)
def test_float32_value_and_gradients_within_10x_the_plain_formula(case, batch, dim):
    z_a, z_b = hard_pair(case, batch, dim)
    ref_value, ref_grads = _value_and_grads(plain_vicreg, z_a, z_b)
    plain_value, plain_grads = _value_and_grads(plain_vicreg, z_a.float(), z_b.float())
    value, grads = _value_and_grads(vicreg_loss, z_a.float(), z_b.float())
    floor = 2 * EPS32  # a plain formula that happens to be exact cannot ask for less
    plain_error = max(_relative(plain_value, ref_value), floor)
    assert _relative(value, ref_value) <= 10 * plain_error, (plain_error, value, ref_value)
    for ours, plain, ref in zip(grads, plain_grads, ref_grads, strict=True):
        assert _relative(ours, ref) <= 10 * max(_relative(plain, ref), floor)


def test_the_dominant_batch_is_hard_for_a_blas_dot():
    """The reference case is hard where it matters: summing the same float32 squares with one
    BLAS dot (a fast reduction that keeps a few running float32 sums) misses the float64
    value by more than 10x a pairwise sum's error, so the test above can fail."""
    z_a, _ = hard_pair("dominant", 512, 1024)
    zc = z_a.float() - z_a.float().mean(0)
    m = zc.T @ zc
    m.diagonal().zero_()
    flat = m.reshape(-1)
    zc64 = z_a - z_a.mean(0)
    m64 = zc64.T @ zc64
    exact = (m64 - torch.diag(torch.diagonal(m64))).pow(2).sum()
    blas_error = abs(float(torch.dot(flat, flat).double() / exact) - 1)
    pairwise_error = abs(float(flat.pow(2).sum().double() / exact) - 1)
    if blas_error <= 10 * max(pairwise_error, 2 * EPS32):
        pytest.skip("this machine's BLAS sums a float32 dot accurately")
    assert pairwise_error < 1e-6
