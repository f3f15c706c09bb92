"""The shapes set (determinism, labels and factors as rendered), the fast views, the VAE nets."""

import math

import pytest
import torch

from selfsup.data import load_dataset, make_views
from selfsup.data.shapes import BACKGROUNDS, COLOURS, KINDS, render_shapes
from selfsup.nets import build_backbone


def test_shapes_deterministic_and_factors_visible():
    a, ya, sa = render_shapes(64, 32, seed=5)
    b, yb, sb = render_shapes(64, 32, seed=5)
    assert torch.equal(a, b) and torch.equal(ya, yb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.dtype == torch.uint8 and a.shape == (64, 3, 32, 32)
    assert set(ya.tolist()) <= set(range(len(KINDS)))
    x = a.float() / 255
    for i in range(64):
        # the corner pixel is background (shapes stay inside the frame), the centre of mass
        # of the foreground sits at the rendered position
        bg = BACKGROUNDS[sa["background"][i]]
        assert x[i, :, 0, 0].sub(bg).abs().max() < 0.01
        fg = torch.tensor(COLOURS[sa["colour"][i]], dtype=torch.float32)
        mask = (x[i] - bg).abs().sum(0) > 0.5 * (fg - bg).abs().sum()
        assert mask.sum() > 5
        rows, cols = torch.nonzero(mask, as_tuple=True)
        cx = (cols.float().mean() + 0.5) / 16 - 1
        cy = 1 - (rows.float().mean() + 0.5) / 16
        if ya[i] in (0, 2, 3):  # centrally symmetric shapes: centroid = centre
            assert abs(cx - sa["x"][i]) < 0.08 and abs(cy - sa["y"][i]) < 0.08


def test_shapes_dataset_splits_and_extras():
    d = load_dataset("shapes", n_train=50, n_test=20, image_size=16)
    assert len(d.train) == 50 and len(d.test) == 20 and d.num_classes == len(KINDS)
    assert d.image_shape == (3, 16, 16)
    assert d.extras["style_train"]["colour"].dtype == torch.int64
    assert d.extras["style_test"]["rotation"].shape == (20,)
    assert not torch.equal(d.train.images[:20], d.test.images)


def test_shapes_views_keep_shape_and_range():
    # the view pipeline itself is tested in tests/data/test_views.py
    x = torch.rand(4, 3, 16, 16)
    views = make_views("shapes", 16)(x)
    assert len(views) == 2 and views[0].shape == x.shape
    assert 0 <= views[0].min() <= views[0].max() <= 1


@pytest.mark.parametrize(
    "name,shape,params",
    [
        ("mlp_vae", (1, 28, 28), {"latent_dim": 10}),
        ("conv_vae", (3, 32, 32), {"latent_dim": 64}),
        ("conv_vae", (3, 64, 64), {"latent_dim": 8, "widths": [8, 16], "residual": False}),
    ],
)
def test_vae_encoders_and_mirror_decoders(name, shape, params):
    enc = build_backbone(name, shape, **params)
    x = torch.rand(3, *shape)
    mu, logvar = enc.posterior(x)
    assert mu.shape == logvar.shape == (3, params["latent_dim"]) == (3, enc.out_dim)
    assert torch.equal(enc(x), mu)
    assert enc.make_decoder()(mu).shape == (3, *shape)


def test_official_mlp_sizes():
    enc = build_backbone("mlp_vae", (1, 28, 28), latent_dim=10)
    widths = [m.out_features for m in enc.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [2000, 500, 500, 20]
    dec = enc.make_decoder()
    assert [m.out_features for m in dec.modules() if isinstance(m, torch.nn.Linear)] == [
        500,
        500,
        2000,
        784,
    ]
    assert math.prod(enc.make_decoder()(torch.zeros(1, 10)).shape) == 784
