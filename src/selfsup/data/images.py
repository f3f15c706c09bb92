"""Image sets as batches: in memory (``TensorImages``) or decoded per batch (``FileImages``),
and ``DataSplits``, the train / test bundle every dataset loader returns.

Generators (``shapes``) and the registry (``datasets``) both build on this module; it imports
neither, so the registry can depend on the generators without a circle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from selfsup.errors import InputError, SelfsupError


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
            raise InputError(
                f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}"
            )
        if labels.shape != (images.shape[0],):
            raise InputError(
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
    """``ssl_train`` is what SSL trains on; ``train`` / ``test`` are the labelled eval sets.

    Your own data may lack them: ``test`` is ``None`` when there is no evaluation split, and
    an unlabelled ``train`` has ``num_classes == 0`` (labels -1); see :attr:`labelled`.
    """

    name: str
    train: BatchDataset
    test: BatchDataset | None
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

        def cut(split: BatchDataset | None, n: int, offset: int) -> BatchDataset | None:
            if split is None or not n or n >= len(split):
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
    def labelled(self) -> bool:
        """Whether label-based evaluation (kNN, probes) can run: labelled train and test."""
        return self.train.num_classes > 0 and self.test is not None and self.test.num_classes > 0

    def unlabelled_reason(self) -> str:
        """Why :attr:`labelled` is false, in a few words."""
        if self.train.num_classes == 0:
            return f"'{self.name}' has no training labels"
        if self.test is None:
            return f"'{self.name}' has no test split"
        return f"the test split of '{self.name}' has no labels"

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.train.image_shape
