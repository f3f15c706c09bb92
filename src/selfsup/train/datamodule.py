"""The Lightning data module: sharded index batches of in-memory (or file-backed) images."""

from __future__ import annotations

import itertools
import signal
from collections.abc import Callable, Iterator

import lightning as L
from lightning.fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader

from selfsup.data import DataSplits, batch_loader
from selfsup.data.loading import ShardedBatchSampler


class ResumableSampler(ShardedBatchSampler):
    """A :class:`ShardedBatchSampler` that can start an epoch at a given batch."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._start: tuple[int, int] | None = None  # (epoch, first batch)

    def start_at(self, epoch: int, batch: int) -> None:
        """The next iteration is epoch ``epoch`` from its batch ``batch`` on."""
        self.set_epoch(epoch)
        self._start = (epoch, batch)

    def __iter__(self) -> Iterator[list[int]]:
        # a generator: the epoch and the skip are read at the first batch, after set_epoch
        start, self._start = self._start, None
        skip = start[1] if start and start[0] == self.epoch else 0
        yield from itertools.islice(super().__iter__(), skip, None)


class ResumableLoader(DataLoader):
    """The training DataLoader, with the ``state_dict`` Lightning saves in its loop state.

    The state is the position of the next batch, ``(epoch, batch)``: a checkpoint saved
    mid-epoch resumes with the very batch an uninterrupted run would have drawn next (Lightning
    otherwise restarts the epoch's data from its first batch). Lightning hands the state back
    through ``load_state_dict`` only when it builds the loader after restoring its loops; when
    ``estimated_stepping_batches`` built it earlier (our LR schedules ask for it), the loader
    never gets it and its first iterator (made then, and kept for a mid-epoch restart) would
    start the wrong epoch. So the run reads the position from the checkpoint itself and gives
    it to :class:`ImageDataModule` (``start``) before any loader exists.

    Args:
        batches_done: how many batches of the current epoch the trainer has processed.
    """

    def __init__(self, *args, batches_done: Callable[[], int], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batches_done = batches_done

    def state_dict(self) -> dict:
        epoch, done = self.sampler.epoch, int(self._batches_done())
        if done >= len(self.sampler):
            epoch, done = epoch + 1, 0
        return {"epoch": epoch, "batch": done}

    def load_state_dict(self, state: dict) -> None:
        self.sampler.start_at(int(state["epoch"]), int(state["batch"]))


def loader_position(checkpoint: dict) -> tuple[int, int] | None:
    """The ``(epoch, batch)`` of the next training batch stored in a checkpoint's loop state
    (``None`` if it holds none: an older checkpoint, or a run that had not started)."""
    try:
        state = checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]
        return int(state["epoch"]), int(state["batch"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _init_worker(worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process decides when to stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pl_worker_init_function(worker_id)  # what Lightning would have installed


class ImageDataModule(L.LightningDataModule):
    """Training batches of ``data.ssl_train`` (each rank its slice of a global batch) and
    validation batches of ``data.test`` for the online probe.

    Images stay uint8 until they reach the training device, where views are made.
    ``start``: the ``(epoch, batch)`` a resumed run's first training batch is (see
    :func:`loader_position`).
    """

    def __init__(
        self,
        data: DataSplits,
        batch_size: int,
        seed: int = 0,
        num_workers: int = 0,
        eval_batch_size: int = 1024,
        start: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.num_workers, self.eval_batch_size = num_workers, eval_batch_size
        self.start = start  # (epoch, batch) a resumed run continues from

    def _shard(self) -> dict:
        trainer = self.trainer
        return dict(
            rank=trainer.global_rank if trainer else 0,
            world_size=trainer.world_size if trainer else 1,
        )

    def train_dataloader(self):
        sampler = ResumableSampler(
            len(self.data.ssl_train), self.batch_size, seed=self.seed, **self._shard()
        )
        if self.start is not None:
            sampler.start_at(*self.start)
            self.start = None  # a loader built again later starts where Lightning says
        return ResumableLoader(
            self.data.ssl_train,
            sampler=sampler,
            batch_size=None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=_init_worker if self.num_workers else None,
            batches_done=self._batches_done,
        )

    def _batches_done(self) -> int:
        return self.trainer.fit_loop.epoch_loop.batch_progress.current.processed

    def val_dataloader(self):
        if self.data.test is None:  # data without a test split: nothing to validate on
            return []
        loader = batch_loader(
            self.data.test,
            self.eval_batch_size,
            shuffle=False,
            drop_last=False,
            num_workers=self.num_workers,
            **self._shard(),
        )
        if self.num_workers:
            loader.worker_init_fn = _init_worker
        return loader
