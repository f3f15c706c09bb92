"""data.name=tensors: .npz / .pt files of images in the usual layouts, untrusted."""

import numpy as np
import pytest
import torch

from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.data.from_config import load_data
from selfsup.errors import SelfsupError


def _images(n=6, h=5, w=5, c=None, seed=0):
    g = np.random.default_rng(seed)
    shape = (n, h, w) if c is None else (n, h, w, c)
    return g.integers(0, 256, size=shape, dtype=np.uint8)


def test_npz_grey_with_labels_and_test_file(tmp_path):
    x, xt = _images(), _images(4, seed=1)
    np.savez(tmp_path / "train.npz", x=x, y=np.array([0, 1, 2, 0, 1, 2]))
    np.savez(tmp_path / "test.npz", x=xt, y=np.array([2, 2, 1, 0]))
    data = load_dataset("tensors", path=tmp_path / "train.npz", test_path=tmp_path / "test.npz")
    assert data.labelled and data.num_classes == 3 and data.image_shape == (1, 5, 5)
    images, labels = data.train.get_batch(torch.arange(6))
    assert torch.equal(images[:, 0], torch.from_numpy(x)) and labels.tolist() == [0, 1, 2] * 2
    assert data.test.get_batch(torch.arange(4))[1].tolist() == [2, 2, 1, 0]


def test_npz_channels_last_colour(tmp_path):
    x = _images(c=3)
    np.savez(tmp_path / "d.npz", x=x)
    data = load_dataset("tensors", path=tmp_path / "d.npz")
    got = data.train.get_batch(torch.arange(6))[0]
    assert got.shape == (6, 3, 5, 5)
    assert all(got[i, c, r, k] == x[i, r, k, c] for i, c, r, k in [(0, 0, 1, 2), (5, 2, 4, 0)])


def test_pt_float_channels_first_is_rounded_to_uint8(tmp_path):
    x = torch.rand(4, 3, 6, 6, dtype=torch.float64)
    torch.save({"x": x, "y": torch.tensor([1, 0, 1, 0])}, tmp_path / "d.pt")
    data = load_dataset("tensors", path=tmp_path / "d.pt")
    expected = np.rint(x.numpy() * 255).astype(np.uint8)  # numpy's round-half-even, as torch's
    assert np.array_equal(data.train.get_batch(torch.arange(4))[0].numpy(), expected)


def test_non_square_images_are_centre_cropped(tmp_path):
    x = np.zeros((2, 4, 8), np.uint8)
    x[:, :, 2:6] = 255  # the middle four columns are white
    np.savez(tmp_path / "d.npz", x=x)
    data = load_dataset("tensors", path=tmp_path / "d.npz")
    assert data.image_shape == (1, 4, 4)
    assert (data.train.get_batch(torch.arange(2))[0] == 255).all()
    assert load_dataset("tensors", path=tmp_path / "d.npz", image_size=2).image_shape == (1, 2, 2)


def test_without_labels_the_data_trains_but_is_not_labelled(tmp_path):
    np.savez(tmp_path / "x.npz", x=_images())
    data = load_dataset("tensors", path=tmp_path / "x.npz")
    assert data.num_classes == 0 and not data.labelled and data.test is None
    np.savez(tmp_path / "y.npz", x=_images(), y=np.arange(6) % 2)
    data = load_dataset("tensors", path=tmp_path / "y.npz", test_path=tmp_path / "x.npz")
    assert not data.labelled and data.unlabelled_reason().endswith(
        "test split of 'tensors' has no labels"
    )


class _Exploit:
    def __reduce__(self):
        import os

        return os.system, ("touch pwned",)


def _pt_with(obj):
    def write(path):
        torch.save(obj, path)

    return write


@pytest.mark.parametrize(
    "name, write, message",
    [
        ("d.npz", lambda p: p.write_bytes(b"PK\x03\x04 not a zip"), "cannot read data file"),
        ("d.pt", lambda p: p.write_bytes(b"garbage"), "cannot read data file"),
        ("d.pt", _pt_with({"x": _Exploit()}), "cannot read data file"),
        ("d.pt", _pt_with(torch.zeros(2, 3, 3, dtype=torch.uint8)), "holds a Tensor"),
        ("d.npz", lambda p: np.savez(p, x=np.array([{"a": 1}], dtype=object)), "cannot read"),
        ("d.npz", lambda p: np.savez(p, images=_images()), "expected 'x'"),
        ("d.npz", lambda p: np.savez(p, x=_images(), y=np.arange(6), z=1), "expected 'x'"),
        ("d.npz", lambda p: np.savez(p, x=_images().astype(np.float32)), "expected uint8"),
        ("d.npz", lambda p: np.savez(p, x=_images(c=5)), "expected uint8"),
        ("d.pt", _pt_with({"x": torch.full((2, 1, 3, 3), 2.0)}), r"lie in \[0, 1\]"),
        ("d.pt", _pt_with({"x": torch.full((2, 1, 3, 3), float("nan"))}), r"lie in \[0, 1\]"),
        ("d.npz", lambda p: np.savez(p, x=_images(), y=np.arange(5)), "shape \\(6,\\)"),
        ("d.npz", lambda p: np.savez(p, x=_images(), y=np.arange(6) * 0.5), "integer class"),
        ("d.npz", lambda p: np.savez(p, x=_images(), y=np.arange(6) - 1), "negative labels"),
        ("d.txt", lambda p: p.write_text("x"), "must end in .npz or .pt"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path, monkeypatch, name, write, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / name)
    with pytest.raises(SelfsupError, match=message) as caught:
        load_dataset("tensors", path=tmp_path / name)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "pwned").exists()  # nothing from the file ran


def test_missing_file_and_mismatched_test_file(tmp_path):
    with pytest.raises(SelfsupError, match="not found; check data.path"):
        load_dataset("tensors", path=tmp_path / "none.npz")
    with pytest.raises(SelfsupError, match="needs data.path"):
        load_dataset("tensors")
    np.savez(tmp_path / "a.npz", x=_images())
    np.savez(tmp_path / "b.npz", x=_images(c=3))
    with pytest.raises(SelfsupError, match="same channels and size"):
        load_dataset("tensors", path=tmp_path / "a.npz", test_path=tmp_path / "b.npz")


def test_config_keys_reach_the_loader_and_are_refused_elsewhere(tmp_path):
    np.savez(tmp_path / "a.npz", x=_images(), y=np.arange(6) % 3)
    config = load_config(None, ["data.name=tensors", f"data.path={tmp_path / 'a.npz'}"])
    assert load_data(config).num_classes == 3
    # data.name stays the quickstart's: refused when the config is read, and again by load_data (a
    # stored config is not read through load_config)
    with pytest.raises(SelfsupError, match="data.path is for your own files"):
        load_config(None, [f"data.path={tmp_path / 'a.npz'}"])
    config.data.name = "digits"
    with pytest.raises(SelfsupError, match="data.path is for your own files"):
        load_data(config)
