"""``nuisance_digits``, the quickstart's data set, and its views preset."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from selfsup.config import load_config
from selfsup.data import load_dataset, make_views, to_unit_float
from selfsup.data import nuisance_digits as nd
from selfsup.data.from_config import load_data


@pytest.fixture(scope="module")
def splits():
    return load_dataset("nuisance_digits", renders=2, test_renders=1)


def test_shapes_dtypes_and_sizes(splits):
    assert splits.name == "nuisance_digits" and splits.num_classes == 10
    assert splits.train.images.shape == (2 * 1437, 3, 16, 16)
    assert splits.test.images.shape == (360, 3, 16, 16)
    assert splits.train.images.dtype == torch.uint8 and splits.train.labels.dtype == torch.int64
    assert set(splits.test.labels.tolist()) == set(range(10))
    big = load_dataset("nuisance_digits", renders=1, test_renders=3, image_size=24)
    assert big.train.images.shape == (1437, 3, 24, 24)
    assert big.test.images.shape == (3 * 360, 3, 24, 24)


def test_test_digits_are_never_rendered_for_training(splits):
    """The same stratified split as ``digits``: the test renders are of its test digits."""
    plain = load_dataset("digits")
    grey = torch.from_numpy(load_digits().images)
    # each render's digit, found back by its labels' order: the split's order repeats
    assert torch.equal(splits.test.labels, plain.test.labels)
    assert torch.equal(splits.train.labels, plain.train.labels.repeat(2))
    train_rows = {tuple(r) for r in plain.train.images.flatten(1).tolist()}
    test_rows = [tuple(r) for r in plain.test.images.flatten(1).tolist()]
    assert sum(r in train_rows for r in test_rows) <= 5  # sklearn's digits hold a few twins
    assert grey.shape[0] == len(plain.train) + len(plain.test)


def test_same_seed_same_images_other_seed_other_nuisances():
    a = load_dataset("nuisance_digits", renders=1, test_renders=1, seed=3)
    b = load_dataset("nuisance_digits", renders=1, test_renders=1, seed=3)
    c = load_dataset("nuisance_digits", renders=1, test_renders=1, seed=4)
    assert torch.equal(a.train.images, b.train.images)
    assert torch.equal(a.test.images, b.test.images)
    assert torch.equal(a.train.labels, c.train.labels)
    assert (a.train.images != c.train.images).float().mean() > 0.5
    # a digit's second render differs from its first (independent nuisances)
    two = load_dataset("nuisance_digits", renders=2, test_renders=1, seed=3)
    first, second = two.train.images[:1437], two.train.images[1437:]
    assert torch.equal(two.train.labels[:1437], two.train.labels[1437:])
    assert (first != second).float().mean() > 0.5


def test_a_full_size_centred_render_is_the_digit_in_its_two_colours(monkeypatch):
    """At box size 1 the box fills the canvas (centre 0); with the canvas the digit's 8 px
    the resampling is the identity, so every pixel is ink * fg + (1 - ink) * bg exactly."""
    monkeypatch.setattr(nd, "SIZE_RANGE", (1.0, 1.0))
    ink = torch.from_numpy(load_digits().images[:50] / 16.0).float()[:, None]
    images, nuisance = nd.render_nuisance_digits(ink, image_size=8, seed=1)
    assert torch.all(nuisance["x"] == 0) and torch.all(nuisance["y"] == 0)
    fg = nuisance["foreground"].double()[:, :, None, None]
    bg = nuisance["background"].double()[:, :, None, None]
    ink64 = torch.from_numpy(load_digits().images[:50] / 16.0)[:, None]
    expected = np.round(255 * (ink64 * fg + (1 - ink64) * bg).numpy())
    assert np.abs(images.numpy().astype(np.float64) - expected).max() <= 1


def test_nuisances_stay_in_their_ranges():
    ink = torch.from_numpy(load_digits().images / 16.0).float()[:, None]
    images, nuisance = nd.render_nuisance_digits(ink, image_size=16, seed=0)
    size, x, y = nuisance["size"], nuisance["x"], nuisance["y"]
    assert size.min() >= nd.SIZE_RANGE[0] and size.max() <= nd.SIZE_RANGE[1]
    # the digit's box stays inside the canvas
    assert torch.all(x.abs() <= 1 - size + 1e-6) and torch.all(y.abs() <= 1 - size + 1e-6)
    fg, bg = nuisance["foreground"], nuisance["background"]
    assert fg.min() >= 0 and fg.max() <= 1 and bg.min() >= 0 and bg.max() <= 1
    contrast = (fg - bg).mean(1).abs()
    # legible: the brightness gap is at least MIN_CONTRAST, or the push hit the [0, 1] wall
    pushed_to_wall = ((fg == 0) | (fg == 1)).any(1)
    assert torch.all((contrast >= nd.MIN_CONTRAST - 1e-6) | pushed_to_wall)
    assert contrast.median() > 0.3
    # the colours vary widely: the class is not in the mean colour
    assert fg.std(0).min() > 0.2 and bg.std(0).min() > 0.2
    # every pixel lies between the two colours: bg + m (fg - bg), one m for all channels
    pixels = images.double() / 255
    gap = (fg - bg).double()
    widest = gap.abs().argmax(1)
    rows = torch.arange(len(gap))
    m = (pixels[rows, widest] - bg.double()[rows, widest, None, None]) / gap[
        rows, widest, None, None
    ]
    rebuilt = bg.double()[:, :, None, None] + m[:, None] * gap[:, :, None, None]
    assert (rebuilt - pixels).abs().max() < 1.01 / 255  # two roundings to uint8
    assert m.min() > -0.01 and m.max() < 1.01


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="renders"):
        load_dataset("nuisance_digits", renders=0)
    with pytest.raises(ValueError, match="image_size"):
        load_dataset("nuisance_digits", image_size=4)


def test_the_quickstart_uses_it_and_honours_subsets():
    config = load_config(None, ["data.train_subset=256", "data.test_subset=200"])
    assert config.data.name == "nuisance_digits" and config.data.views == "nuisance_digits"
    data = load_data(config)
    assert len(data.train) == 256 and len(data.test) == 200
    assert data.train.images.shape[1:] == (3, 16, 16)


@pytest.mark.parametrize("n_views", [2, 3])
def test_its_views_keep_shape_and_range_and_vary(splits, n_views):
    batch = to_unit_float(splits.train.images[:64])
    torch.manual_seed(0)
    views = make_views("nuisance_digits", 16, n_views)(batch)
    assert len(views) == n_views
    for view in views:
        assert view.shape == batch.shape and view.dtype == torch.float32
        assert view.min() >= 0 and view.max() <= 1
    assert (views[0] - views[1]).abs().mean() > 0.05  # two views of an image differ
    torch.manual_seed(0)
    again = make_views("nuisance_digits", 16, n_views)(batch)
    assert all(torch.equal(a, b) for a, b in zip(views, again, strict=True))
    # colour jitter with a hue turn: a view's mean colour moves away from its image's
    shift = (views[0].mean((2, 3)) - batch.mean((2, 3))).abs().max(1).values
    assert (shift > 0.05).float().mean() > 0.3
