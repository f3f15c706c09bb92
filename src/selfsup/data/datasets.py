"""Datasets by name, as uint8 image tensors with integer labels.

Small datasets (digits, MNIST, CIFAR, STL-10) are held in memory as one ``(N, C, H, W)``
uint8 tensor so batches are plain index operations; CelebA is decoded from files per batch.
torchvision does the downloading and file parsing; scikit-learn ships the digits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.errors import SelfsupError


class BatchDataset(Dataset):
    """A dataset indexed by a list of indices, returning a whole batch ``(images, labels)``.

    Used with ``DataLoader(batch_size=None, sampler=<batch sampler>)`` so no per-sample Python
    work or collation happens; ``images`` is uint8 ``(n, C, H, W)``, ``labels`` int64 ``(n,)``.
    """

    num_classes: int
    image_shape: tuple[int, int, int]

    def get_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def __getitem__(self, indices):  # type: ignore[override]
        return self.get_batch(torch.as_tensor(indices, dtype=torch.long))


class TensorImages(BatchDataset):
    """Images held in memory: ``images`` uint8 ``(N, C, H, W)``, ``labels`` int64 ``(N,)``."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, num_classes: int) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(
                f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        if labels.shape != (images.shape[0],):
            raise ValueError(
                f"labels must have shape ({images.shape[0]},), got {tuple(labels.shape)}"
            )
        self.images = images.contiguous()
        self.labels = labels.long()
        self.num_classes = num_classes
        self.image_shape = tuple(images.shape[1:])

    def __len__(self) -> int:
        return self.images.shape[0]

    def get_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[indices], self.labels[indices]


