"""Helpers for the run-safety tests: a ``selfsup`` CLI process that signals itself at a step.

``python -m tests.train.run_helpers <selfsup argv> callbacks.signal_at.step=S
callbacks.signal_at.signum=N callbacks.signal_at.marker=PATH`` runs the CLI with a callback
that sends signal N to its own process before step S, once (``marker`` records that it did, so
a resumed attempt passing step S again is not signalled again).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import lightning as L

from selfsup.train import callbacks

REPO = Path(__file__).resolve().parents[2]


class SignalAt(L.Callback):
    def __init__(self, step: int, signum: int, marker: str, rank: int = 0) -> None:
        self.step, self.signum, self.marker, self.rank = step, signum, Path(marker), rank

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_rank != self.rank:
            return
        if trainer.global_step == self.step and not self.marker.exists():
            self.marker.touch()
            os.kill(os.getpid(), self.signum)


def selfsup_process(argv: list[str], signal_at: tuple[int, int, Path] | None = None, **kw):
    """Start ``selfsup <argv>`` in a new process (optionally signalling itself, see above)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    if signal_at is None:
        cmd = [sys.executable, "-m", "selfsup.cli", *argv]
    else:
        step, signum, marker = signal_at
        cmd = [sys.executable, "-m", "tests.train.run_helpers", *argv]
        cmd += [
            f"callbacks.signal_at.step={step}",
            f"callbacks.signal_at.signum={int(signum)}",
            f"callbacks.signal_at.marker={marker}",
        ]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


def run_selfsup(argv: list[str], signal_at=None, timeout: float = 300) -> tuple[int, str]:
    """Run ``selfsup <argv>`` to its end; ``(exit code, stderr)``."""
    proc = selfsup_process(argv, signal_at)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


if __name__ == "__main__":
    from selfsup.cli import main

    callbacks.CALLBACKS["signal_at"] = SignalAt
    sys.exit(main(sys.argv[1:]))
