"""The lens callback: enabled from the config, finite curves in lens.csv / lens.png, and its
collapse and invariance numbers on hand-made embeddings."""

import csv
import math

import pytest
import torch

from selfsup.config import load_config
from selfsup.errors import SelfsupError
from selfsup.train import train
from selfsup.train.lens import collapse_indicators, lens_stats, view_mutual_information
from tests.conftest import TINY


def test_lens_every_epoch_writes_finite_curves(tmp_path):
    overrides = [
        *TINY,
        "lens.every_n_epochs=1",
        "lens.n_samples=128",
        "lens.lidar_samples=16",
        "lens.lidar_views=4",
        "eval.linear_probe=false",
    ]
    train(load_config(None, overrides), tmp_path)
    with open(tmp_path / "lens.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]  # before training, after each epoch
    for space, d in (("emb", 64), ("rep", 32)):
        for name in ("rankme", "erank", "alpha_req", "lidar", "gauss_ub", "knn", "mi_gauss"):
            for row in rows:
                assert math.isfinite(float(row[f"{space}_{name}"])), (space, name, row)
        for row in rows:
            assert 1.0 <= float(row[f"{space}_rankme"]) <= d + 1e-6
            assert 1.0 <= float(row[f"{space}_lidar"]) <= min(16 - 1, d) + 1e-3
            assert -1.0 <= float(row[f"{space}_mean_cos"]) <= 1.0
    assert (tmp_path / "lens.png").stat().st_size > 10_000
    # and in the run's metrics.csv, under lens/
    with open(tmp_path / "metrics.csv", newline="") as f:
        logged = [r for r in csv.DictReader(f) if r.get("lens/emb_rankme")]
    assert len(logged) == 3


def test_lens_key_is_checked():
    with pytest.raises(SelfsupError, match="lens.every_n_epoch"):
        load_config(None, ["lens.every_n_epoch=5"])


def test_collapse_indicators_on_collapsed_and_spread_embeddings():
    g = torch.Generator().manual_seed(0)
    point = torch.ones(100, 8, dtype=torch.float64) + 1e-9 * torch.randn(100, 8, generator=g)
    c = collapse_indicators(point)
    assert c["mean_cos"] == pytest.approx(1.0, abs=1e-6)
    spread = torch.randn(2000, 8, generator=g, dtype=torch.float64)
    c = collapse_indicators(spread)
    assert abs(c["mean_cos"]) < 0.01 and c["dead_frac"] == 0.0
    # 2 of 8 dimensions switched off
    half = spread * torch.tensor([1.0] * 6 + [0.0] * 2, dtype=torch.float64)
    assert collapse_indicators(half)["dead_frac"] == pytest.approx(0.25)


def test_view_mutual_information_of_correlated_gaussian_views():
    # z_a = x + e1, z_b = x + e2 with x ~ N(0, I_2), e ~ N(0, s^2 I_2): per dimension
    # rho = 1 / (1 + s^2) and I = -1/2 log(1 - rho^2); summed over 2 independent dimensions
    g = torch.Generator().manual_seed(1)
    n, s = 20000, 0.5
    x = torch.randn(n, 2, generator=g, dtype=torch.float64)
    z_a = x + s * torch.randn(n, 2, generator=g, dtype=torch.float64)
    z_b = x + s * torch.randn(n, 2, generator=g, dtype=torch.float64)
    rho = 1 / (1 + s * s)
    mi = view_mutual_information(z_a, z_b)
    assert mi["k_pcs"] == 2
    assert mi["mi_gauss"] == pytest.approx(-math.log(1 - rho * rho), rel=0.03)
    assert mi["mi_ksg"] == pytest.approx(-0.5 * math.log(1 - rho * rho), abs=0.05)


def test_lens_stats_of_a_collapsed_space_are_numbers_not_errors():
    z = torch.zeros(64, 16, dtype=torch.float64)
    stats = lens_stats(z, z, z, torch.zeros(8, 4, 16, dtype=torch.float64))
    assert stats["rankme"] == pytest.approx(1.0)  # all-zero singular values: rank 1 by convention
    assert stats["dead_frac"] == 1.0 and stats["min_std"] == 0.0
    assert math.isnan(stats["gauss_ub"])  # the Gaussian entropy of a point is -inf: no value


def test_grassmann_prediction_tracks_riemannian_gd_on_the_papers_loss():
    """GD on -tr(W^T C W) with a QR retraction after each step is the discretised flow: with a
    small step the measured span follows the closed form, and both approach the top eigenspace."""
    from selfsup.dynamics import loss_matrix
    from selfsup.train.lens_grassmann import GrassmannTrack

    g = torch.Generator().manual_seed(0)
    n, d, h, lr = 2000, 6, 2, 1e-3
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.tensor([3, 2, 1, 1, 0.5, 0.5])
    x_b = x + 0.3 * torch.randn(n, d, generator=g, dtype=torch.float64)
    C = loss_matrix(x, x_b)
    W = torch.linalg.qr(torch.randn(d, h, generator=g, dtype=torch.float64)).Q
    track = GrassmannTrack()
    first = track.measure(W.T, x, x_b)
    assert first["grass_pred_dist"] < 1e-12  # t = 0: prediction = W0
    for _ in range(400):
        W = torch.linalg.qr(W + lr * 2 * C @ W).Q  # gradient step on -tr(W^T C W), retraction
        track.step(lr)
    later = track.measure(W.T, x, x_b)
    assert later["grass_time"] == pytest.approx(0.4)
    assert later["grass_pred_dist"] < 0.02  # first order in the step size
    assert later["grass_top_dist"] < first["grass_top_dist"]
    assert later["grass_pred_top_dist"] == pytest.approx(later["grass_top_dist"], abs=0.02)


def test_linear_head_detection():
    from torch import nn

    from selfsup.nets.mlp import projector
    from selfsup.train.lens_grassmann import linear_head

    assert isinstance(linear_head(projector(8, [4])), nn.Linear)
    assert linear_head(projector(8, [16, 4])) is None
    assert linear_head(None) is None


def test_lens_with_a_linear_head_logs_the_grassmann_prediction(tmp_path):
    overrides = [
        *TINY,
        "method.projector=[8]",
        "trainer.max_epochs=1",
        "lens.every_n_epochs=1",
        "lens.n_samples=96",
        "lens.lidar_samples=0",
        "eval.linear_probe=false",
    ]
    train(load_config(None, overrides), tmp_path)
    with open(tmp_path / "lens.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["grass_time"]) == 0.0 and float(rows[1]["grass_time"]) > 0
    assert float(rows[0]["grass_pred_dist"]) < 1e-9
    for key in ("grass_pred_dist", "grass_top_dist", "grass_pred_top_dist"):
        assert 0.0 <= float(rows[1][key]) <= 1.0
    assert "emb_lidar" not in rows[0]


def test_training_curves_leave_the_lens_columns_to_lens_png(tmp_path):
    import matplotlib.image

    from selfsup.train.report import plot_training_curves

    lens_keys = [f"lens/emb_{k}" for k in ("rankme", "erank", "knn", "gauss_ub", "lidar")]
    header = ["step", "epoch", "train/loss", "val/knn_top1", *lens_keys, "info/rep_knn"]
    rows = [",".join(header)] + [",".join(str(i + j) for j in range(len(header))) for i in range(3)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    out = plot_training_curves(tmp_path / "metrics.csv", tmp_path / "curves.png")
    height, width = matplotlib.image.imread(out).shape[:2]
    # two panels side by side (4.5 x 3.2 inches each at 90 dpi), not a 3 x 3 grid of eight
    assert (height, width) == (round(3.2 * 90), round(2 * 4.5 * 90))
