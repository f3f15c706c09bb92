"""A run directory's small records (``config.yaml``, ``metrics.json``) and its health checks.

Layout of a run directory::

    config.yaml          the resolved config of the newest attempt that started training
    metrics.json         training record + final evaluation; ``eval`` holds ``selfsup eval``'s
    metrics.csv          every logged row, all attempts merged
    training_curves.png  the curves in metrics.csv (the lens and info tracking: own figures)
    tensorboard/         event files (append-only streams, one per attempt)
    checkpoints/         epoch=NNN.ckpt and last.ckpt, nothing else
    .selfsup.lock        held by the process working in the directory (see run_lock.py)

Every file above except the TensorBoard streams is replaced atomically (``atomic.py``). A start
that is refused before training begins leaves the directory as it found it (:class:`Footprint`).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from selfsup.errors import SelfsupError
from selfsup.train.atomic import atomic_write_text
from selfsup.train.checkpoints import CHECKPOINTS
from selfsup.train.run_lock import LOCK_FILE

CONFIG = "config.yaml"
METRICS = "metrics.json"


def resume_command(run_dir: str | Path) -> str:
    """The shell command that continues the run in ``run_dir``."""
    return f"selfsup train --run-dir {shlex.quote(str(run_dir))} --resume"


def write_config(run_dir: Path, config: DictConfig) -> None:
    atomic_write_text(run_dir / CONFIG, OmegaConf.to_yaml(config))


def write_json(path: Path, data: dict) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_metrics(run_dir: Path) -> dict:
    """``metrics.json`` of a run (``{}`` if there is none)."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return {}
    try:
        metrics = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise SelfsupError(f"{path} is unreadable ({err}); move it aside and retry") from None
    if not isinstance(metrics, dict):
        raise SelfsupError(f"{path} does not hold a JSON object; move it aside and retry")
    return metrics


def update_metrics(
    run_dir: Path, values: dict, eval_key: str | None = None, drop: tuple[str, ...] = ()
) -> dict:
    """Merge ``values`` into ``metrics.json`` and return the whole record.

    Training values go to the top level (each key replaced, the others kept, ``drop`` removed);
    an evaluation by ``selfsup eval`` is merged into ``metrics["eval"][eval_key]`` (so
    ``--protocol linear`` after ``--protocol knn`` keeps both) and touches nothing else.
    """
    metrics = read_metrics(run_dir)
    if eval_key is None:
        for key in drop:
            metrics.pop(key, None)
        metrics.update(values)
    else:
        evals = metrics.setdefault("eval", {})
        earlier = evals.get(eval_key)
        evals[eval_key] = {**(earlier if isinstance(earlier, dict) else {}), **values}
    write_json(Path(run_dir) / METRICS, metrics)
    return metrics


def check_writable(run_dir: Path, needed_bytes: int = 0) -> None:
    """Fail early, in one line, if the run cannot write its files.

    Writes and deletes a probe file in ``run_dir``, checks ``checkpoints/`` is writable, and
    that the disk has ``needed_bytes`` free (a checkpoint exists twice while it is replaced).
    """
    folder = Path(run_dir) / CHECKPOINTS
    probe = Path(run_dir) / ".selfsup-write-probe"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"\0" * 4096)
            f.flush()
            os.fsync(f.fileno())
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", str(folder))
    except OSError as err:
        raise SelfsupError(
            f"cannot write in {err.filename or run_dir} ({err.strerror}); free some space or "
            f"pick a writable --run-dir"
        ) from None
    finally:
        probe.unlink(missing_ok=True)
    free = shutil.disk_usage(run_dir).free
    if free < needed_bytes:
        raise SelfsupError(
            f"only {free / 2**20:.0f} MiB free on the disk of {run_dir}; checkpoints need about "
            f"{needed_bytes / 2**20:.0f} MiB; free some space or pick another --run-dir"
        )


class Footprint:
    """What one attempt adds to a run directory, so that a refused start takes exactly that back.

    Made before the run's lock is taken (taking it may create the directory, its parents and
    the lock file); :meth:`snapshot` once the lock is held records everything that was there.
    Until :meth:`keep` (training has begun), :meth:`undo` removes what this attempt created:
    the directory itself (and the parents it needed) if it was absent, else only the new
    entries; files that were there before are never touched by it.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        #: the outermost folder this attempt creates (``None``: the run directory exists)
        self.created = _first_missing(self.run_dir.absolute())
        self.lock_existed = (self.run_dir / LOCK_FILE).exists()
        self.before: set[Path] | None = None
        self.kept = False

    def snapshot(self) -> None:
        """Record the directory's entries (call with the lock held)."""
        entries = set(self.run_dir.rglob("*"))
        if self.created is not None and entries - {self.run_dir / LOCK_FILE}:
            self.created = None  # another process made it meanwhile (and has finished)
        self.before = entries

    def keep(self) -> None:
        """Training has begun: what is written from now on is the run's."""
        self.kept = True

    def undo(self) -> None:
        """Remove what this attempt created (a no-op once kept, or before a snapshot)."""
        if self.kept or self.before is None:
            return
        if self.created is not None:
            shutil.rmtree(self.created, ignore_errors=True)
            return
        # deepest first, so that a new folder is empty when its turn comes
        for path in sorted(set(self.run_dir.rglob("*")) - self.before, key=_depth, reverse=True):
            try:
                path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
            except OSError:
                pass  # best effort: a refusal must still reach the user
        if not self.lock_existed:
            (self.run_dir / LOCK_FILE).unlink(missing_ok=True)


def _first_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist (``None``: it exists)."""
    missing = None
    while not path.exists():
        missing, path = path, path.parent
        if path == path.parent:
            break
    return missing


def _depth(path: Path) -> int:
    return len(path.parts)
