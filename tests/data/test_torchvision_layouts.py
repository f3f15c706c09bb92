"""CIFAR-10/100, STL-10, CelebA and FashionMNIST through the loaders a user's run calls,
read from small fakes in each dataset's real on-disk layout (only torchvision's md5 check is
patched: the fakes' bytes differ from the real files'), and the advice when files are absent."""

import os

import numpy as np
import pytest
import torch

from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.data.datasets import DatasetNotFoundError
from selfsup.errors import SelfsupError
from selfsup.train import train
from tests.conftest import TINY
from tests.data import fakes


@pytest.fixture
def no_md5(monkeypatch):
    """torchvision's integrity check without the md5 comparison: the file must exist."""
    import torchvision.datasets.celeba as celeba
    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.stl10 as stl10

    def exists(path, md5=None):
        return os.path.isfile(path)

    for module in (cifar, stl10, celeba):
        monkeypatch.setattr(module, "check_integrity", exists)


@pytest.mark.parametrize("hundred", [False, True], ids=["cifar10", "cifar100"])
def test_cifar_layout_reads_back_pixel_for_pixel(tmp_path, no_md5, hundred):
    written = fakes.cifar(tmp_path, hundred=hundred)
    data = load_dataset("cifar100" if hundred else "cifar10", tmp_path)
    assert data.num_classes == (100 if hundred else 10) and data.image_shape == (3, 32, 32)
    for split, dataset in (("train", data.train), ("test", data.test)):
        images, labels = written[split]
        got_x, got_y = dataset.get_batch(torch.arange(len(dataset)))
        assert torch.equal(got_x, torch.from_numpy(images))
        assert got_y.tolist() == labels.tolist()


def test_stl10_layout_trains_on_train_plus_unlabelled(tmp_path, no_md5):
    written = fakes.stl10(tmp_path)
    data = load_dataset("stl10", tmp_path)
    assert data.image_shape == (3, 96, 96) and data.num_classes == 10
    x, y = data.test.get_batch(torch.arange(len(data.test)))
    assert torch.equal(x, torch.from_numpy(written["test"][0]))
    assert y.tolist() == written["test"][1].tolist()
    # SSL trains on train + unlabeled; the unlabelled images come last, labelled -1
    ssl_x, ssl_y = data.ssl_train.get_batch(torch.arange(len(data.ssl_train)))
    assert len(data.ssl_train) == 16 and ssl_y[10:].tolist() == [-1] * 6
    assert torch.equal(ssl_x[10:], torch.from_numpy(written["unlabeled"][0]))


def test_celeba_layout_gives_the_attribute_as_label(tmp_path, no_md5):
    written = fakes.celeba(tmp_path)
    data = load_dataset("celeba", tmp_path, image_size=16, attribute="Smiling")
    assert data.image_shape == (3, 16, 16) and data.num_classes == 2
    column = fakes.CELEBA_ATTRIBUTES.index("Smiling")
    expected = (written["attrs"][:, column] + 1) // 2  # -1 / 1 in the file -> 0 / 1
    for split, code in (("train", 0), ("test", 2)):
        dataset = getattr(data, split)
        x, y = dataset.get_batch(torch.arange(len(dataset)))
        assert x.shape == (int((written["partitions"] == code).sum()), 3, 16, 16)
        assert y.tolist() == expected[written["partitions"] == code].tolist()
    with pytest.raises(SelfsupError, match="unknown CelebA attribute 'Smiles'"):
        load_dataset("celeba", tmp_path, attribute="Smiles")


def test_fashion_mnist_idx_files_read_back(tmp_path):
    written = fakes.fashion_mnist(tmp_path)  # MNIST-style sets check only that files exist
    data = load_dataset("fashion_mnist", tmp_path)
    x, y = data.train.get_batch(torch.arange(len(data.train)))
    assert torch.equal(x[:, 0], torch.from_numpy(written["train"][0]))
    assert y.tolist() == written["train"][1].tolist()


@pytest.mark.parametrize(
    "name, write, params",
    [
        ("cifar10", fakes.cifar, "{}"),
        ("stl10", fakes.stl10, "{}"),  # train + unlabeled: the online probe skips label -1
        ("celeba", fakes.celeba, "{image_size: 16}"),
        ("fashion_mnist", fakes.fashion_mnist, "{}"),
    ],
)
def test_a_run_trains_on_each_layout(tmp_path, no_md5, name, write, params):
    write(tmp_path / "data")
    config = load_config(
        None,
        [
            *TINY,
            f"data.name={name}",
            f"data.root={tmp_path / 'data'}",
            f"data.params={params}",
            "data.views=cifar" if name != "fashion_mnist" else "data.views=mnist",
            "data.batch_size=4",
            "trainer.max_epochs=1",
            "eval.linear_probe=false",
            "eval.knn_k=3",
        ],
    )
    metrics = train(config, tmp_path / "run")
    assert metrics["global_step"] >= 2 and 0.0 <= metrics["knn_top1"] <= 1.0


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "stl10", "celeba", "fashion_mnist"])
def test_a_missing_dataset_says_how_to_fetch_it(tmp_path, name):
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset(name, tmp_path)
    message = str(caught.value)
    assert "\n" not in message and "data.download=true" in message
    assert str(tmp_path) in message
    if name == "celeba":  # torchvision fetches CelebA from Google Drive through gdown
        assert "pip install gdown" in message


def test_a_failed_download_is_one_line(tmp_path, monkeypatch):
    from urllib.error import URLError

    import torchvision.datasets.cifar as cifar

    def offline(*args, **kwargs):
        raise URLError("no network")

    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)
    with pytest.raises(DatasetNotFoundError, match="the download failed"):
        load_dataset("cifar10", tmp_path, download=True)


def test_fakes_are_in_the_real_byte_layout(tmp_path):
    # independent of torchvision: STL-10's file is column-major per channel; IDX is big-endian
    written = fakes.stl10(tmp_path, n_train=1, n_test=1, n_unlabeled=1)
    raw = np.fromfile(tmp_path / "stl10_binary" / "train_X.bin", dtype=np.uint8)
    image = written["train"][0][0]  # (C, H, W)
    assert raw[1] == image[0, 1, 0] and raw[96] == image[0, 0, 1]
    fakes.fashion_mnist(tmp_path, n_train=2, n_test=1)
    head = (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").read_bytes()[:16]
    assert head == bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28])