class FileImages(BatchDataset):
    """Images decoded from a torchvision dataset per batch (for sets too large for memory).

    Args:
        base: a torchvision dataset returning ``(PIL image, target)``.
        transform: deterministic PIL -> uint8 ``(C, H, W)`` tensor (resize / crop only; the
            random views are made later, on the training device).
        label: maps the dataset's target to a class index.
    """

    def __init__(
        self,
        base: Dataset,
        transform: Callable,
        label: Callable,
        num_classes: int,
        image_shape: tuple[int, int, int],
    ) -> None:
        self.base, self.transform, self.label = base, transform, label
        self.num_classes = num_classes
        self.image_shape = image_shape

    def __len__(self) -> int:
        return len(self.base)

    def get_batch(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        items = [self.base[int(i)] for i in indices]
        images = torch.stack([self.transform(image) for image, _ in items])
        labels = torch.tensor([int(self.label(target)) for _, target in items])
        return images, labels


@dataclass
class DataSplits:
    """``ssl_train`` is what SSL trains on; ``train`` / ``test`` are the labelled eval sets."""

    name: str
    train: BatchDataset
    test: BatchDataset
    ssl_train: BatchDataset | None = None
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ssl_train is None:
            self.ssl_train = self.train

    def subset(self, n_train: int = 0, n_test: int = 0, seed: int = 0) -> DataSplits:
        """Fixed random subsets of the in-memory splits (0 keeps a split whole).

        ``ssl_train`` follows ``train`` when they were the same set. Style factors or other
        per-image ``extras`` are not cut, so this is for datasets without them.
        """

        def cut(split: BatchDataset, n: int, offset: int) -> BatchDataset:
            if not n or n >= len(split):
                return split
            if not isinstance(split, TensorImages):
                raise SelfsupError(f"data subsets need an in-memory dataset; '{self.name}' is not")
            g = torch.Generator().manual_seed(seed * 1_000_003 + offset)
            idx = torch.randperm(len(split), generator=g)[:n]
            return TensorImages(split.images[idx], split.labels[idx], split.num_classes)

        train = cut(self.train, n_train, 0)
        ssl_train = train if self.ssl_train is self.train else cut(self.ssl_train, n_train, 2)
        return DataSplits(self.name, train, cut(self.test, n_test, 1), ssl_train, self.extras)

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.train.image_shape


def default_root() -> Path:
    """``$SELFSUP_DATA`` if set, else ``./data``."""
    return Path(os.environ.get("SELFSUP_DATA", "data"))


def _missing(name: str, root: Path, err: Exception) -> SelfsupError:
    return SelfsupError(
        f"dataset '{name}' not found under '{root.resolve()}' ({err}); set data.download=true "
        f"to fetch it with torchvision, or point data.root (or $SELFSUP_DATA) at its folder"
    )


def _digits(root: Path, download: bool, **_) -> DataSplits:
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


def _torchvision_train_test(cls_name: str, name: str, num_classes: int, to_tensors):
    """Loader for a torchvision set with ``train=True/False`` splits held in memory."""

    def load(root: Path, download: bool, **_) -> DataSplits:
        import torchvision.datasets as tvd

        cls = getattr(tvd, cls_name)
        try:
            splits = [cls(str(root), train=t, download=download) for t in (True, False)]
        except RuntimeError as err:
            raise _missing(cls_name, root, err) from None
        train, test = (to_tensors(s, num_classes) for s in splits)
        return DataSplits(name, train, test)

    return load


def _stl10(root: Path, download: bool, unlabeled: bool = True, **_) -> DataSplits:
    import torchvision.datasets as tvd

    def split(name: str) -> TensorImages:
        try:
            s = tvd.STL10(str(root), split=name, download=download)
        except RuntimeError as err:
            raise _missing("STL10", root, err) from None
        return TensorImages(torch.from_numpy(s.data), torch.from_numpy(s.labels).long(), 10)

    train, test = split("train"), split("test")
    ssl_train = split("train+unlabeled") if unlabeled else train
    return DataSplits("stl10", train, test, ssl_train)


def _celeba(
    root: Path, download: bool, image_size: int = 64, attribute: str = "Smiling", **_
) -> DataSplits:
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
    except RuntimeError as err:
        raise _missing("CelebA", root, err) from None
    names = splits["train"].attr_names
    if attribute not in names:
        valid = ", ".join(names[:40])
        raise SelfsupError(f"unknown CelebA attribute '{attribute}'; valid: {valid}")
    column = names.index(attribute)
    shape = (3, image_size, image_size)
    train, test = (FileImages(s, transform, lambda a: a[column], 2, shape) for s in splits.values())
    return DataSplits("celeba", train, test, extras={"attribute": attribute})


def _shapes(root: Path, download: bool, **params) -> DataSplits:
    from selfsup.data.shapes import load_shapes  # imported late: shapes imports this module

    return load_shapes(root, download, **params)


def _image_folder(root: Path, download: bool, **params) -> DataSplits:
    from selfsup.data.folder import load_image_folder  # imported late: folder imports this module

    return load_image_folder(root, download, **params)


DATASETS: dict[str, Callable[..., DataSplits]] = {
    "digits": _digits,
    "mnist": _torchvision_train_test("MNIST", "mnist", 10, _grey_split),
    "fashion_mnist": _torchvision_train_test("FashionMNIST", "fashion_mnist", 10, _grey_split),
    "cifar10": _torchvision_train_test("CIFAR10", "cifar10", 10, _colour_split),
    "cifar100": _torchvision_train_test("CIFAR100", "cifar100", 100, _colour_split),
    "stl10": _stl10,
    "celeba": _celeba,
    "shapes": _shapes,
    "image_folder": _image_folder,
}


def load_dataset(
    name: str, root: str | Path | None = None, download: bool = False, **params
) -> DataSplits:
    """Load a dataset by name (see ``DATASETS``) from ``root`` (default ``default_root()``).

    Raises:
        SelfsupError: unknown name, or data missing and ``download`` false.
    """
    if name not in DATASETS:
        raise SelfsupError(f"unknown dataset '{name}'; valid names: {', '.join(sorted(DATASETS))}")
    root = Path(root) if root is not None else default_root()
    return DATASETS[name](root, download, **params)
