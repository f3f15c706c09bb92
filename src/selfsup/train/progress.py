"""Progress of training (one bar, or one line per epoch) and of the evaluation after it.

Training: on a terminal, Lightning's rich progress bar with the epochs counted from 1
(``Epoch 3/30`` is the third of 30); where standard output is a file or a pipe (``nohup``,
SLURM, CI), one plain, flushed line per epoch instead::

    epoch 3/30  loss 21.1427  kNN 0.9611  elapsed 0:00:12  ETA 0:01:48

(``kNN`` when the kNN monitor ran that epoch; the ETA is this attempt's mean epoch time times
the epochs left). The evaluation after training: a bar on stderr on a terminal; elsewhere
silent unless ``selfsup -v``, which prints one line per finished stage with its time. Both
stay off when the run turns progress bars off (``trainer.enable_progress_bar=false``).
"""

from __future__ import annotations

import contextlib
import datetime
import math
import sys
import time
from collections.abc import Iterator

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar

from selfsup.train.quiet import verbose

#: the logged values an epoch line shows
LOSS_KEYS = ("train/loss_epoch", "train/loss")
KNN_KEY = "val/knn_top1"


def epoch_progress(enabled: bool = True, knn_every: int = 0) -> list[L.Callback]:
    """The training progress callback for where standard output goes (see the module doc):
    ``[EpochBar()]`` on a terminal, ``[EpochLines(knn_every)]`` elsewhere, ``[]`` when not
    ``enabled``; ``knn_every``: the kNN monitor's period in epochs (0: off).
    """
    if not enabled:
        return []
    return [EpochBar()] if sys.stdout.isatty() else [EpochLines(knn_every)]


class EpochBar(RichProgressBar):
    """Lightning's rich progress bar, its epochs counted from 1 like the epoch lines."""

    def _get_train_description(self, current_epoch: int) -> str:
        shown = super()._get_train_description(current_epoch + 1)
        if self.trainer.max_epochs is not None:  # Lightning shows the last epoch's index
            shown = shown.replace(f"/{self.trainer.max_epochs - 1}", f"/{self.trainer.max_epochs}")
        return shown


class EpochLines(L.Callback):
    """One line per finished epoch on standard output, flushed (see the module doc).

    Args:
        knn_every: the kNN monitor's period in epochs (0: off); its value is shown on the
            epochs it ran.
    """

    def __init__(self, knn_every: int = 0) -> None:
        self.knn_every = knn_every
        self._start: float | None = None
        self._first_epoch = 0

    def on_train_start(self, trainer, pl_module) -> None:
        self._start = time.monotonic()
        self._first_epoch = trainer.current_epoch  # a resumed run starts past 0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero or self._start is None:
            return
        done = trainer.current_epoch + 1
        knn = self.knn_every > 0 and done % self.knn_every == 0
        elapsed = time.monotonic() - self._start
        print(epoch_line(trainer, elapsed, self._first_epoch, knn), flush=True)


def epoch_line(trainer: L.Trainer, elapsed: float, first_epoch: int = 0, knn: bool = False) -> str:
    """``epoch k/N  loss X  [kNN Y]  elapsed H:MM:SS  ETA H:MM:SS`` after epoch ``k``
    (1-based); ``elapsed`` seconds since this attempt began at epoch index ``first_epoch``;
    ``knn``: the kNN monitor ran this epoch."""
    done = trainer.current_epoch + 1
    total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
    words = [f"epoch {done}/{total}" if total else f"epoch {done}"]
    metrics = trainer.callback_metrics
    loss = next((metrics[k] for k in LOSS_KEYS if k in metrics), None)
    if loss is not None:
        words.append(f"loss {float(loss):.4f}")
    if knn and KNN_KEY in metrics:
        words.append(f"kNN {float(metrics[KNN_KEY]):.4f}")
    words.append(f"elapsed {_clock(elapsed)}")
    if total:
        per_epoch = elapsed / max(1, done - first_epoch)
        words.append(f"ETA {_clock(per_epoch * (total - done))}")
    return "  ".join(words)


def _clock(seconds: float) -> str:
    return str(datetime.timedelta(seconds=math.ceil(seconds)))


class StageProgress:
    """``with progress.stage("kNN"): ...`` for each of ``total`` stages."""

    def __init__(self, title: str, total: int, enabled: bool = True) -> None:
        self.title, self.total = title, total
        self._bar = None
        self._lines = enabled and verbose() and not sys.stderr.isatty()
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task(title, total=total)

    def __enter__(self) -> StageProgress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

    @contextlib.contextmanager
    def stage(self, what: str) -> Iterator[None]:
        start = time.perf_counter()
        if self._bar is not None:
            self._bar.update(self._task, description=f"{self.title}: {what}")
        yield
        if self._bar is not None:
            self._bar.advance(self._task)
        if self._lines:
            print(f"{self.title}: {what} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
