"""Kozachenko-Leonenko entropy and KSG mutual information against closed forms."""

import math

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from selfsup.info import knn_distances, knn_entropy, ksg_mutual_information


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_knn_entropy_standard_gaussian(d):
    z = torch.randn(5000, d, generator=_gen(d), dtype=torch.float64)
    truth = 0.5 * d * math.log(2 * math.pi * math.e)
    assert abs(knn_entropy(z, k=3).item() - truth) < 0.1


def test_knn_entropy_correlated_gaussian_float32():
    # Eigenvalues 0.25 .. 4 (condition number 16) in d = 4; float32 input.
    g = _gen(11)
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    cov = q @ torch.diag(torch.tensor([0.25, 0.5, 2.0, 4.0], dtype=torch.float64)) @ q.T
    z = torch.randn(5000, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    truth = 0.5 * (4 * math.log(2 * math.pi * math.e) + math.log(0.25 * 0.5 * 2.0 * 4.0))
    assert abs(knn_entropy(z.float()).item() - truth) < 0.1


@pytest.mark.parametrize("sides", [[3.0], [0.5, 2.0]])
def test_knn_entropy_uniform_box(sides):
    side = torch.tensor(sides, dtype=torch.float64)
    z = torch.rand(5000, len(sides), generator=_gen(len(sides)), dtype=torch.float64) * side
    assert abs(knn_entropy(z).item() - math.log(math.prod(sides))) < 0.1


def test_knn_entropy_scales_with_log_abs_det():
    z = torch.randn(500, 3, generator=_gen(0), dtype=torch.float64)
    diff = knn_entropy(z * 7.0).item() - knn_entropy(z).item()
    assert diff == pytest.approx(3 * math.log(7.0), abs=1e-9)


def test_knn_distances_match_kdtree_and_chunking():
    z = torch.randn(700, 6, generator=_gen(1))
    ref = cKDTree(z.double().numpy()).query(z.double().numpy(), k=5)[0][:, 4]
    for chunk in (None, 33):
        np.testing.assert_allclose(knn_distances(z, 4, chunk).numpy(), ref, rtol=1e-6)


def test_knn_entropy_rejects_duplicates_and_bad_k():
    z = torch.randn(10, 2, generator=_gen(0)).repeat(4, 1)
    with pytest.raises(ValueError, match="duplicates"):
        knn_entropy(z, k=3)
    with pytest.raises(ValueError, match="k must be"):
        knn_entropy(torch.randn(5, 2), k=5)


@pytest.mark.parametrize("rho", [0.5, 0.7, 0.9])
def test_ksg_correlated_gaussian_pair(rho):
    g = _gen(int(rho * 10))
    x = torch.randn(5000, generator=g, dtype=torch.float64)
    y = rho * x + math.sqrt(1 - rho**2) * torch.randn(5000, generator=g, dtype=torch.float64)
    truth = -0.5 * math.log(1 - rho**2)
    assert abs(ksg_mutual_information(x, y, k=3).item() - truth) < 0.05


def test_ksg_independent_and_multivariate():
    g = _gen(3)
    x = torch.randn(3000, 2, generator=g, dtype=torch.float64)
    assert abs(ksg_mutual_information(x, torch.randn(3000, 2, generator=g)).item()) < 0.03
    # Two independent pairs with rho 0.6 and 0.8: I = -1/2 [log(1 - .36) + log(1 - .64)].
    rho = torch.tensor([0.6, 0.8], dtype=torch.float64)
    y = rho * x + torch.sqrt(1 - rho**2) * torch.randn(3000, 2, generator=g, dtype=torch.float64)
    truth = -0.5 * (math.log(0.64) + math.log(0.36))
    assert abs(ksg_mutual_information(x, y, chunk_size=500).item() - truth) < 0.08


def test_ksg_shape_errors():
    with pytest.raises(ValueError, match="same N"):
        ksg_mutual_information(torch.randn(10, 1), torch.randn(11, 1))


def _ksg_by_loops(x: list[list[float]], y: list[list[float]], k: int) -> float:
    """KSG estimator 1 written out: max-norm k-th neighbour distance in the joint space, then
    the number of other points strictly closer than it in each marginal."""
    from scipy.special import digamma

    def cheb(u, v):
        return max(abs(a - b) for a, b in zip(u, v, strict=True))

    n, total = len(x), 0.0
    for i in range(n):
        eps = sorted(max(cheb(x[i], x[j]), cheb(y[i], y[j])) for j in range(n) if j != i)[k - 1]
        nx = sum(1 for j in range(n) if j != i and cheb(x[i], x[j]) < eps)
        ny = sum(1 for j in range(n) if j != i and cheb(y[i], y[j]) < eps)
        total += digamma(nx + 1) + digamma(ny + 1)
    return float(digamma(k) + digamma(n) - total / n)


@pytest.mark.parametrize("dims,k", [((1, 1), 3), ((2, 3), 1), ((1, 2), 5)])
def test_ksg_matches_a_brute_force_loop(dims, k):
    g = _gen(sum(dims) + k)
    x = torch.randn(50, dims[0], generator=g, dtype=torch.float64)
    y = 0.6 * x[:, :1] + torch.randn(50, dims[1], generator=g, dtype=torch.float64)
    expected = _ksg_by_loops(x.tolist(), y.tolist(), k)
    got = ksg_mutual_information(x, y, k=k, chunk_size=7).item()
    assert got == pytest.approx(expected, abs=1e-12)


def test_knn_entropy_matches_a_brute_force_loop():
    from scipy.special import digamma

    z = torch.randn(40, 3, generator=_gen(9), dtype=torch.float64)
    rows, k = z.tolist(), 2
    eps = [
        sorted(math.dist(rows[i], rows[j]) for j in range(40) if j != i)[k - 1] for i in range(40)
    ]
    log_ball = 1.5 * math.log(math.pi) - math.lgamma(2.5)
    expected = digamma(40) - digamma(k) + log_ball + 3 * sum(map(math.log, eps)) / 40
    assert knn_entropy(z, k=k).item() == pytest.approx(expected, abs=1e-12)
