"""Checks of a run's files made before Lightning is imported, so that a mistake is one quick line.

``selfsup eval RUN``, ``selfsup analyze RUN`` and ``selfsup train --resume`` name files that
may be anything: a text file, a truncated or foreign checkpoint, a run trained on images of
another shape, a run already trained past the asked ``trainer.max_epochs``. These checks need
torch (the checkpoint is read with ``torch.load(weights_only=True, mmap=True)``: no code from
the file runs and the tensors are not read) and OmegaConf, not Lightning, so they answer in
about the time of ``import torch``; the commands repeat them where they load for real, and
every error is a :class:`SelfsupError` (one line in the CLI).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from selfsup.config import Config, to_dict, upgrade_data_section
from selfsup.config_schema import dataset_shape
from selfsup.errors import SelfsupError
from selfsup.train.checkpoints import CHECKPOINTS, load_selfsup_checkpoint, newest_checkpoint

#: what a resume may change (keys, or sections ending in "."): how long and where to train,
#: how to evaluate and checkpoint, the optimiser's settings (not which optimiser); the rest
#: defines the trained state and how it continues exactly
RESUMABLE = ("trainer.", "checkpoint.", "eval.", "callbacks.", "optim.", "lens.")
RESUMABLE_KEYS = {"data.root", "data.path", "data.test_path", "data.download", "data.num_workers"}
#: where a checkpoint stores the ``(C, H, W)`` its encoder was trained on (train/bookkeeping.py)
IMAGE_SHAPE_KEY = "selfsup_image_shape"


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint a path names: a run directory's newest, or the file itself."""
    path = Path(path)
    if path.is_dir():
        ckpt = newest_checkpoint(path)
        if ckpt is None:
            raise SelfsupError(f"no checkpoint in {path / CHECKPOINTS}; is it a selfsup run dir?")
        return ckpt
    if path.is_file():
        return path
    raise SelfsupError(f"'{path}' is neither a run directory nor a checkpoint file")


def run_dir_of(path: str | Path) -> Path | None:
    """The run directory ``path`` belongs to (itself, or ``<run>`` for ``<run>/checkpoints/x``)."""
    path = Path(path)
    if path.is_dir():
        return path
    if path.parent.name == CHECKPOINTS:
        return path.parent.parent
    return None


def stored_config(state: dict, ckpt: Path) -> DictConfig:
    """A checkpoint's run config on the current schema (keys added since take their defaults),
    after importing the plug-ins it names (module names from the normal import path; nothing
    inside the checkpoint is run)."""
    from selfsup.config import load_plugins_of

    load_plugins_of(state["selfsup_config"].get("plugins"), f"checkpoint {ckpt}")
    try:
        config = OmegaConf.merge(OmegaConf.structured(Config), state["selfsup_config"])
    except OmegaConfBaseException as err:
        first = err.msg.splitlines()[0]
        raise SelfsupError(f"{ckpt}: its stored config is invalid ({first})") from None
    upgrade_data_section(config.data)
    return config


def check_trained(path: str | Path, dataset: str | None = None) -> Path:
    """``selfsup eval`` / ``analyze`` on a run or checkpoint: the checkpoint it names, after
    checking that it is a readable selfsup checkpoint with a valid config and, where both
    shapes are known without loading data, that ``dataset`` has the images it was trained on.

    Raises:
        SelfsupError: no such run or file, not a (selfsup) checkpoint, truncated, unsafe, an
            invalid stored config, or a dataset of another image shape.
    """
    ckpt = resolve_checkpoint(path)
    state = load_selfsup_checkpoint(ckpt, mmap=True)
    config = stored_config(state, ckpt)
    trained = state.get(IMAGE_SHAPE_KEY)
    wanted = dataset_shape(dataset) if dataset else None
    if isinstance(trained, list) and wanted is not None and tuple(trained) != wanted:
        raise SelfsupError(shape_mismatch(tuple(trained), dataset or config.data.name, wanted))
    return ckpt


