"""Lightning's checkpoint I/O for a run directory: atomic saves, rotation, the safe loader."""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from torch.serialization import get_unsafe_globals_in_checkpoint

from selfsup.errors import SelfsupError
from selfsup.train.atomic import atomic_file
from selfsup.train.checkpoints import (
    EPOCH_FILE,
    LAST,
    OLD_LAST,
    load_checkpoint,
    prune_epoch_checkpoints,
)


class RunCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint I/O for a run directory.

    Saves go to a temporary file in the checkpoint's own folder, are fsynced and renamed over
    the target (a full disk or a kill leaves the previous file intact); after an epoch file,
    only the ``keep`` newest epoch files remain. Loads use :func:`load_checkpoint` whatever
    ``weights_only`` Lightning asks for.

    Args:
        keep: epoch files to keep (newest by epoch number); ``-1`` keeps all.
    """

    def __init__(self, keep: int = -1) -> None:
        super().__init__()
        self.keep = keep

    def save_checkpoint(self, checkpoint: dict, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("RunCheckpointIO takes no storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path) as f:  # a failed write: SelfsupError, the old file intact
            torch.save(checkpoint, f)
            f.flush()
            unsafe = get_unsafe_globals_in_checkpoint(f.name)
            if unsafe:
                raise SelfsupError(
                    f"not saving {path}: it would hold {', '.join(unsafe)}, which a safe load "
                    f"refuses; callback and module states must be tensors and plain values"
                )
        if EPOCH_FILE.match(path.name):
            prune_epoch_checkpoints(path.parent, self.keep)
        elif path.name == LAST:
            for old in path.parent.glob("last-v*.ckpt"):
                if OLD_LAST.match(old.name):
                    with contextlib.suppress(OSError):
                        old.unlink()

    def load_checkpoint(self, path, map_location=None, weights_only=None) -> dict:
        return load_checkpoint(path, map_location=map_location or "cpu")
