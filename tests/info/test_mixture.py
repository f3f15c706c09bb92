"""Gaussian-mixture entropy: Kolchinsky-Tracey bounds, Monte Carlo, closed-form limits."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from selfsup.info import (
    gaussian_entropy,
    mixture_entropy_bounds,
    mixture_entropy_mc,
    mixture_log_density,
    pairwise_distance_entropy,
)


def _random_covs(n: int, d: int, g: torch.Generator, scale: float = 1.0) -> torch.Tensor:
    a = torch.randn(n, d, d, generator=g, dtype=torch.float64) * scale / math.sqrt(d)
    return a @ a.transpose(1, 2) + 0.2 * scale**2 * torch.eye(d, dtype=torch.float64)


def test_log_density_matches_scipy():
    g = torch.Generator().manual_seed(0)
    means = torch.randn(4, 3, generator=g, dtype=torch.float64)
    covs = _random_covs(4, 3, g)
    w = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    x = torch.randn(50, 3, generator=g, dtype=torch.float64)
    ref = sum(
        w[j].item() * stats.multivariate_normal(means[j].numpy(), covs[j].numpy()).pdf(x.numpy())
        for j in range(4)
    )
    np.testing.assert_allclose(
        mixture_log_density(x, means, covs, w).numpy(), np.log(ref), rtol=1e-10
    )


@pytest.mark.parametrize("spread", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("d", [2, 5])
def test_bounds_bracket_monte_carlo(spread, d):
    g = torch.Generator().manual_seed(d)
    n = 30
    means = torch.randn(n, d, generator=g, dtype=torch.float64) * spread
    covs = _random_covs(n, d, g)
    w = torch.rand(n, generator=g, dtype=torch.float64) + 0.1
    lower, upper = mixture_entropy_bounds(means, covs, w)
    mc, se = mixture_entropy_mc(means, covs, w, 15000, torch.Generator().manual_seed(1), True)
    assert lower.item() <= upper.item()
    assert lower.item() - 4 * se.item() <= mc.item() <= upper.item() + 4 * se.item()
    # H(p) <= H(weights) + sum c_i H(p_i) holds for every mixture.
    c = w / w.sum()
    cap = -(c * c.log()).sum() + (c * gaussian_entropy(covs)).sum()
    assert upper.item() <= cap.item() + 1e-9


def test_shared_covariance_bounds_bracket_monte_carlo():
    g = torch.Generator().manual_seed(3)
    means = torch.randn(100, 3, generator=g, dtype=torch.float64)
    cov = _random_covs(1, 3, g)[0] * 0.5
    lower, upper = mixture_entropy_bounds(means, cov)
    mc, se = mixture_entropy_mc(means, cov, n_samples=15000, generator=g, return_stderr=True)
    assert lower.item() - 4 * se.item() <= mc.item() <= upper.item() + 4 * se.item()
    assert upper.item() - lower.item() > 0.1  # overlapping: the bounds differ


def test_well_separated_mixture_tends_to_log_n_plus_component_entropy():
    g = torch.Generator().manual_seed(0)
    n, d = 50, 4
    means = torch.randn(n, d, generator=g, dtype=torch.float64) * 1000.0
    covs = _random_covs(n, d, g)
    expected = math.log(n) + gaussian_entropy(covs).mean().item()
    lower, upper = mixture_entropy_bounds(means, covs)
    mc = mixture_entropy_mc(means, covs, n_samples=20000, generator=g)
    assert lower.item() == pytest.approx(expected, abs=1e-6)
    assert upper.item() == pytest.approx(expected, abs=1e-6)
    assert mc.item() == pytest.approx(expected, abs=0.03)


def test_coincident_components_give_component_entropy():
    cov = torch.diag(torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64))
    means = torch.ones(7, 3, dtype=torch.float64)
    expected = gaussian_entropy(cov).item()
    for covs in (cov, cov.expand(7, 3, 3)):
        lower, upper = mixture_entropy_bounds(means, covs)
        assert lower.item() == pytest.approx(expected, abs=1e-9)
        assert upper.item() == pytest.approx(expected, abs=1e-9)
    mc = mixture_entropy_mc(means, cov, n_samples=50000, generator=torch.Generator().manual_seed(0))
    assert mc.item() == pytest.approx(expected, abs=0.02)


def test_large_mixture_runs_and_brackets():
    g = torch.Generator().manual_seed(5)
    n, d = 400, 6
    means = torch.randn(n, d, generator=g, dtype=torch.float64) * 2.0
    covs = _random_covs(n, d, g, scale=0.7)
    lower, upper = mixture_entropy_bounds(means, covs)
    mc, se = mixture_entropy_mc(means, covs, n_samples=5000, generator=g, return_stderr=True)
    assert lower.item() - 4 * se.item() <= mc.item() <= upper.item() + 4 * se.item()


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="covs"):
        mixture_entropy_bounds(torch.zeros(3, 2), torch.eye(3))
    with pytest.raises(ValueError, match="weights"):
        mixture_entropy_bounds(torch.zeros(3, 2), torch.eye(2), torch.ones(4))


@pytest.mark.parametrize("bound,factor", [("bhattacharyya", 8.0), ("kl", 2.0)])
def test_pairwise_distance_entropy_formula_and_limits(bound, factor):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(12, 5, generator=g, dtype=torch.float64)
    s = 0.7
    # Written out with explicit loops from the Kolchinsky-Tracey definition.
    comp = 0.5 * 5 * math.log(2 * math.pi * math.e * s**2)
    inner = 0.0
    for i in range(12):
        acc = sum(
            math.exp(-((z[i] - z[j]) ** 2).sum().item() / (factor * s**2)) / 12 for j in range(12)
        )
        inner += math.log(acc) / 12
    assert pairwise_distance_entropy(z, s, bound).item() == pytest.approx(comp - inner, abs=1e-10)
    assert pairwise_distance_entropy(z * 1e4, s, bound).item() == pytest.approx(comp + math.log(12))
    assert pairwise_distance_entropy(z * 0, s, bound).item() == pytest.approx(comp)


def _kt_bound(weights, entropies, div) -> float:
    """Kolchinsky-Tracey: sum_i c_i H_i - sum_i c_i log sum_j c_j exp(-D_ij), by loops."""
    n = len(weights)
    inner = [math.log(sum(weights[j] * math.exp(-div[i][j]) for j in range(n))) for i in range(n)]
    return sum(w * (h - s) for w, h, s in zip(weights, entropies, inner, strict=True))


def test_bounds_with_distinct_1d_covariances_match_closed_forms():
    # two 1-D Gaussians N(m_i, s_i^2): the textbook KL and Bhattacharyya distances
    m, s2, w = [0.0, 1.3], [0.4, 2.5], [0.3, 0.7]

    def kl(i, j):
        return 0.5 * (math.log(s2[j] / s2[i]) + (s2[i] + (m[i] - m[j]) ** 2) / s2[j] - 1)

    def bhattacharyya(i, j):
        avg = (s2[i] + s2[j]) / 2
        return (m[i] - m[j]) ** 2 / (8 * avg) + 0.5 * math.log(avg / math.sqrt(s2[i] * s2[j]))

    h = [0.5 * math.log(2 * math.pi * math.e * v) for v in s2]
    lower = _kt_bound(w, h, [[bhattacharyya(i, j) for j in range(2)] for i in range(2)])
    upper = _kt_bound(w, h, [[kl(i, j) for j in range(2)] for i in range(2)])
    means = torch.tensor([[m[0]], [m[1]]], dtype=torch.float64)
    covs = torch.tensor(s2, dtype=torch.float64)[:, None, None]
    got_lower, got_upper = mixture_entropy_bounds(means, covs, torch.tensor(w, dtype=torch.float64))
    assert got_lower.item() == pytest.approx(lower, abs=1e-12)
    assert got_upper.item() == pytest.approx(upper, abs=1e-12)


def test_bounds_with_distinct_full_covariances_match_numpy_formulas():
    g = torch.Generator().manual_seed(4)
    n, d = 3, 2
    means = torch.randn(n, d, generator=g, dtype=torch.float64)
    covs = _random_covs(n, d, g)
    mu, sig = means.numpy(), covs.numpy()

    def kl(i, j):
        inv = np.linalg.inv(sig[j])
        diff = mu[i] - mu[j]
        return 0.5 * (np.trace(inv @ sig[i]) + diff @ inv @ diff - d
                      + np.log(np.linalg.det(sig[j]) / np.linalg.det(sig[i])))  # fmt: skip

    def bhattacharyya(i, j):
        avg = (sig[i] + sig[j]) / 2
        diff = mu[i] - mu[j]
        det_ratio = np.linalg.det(avg) / np.sqrt(np.linalg.det(sig[i]) * np.linalg.det(sig[j]))
        return diff @ np.linalg.solve(avg, diff) / 8 + 0.5 * np.log(det_ratio)

    h = [0.5 * np.log(np.linalg.det(2 * np.pi * np.e * c)) for c in sig]
    w = [1 / n] * n
    lower = _kt_bound(w, h, [[bhattacharyya(i, j) for j in range(n)] for i in range(n)])
    upper = _kt_bound(w, h, [[kl(i, j) for j in range(n)] for i in range(n)])
    got_lower, got_upper = mixture_entropy_bounds(means, covs, chunk_size=2)
    assert got_lower.item() == pytest.approx(lower, abs=1e-12)
    assert got_upper.item() == pytest.approx(upper, abs=1e-12)
