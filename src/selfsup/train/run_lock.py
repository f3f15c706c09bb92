"""One process at a time in a run directory: an exclusive ``flock`` on ``<run>/.selfsup.lock``.

The kernel drops the lock when its holder exits, however it exits (SIGKILL, a crash, power
loss), so a lock left by a dead process never blocks anyone; the holder's pid, host, command
and start time are written into the lock file only so that a refused process can name it.
``flock`` works on local filesystems and, on Linux, on NFS (where it becomes an ``fcntl`` lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import time
from pathlib import Path

from selfsup.errors import SelfsupError

LOCK_FILE = ".selfsup.lock"


class RunLock:
    """``with RunLock(run_dir, "train"):`` holds the run directory or raises ``SelfsupError``.

    Args:
        run_dir: the directory (created if missing).
        purpose: what the holder does there (``train``, ``eval``), shown to a refused process.
    """

    def __init__(self, run_dir: str | Path, purpose: str) -> None:
        self.run_dir, self.purpose = Path(run_dir), purpose
        self.path = self.run_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> RunLock:
        if self.held:
            return self
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # less the umask
        except OSError as err:
            raise SelfsupError(
                f"cannot use {self.run_dir} as a run directory ({err.strerror}); pick a "
                f"writable --run-dir"
            ) from None
        self._lock(fd)
        self._fd = fd
        _write_holder(fd, self.purpose)
        return self

    def check_free(self) -> None:
        """Raise the refusal :meth:`acquire` would raise if another process holds the lock
        (without creating anything)."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except OSError:
            return  # no lock file: nobody has worked here
        self._lock(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def _lock(self, fd: int) -> None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read_holder(fd))
            os.close(fd)
            raise SelfsupError(
                f"{self.run_dir} is in use by {holder}; wait for it to finish (or stop it), "
                f"or use another run directory"
            ) from None
        except OSError as err:
            os.close(fd)
            raise SelfsupError(f"cannot lock {self.path} ({err.strerror})") from None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # no stale holder for the next reader to puzzle over
        except OSError:
            pass
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _write_holder(fd: int, purpose: str) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "purpose": purpose,
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        os.fsync(fd)
    except OSError:
        pass  # the lock itself is what matters; the description is a courtesy


def _read_holder(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 4096, 0).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(holder: dict) -> str:
    if not holder.get("pid"):
        return "another process"
    where = f"pid {holder['pid']} on {holder.get('host', '?')}"
    what = f" ({holder.get('purpose', '?')}: {holder.get('command', '?')}, since {holder['since']})"
    return where + (what if holder.get("since") else "")
