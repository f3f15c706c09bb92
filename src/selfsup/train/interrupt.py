"""Ctrl-C (SIGINT) and SIGTERM: finish the step, save ``last.ckpt``, stop with 128 + signal.

During ``fit`` the first signal only raises a flag; :class:`StopOnSignal` sees it at the end of
the running training step, saves a mid-epoch checkpoint the way Lightning's own step-interval
checkpoints are saved (so a resume continues with the next batch of the same epoch) and raises
:class:`Interrupted`. Under DDP the flag is max-reduced over the processes every step, so a
signal to any one of them stops all of them at the same step. A second signal stops at once,
without saving (the previous checkpoint stays intact: checkpoints are replaced atomically).
Outside ``fit`` (data loading, the final evaluation) a signal raises :class:`Interrupted` at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import lightning as L
import torch

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):  # noqa: N818  (like KeyboardInterrupt, which it replaces)
    """The run was stopped by a signal; ``checkpoint`` is where it was saved (or ``None``).

    A ``BaseException`` so that no ``except Exception`` on the way swallows it; Lightning tears
    the trainer down (loggers flushed) and lets it through, where ``KeyboardInterrupt`` would
    make it call ``sys.exit(1)``.
    """

    def __init__(self, signum: int, checkpoint: Path | None = None) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum, self.checkpoint = signum, checkpoint
        self.message = ""  # how to continue; set by the run for process 0

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # what a shell reports for a process killed by the signal


class SignalGuard:
    """Installs the SIGINT / SIGTERM handlers for the duration of a ``with`` block.

    ``deferred`` (set around ``fit``) makes the first signal only set ``pending``.
    """

    def __init__(self) -> None:
        self.pending: int | None = None
        self.deferred = False
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach only the main thread; elsewhere the defaults stay
        for signum in SIGNALS:
            self._previous.setdefault(signum, signal.getsignal(signum))
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame) -> None:
        if self.deferred and self.pending is None:
            self.pending = signum
            name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            print(
                f"\n{name}: saving a checkpoint after this step (again to stop without saving)",
                file=sys.stderr,
                flush=True,
            )
            return
        raise Interrupted(signum)

    def __enter__(self) -> SignalGuard:
        self.install()
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


class StopOnSignal(L.Callback):
    """Saves ``last_path`` and raises :class:`Interrupted` at the end of a step after a signal.

    Args:
        guard: the installed :class:`SignalGuard` whose ``pending`` flag is read.
        last_path: the checkpoint to write (the run's ``last.ckpt``).
    """

    def __init__(self, guard: SignalGuard, last_path: Path) -> None:
        self.guard, self.last_path = guard, Path(last_path)

    def on_train_start(self, trainer, pl_module) -> None:
        # Lightning installs its own SIGTERM handler just before the loop; ours must win
        self.guard.install()
        self.guard.deferred = True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        pending = self.guard.pending or 0
        if trainer.world_size > 1:
            flag = torch.tensor(pending, device=pl_module.device)
            pending = int(trainer.strategy.reduce(flag, reduce_op="max"))
        # on an epoch's last batch the epoch end (validation, epoch checkpoint) runs first;
        # the stop then comes at the next step, or after fit if this was the final one
        if pending and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            trainer.save_checkpoint(self.last_path, weights_only=False)  # the full state
            raise Interrupted(pending, self.last_path)

    def on_train_end(self, trainer, pl_module) -> None:
        self.guard.deferred = False
