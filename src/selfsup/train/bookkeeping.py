"""What a training attempt records in its run directory while it runs (process 0 only).

* ``config.yaml`` is written once the trainer has restored everything from the checkpoint
  (``on_train_start``): a resume whose config does not fit its checkpoint leaves the old one.
  A new run removes a ``metrics.json`` left without checkpoints at the same moment (it
  describes nothing loadable): a start refused before it leaves that file as it was.
* Logs are flushed at each epoch start (the previous epoch's row is then on disk before the
  next epoch can be killed) and before each checkpoint (rows up to it are never lost).
* ``metrics.json`` gets the attempt's progress at each epoch start and its outcome at the end:
  ``status`` (training | finished | interrupted | failed), ``epochs`` completed,
  ``global_step`` and ``train_seconds`` summed over every attempt of the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
from omegaconf import DictConfig

from selfsup.errors import SelfsupError
from selfsup.train.run_dir import METRICS, read_metrics, update_metrics, write_config


class Attempt:
    """The record of one attempt at a run (one ``selfsup train`` process).

    Args:
        run_dir: the run directory.
        config: the attempt's resolved config.
        dataset: the dataset's name.
        resume: whether it continues earlier attempts (whose ``train_seconds`` it adds to).
    """

    def __init__(self, run_dir: Path, config: DictConfig, dataset: str, resume: bool) -> None:
        self.run_dir, self.config, self.dataset = Path(run_dir), config, dataset
        self.resume = resume
        self.earlier_seconds = (
            float(read_metrics(run_dir).get("train_seconds", 0.0)) if resume else 0.0
        )
        self.start, self.end = time.time(), None

    def stop_clock(self) -> None:
        """Training is over (the evaluation after it is not training time)."""
        self.end = time.time()

    def seconds(self) -> float:
        return round(self.earlier_seconds + (self.end or time.time()) - self.start, 1)

    def record(
        self, trainer: L.Trainer, status: str, extra: dict | None = None, quiet: bool = False
    ) -> dict:
        """Merge the attempt's state (and ``extra``) into ``metrics.json``.

        ``quiet``: on the way out of a failure, a failing write (full disk) must not hide it.
        """
        epochs = trainer.current_epoch
        values = {
            "status": status,
            "epochs": epochs,
            "global_step": trainer.global_step,
            "train_seconds": self.seconds(),
            "dataset": self.dataset,
            "method": self.config.method.name,
            **(extra or {}),
        }
        try:
            # an error is only news while the run stands failed
            drop = () if "error" in values else ("error",)
            return update_metrics(self.run_dir, values, drop=drop)
        except (OSError, SelfsupError):
            if not quiet:
                raise
            return values


class Bookkeeping(L.Callback):
    """Writes the attempt's config, logs and progress at safe points (see the module doc).

    Args:
        attempt: the attempt's record (``None`` on processes other than 0).
        on_start: called once training begins (the run directory is then the run's).
    """

    def __init__(self, attempt: Attempt | None, on_start: Callable[[], None] | None = None) -> None:
        self.attempt = attempt
        self.on_start = on_start
        self.started = False
        self._config_written = False

    def write_config(self) -> None:
        if self.attempt is not None and not self._config_written:
            write_config(self.attempt.run_dir, self.attempt.config)
            self._config_written = True

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = True
        if self.on_start is not None:
            self.on_start()
        if self.attempt is not None and not self.attempt.resume:
            (self.attempt.run_dir / METRICS).unlink(missing_ok=True)
        self.write_config()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        _flush(trainer)
        if self.attempt is not None:
            self.attempt.record(trainer, "training")

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        # what `selfsup export` needs to rebuild the backbone without loading the data
        shape = getattr(pl_module, "image_shape", None)
        if shape is not None:
            checkpoint["selfsup_image_shape"] = [int(s) for s in shape]
        _flush(trainer)


def _flush(trainer: L.Trainer) -> None:
    # the CSV log (RunCSVLogger.flush); TensorBoard's writer flushes its stream by itself
    for logger in trainer.loggers:
        flush = getattr(logger, "flush", None)
        if callable(flush):
            flush()
