"""A training run: config in, a run directory with checkpoints, logs, metrics and plots out."""

from __future__ import annotations

import csv
import json
import time
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from omegaconf import DictConfig, OmegaConf

from selfsup.allocator import reuse_freed_memory
from selfsup.config import Config, save_config, to_dict
from selfsup.data import DataSplits, load_dataset
from selfsup.errors import SelfsupError
from selfsup.evaluate import LinearProbe, MLPProbe, extract_features, knn_accuracy
from selfsup.methods import SSLMethod, build_method
from selfsup.train.callbacks import OnlineLinearProbe, build_callback
from selfsup.train.datamodule import ImageDataModule
from selfsup.train.report import plot_training_curves

CHECKPOINTS = "checkpoints"
EARLIER_LOG = "metrics.before-resume.csv"

# the run dir holds config.yaml before the CSV logger starts; that is expected
warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
LAST = "last.ckpt"


def load_data(config: DictConfig) -> DataSplits:
    d = config.data
    data = load_dataset(d.name, d.root, d.download, **to_dict(d.params))
    if d.train_subset or d.test_subset:
        data = data.subset(d.train_subset, d.test_subset, seed=0)
    return data


def last_checkpoint(run_dir: Path) -> Path | None:
    path = Path(run_dir) / CHECKPOINTS / LAST
    return path if path.exists() else None


def evaluate_encoder(method: SSLMethod, data: DataSplits, config: DictConfig) -> dict[str, float]:
    """kNN, linear probe (and MLP probe) top-1 on the test split from frozen backbone features."""
    e = config.eval
    train_f, train_y = extract_features(method.backbone, data.train, method.normalise)
    test_f, test_y = extract_features(method.backbone, data.test, method.normalise)
    metrics = {
        "knn_top1": knn_accuracy(train_f, train_y, test_f, test_y, e.knn_k, e.knn_temperature)
    }
    if e.linear_probe:
        probe = LinearProbe(weight_decay=e.linear_weight_decay).fit(train_f, train_y)
        metrics["linear_top1"] = probe.score(test_f, test_y)
    if e.mlp_probe:
        metrics["mlp_top1"] = MLPProbe(seed=config.seed).fit(train_f, train_y).score(test_f, test_y)
    metrics["feature_dim"] = train_f.shape[1]
    return metrics


def train(
    config: DictConfig,
    run_dir: str | Path,
    resume: bool = False,
    extra_callbacks: Sequence[L.Callback] = (),
) -> dict[str, float] | None:
    """Train, checkpoint every epoch, then evaluate and write ``metrics.json``.

    Args:
        config: a resolved config (see ``selfsup.config.load_config``).
        run_dir: where everything is written.
        resume: continue from ``run_dir/checkpoints/last.ckpt``.
        extra_callbacks: more Lightning callbacks (e.g. information tracking).

    Returns:
        The final metrics on process 0; ``None`` on other processes or when interrupted.
    """
    run_dir = Path(run_dir)
    ckpt = last_checkpoint(run_dir) if resume else None
    if resume and ckpt is None:
        raise SelfsupError(
            f"--resume: no checkpoint at {run_dir / CHECKPOINTS / LAST}; start "
            f"the run without --resume"
        )
    if not resume and last_checkpoint(run_dir) is not None:
        raise SelfsupError(
            f"{run_dir} already holds a run; pass --resume to continue it or "
            f"choose another --run-dir"
        )
    L.seed_everything(config.seed, workers=True, verbose=False)
    data = load_data(config)
    method = build_method(config, data)
    datamodule = ImageDataModule(data, config.data.batch_size, config.seed, config.data.num_workers)
    callbacks: list[L.Callback] = [
        *_checkpointing(config, run_dir),
        *(build_callback(name, to_dict(args) or {}) for name, args in config.callbacks.items()),
        *extra_callbacks,
    ]
    if config.eval.online_probe:
        callbacks.append(OnlineLinearProbe(data.num_classes, method.backbone.out_dim))
    trainer_args = {
        "check_val_every_n_epoch": config.eval.every_n_epochs,
        "log_every_n_steps": 10,
        **to_dict(config.trainer),
    }
    if not config.eval.online_probe:
        trainer_args.setdefault("limit_val_batches", 0)
    trainer = L.Trainer(
        default_root_dir=run_dir,
        logger=[
            CSVLogger(run_dir, name="", version=""),
            TensorBoardLogger(run_dir, name="tensorboard", version=""),
        ],
        callbacks=callbacks,
        use_distributed_sampler=False,  # ImageDataModule shards batches itself
        **trainer_args,
    )
    if trainer.global_rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, run_dir / "config.yaml")
    start = time.time()
    earlier_log = _stash_earlier_rows(run_dir) if resume and trainer.global_rank == 0 else []
    # the allocator setting pays only where the step's activations are host memory (CPU
    # training); on an accelerator they are device memory (docs/benchmarks.md)
    on_cpu = isinstance(trainer.accelerator, CPUAccelerator)
    try:
        with reuse_freed_memory() if on_cpu else nullcontext():
            trainer.fit(method, datamodule=datamodule, ckpt_path=ckpt)
    finally:
        if earlier_log:
            _restore_earlier_rows(run_dir, earlier_log)
    if trainer.interrupted:
        print(f"interrupted; continue with: selfsup train --run-dir {run_dir} --resume")
        return None
    if trainer.global_rank != 0:
        return None
    train_seconds = time.time() - start
    method = method.to(trainer.strategy.root_device)
    metrics = evaluate_encoder(method, data, config)
    metrics.update(
        train_seconds=round(train_seconds, 1),
        epochs=trainer.current_epoch,
        global_step=trainer.global_step,
        dataset=data.name,
        method=config.method.name,
    )
    online = trainer.callback_metrics.get("val/online_probe_top1")
    if online is not None:
        metrics["online_probe_top1"] = float(online)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_training_curves(run_dir / "metrics.csv", run_dir / "training_curves.png")
    return metrics


