"""Using a trained run: rebuild its method from a checkpoint (safely), evaluate it.

``selfsup eval`` and ``selfsup analyze`` come through here; the checkpoint is read by
``checkpoints.load_selfsup_checkpoint`` (no code from the file runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from selfsup.config import Config
from selfsup.config_schema import fresh_section
from selfsup.data import DataSplits
from selfsup.data.from_config import load_data
from selfsup.errors import SelfsupError
from selfsup.methods import SSLMethod, build_method
from selfsup.train.checkpoints import load_selfsup_checkpoint
from selfsup.train.preflight import (
    resolve_checkpoint,
    run_dir_of,
    shape_mismatch,
    stored_config,
)
from selfsup.train.run import evaluate_encoder
from selfsup.train.run_dir import METRICS, update_metrics, write_json
from selfsup.train.run_lock import RunLock


def load_method(path: str | Path) -> tuple[SSLMethod, DictConfig]:
    """A trained method from a run directory (its newest checkpoint) or a checkpoint file."""
    method, config, _, _ = _load(resolve_checkpoint(path))
    return method, config


def load_run(path: str | Path) -> tuple[SSLMethod, DictConfig, DataSplits]:
    """A trained method, its run config and the data it was trained on, read from the run's
    own data section (name, root, path, params), from a run directory or checkpoint file."""
    method, config, _, data = _load(resolve_checkpoint(path))
    return method, config, data


def _load(ckpt: Path) -> tuple[SSLMethod, DictConfig, dict, DataSplits]:
    state = load_selfsup_checkpoint(ckpt)
    config = stored_config(state, ckpt)
    data = load_data(config)
    method = build_method(config, data)
    try:
        method.load_state_dict(state["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise SelfsupError(f"{ckpt}: its weights do not fit its own config ({first})") from None
    return method.eval(), config, state, data


def other_data(
    config: DictConfig, data: DataSplits, dataset: str | None, data_root: str | None
) -> DataSplits:
    """The data to evaluate or analyse a run on: its own ``data`` unless ``dataset`` (another
    dataset, read with that dataset's default parameters) or ``data_root`` (another place
    where named datasets live) say otherwise. ``config`` is updated to describe it."""
    if dataset and dataset != config.data.name:
        fresh = fresh_section("data", dataset, OmegaConf.structured(Config).data)
        config.data.name, config.data.params = dataset, fresh["params"]
        config.data.path = config.data.test_path = None
    elif not data_root or data_root == config.data.root:
        return data
    if data_root:
        config.data.root = data_root
    return load_data(config)


def evaluate_checkpoint(
    path: str | Path,
    dataset: str | None = None,
    data_root: str | None = None,
    evaluate: Callable[[SSLMethod, DataSplits, DictConfig], dict] = evaluate_encoder,
) -> tuple[dict, Path]:
    """``selfsup eval``: kNN / linear probe of a run's newest checkpoint or of a given file.

    Results are merged into the run's ``metrics.json`` under ``eval[<dataset>]`` (a named
    checkpoint file: ``eval[<dataset>@<file stem>]``), keeping the training record; a
    checkpoint outside any run directory gets ``<stem>.eval.json`` beside it. The run
    directory is locked while it runs. ``evaluate(method, data, config)`` computes the
    metrics (default: the kNN / linear probe the run itself reports).

    Returns:
        The metrics and the file they were written to.
    """
    path = Path(path)
    run_dir = run_dir_of(path)
    with RunLock(run_dir, "eval") if run_dir else contextlib.nullcontext():
        ckpt = resolve_checkpoint(path)
        method, config, state, data = _load(ckpt)
        data = other_data(config, data, dataset, data_root)
        if tuple(data.image_shape) != method.image_shape:
            raise SelfsupError(shape_mismatch(method.image_shape, data.name, data.image_shape))
        metrics = evaluate(method, data, config)
        metrics.update(
            dataset=data.name,
            checkpoint=str(ckpt.relative_to(run_dir) if run_dir else ckpt.name),
            global_step=int(state.get("global_step", 0)),
        )
        if run_dir is None:
            out = ckpt.with_name(f"{ckpt.stem}.eval.json")
            write_json(out, metrics)
            return metrics, out
        key = data.name if path.is_dir() else f"{data.name}@{ckpt.stem}"
        update_metrics(run_dir, metrics, eval_key=key)
        return metrics, run_dir / METRICS
