"""Backbones from timm and torchvision by name: classifier removed, feature size probed, CIFAR stem
for small images; a timm ResNet-18 trains on an image folder and on a colour dataset."""

import shutil

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from selfsup.cli import main as cli_main
from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.errors import SelfsupError
from selfsup.nets import build_backbone
from selfsup.train import train
from tests.conftest import TINY

timm = pytest.importorskip("timm")


def test_torchvision_resnet_is_torchvisions_without_its_classifier():
    torch.manual_seed(0)
    ours = build_backbone("torchvision", (3, 96, 96), model="resnet18")
    reference = torchvision.models.resnet18()
    reference.fc = nn.Identity()
    reference.load_state_dict(ours.net.state_dict())
    x = torch.rand(2, 3, 96, 96)
    ours.eval(), reference.eval()
    assert ours.out_dim == 512
    assert torch.equal(ours(x), reference(x))
    assert isinstance(ours.net.maxpool, nn.MaxPool2d)  # 96 px > 64: the ImageNet stem stays


@pytest.mark.parametrize("library", ["timm", "torchvision"])
def test_small_images_get_the_cifar_stem_and_grey_inputs_work(library):
    net = build_backbone(library, (1, 28, 28), model="resnet18")
    assert net.net.conv1.kernel_size == (3, 3) and net.net.conv1.stride == (1, 1)
    assert net.net.conv1.in_channels == 1 and isinstance(net.net.maxpool, nn.Identity)
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, 512) and net.out_dim == 512
    plain = build_backbone(library, (1, 28, 28), model="resnet18", small_images=False)
    assert plain.net.conv1.stride == (2, 2) and plain.net.conv1.in_channels == 1


def test_timm_models_of_other_families_probe_their_size():
    vit = build_backbone("timm", (3, 32, 32), model="vit_tiny_patch16_224", patch_size=4)
    assert vit.out_dim == vit.net.num_features == 192
    assert vit(torch.rand(2, 3, 32, 32)).shape == (2, 192)
    convnext = build_backbone("timm", (3, 32, 32), model="convnext_atto")
    assert convnext.out_dim == convnext.net.num_features == 320
    mobile = build_backbone("torchvision", (3, 64, 64), model="mobilenet_v3_small")
    assert mobile.out_dim == 1024  # the classifier's hidden layer: only its last linear goes
    assert mobile(torch.rand(2, 3, 64, 64)).shape == (2, 1024)


@pytest.mark.parametrize(
    "library, params, message",
    [
        ("timm", {"model": "no_such_net"}, "unknown timm model"),
        ("torchvision", {"model": "no_such_net"}, "unknown torchvision model"),
        ("timm", {"model": "vit_tiny_patch16_224", "small_images": True}, "ResNet-style stem"),
        ("timm", {"model": "resnet18", "no_such_arg": 1}, "could not build"),
    ],
)
def test_bad_backbones_are_named(library, params, message):
    with pytest.raises(SelfsupError, match=message):
        build_backbone(library, (3, 32, 32), **params)


def test_cli_reports_a_bad_timm_model_in_one_line(tmp_path, capsys):
    argv = ["train", "--run-dir", str(tmp_path), "backbone.name=timm", "backbone.params.model=nope"]
    assert cli_main(argv) == 2
    assert capsys.readouterr().err.startswith("error: unknown timm model 'nope'")


def _shapes_config(image_size: int, n_train: int, epochs: int):
    config = load_config(
        None,
        [
            *TINY,
            "data.name=shapes",
            "data.views=shapes",
            f"data.params={{n_train: {n_train}, n_test: 256, image_size: {image_size}}}",
            "data.batch_size=64",
            "backbone.name=timm",
            f"trainer.max_epochs={epochs}",
            "eval.linear_probe=false",
        ],
    )
    config.backbone.params = {"model": "resnet18"}  # replaces the MLP's params
    return config


def _write_folder(root, per_class: dict[str, int]) -> None:
    """Three colour classes of images of assorted sizes and formats, ImageFolder layout."""
    g = np.random.default_rng(0)
    for split, n in per_class.items():
        for c, name in enumerate(["red", "green", "blue"]):
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                h, w = g.integers(12, 40, size=2)
                pixels = g.integers(0, 90, size=(h, w, 3), dtype=np.uint8)
                pixels[..., c] += 160
                image = Image.fromarray(pixels) if i % 2 else Image.fromarray(pixels).convert("L")
                image.save(root / split / name / f"{i}.{'png' if i % 3 else 'jpg'}")


def test_timm_resnet18_trains_on_an_image_folder(tmp_path):
    _write_folder(tmp_path / "images", {"train": 16, "val": 4})
    config = load_config(
        None,
        [
            *TINY,
            "data.name=image_folder",
            f"data.path={tmp_path / 'images'}",
            "data.params={image_size: 16}",
            "data.views=shapes",
            "data.batch_size=16",
            "backbone.name=timm",
            "trainer.max_epochs=1",
            "eval.linear_probe=false",
        ],
    )
    config.backbone.params = {"model": "resnet18"}
    metrics = train(config, tmp_path / "run")
    assert metrics["feature_dim"] == 512 and metrics["global_step"] == 3  # 48 images / 16
    assert 0 <= metrics["knn_top1"] <= 1


def test_image_folder_reads_rgb_squares_with_labels(tmp_path):
    _write_folder(tmp_path, {"train": 3, "test": 2})
    data = load_dataset("image_folder", path=tmp_path, image_size=10)
    assert data.num_classes == 3 and data.image_shape == (3, 10, 10)
    assert data.extras["classes"] == ["blue", "green", "red"]
    images, labels = data.test.get_batch(torch.arange(6))
    assert images.dtype == torch.uint8 and images.shape == (6, 3, 10, 10)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2]
    # the class's colour dominates its images (grey ones are equal in every channel)
    rgb = data.train.get_batch(torch.tensor([1, 4, 7]))[0].float().mean((2, 3))
    assert [int(row.argmax()) for row in rgb] == [2, 1, 0]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda root: shutil.rmtree(root / "train"), "no 'train' subfolder"),
        (lambda root: (root / "test" / "red").rename(root / "test" / "pink"), "differ"),
        (lambda root: (root / "train" / "red" / "1.png").write_bytes(b"not a png"), "cannot read"),
        (lambda root: None, "download=false"),
    ],
)
def test_image_folder_problems_are_one_line_errors(damage, message, tmp_path):
    _write_folder(tmp_path, {"train": 2, "test": 1})
    damage(tmp_path)
    with pytest.raises(SelfsupError, match=message):
        data = load_dataset("image_folder", path=tmp_path, download=message == "download=false")
        data.train.get_batch(torch.arange(len(data.train)))


def test_timm_resnet18_trains_on_a_colour_dataset(tmp_path):
    metrics = train(_shapes_config(8, 128, 1), tmp_path)
    assert metrics["feature_dim"] == 512 and metrics["global_step"] == 2
    assert 0 <= metrics["knn_top1"] <= 1


@pytest.mark.slow
@pytest.mark.xfail(
    reason="measured 2026-11-30: loss falls but kNN is 0.297 (chance 0.33) after 3 epochs; "
    "not yet known whether the budget or the timm path is at fault",
    strict=False,
)
def test_timm_resnet18_learns_shapes_at_16px(tmp_path):
    metrics = train(_shapes_config(16, 512, 3), tmp_path)
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    column = header.index("train/loss_epoch")
    losses = [float(r.split(",")[column]) for r in rows[1:] if r.split(",")[column]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert metrics["knn_top1"] > 0.5  # 3 classes