def _checkpointing(config: DictConfig, run_dir: Path) -> list[L.Callback]:
    c = config.checkpoint
    # without a monitored metric Lightning keeps all or one; monitoring the step keeps the newest
    keep = (
        dict(save_top_k=-1) if c.keep < 0 else dict(save_top_k=c.keep, monitor="step", mode="max")
    )
    callbacks: list[L.Callback] = [
        ModelCheckpoint(
            dirpath=run_dir / CHECKPOINTS,
            filename="epoch={epoch:03d}",
            auto_insert_metric_name=False,
            every_n_epochs=c.every_n_epochs,
            save_last=True,
            **keep,
        )
    ]
    if c.every_n_minutes > 0:
        # a crash mid-epoch loses at most this much work; only last.ckpt is rewritten
        callbacks.append(
            ModelCheckpoint(
                dirpath=run_dir / CHECKPOINTS,
                save_top_k=0,
                save_last=True,
                save_on_train_epoch_end=False,
                train_time_interval=timedelta(minutes=c.every_n_minutes),
            )
        )
    return callbacks


def _read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _merge_rows(earlier: list[dict], later: list[dict]) -> list[dict]:
    # steps logged after the checkpoint a resume started from are logged again: keep the later
    first_new_step = min((float(r["step"]) for r in later if r.get("step")), default=float("inf"))
    return [r for r in earlier if float(r.get("step") or 0) < first_new_step] + later


def _write_rows(path: Path, rows: list[dict]) -> None:
    columns = list(dict.fromkeys(k for r in rows for k in r))
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _stash_earlier_rows(run_dir: Path) -> list[dict]:
    """Before a resume: the rows of every earlier attempt, also kept on disk in
    ``EARLIER_LOG`` (Lightning's CSV logger starts a fresh ``metrics.csv``), so that a resumed
    run that dies too hard for ``finally`` (SIGKILL, power loss) loses no earlier rows."""
    rows = _merge_rows(_read_rows(run_dir / EARLIER_LOG), _read_rows(run_dir / "metrics.csv"))
    if rows:
        _write_rows(run_dir / EARLIER_LOG, rows)
    return rows


def _restore_earlier_rows(run_dir: Path, earlier: list[dict]) -> None:
    """After a resumed attempt: its rows behind the earlier ones in ``metrics.csv``."""
    path = run_dir / "metrics.csv"
    _write_rows(path, _merge_rows(earlier, _read_rows(path)))
    (run_dir / EARLIER_LOG).unlink(missing_ok=True)


def load_method(path: str | Path) -> tuple[SSLMethod, DictConfig]:
    """A trained method from a run directory (its last checkpoint) or a checkpoint file."""
    path = Path(path)
    if path.is_dir():
        ckpt = last_checkpoint(path)
        if ckpt is None:
            raise SelfsupError(f"no checkpoint in {path / CHECKPOINTS}; is it a selfsup run dir?")
    elif path.is_file():
        ckpt = path
    else:
        raise SelfsupError(f"'{path}' is neither a run directory nor a checkpoint file")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    if "selfsup_config" not in state or state["selfsup_config"] is None:
        raise SelfsupError(f"{ckpt} was not written by selfsup (no selfsup_config inside)")
    config = OmegaConf.merge(OmegaConf.structured(Config), state["selfsup_config"])
    return _restore(state, config), config


def _restore(state: dict, config: DictConfig) -> SSLMethod:
    data = load_data(config)
    method = build_method(config, data)
    method.load_state_dict(state["state_dict"])
    return method.eval()
