"""InfoTracking: finite values in the run's CSV, and its geometry against hand-made cases."""

import csv
import math

import torch

from selfsup.config import load_config
from selfsup.train import train
from selfsup.train.callbacks import CALLBACKS
from selfsup.train.info_tracking import InfoTracking, embedding_stats
from tests.conftest import TINY


def test_effective_rank_and_separation_on_known_geometry():
    g = torch.Generator().manual_seed(0)
    iso = torch.randn(4000, 8, generator=g, dtype=torch.float64)
    # the effective rank of the centred embeddings (selfsup.info.effective_rank)
    assert abs(embedding_stats(iso, iso, iso)["erank"] - 8) < 0.1
    line = torch.randn(500, 1, generator=g, dtype=torch.float64) * torch.ones(1, 8) + 3.0
    assert abs(embedding_stats(line, line, line)["erank"] - 1) < 1e-6
    # 300 centres ~ N(0, 4 I) in 6 dims, views = centre +- 0.5 e: within = E||2 * 0.5 e||^2 = 6,
    # between = E||c_i - c_j||^2 = 2 * 4 * 6 = 48, separation = 8
    c = 2 * torch.randn(3000, 6, generator=g, dtype=torch.float64)
    e = torch.randn(3000, 6, generator=g, dtype=torch.float64)
    stats = embedding_stats(c, c + 0.5 * e, c - 0.5 * e)
    assert abs(stats["separation"] - 8) < 0.5
    assert abs(stats["invariance"] - 1.0) < 0.05  # mse of (c + .5e) - (c - .5e) = e
    # Gaussian upper bound of N(0, 4 I_6): 3 log(2 pi e 4)
    assert abs(stats["gauss_ub"] - 3 * math.log(2 * math.pi * math.e * 4)) < 0.1


def test_tracking_logs_finite_values_to_the_csv(tmp_path):
    assert CALLBACKS["info_tracking"] is InfoTracking
    overrides = [
        *TINY,
        "callbacks.info_tracking.n_samples=128",
        "callbacks.info_tracking.n_views=24",
        "callbacks.info_tracking.n_gaussianity=1",
        "eval.linear_probe=false",
    ]
    train(load_config(None, overrides), tmp_path)
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("info/emb_logdet")]
    assert len(rows) == 3  # before training and after each of the 2 epochs
    keys = [k for k in rows[0] if k.startswith("info/")]
    for name in ("gauss_ub", "logdet", "pd_lower", "pd_upper", "knn", "invariance", "separation"):
        assert f"info/emb_{name}" in keys and f"info/rep_{name}" in keys
    for key in ("info/region_stability", "info/gauss_frac_dims_rejected", "info/emb_logdet_cov"):
        assert key in keys
    for row in rows:
        for key in keys:
            assert math.isfinite(float(row[key])), (key, row[key])
        assert 0.0 <= float(row["info/region_stability"]) <= 1.0
        assert 1.0 <= float(row["info/emb_erank"]) <= 64.0
        # Bhattacharyya (lower) never above KL (upper)
        assert float(row["info/emb_pd_lower"]) <= float(row["info/emb_pd_upper"]) + 1e-9
    steps = [float(r["step"]) for r in rows]
    assert steps[0] == 0 and steps == sorted(steps) and len(set(steps)) == 3
    assert (tmp_path / "info_tracking.png").exists()
    assert (tmp_path / "info_tracking.json").exists()


def test_measuring_does_not_change_the_training_random_stream():
    from selfsup.data import load_dataset
    from selfsup.methods import build_method

    config = load_config(None, TINY)
    data = load_dataset("digits")
    method = build_method(config, data)
    tracker = InfoTracking(n_samples=64, n_gaussianity=1, n_views=20)
    tracker._images, _ = data.test.get_batch(torch.arange(64))
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    tracker.measure(method)
    assert torch.equal(torch.rand(3), expected)
    assert method.training  # mode restored
