"""Evaluation pieces against known answers: Hungarian accuracy, NMI/ARI, R^2, style, structure."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

from selfsup.evaluate import (
    cluster_accuracy,
    gmm_clustering,
    knn_accuracy,
    knn_sweep,
    latent_structure,
    ridge_r2,
    style_scores,
)


def test_cluster_accuracy_is_permutation_invariant_and_counts_errors():
    y = np.array([0, 0, 1, 1, 2, 2])
    assert cluster_accuracy(y, np.array([2, 2, 0, 0, 1, 1])) == 1.0
    assert cluster_accuracy(y, np.array([2, 2, 0, 1, 1, 1])) == pytest.approx(5 / 6)
    # more clusters than classes: the extra cluster's samples are errors
    assert cluster_accuracy(y, np.array([0, 3, 1, 1, 2, 2])) == pytest.approx(5 / 6)


def test_gmm_recovers_separated_gaussian_clusters():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat_interleave(100)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = centres[y] + torch.randn(300, 2, generator=g)
    m = gmm_clustering(x, y)
    assert m["gmm_accuracy"] == 1.0 and m["nmi"] == pytest.approx(1.0) and m["ari"] == 1.0
    noise = torch.randn(300, 2, generator=g)
    assert gmm_clustering(noise, y)["ari"] < 0.1


def test_knn_sweep_equals_knn_accuracy_per_k():
    g = torch.Generator().manual_seed(1)
    f, ft = torch.randn(400, 6, generator=g), torch.randn(90, 6, generator=g)
    y, yt = torch.randint(0, 5, (400,), generator=g), torch.randint(0, 5, (90,), generator=g)
    sweep = knn_sweep(f, y, ft, yt, ks=(1, 3, 20))
    for k, acc in sweep.items():
        assert acc == pytest.approx(knn_accuracy(f, y, ft, yt, k=k), abs=1e-6)


def test_ridge_r2_matches_sklearn():
    g = torch.Generator().manual_seed(2)
    x, xt = torch.randn(200, 5, generator=g), torch.randn(100, 5, generator=g)
    w = torch.randn(5, generator=g)
    t, tt = (
        x @ w + 0.5 * torch.randn(200, generator=g),
        xt @ w + 0.5 * torch.randn(100, generator=g),
    )
    mean, std = x.mean(0), x.std(0)
    model = Ridge(alpha=1e-3 * 200).fit(((x - mean) / std).numpy(), t.numpy())
    want = r2_score(tt.numpy(), model.predict(((xt - mean) / std).numpy()))
    assert ridge_r2(x, t, xt, tt) == pytest.approx(want, abs=1e-5)


def test_style_scores_find_the_encoded_factor_and_miss_the_other():
    g = torch.Generator().manual_seed(3)
    n, m = 600, 300
    colour, colour_t = (
        torch.randint(0, 3, (n,), generator=g),
        torch.randint(0, 3, (m,), generator=g),
    )
    pos, pos_t = torch.rand(n, generator=g), torch.rand(m, generator=g)
    hidden, hidden_t = torch.rand(n, generator=g), torch.rand(m, generator=g)

    def feats(c, p, k):
        return torch.stack([c.float() * 3, p, torch.randn(k, generator=g)], 1)

    s = style_scores(
        feats(colour, pos, n),
        {"colour": colour, "pos": pos, "hidden": hidden},
        feats(colour_t, pos_t, m),
        {"colour": colour_t, "pos": pos_t, "hidden": hidden_t},
    )
    assert s["style_colour_acc"] == 1.0 and s["style_colour"] == 1.0
    assert s["style_pos_r2"] > 0.99
    assert abs(s["style_hidden_r2"]) < 0.05  # not in the features: R^2 near 0
    assert s["style_score"] == pytest.approx(
        (s["style_colour"] + s["style_pos"] + s["style_hidden"]) / 3
    )


def test_latent_structure_prefers_tight_clusters():
    g = torch.Generator().manual_seed(4)
    y, yt = torch.arange(4).repeat(250), torch.arange(4).repeat(100)
    centres = 5 * torch.randn(4, 3, generator=g)
    tight = latent_structure(
        centres[y] + torch.randn(1000, 3, generator=g),
        y,
        centres[yt] + torch.randn(400, 3, generator=g),
        yt,
    )
    none = latent_structure(
        torch.randn(1000, 3, generator=g), y, torch.randn(400, 3, generator=g), yt
    )
    assert tight["scatter_ratio"] < 0.5 < 10 < none["scatter_ratio"]  # random labels: ~n/(k d)
    assert tight["class_gaussian_gain"] > 0.5 and abs(none["class_gaussian_gain"]) < 0.05
    # affine invariance: scaling and mixing the features changes nothing
    a = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.5]])
    f, ft = (
        centres[y] + torch.randn(1000, 3, generator=g),
        centres[yt] + torch.randn(400, 3, generator=g),
    )
    base, moved = latent_structure(f, y, ft, yt), latent_structure(f @ a + 7, y, ft @ a + 7, yt)
    assert moved["class_gaussian_gain"] == pytest.approx(base["class_gaussian_gain"], abs=1e-3)
    assert moved["scatter_ratio"] == pytest.approx(base["scatter_ratio"], rel=1e-3)
