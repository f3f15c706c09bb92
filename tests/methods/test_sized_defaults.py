"""Defaults sized to the data (MoCo's queue, DINO's prototypes and local crops): the paper's
ImageNet values on ImageNet-sized data, smaller ones on small data, any number one override
away; and the momentum methods' losses in float32 under bfloat16 autocast."""

import math

import pytest
import torch

from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.errors import SelfsupError
from selfsup.losses import byol_terms, dino_terms, moco_terms, simsiam_terms
from selfsup.methods import build_method
from selfsup.methods.dino import auto_local_crops, auto_prototypes
from selfsup.methods.moco import auto_queue_size

IMAGENET, MNIST, DIGITS = 1_281_167, 60_000, 1_437


class _Images:
    """A stand-in for a dataset: only its name, image shape and training-set size are read."""

    num_classes = 10

    def __init__(self, n: int, shape: tuple[int, int, int], name: str = "fake") -> None:
        self.name, self.image_shape, self.ssl_train = name, shape, range(n)


def test_queue_is_the_largest_power_of_two_within_the_training_set():
    for n in (1, 2, 3, 1000, 1024, 1025, DIGITS, MNIST, 131072, IMAGENET):
        powers = [2**k for k in range(40) if 2**k <= n]
        assert auto_queue_size(n) == min(65536, max(powers)), n
    assert auto_queue_size(DIGITS) == 1024 and auto_queue_size(MNIST) == 32768
    assert auto_queue_size(IMAGENET) == auto_queue_size(None) == 65536  # the paper's


def test_prototypes_are_one_per_16_images_as_a_power_of_two_within_1024_and_65536():
    assert auto_prototypes(IMAGENET) == auto_prototypes(None) == 65536  # the paper's
    assert auto_prototypes(MNIST) == auto_prototypes(50_000) == 4096
    assert auto_prototypes(DIGITS) == auto_prototypes(1) == 1024
    for n in (20_000, 100_000, 400_000):  # between the bounds: nearest power of two in log
        k = auto_prototypes(n)
        assert abs(math.log2(k) - math.log2(n / 16)) <= 0.5 and k & (k - 1) == 0


def test_local_crops_spend_the_papers_share_of_pixels():
    assert auto_local_crops(224, 96) == 8  # the paper's 8 x 96 px beside 224 px
    assert auto_local_crops(28, 12) == 8 and auto_local_crops(32, 14) == 8
    assert auto_local_crops(28, 14) == 6  # 8 * (96/224)^2 / (1/2)^2 = 5.9
    assert auto_local_crops(8, 8) == 2  # global-size local crops: 1.47 crops' worth, up


def _digits_config(method, *more):
    return load_config(
        "vicreg_digits", [f"method.name={method}", "method.projector=[16,16]", *more]
    )


def _conv_config(method):
    """A 4-channel ConvNet, which takes any image size (an MLP takes one)."""
    overrides = [f"method.name={method}", "method.projector=[16,16]", "data.views=dino"]
    return load_config("vicreg_mnist", [*overrides, "backbone.params.channels=[4]"])


def test_small_data_gets_small_sizes_and_imagenet_the_papers():
    digits = load_dataset("digits")
    moco = build_method(_digits_config("moco"), digits)
    assert moco.criterion.queue.shape[0] == 1024
    small = build_method(_digits_config("moco", "data.train_subset=300"), digits.subset(300))
    assert small.criterion.queue.shape[0] == 256  # the subset SSL trains on, not the whole set
    dino = build_method(_digits_config("dino"), digits)  # MLP on 8 px: global-size locals
    assert dino.criterion.center.shape == (1024,) and [v.size for v in dino.views.views] == [8] * 4

    imagenet = _Images(IMAGENET, (3, 224, 224))
    moco = build_method(_conv_config("moco"), imagenet)
    assert moco.criterion.queue.shape[0] == 65536
    dino = build_method(_conv_config("dino"), imagenet)
    assert dino.criterion.center.shape == (65536,)
    assert [v.size for v in dino.views.views] == [224, 224] + [96] * 8
    mnist = build_method(_conv_config("dino"), _Images(MNIST, (1, 28, 28)))
    assert mnist.criterion.center.shape == (4096,)
    assert [v.size for v in mnist.views.views] == [28, 28] + [12] * 8
    # a ConvNet on 8 px digits could take 3 px crops, but they hold nothing: global size
    tiny = build_method(_conv_config("dino"), _Images(DIGITS, (1, 8, 8)))
    assert [v.size for v in tiny.views.views] == [8] * 4


def test_the_papers_values_are_one_override_away():
    digits = load_dataset("digits")
    moco = build_method(_digits_config("moco", "method.params.queue_size=65536"), digits)
    assert moco.criterion.queue.shape[0] == 65536
    overrides = ["method.params.out_dim=65536", "method.params.local_crops=8"]
    dino = build_method(_digits_config("dino", *overrides), digits)
    assert dino.criterion.center.shape == (65536,) and len(dino.views.views) == 10


@pytest.mark.parametrize(
    "method, override",
    [
        ("moco", "method.params.queue_size=big"),
        ("moco", "method.params.queue_size=0"),
        ("dino", "method.params.out_dim=-3"),
        ("dino", "method.params.local_crop_size=0"),
        ("dino", "method.params.local_crops=some"),
    ],
)
def test_a_bad_size_is_a_one_line_error(method, override):
    key = override.split("=")[0].rsplit(".", 1)[-1]
    with pytest.raises(SelfsupError, match=f"{key} must be an integer"):
        build_method(_digits_config(method, override), load_dataset("digits"))


# --- bfloat16 autocast: networks in bf16, every loss in float32 --------------------------
LOSSES = {
    "moco": ("selfsup.losses.moco.moco_terms", moco_terms),
    "byol": ("selfsup.methods.byol.byol_terms", byol_terms),
    "dino": ("selfsup.losses.dino.dino_terms", dino_terms),
    "simsiam": ("selfsup.methods.simsiam.simsiam_terms", simsiam_terms),
}
SMALL = {
    "moco": ["method.params.queue_size=64"],
    "byol": ["method.params.predictor_hidden=32"],
    "dino": ["method.params.out_dim=128"],
    "simsiam": ["method.params.predictor_hidden=8"],
}


@pytest.mark.parametrize("method", sorted(LOSSES))
def test_loss_is_float32_under_bf16_autocast(method, monkeypatch):
    """A tiny batch of 4 under bf16 autocast: the network's outputs are bfloat16 values, the
    loss function receives them in float32 with autocast off, and its value equals the same
    loss of the same numbers in float64."""
    path, loss = LOSSES[method]
    calls = []

    def spy(*tensors, **options):
        calls.append((tensors, options, torch.is_autocast_enabled("cpu")))
        return loss(*tensors, **options)

    monkeypatch.setattr(path, spy)
    torch.manual_seed(0)
    model = build_method(_digits_config(method, *SMALL[method]), load_dataset("digits"))
    images = torch.rand(4, 1, 8, 8)
    views = [model.normalise(v) for v in model.views(images)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms, _ = model.compute_loss(views)
    assert calls and terms.loss.dtype == torch.float32
    for tensors, options, autocast_on in calls:
        assert not autocast_on
        assert all(t.dtype == torch.float32 for t in tensors)
        network_output = tensors[0]  # query / prediction / student scores: made in bf16
        assert torch.equal(network_output, network_output.bfloat16().float())
        wide = loss(*(t.double() for t in tensors), **options)
        assert wide.loss.item() == pytest.approx(terms.loss.item(), rel=1e-5, abs=1e-6)
    terms.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
