"""Atomic file writes: a reader sees the old file or the new one, never a part of either.

Each write goes to a temporary file in the target's own directory (``os.replace`` is atomic only
within one filesystem), is flushed and fsynced, then renamed over the target, and the directory
is fsynced so that the rename survives a power loss. A failed write (full disk, no permission,
an exception from the writer) removes the temporary file and leaves the target untouched.

The temporary file is created the way ``open(path, "w")`` creates a file, with mode 0666 less
the process's umask (``tempfile.mkstemp`` would make it 0600, and the rename would carry that
over), so run files are as readable as any other file the user writes: 0644 under umask 022,
0640 under 027.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from selfsup.errors import SelfsupError

#: temporary files are named ``.<target name>.<random>.tmp``; nothing else in a run is
TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    Args:
        path: the file to write.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8, ``newline=""`` so csv controls line ends).

    Yields:
        the open temporary file (its ``name`` is the temporary path).

    Raises:
        SelfsupError: the write failed (full disk, no permission); ``path`` is as it was.
    """
    path = Path(path)
    tmp = None
    try:
        tmp = _create_temp(path)
        text = "b" not in mode
        with open(tmp, mode, **({"encoding": "utf-8", "newline": ""} if text else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(err, OSError):
            kept = f"the previous {path.name} is intact" if path.exists() else "nothing written"
            raise SelfsupError(f"could not write {path} ({err.strerror or err}); {kept}") from None
        raise
    fsync_dir(path.parent)


def _create_temp(path: Path) -> str:
    """A new empty file ``.<name>.<random>.tmp`` beside ``path``, mode 0666 less the umask."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return str(tmp)
    raise FileExistsError(17, "no unused temporary name", str(path.parent))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_file(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with atomic_file(path, "w") as f:
        f.write(text)


def fsync_dir(folder: str | Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_temp_files(folder: str | Path) -> list[Path]:
    """Delete the temporary files a killed writer left in ``folder``; returns them."""
    removed = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed
