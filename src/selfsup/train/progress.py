"""A progress bar for the evaluation after training (features, kNN, probes), on stderr.

Shown on a terminal unless the run turned progress bars off (``trainer.enable_progress_bar=
false``); elsewhere (a log file, CI) it stays silent unless ``selfsup -v``, which prints one
line per finished stage with its time instead.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

from selfsup.train.quiet import verbose


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
