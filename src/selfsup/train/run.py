"""A training run: config in, a run directory with checkpoints, logs, metrics and plots out.

The run directory is a small transactional store (``run_dir.py`` lists its files): process 0
holds its lock for the whole attempt (``run_lock.py``), writes every file atomically
(``atomic.py``), resumes from and evaluates the newest checkpoint (``checkpoints.py``), and a
Ctrl-C or SIGTERM saves a checkpoint and tells how to continue (``interrupt.py``).
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import lightning as L
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.callbacks import ModelCheckpoint, ProgressBar
from omegaconf import DictConfig
from torch import nn

from selfsup.allocator import reuse_freed_memory
from selfsup.config import to_dict
from selfsup.data import DataSplits
from selfsup.data.from_config import load_data
from selfsup.errors import SelfsupError
from selfsup.evaluate.final import evaluate_encoder as evaluate_frozen
from selfsup.evaluate.final import evaluation_stages
from selfsup.methods import SSLMethod, build_method
from selfsup.train.atomic import remove_temp_files
from selfsup.train.bookkeeping import Attempt, Bookkeeping
from selfsup.train.callbacks import KNNMonitor, OnlineLinearProbe, build_callback
from selfsup.train.checkpoint_io import RunCheckpointIO
from selfsup.train.checkpoints import (
    CHECKPOINTS,
    LAST,
    first_sentence,
    newest_checkpoint,
)
from selfsup.train.csv_log import METRICS_CSV, earlier_rows
from selfsup.train.datamodule import ImageDataModule, loader_position
from selfsup.train.interrupt import Interrupted, SignalGuard, StopOnSignal
from selfsup.train.loggers import (
    TENSORBOARD,
    build_loggers,
    external_loggers,
    log_final,
    require_loggers,
)
from selfsup.train.preflight import check_resume, resume_note
from selfsup.train.progress import StageProgress, epoch_progress
from selfsup.train.quiet import quiet_lightning, verbose
from selfsup.train.report import plot_training_curves
from selfsup.train.run_dir import Footprint, check_writable, resume_command
from selfsup.train.run_lock import RunLock

# Lightning's notes about a run directory selfsup manages itself: the folder is not empty on a
# resume, and a copied run's ModelCheckpoint state names the original folder (selfsup keeps
# no state there that matters: the newest file and `keep` are decided from the files)
for _note in (
    "Experiment logs directory .* exists and is not empty",
    "Checkpoint directory .* exists and is not empty",
    "The dirpath has changed from",
):
    warnings.filterwarnings("ignore", message=_note)


def last_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint with the run's newest state (see ``checkpoints.newest_checkpoint``)."""
    return newest_checkpoint(run_dir)


