"""The lens's fast path (one shared Gram decomposition per space, closed-form pair sums)
against the reference estimators and the plain definitions, on fixed batches: a trained-like
spread, one dominant dimension in float32, a large common offset, and more samples than
dimensions. Every number the lens logs is compared; the view MI against the Gaussian formula
written with numpy on the top principal axes of an SVD."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from selfsup.info import (
    alpha_req,
    effective_rank,
    gaussian_entropy_from_samples,
    knn_entropy,
    ksg_mutual_information,
    lidar,
    rankme,
)
from selfsup.train.lens import lens_stats


def _batch(name: str):
    """(z, z_a, z_b, views (m, q, d)) of one space: views are z plus augmentation noise."""
    g = torch.Generator().manual_seed(3)
    n, d, dtype = {"spread": (160, 200, torch.float64), "tall": (400, 24, torch.float64)}.get(
        name, (150, 64, torch.float32)
    )
    scale = torch.linspace(2.0, 0.05, d, dtype=dtype)
    if name == "dominant":
        scale[0] = 1e4
    z = torch.randn(n, d, generator=g, dtype=dtype) * scale
    if name == "offset":
        z = z + 1e4

    def view(x):
        return x + 0.3 * scale * torch.randn(x.shape, generator=g, dtype=dtype)

    views = view(z[:20, None].expand(20, 6, d))
    return z, view(z), view(z), views


def _gaussian_mi_numpy(pa: np.ndarray, pb: np.ndarray) -> float:
    k = pa.shape[1]
    cov = np.cov(np.concatenate([pa, pb], 1), rowvar=False)
    logdet = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    return 0.5 * (logdet(cov[:k, :k]) + logdet(cov[k:, k:]) - logdet(cov))


@pytest.mark.parametrize("name", ["spread", "dominant", "offset", "tall"])
@pytest.mark.filterwarnings("ignore::selfsup.info.EstimatorRegimeWarning")
def test_every_lens_number_equals_its_reference(name):
    z, z_a, z_b, views = _batch(name)
    got = lens_stats(z, z_a, z_b, views)
    z64, a64, b64 = z.double(), z_a.double(), z_b.double()
    n, d = z64.shape
    zc = z64 - z64.mean(0)
    variance = float(z64.var(0).mean())
    unit = F.normalize(z64, dim=1)
    cos = unit @ unit.T
    k = min(8, d, n // 20)
    axes = torch.linalg.svd(zc, full_matrices=False)[2][:k].T  # the clean z's principal axes
    pa, pb = (a64 - a64.mean(0)) @ axes, (b64 - b64.mean(0)) @ axes
    expected = {
        "rankme": float(rankme(z)),
        "erank": float(effective_rank(zc)),
        "alpha_req": float(alpha_req(z)),
        "rankme_frac": float(rankme(z)) / min(n, d),
        "lidar": float(lidar(views)),
        "gauss_ub": float(gaussian_entropy_from_samples(z64, shrinkage="ledoit_wolf")),
        "knn": float(knn_entropy(z64, 3)),
        "std": math.sqrt(variance),
        "invariance": float(((a64 - b64) ** 2).mean()),
        "invariance_rel": float(((a64 - b64) ** 2).mean()) / variance,
        # the old definition: all n (n - 1) / 2 distances
        "separation": float(torch.pdist(z64).pow(2).mean())
        / float((a64 - b64).pow(2).sum(1).mean()),
        "mi_gauss": _gaussian_mi_numpy(pa.numpy(), pb.numpy()),
        "mi_ksg": float(ksg_mutual_information(pa[:, :1], pb[:, :1], k=3)),
        "k_pcs": float(k),
        "mean_cos": float((cos.sum() - cos.diagonal().sum()) / (n * (n - 1))),
        "dead_frac": float((z64.std(0) < 0.01 * z64.std(0).mean()).double().mean()),
        "min_std": float(z64.std(0).min()),
    }
    assert set(got) == set(expected)
    for key, value in expected.items():
        # KSG counts neighbours: projections equal to 1e-9 can swap a tie, nothing more
        tol = dict(rel=1e-6, abs=1e-6) if key == "mi_ksg" else dict(rel=1e-8, abs=1e-9)
        assert got[key] == pytest.approx(value, **tol), (name, key, got[key], value)
