"""analysis.json's statistics: half-sampling intervals and augmentation R^2 on known cases."""

import math

import pytest
import torch

from selfsup.analysis.lens import augmentation_r2, space_numbers, subsample_ci


def test_half_sampling_interval_of_a_mean_matches_the_normal_interval():
    g = torch.Generator().manual_seed(0)
    n = 4000
    x = torch.randn(n, generator=g, dtype=torch.float64) * 2.0 + 5.0
    value = float(x.mean())
    lo, hi = subsample_ci(lambda i: float(x[i].mean()), value, n, 400, g)
    half_width = 1.96 * 2.0 / math.sqrt(n)  # sigma / sqrt(n) of the full-sample mean
    assert lo < value < hi
    assert (hi - lo) / 2 == pytest.approx(half_width, rel=0.15)


def test_augmentation_r2_finds_a_linearly_encoded_parameter_and_not_noise():
    g = torch.Generator().manual_seed(1)
    n_images, d = 300, 20
    kept = torch.rand(2 * n_images, generator=g, dtype=torch.float64)
    dropped = torch.rand(2 * n_images, generator=g, dtype=torch.float64)
    reps = torch.randn(2 * n_images, d, generator=g, dtype=torch.float64)
    reps[:, 0] += 5 * kept  # the representation keeps `kept`, knows nothing of `dropped`
    groups = torch.arange(n_images).repeat(2)
    r2 = augmentation_r2(reps, {"kept": kept, "dropped": dropped}, groups, seed=0)
    assert r2["kept"] > 0.6
    assert r2["dropped"] < 0.05
    constant = augmentation_r2(reps, {"c": torch.ones(2 * n_images)}, groups, seed=0)
    assert constant == {}  # nothing to predict


def test_space_numbers_flag_the_regime_and_bracket_the_value():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(300, 3, generator=g, dtype=torch.float64)
    z_a = z + 0.3 * torch.randn(300, 3, generator=g, dtype=torch.float64)
    z_b = z + 0.3 * torch.randn(300, 3, generator=g, dtype=torch.float64)
    views = z[:40, None] + 0.3 * torch.randn(40, 4, 3, generator=g, dtype=torch.float64)
    out = space_numbers(z, z_a, z_b, views, n_boot=40, seed=0)
    # d = 3, n = 300: inside the kNN regime (d <= 5, n >= 250); the Ledoit-Wolf Gaussian entropy
    # needs n >= 10 d^2 = 90: inside too
    assert out["entropy_knn"]["below_measured_regime"] is False
    assert out["entropy_gaussian"]["below_measured_regime"] is False
    # N(0, I_3): entropy 3/2 log(2 pi e) = 4.257 nats
    assert out["entropy_gaussian"]["value"] == pytest.approx(4.257, abs=0.25)
    for key in ("rankme", "effective_rank", "alpha_req", "lidar", "entropy_knn", "mi_ksg"):
        lo, hi = out[key]["ci95"]
        assert lo <= out[key]["value"] <= hi, key