def evaluate_encoder(
    method: SSLMethod, data: DataSplits, config: DictConfig, untrained: nn.Module | None = None
) -> dict:
    """``selfsup.evaluate.final.evaluate_encoder`` with a progress display (a bar on a terminal,
    see ``selfsup.train.progress``) unless the run turns progress bars off."""
    shown = bool(config.trainer.get("enable_progress_bar", True))
    total = evaluation_stages(config, untrained is not None)
    with StageProgress("evaluating", total, enabled=shown) as progress:
        return evaluate_frozen(method, data, config, untrained, stage=progress.stage)


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
        resume: continue from the newest checkpoint in ``run_dir/checkpoints``.
        extra_callbacks: more Lightning callbacks (e.g. information tracking).

    Returns:
        The final metrics on process 0; ``None`` on other processes.

    Raises:
        SelfsupError: the directory is in use, unwritable or full; nothing to resume (or a
            run to overwrite); the checkpoint is unsafe, corrupt or does not fit the config.
        Interrupted: Ctrl-C / SIGTERM; ``.checkpoint`` is what was saved, ``.message`` says
            how to continue (process 0), ``.exit_code`` is 130 / 143.
    """
    run_dir = Path(run_dir)
    quiet_lightning()
    lead = _is_lead_process()
    lock = RunLock(run_dir, "train")
    with SignalGuard() as guard:
        try:
            # what can be refused without touching the directory is refused first (and a
            # config that fails to build leaves no empty run directory behind), except that a
            # process working in the directory is the news that matters most
            try:
                _checkpoint_to_resume(run_dir, resume, config)
            except SelfsupError:
                if lead:
                    lock.check_free()
                raise
            require_loggers(config.trainer.get("logger"))
            L.seed_everything(config.seed, workers=True, verbose=False)
            data = load_data(config)
            method = build_method(config, data)
            # the initial weights, for the final evaluation's baseline: seeded, so a resumed
            # run rebuilds the very same ones before its checkpoint is loaded
            untrained = copy.deepcopy(method.backbone) if lead else None
            # a start refused from here on takes back what it created (the lock, folders)
            footprint = Footprint(run_dir)
            with lock if lead else contextlib.nullcontext():
                try:
                    if lead:
                        footprint.snapshot()
                    args = (data, method, extra_callbacks, lock, guard, footprint, untrained)
                    return _train(config, run_dir, resume, *args)
                except BaseException:
                    footprint.undo()  # nothing once training has begun
                    raise
        except Interrupted as stop:
            stop.message = _interrupted_message(stop, run_dir) if lead else ""
            raise


def _train(
    config, run_dir, resume, data, method, extra_callbacks, lock, guard, footprint, untrained
) -> dict | None:
    # again, now that nobody else writes here
    ckpt, start = _checkpoint_to_resume(run_dir, resume, config)
    if lock.held:
        remove_temp_files(run_dir)
        remove_temp_files(run_dir / CHECKPOINTS)
        check_writable(run_dir, needed_bytes=2 * _checkpoint_bytes(method))
    note = resume_note(ckpt, config) if ckpt is not None and lock.held else None

    def begin() -> None:  # training has begun (a refusal prints its one line, nothing more)
        footprint.keep()
        if note:
            print(note, file=sys.stderr, flush=True)

    attempt = Attempt(run_dir, config, data.name, resume) if lock.held else None
    bookkeeping = Bookkeeping(attempt, on_start=begin)
    trainer = _trainer(config, run_dir, data, method, resume, guard, bookkeeping, extra_callbacks)
    if (trainer.global_rank == 0) != lock.held:
        raise SelfsupError(
            f"process rank {trainer.global_rank} disagrees with the launch environment about "
            f"which process leads; launch with torchrun, SLURM or Lightning's own launcher"
        )
    datamodule = ImageDataModule(
        data,
        config.data.batch_size,
        config.seed,
        config.data.num_workers,
        start=start,
    )
    streams = set((run_dir / TENSORBOARD).glob("events.out.tfevents.*"))
    try:
        # the allocator setting pays only where the step's activations are host memory (CPU
        # training); on an accelerator they are device memory (docs/benchmarks.md)
        on_cpu = isinstance(trainer.accelerator, CPUAccelerator)
        with reuse_freed_memory() if on_cpu else contextlib.nullcontext():
            trainer.fit(method, datamodule=datamodule, ckpt_path=ckpt)
    except (Interrupted, SelfsupError) as err:
        if bookkeeping.started and attempt:
            if isinstance(err, Interrupted):
                attempt.record(trainer, "interrupted", quiet=True)
            else:
                attempt.record(trainer, "failed", {"error": str(err)}, quiet=True)
            _plot_curves(run_dir, quiet=True)
        raise
    except Exception as err:
        if not bookkeeping.started and ckpt is not None:
            # the checkpoint and this config do not fit: leave the run as it was (Lightning
            # opened a TensorBoard stream while setting up)
            for stream in set((run_dir / TENSORBOARD).glob("events.out.tfevents.*")) - streams:
                stream.unlink(missing_ok=True)
            raise SelfsupError(
                f"--resume: {ckpt} does not fit this config ({first_sentence(err)}); resume with "
                f"the run's own config.yaml (no overrides that change the model or optimiser)"
            ) from None
        if bookkeeping.started and attempt:  # before it, the start is refused (undone)
            attempt.record(trainer, "failed", {"error": first_sentence(err)}, quiet=True)
            _plot_curves(run_dir, quiet=True)
        raise
    bookkeeping.write_config()  # a finished run resumed: fit had nothing to train
    if guard.pending:  # the stop came on the final step: all is saved, evaluation skipped
        if attempt:
            attempt.record(trainer, "interrupted")
            _plot_curves(run_dir, quiet=True)
        raise Interrupted(guard.pending, newest_checkpoint(run_dir))
    if attempt is None:
        return None
    attempt.stop_clock()
    method = method.to(trainer.strategy.root_device)
    try:
        metrics = _final_evaluation(method, data, config, untrained)
    except Interrupted as stop:
        attempt.record(trainer, "interrupted")
        _plot_curves(run_dir, quiet=True)
        raise Interrupted(stop.signum, newest_checkpoint(run_dir)) from None
    online = trainer.callback_metrics.get("val/online_probe_top1")
    if online is not None:
        metrics["online_probe_top1"] = float(online)
    metrics["evaluated_at_step"] = trainer.global_step
    record = attempt.record(trainer, "finished", metrics)
    log_final(trainer.loggers, metrics, trainer.global_step)
    _plot_curves(run_dir)
    return {k: v for k, v in record.items() if k != "eval"}


def _plot_curves(run_dir: Path, quiet: bool = False) -> None:
    """``training_curves.png`` from the CSV log; ``quiet``: on the way out of a stop or a
    failure, a plot that cannot be made must not hide why the run stopped."""
    try:
        plot_training_curves(run_dir / METRICS_CSV, run_dir / "training_curves.png")
    except Exception:
        if not quiet:
            raise


def _final_evaluation(
    method: SSLMethod, data: DataSplits, config: DictConfig, untrained: nn.Module | None
) -> dict:
    """``evaluate_encoder``'s metrics (with the untrained encoder's kNN as the baseline), or,
    for data without labels, a note that says why not."""
    if data.labelled:
        return evaluate_encoder(method, data, config, untrained)
    reason = f"{data.unlabelled_reason()}; kNN and probes need labelled train and test splits"
    print(f"note: evaluation skipped: {reason}", file=sys.stderr)
    return {"eval_skipped": reason}


def _checkpoint_to_resume(
    run_dir: Path, resume: bool, config: DictConfig
) -> tuple[Path | None, tuple[int, int] | None]:
    """The checkpoint to resume from, and the ``(epoch, batch)`` its next batch is."""
    if not resume:
        if any((run_dir / CHECKPOINTS).glob("*.ckpt")):
            raise SelfsupError(
                f"{run_dir} already holds a run; pass --resume to continue it or "
                f"choose another --run-dir"
            )
        return None, None
    # an unsafe or foreign file is refused here, before anything else happens (the CLI made
    # the same checks before importing Lightning; the files may have changed since)
    ckpt, state = check_resume(run_dir, config)
    return ckpt, loader_position(state)


def _trainer(config, run_dir, data, method, resume, guard, bookkeeping, extra) -> L.Trainer:
    callbacks: list[L.Callback] = [
        bookkeeping,
        *_checkpointing(config, run_dir),
        *(build_callback(name, to_dict(args) or {}) for name, args in config.callbacks.items()),
        *extra,
    ]
    every = config.eval.every_n_epochs
    if config.eval.online_probe and data.labelled:
        callbacks.append(OnlineLinearProbe(data.num_classes, method.backbone.out_dim))
    if config.eval.knn_monitor and data.labelled and every > 0:
        e = config.eval
        callbacks.append(KNNMonitor(data, every, e.knn_k, e.knn_temperature))
    if config.lens.every_n_epochs > 0:
        from selfsup.train.lens import Lens

        callbacks.append(Lens(**to_dict(config.lens)))
    # after the kNN monitor, whose value an epoch line shows
    knn_every = every if config.eval.knn_monitor and data.labelled else 0
    progress = epoch_progress(bool(config.trainer.get("enable_progress_bar", True)), knn_every)
    callbacks.extend(progress)
    # last, so that every other callback has finished the step it saves (the online probe
    # has taken its own step on the batch); Lightning runs ModelCheckpoint after it anyway
    callbacks.append(StopOnSignal(guard, run_dir / CHECKPOINTS / LAST))
    trainer_args = {
        "check_val_every_n_epoch": max(1, every),
        "log_every_n_steps": 10,
        "enable_model_summary": verbose(),  # its FLOPs column reads 0 for our modules
        **to_dict(config.trainer),
        # a bar on a terminal, else plain epoch lines (selfsup.train.progress)
        "enable_progress_bar": any(isinstance(c, ProgressBar) for c in progress),
    }
    # the CSV log of a resumed run continues the earlier attempts' rows
    earlier = earlier_rows(run_dir) if resume and _is_lead_process() else []
    loggers = build_loggers(trainer_args.pop("logger", None), run_dir, earlier)
    if not (config.eval.online_probe and data.labelled and every > 0):
        trainer_args.setdefault("limit_val_batches", 0)
    plugins = trainer_args.pop("plugins", None) or []
    plugins = plugins if isinstance(plugins, list) else [plugins]
    trainer = L.Trainer(
        default_root_dir=run_dir,
        logger=loggers,
        callbacks=callbacks,
        plugins=[RunCheckpointIO(config.checkpoint.keep), *plugins],
        use_distributed_sampler=False,  # ImageDataModule shards batches itself
        **trainer_args,
    )
    for logger in external_loggers(trainer.loggers):
        logger.log_hyperparams(to_dict(config))
    return trainer


def _checkpointing(config: DictConfig, run_dir: Path) -> list[L.Callback]:
    c = config.checkpoint
    # no version counter: a resumed (or copied) run replaces last.ckpt instead of writing
    # last-v1.ckpt beside it; RunCheckpointIO keeps the `keep` newest epoch files
    common = dict(dirpath=run_dir / CHECKPOINTS, save_last=True, enable_version_counter=False)
    callbacks: list[L.Callback] = [
        ModelCheckpoint(
            filename="epoch={epoch:03d}",
            auto_insert_metric_name=False,
            every_n_epochs=c.every_n_epochs,
            save_top_k=0 if c.keep == 0 else -1,
            **common,
        )
    ]
    if c.every_n_minutes > 0:
        # a crash mid-epoch loses at most this much work; only last.ckpt is rewritten
        callbacks.append(
            ModelCheckpoint(
                save_top_k=0,
                save_on_train_epoch_end=False,
                train_time_interval=timedelta(minutes=c.every_n_minutes),
                **common,
            )
        )
    return callbacks


def _checkpoint_bytes(method: SSLMethod) -> int:
    # weights + buffers, and up to two optimiser moments per weight (Adam), plus some slack
    weights = sum(p.numel() * p.element_size() for p in method.parameters())
    buffers = sum(b.numel() * b.element_size() for b in method.buffers())
    return 3 * weights + buffers + 2**20


def _is_lead_process() -> bool:
    """Whether this process is rank 0 of its job, from the launchers' environment variables
    (before the Trainer exists; ``_train`` checks that the Trainer agrees)."""
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "NODE_RANK", "GROUP_RANK"):
        if int(os.environ.get(name, "0") or 0) != 0:
            return False
    return True


def _interrupted_message(stop: Interrupted, run_dir: Path) -> str:
    how = "Ctrl-C" if stop.signum == signal.SIGINT else str(stop)
    if stop.checkpoint is not None:
        return f"{how}: newest state in {stop.checkpoint}; continue with: {resume_command(run_dir)}"
    if any((run_dir / CHECKPOINTS).glob("*.ckpt")):
        return f"{how}: stopped without saving; continue with: {resume_command(run_dir)}"
    return f"{how}: stopped before the first checkpoint; nothing to resume, start the run again"
