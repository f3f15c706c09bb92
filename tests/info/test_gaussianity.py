"""Mardia's tests and the augmentation-Gaussianity report."""

import numpy as np
import pytest
import torch
from torch import nn

from selfsup.info import augmentation_gaussianity, mardia_test


def test_mardia_statistics_match_definition():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((15, 3))
    # Written with explicit loops from Mardia (1970).
    xc = x - x.mean(0)
    s_inv = np.linalg.inv(xc.T @ xc / 15)
    b1 = sum((xc[i] @ s_inv @ xc[j]) ** 3 for i in range(15) for j in range(15)) / 15**2
    b2 = sum((xc[i] @ s_inv @ xc[i]) ** 2 for i in range(15)) / 15
    res = mardia_test(x)
    assert res.skewness == pytest.approx(b1, rel=1e-10)
    assert res.kurtosis == pytest.approx(b2, rel=1e-10)


def test_mardia_accepts_gaussian_rejects_uniform_and_skewed():
    rng = np.random.default_rng(1)
    p = 4
    gauss = mardia_test(rng.standard_normal((2000, p)) @ rng.standard_normal((p, p)))
    assert gauss.skew_pvalue > 0.01 and gauss.kurt_pvalue > 0.01
    assert gauss.kurtosis == pytest.approx(p * (p + 2), rel=0.05)
    unif = mardia_test(rng.uniform(size=(2000, p)))
    assert unif.kurt_pvalue < 1e-6 and unif.kurtosis < p * (p + 2)  # platykurtic
    expo = mardia_test(rng.exponential(size=(2000, p)))
    assert expo.skew_pvalue < 1e-6
    with pytest.raises(ValueError, match="more observations"):
        mardia_test(rng.standard_normal((3, 4)))


def test_linear_model_gaussian_views_are_gaussian_with_exact_covariance():
    torch.manual_seed(0)
    model = nn.Linear(10, 6)
    x = torch.randn(3, 10)
    res = augmentation_gaussianity(
        model, x, lambda v: v + 0.5 * torch.randn_like(v), n_views=400, mv_dims=3
    )
    assert res.dim_pvalues.shape == (3, 6)
    assert np.all(res.cov_rel_error < 1e-5)  # A Sigma A^T with the views' own Sigma: exact
    assert np.all(res.region_stability == 1.0)
    assert res.frac_dims_rejected.mean() < 0.2  # ~alpha = 0.05 expected
    assert min(m.kurt_pvalue for m in res.mardia) > 1e-3


def test_relu_model_large_uniform_noise_is_not_gaussian():
    torch.manual_seed(0)
    # One input dimension: the outputs are piecewise-linear images of a single uniform variable,
    # with no central-limit averaging to hide the non-Gaussianity.
    model = nn.Sequential(nn.Linear(1, 64), nn.ReLU(), nn.Linear(64, 4))
    x = torch.randn(2, 1)
    small = augmentation_gaussianity(model, x, lambda v: v + 1e-4 * torch.randn_like(v), 300)
    large = augmentation_gaussianity(model, x, lambda v: v + 6.0 * (torch.rand_like(v) - 0.5), 300)
    assert np.all(small.cov_rel_error < 1e-3) and np.all(small.region_stability == 1.0)
    assert np.all(large.cov_rel_error > 0.05) and np.all(large.region_stability < 0.5)
    assert np.all(large.frac_dims_rejected > 0.5)
    assert max(min(m.skew_pvalue, m.kurt_pvalue) for m in large.mardia) < 1e-3


def test_augment_shape_checked():
    with pytest.raises(ValueError, match="augment must return"):
        augmentation_gaussianity(nn.Linear(3, 2), torch.randn(1, 3), lambda v: v[:5], 30)
