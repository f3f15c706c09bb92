"""Using a trained run: rebuild its method from a checkpoint (safely), evaluate it.

``selfsup eval`` and ``selfsup analyze`` come through here; the checkpoint is read by
``checkpoints.load_selfsup_checkpoint`` (no code from the file runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from selfsup.data import DataSplits
from selfsup.errors import SelfsupError
from selfsup.methods import SSLMethod, build_method
from selfsup.train.checkpoints import load_selfsup_checkpoint
from selfsup.train.preflight import (
    resolve_checkpoint,
    run_dir_of,
    shape_mismatch,
    stored_config,
)
from selfsup.train.run import evaluate_encoder, load_data
from selfsup.train.run_dir import METRICS, update_metrics, write_json
from selfsup.train.run_lock import RunLock


def load_method(path: str | Path) -> tuple[SSLMethod, DictConfig]:
    """A trained method from a run directory (its newest checkpoint) or a checkpoint file."""
    method, config, _ = _load(resolve_checkpoint(path))
    return method, config


def _load(ckpt: Path) -> tuple[SSLMethod, DictConfig, dict]:
    state = load_selfsup_checkpoint(ckpt)
    config = stored_config(state, ckpt)
    method = build_method(config, load_data(config))
    try:
        method.load_state_dict(state["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise SelfsupError(f"{ckpt}: its weights do not fit its own config ({first})") from None
    return method.eval(), config, state


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
        method, config, state = _load(ckpt)
        if dataset:
            config.data.name = dataset
        if data_root:
            config.data.root = data_root
        data = load_data(config)
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
