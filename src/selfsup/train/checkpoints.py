"""Checkpoint files: the one safe loader, atomic saving with rotation, and the newest state.

Trust model: a checkpoint is data, never code. Every reader in selfsup (``selfsup eval``,
``selfsup analyze``, ``--resume``, ``load_method``) goes through :func:`load_checkpoint`, which
unpickles with ``torch.load(weights_only=True)``: only tensors, storages and plain containers
(dict, list, tuple, str, numbers, ``OrderedDict`` and the few torch types of PyTorch's own
weights-only allow-list). A file that asks for any other object (a class, a function such as
``os.system``) is refused before anything in it runs, with one line naming what it asked for.
selfsup adds nothing to that allow-list: its checkpoints hold only such values (the run config
is stored as a plain dict), and :class:`~selfsup.train.checkpoint_io.RunCheckpointIO` refuses
to *write* one that would not load this way.

This module imports neither torch (until a file passes the checks that need no torch) nor
Lightning, so that a command checks the files it is given at once (``selfsup.train.preflight``).
"""

from __future__ import annotations

import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from selfsup.errors import SelfsupError

CHECKPOINTS = "checkpoints"
LAST = "last.ckpt"
EPOCH_FILE = re.compile(r"^epoch=(\d+)\.ckpt$")
#: ``last-v1.ckpt`` ... : what Lightning's version counter writes when a copied run dir
#: already has ``last.ckpt`` (older selfsup versions let it)
OLD_LAST = re.compile(r"^last-v\d+\.ckpt$")

_ZIP = b"PK\x03\x04"  # torch.save's format since PyTorch 1.6
_PICKLE = b"\x80"  # the legacy format starts with a pickle protocol marker


def load_checkpoint(path: str | Path, map_location: Any = "cpu", mmap: bool = False) -> dict:
    """The contents of a checkpoint file, unpickled without running code from it.

    Args:
        path: a ``.ckpt`` / ``.pt`` file written by ``torch.save``.
        map_location: as for ``torch.load``.
        mmap: map tensors lazily instead of reading them (cheap peeks at metadata).

    Raises:
        SelfsupError: missing, not a checkpoint, truncated, or needing anything beyond tensors
            and plain values (the message names what it asked for).
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        raise SelfsupError(f"cannot read checkpoint {path} ({err.strerror})") from None
    is_zip = head.startswith(_ZIP)
    if not is_zip and not head.startswith(_PICKLE):
        what = "it is empty" if not head else f"it starts with {head!r}"
        raise SelfsupError(f"{path} is not a PyTorch checkpoint ({what})")
    if is_zip:  # a cut file has lost the zip directory at its end: found without torch
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise SelfsupError(
                f"{path} is truncated or corrupted ({first_sentence(err)}); use an intact "
                f"checkpoint"
            ) from None
        # torch.save writes one folder holding data.pkl; an .npz or another zip has none
        if not any(name.count("/") == 1 and name.endswith("/data.pkl") for name in names):
            raise SelfsupError(
                f"{path} is a zip archive but not a PyTorch checkpoint (no data.pkl inside)"
            )
    # torch is imported here, not with the module: the checks above answer a wrong file at once
    import torch
    from torch.serialization import get_unsafe_globals_in_checkpoint

    try:
        if is_zip:
            unsafe = get_unsafe_globals_in_checkpoint(path)
            if unsafe:
                raise _refused(path, unsafe)
        with warnings.catch_warnings():  # torch's notes on pickle protocols would add lines
            warnings.simplefilter("ignore")
            state = torch.load(
                path, map_location=map_location, weights_only=True, mmap=mmap and is_zip
            )
    except pickle.UnpicklingError as err:
        raise _refused(path, _needs(str(err))) from None
    except SelfsupError:
        raise
    except Exception as err:  # zip, EOF and unpickling errors come in many types
        raise SelfsupError(
            f"{path} is truncated or corrupted ({first_sentence(err)}); use an intact checkpoint"
        ) from None
    if not isinstance(state, dict):
        raise SelfsupError(f"{path} holds a {type(state).__name__}, not a checkpoint dict")
    return state


def load_selfsup_checkpoint(
    path: str | Path, map_location: Any = "cpu", mmap: bool = False
) -> dict:
    """:func:`load_checkpoint`, then a check that selfsup wrote it (config and weights inside)."""
    state = load_checkpoint(path, map_location, mmap)
    weights = state.get("state_dict")
    if not isinstance(state.get("selfsup_config"), dict) or not isinstance(weights, dict):
        raise SelfsupError(f"{path} was not written by selfsup (no selfsup_config inside)")
    import torch

    if not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise SelfsupError(f"{path}: its state_dict holds values that are not tensors")
    if not isinstance(state.get("global_step", 0), int):
        raise SelfsupError(f"{path}: its global_step is not an integer")
    return state


def checkpoint_step(path: str | Path) -> int:
    """The global step a selfsup checkpoint was saved at (tensors are not read)."""
    return int(load_selfsup_checkpoint(path, mmap=True).get("global_step", 0))


def epoch_checkpoints(folder: str | Path) -> list[Path]:
    """``epoch=NNN.ckpt`` files in ``folder``, oldest epoch first."""
    found = [(int(m.group(1)), p) for p in Path(folder).glob("epoch=*.ckpt") if (m := _epoch(p))]
    return [p for _, p in sorted(found)]


def newest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint holding a run's newest state, or ``None`` if it has none.

    ``last.ckpt`` normally; an epoch file wins if it is further along (a process killed between
    writing ``epoch=N.ckpt`` and ``last.ckpt``); ``last-vN.ckpt`` left by older versions count
    too. Candidates are compared by their stored global step, read with :func:`load_checkpoint`.
    """
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return None
    lasts = sorted(p for p in folder.glob("last*.ckpt") if p.name == LAST or OLD_LAST.match(p.name))
    candidates = lasts + epoch_checkpoints(folder)[-1:]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    return max(candidates, key=lambda p: (checkpoint_step(p), p.name == LAST))


def prune_epoch_checkpoints(folder: str | Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest epoch files (``keep < 0``: keep all); returns them."""
    if keep < 0:
        return []
    epochs = epoch_checkpoints(folder)
    doomed = epochs[: max(0, len(epochs) - keep)]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def _epoch(path: Path) -> re.Match | None:
    return EPOCH_FILE.match(path.name)


def _refused(path: Path, needs: list[str]) -> SelfsupError:
    return SelfsupError(
        f"refused to load {path}: it asks for {', '.join(needs)}, which could run code; selfsup "
        f"loads only tensors and plain values from checkpoints (torch weights_only)"
    )


def _needs(message: str) -> list[str]:
    """What a refused pickle asked for, from torch's weights-only error message."""
    found = re.findall(r"GLOBAL (\S+)", message)
    found += [f"pickle opcode {n}" for n in re.findall(r"Unsupported operand (\d+)", message)]
    return found or ["objects beyond tensors and plain values"]


def first_sentence(err: BaseException) -> str:
    """The first sentence of an error's message, for a one-line report."""
    text = " ".join(str(err).split())
    return text.split(". ")[0][:160] or type(err).__name__