def shape_mismatch(trained: tuple, dataset: str, shape: tuple) -> str:
    """The message for an encoder asked to read images of another shape."""
    return (
        f"the encoder was trained on images of shape {trained}, but '{dataset}' has {shape}; "
        f"pick a dataset of the same shape"
    )


def check_resume(run_dir: Path, config: DictConfig) -> tuple[Path, dict]:
    """``--resume``: the newest checkpoint and its contents (tensors mapped, not read), after
    checking that the config changes nothing a resume may not change and that
    ``trainer.max_epochs`` is not below the epochs already trained.

    Raises:
        SelfsupError: nothing to resume, an unreadable or unsafe checkpoint, a forbidden change.
    """
    ckpt = newest_checkpoint(run_dir)
    if ckpt is None:
        raise SelfsupError(
            f"--resume: no checkpoint in {run_dir / CHECKPOINTS}; start the run without --resume"
        )
    state = load_selfsup_checkpoint(ckpt, mmap=True)
    check_resumable(state, config, ckpt)
    check_epochs_left(state, config, ckpt)
    return ckpt, state


def resume_note(ckpt: Path, config: DictConfig) -> str:
    """The line a resume prints: what ``ckpt`` holds and the epoch (counted from 1, as the
    progress shows it) training continues with."""
    state = load_selfsup_checkpoint(ckpt, mmap=True)
    total = config.trainer.get("max_epochs")
    of = f"/{total}" if isinstance(total, int) and total > 0 else ""
    try:
        loop = state["loops"]["fit_loop"]
        done = int(loop["epoch_progress"]["current"]["processed"])
        position = loop["state_dict"]["combined_loader"][0]
        epoch, batch = int(position["epoch"]), int(position["batch"])
    except (KeyError, IndexError, TypeError, ValueError):
        return f"resuming from {ckpt} (step {state.get('global_step', '?')})"
    where = f"epoch {done + 1}{of}"
    if epoch == done and batch > 0:  # saved mid-epoch (Ctrl-C, every_n_minutes)
        where += f" at batch {batch + 1}"
    return (
        f"resuming from {ckpt}: {done} epoch(s) done (step {state.get('global_step', '?')}); "
        f"continuing with {where}"
    )


def check_resumable(state: dict, config: DictConfig, ckpt: Path) -> None:
    """Refuse a resume whose config changes what defines the trained state (see
    :data:`RESUMABLE`)."""
    old = _flatten(to_dict(stored_config(state, ckpt)))
    new = _flatten(to_dict(config))

    def fixed(key: str) -> bool:
        return key == "optim.name" or not (key.startswith(RESUMABLE) or key in RESUMABLE_KEYS)

    changed = [k for k in sorted(old.keys() | new.keys()) if old.get(k) != new.get(k) and fixed(k)]
    if changed:
        shown = ", ".join(f"{k} ({old.get(k)!r} -> {new.get(k)!r})" for k in changed[:3])
        raise SelfsupError(
            f"--resume cannot change {shown}: {ckpt} was trained with the former; resume "
            f"without such overrides, or start a new run"
        )


def check_epochs_left(state: dict, config: DictConfig, ckpt: Path) -> None:
    """Refuse a resume whose ``trainer.max_epochs`` is below the epochs already trained (equal
    is a finished run resumed: nothing is trained, the evaluation is redone)."""
    wanted = config.trainer.get("max_epochs")
    try:
        done = int(state["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"])
    except (KeyError, TypeError, ValueError):
        return
    if isinstance(wanted, int) and 0 <= wanted < done:
        raise SelfsupError(
            f"--resume: trainer.max_epochs={wanted} is below the {done} epochs {ckpt} has "
            f"already trained; pass trainer.max_epochs > {done} to train on, or evaluate it "
            f"as it is with: selfsup eval {ckpt.parent.parent}"
        )


def _flatten(tree: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (empty sections vanish)."""
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
