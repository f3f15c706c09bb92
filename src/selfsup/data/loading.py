"""Batches of indices, sharded over processes, and the DataLoader around them."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from selfsup.data.datasets import BatchDataset
from selfsup.errors import InputError


class ShardedBatchSampler(Sampler[list[int]]):
    """Yields this rank's slice of each global batch of a seeded per-epoch permutation.

    The global batch is ``batch_size * world_size``; rank r takes rows
    ``[r * batch_size, (r + 1) * batch_size)``. So W processes see exactly the samples one
    process would see with ``batch_size * W``, which is what makes a distributed step equal a
    single-process step on the concatenated batch. The permutation depends only on
    ``(seed, epoch)``, so a resumed run replays the same batches.
    """

    def __init__(
        self,
        n: int,
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = True,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        if drop_last and n < batch_size * world_size:
            raise InputError(
                f"the dataset has {n} samples, fewer than one global batch of "
                f"{batch_size} x {world_size} processes; lower data.batch_size"
            )
        self.n, self.batch_size, self.shuffle, self.drop_last = n, batch_size, shuffle, drop_last
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        global_batch = self.batch_size * self.world_size
        return self.n // global_batch if self.drop_last else -(-self.n // global_batch)

    def __iter__(self) -> Iterator[list[int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        global_batch = self.batch_size * self.world_size
        for i in range(len(self)):
            chunk = order[i * global_batch : (i + 1) * global_batch]
            # equal parts; only a final partial batch (drop_last=False) can leave one empty
            yield chunk.tensor_split(self.world_size)[self.rank].tolist()


def batch_loader(
    dataset: BatchDataset,
    batch_size: int,
    *,
    shuffle: bool,
    drop_last: bool,
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader yielding ``(uint8 images, int64 labels)`` batches of ``dataset``."""
    sampler = ShardedBatchSampler(
        len(dataset),
        batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        seed=seed,
        rank=rank,
        world_size=world_size,
    )
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        pin_memory=False,
    )
