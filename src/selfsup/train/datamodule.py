"""The Lightning data module: sharded index batches of in-memory (or file-backed) images."""

from __future__ import annotations

import lightning as L

from selfsup.data import DataSplits, batch_loader


class ImageDataModule(L.LightningDataModule):
    """Training batches of ``data.ssl_train`` (each rank its slice of a global batch) and
    validation batches of ``data.test`` for the online probe.

    Images stay uint8 until they reach the training device, where views are made.
    """

    def __init__(
        self,
        data: DataSplits,
        batch_size: int,
        seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 1024,
    ) -> None:
        super().__init__()
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.num_workers, self.eval_batch_size = num_workers, eval_batch_size

    def _shard(self) -> dict:
        trainer = self.trainer
        return dict(
            rank=trainer.global_rank if trainer else 0,
            world_size=trainer.world_size if trainer else 1,
        )

    def train_dataloader(self):
        return batch_loader(
            self.data.ssl_train,
            self.batch_size,
            shuffle=True,
            drop_last=True,
            seed=self.seed,
            num_workers=self.num_workers,
            **self._shard(),
        )

    def val_dataloader(self):
        return batch_loader(
            self.data.test,
            self.eval_batch_size,
            shuffle=False,
            drop_last=False,
            num_workers=self.num_workers,
            **self._shard(),
        )
