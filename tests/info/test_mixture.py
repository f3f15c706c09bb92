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
