"""Datasets by name, as uint8 image tensors with integer labels.

Small datasets (digits, MNIST, CIFAR, STL-10) are held in memory as one ``(N, C, H, W)``
uint8 tensor so batches are plain index operations; CelebA is decoded from files per batch.
torchvision does the downloading and file parsing; scikit-learn ships the digits; ``shapes``
and ``nuisance_digits`` are rendered in code. Each loader is registered where it is defined
(``@register_dataset``), with the view preset it starts with, its channel statistics and,
where fixed, its image shape.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch

from selfsup import registry
from selfsup.data.images import BatchDataset, DataSplits, FileImages, TensorImages
from selfsup.data.styled_mnist import BASES, restyle_digits
from selfsup.errors import SelfsupError
from selfsup.registry import Registered, register_dataset

__all__ = [
    "DATASETS",
    "BatchDataset",
    "DataSplits",
    "DatasetNotFoundError",
    "FileImages",
    "TensorImages",
    "default_root",
    "in_code",
    "load_dataset",
]


def default_root() -> Path:
    """Where datasets live unless a command is told: ``$SELFSUP_DATA`` if set, else ``./data``."""
    return Path(os.environ.get("SELFSUP_DATA", "data"))


class DatasetNotFoundError(SelfsupError):
    """A dataset's files are not under ``root``.

    The message's advice suits the config-driven commands (``data.download``, ``data.root``);
    a command with other options re-words it with :meth:`advise`.
    """

    def __init__(self, name: str, root: Path, reason: str, download: bool) -> None:
        self.name, self.root, self.reason = name, root, reason
        if download:
            advice = (
                "the download failed: check the network, or put the files there yourself "
                "and point data.root (or $SELFSUP_DATA) at them"
            )
        else:
            advice = (
                "set data.download=true to fetch it with torchvision, or point data.root "
                "(or $SELFSUP_DATA) at its folder"
            )
        if name == "CelebA":  # torchvision fetches it from Google Drive, through gdown
            advice += (
                " (CelebA's download needs `pip install gdown`, and Google Drive's quota often "
                "refuses it: then put img_align_celeba/ and the list_*.txt / identity_CelebA.txt "
                "files from the CelebA site into <data.root>/celeba/)"
            )
        super().__init__(self.advise(advice))

    def advise(self, advice: str) -> str:
        """The one-line message with ``advice`` on how to fix it."""
        # the path as typed, made absolute, not the target of a symlink
        where = os.path.abspath(self.root)
        return f"dataset '{self.name}' not found under '{where}' ({self.reason}); {advice}"


def _missing(name: str, root: Path, err: Exception, download: bool) -> DatasetNotFoundError:
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    if "download=True" in reason:  # torchvision's own advice names its argument, not ours
        reason = "no dataset files there"
    return DatasetNotFoundError(name, root, reason, download)


@register_dataset("digits", views="digits", stats=((0.3,), (0.4,)), shape=(1, 8, 8), in_code=True)
def _digits(root: Path, download: bool) -> DataSplits:
    """scikit-learn's 1,797 8x8 digits (bundled: no download), 80/20 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # values are 0..16; scale to the usual 0..255 so every dataset is uint8 images
    images = np.clip(digits.images * 16, 0, 255).astype(np.uint8)[:, None]
    tr, te = train_test_split(
        np.arange(len(images)), test_size=0.2, random_state=0, stratify=digits.target
    )
    x, y = torch.from_numpy(images), torch.from_numpy(digits.target)
    return DataSplits("digits", TensorImages(x[tr], y[tr], 10), TensorImages(x[te], y[te], 10))


def _grey_split(split, num_classes: int) -> TensorImages:
    # MNIST-style sets: uint8 (N, H, W) tensors and a targets tensor
    return TensorImages(split.data[:, None], split.targets, num_classes)


def _colour_split(split, num_classes: int) -> TensorImages:
    # CIFAR-style sets: a numpy (N, H, W, C) array and a targets list
    images = torch.from_numpy(split.data).permute(0, 3, 1, 2)
    return TensorImages(images, torch.tensor(split.targets), num_classes)


def _train_test(cls_name: str, name: str, num_classes: int, to_tensors, root: Path, download: bool):
    """A torchvision set with ``train=True/False`` splits held in memory."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    try:
        splits = [cls(str(root), train=t, download=download) for t in (True, False)]
    except (RuntimeError, OSError) as err:
        raise _missing(cls_name, root, err, download) from None
    train, test = (to_tensors(s, num_classes) for s in splits)
    return DataSplits(name, train, test)


@register_dataset("mnist", views="mnist", stats=((0.1307,), (0.3081,)), shape=(1, 28, 28))
def _mnist(root: Path, download: bool) -> DataSplits:
    """MNIST handwritten digits (torchvision), 60,000 / 10,000."""
    return _train_test("MNIST", "mnist", 10, _grey_split, root, download)


@register_dataset("fashion_mnist", views="mnist", stats=((0.2860,), (0.3530,)), shape=(1, 28, 28))
def _fashion_mnist(root: Path, download: bool) -> DataSplits:
    """Fashion-MNIST clothing images (torchvision), 60,000 / 10,000."""
    return _train_test("FashionMNIST", "fashion_mnist", 10, _grey_split, root, download)


@register_dataset(
    "cifar10",
    views="cifar",
    stats=((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    shape=(3, 32, 32),
)
def _cifar10(root: Path, download: bool) -> DataSplits:
    """CIFAR-10 (torchvision), 50,000 / 10,000 colour images of 10 classes."""
    return _train_test("CIFAR10", "cifar10", 10, _colour_split, root, download)


@register_dataset(
    "cifar100",
    views="cifar",
    stats=((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    shape=(3, 32, 32),
)
def _cifar100(root: Path, download: bool) -> DataSplits:
    """CIFAR-100 (torchvision), 50,000 / 10,000 colour images of 100 classes."""
    return _train_test("CIFAR100", "cifar100", 100, _colour_split, root, download)


@register_dataset(
    "stl10",
    views="simclr",
    stats=((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    shape=(3, 96, 96),
)
def _stl10(root: Path, download: bool, unlabeled: bool = True) -> DataSplits:
    """STL-10 (torchvision), 96 px; SSL also trains on its 100,000 unlabelled images."""
    import torchvision.datasets as tvd

    def split(name: str) -> TensorImages:
        try:
            s = tvd.STL10(str(root), split=name, download=download)
        except (RuntimeError, OSError) as err:
            raise _missing("STL10", root, err, download) from None
        return TensorImages(torch.from_numpy(s.data), torch.from_numpy(s.labels).long(), 10)

    train, test = split("train"), split("test")
    ssl_train = split("train+unlabeled") if unlabeled else train
    return DataSplits("stl10", train, test, ssl_train)


@register_dataset(
    "celeba", views="simclr", stats=((0.5063, 0.4258, 0.3832), (0.3107, 0.2904, 0.2897))
)
def _celeba(
    root: Path, download: bool, image_size: int = 64, attribute: str = "Smiling"
) -> DataSplits:
    """CelebA faces (torchvision), centre-cropped and resized; label: one attribute."""
    import torchvision.datasets as tvd
    import torchvision.transforms.v2 as T

    transform = T.Compose(
        [T.PILToTensor(), T.CenterCrop(148), T.Resize(image_size, antialias=True)]
    )
    try:
        splits = {
            s: tvd.CelebA(str(root), split=s, target_type="attr", download=download)
            for s in ("train", "test")
        }
    except (RuntimeError, OSError) as err:
        raise _missing("CelebA", root, err, download) from None
    names = splits["train"].attr_names
    if attribute not in names:
        valid = ", ".join(names[:40])
        raise SelfsupError(f"unknown CelebA attribute '{attribute}'; valid: {valid}")
    column = names.index(attribute)
    shape = (3, image_size, image_size)
    train, test = (FileImages(s, transform, lambda a: a[column], 2, shape) for s in splits.values())
    return DataSplits("celeba", train, test, extras={"attribute": attribute})


@register_dataset("styled_mnist")
def _styled_mnist(root: Path, download: bool, base: str = "mnist", **params) -> DataSplits:
    """MNIST digits with known colour, background, position and scale (content vs style)."""
    if base not in BASES:
        raise SelfsupError(f"styled_mnist: unknown base '{base}'; valid: {', '.join(BASES)}")
    return restyle_digits(load_dataset(base, root, download), **params)


#: every registered dataset loader by name (``@register_dataset``), plug-ins' included
DATASETS: Mapping[str, Callable[..., DataSplits]] = Registered("dataset")


def in_code(name: str) -> bool:
    """Whether the dataset is made in code (needs no files and never downloads)."""
    return bool(registry.entry("dataset", name).meta.get("in_code"))


def load_dataset(
    name: str, root: str | Path | None = None, download: bool = False, **params
) -> DataSplits:
    """Load a dataset by name (see ``DATASETS``) from ``root`` (default ``default_root()``).

    Raises:
        SelfsupError: unknown name, or data missing and ``download`` false.
    """
    loader = registry.get("dataset", name)
    root = Path(root) if root is not None else default_root()
    return loader(root, download, **params)
