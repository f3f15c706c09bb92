"""``trainer.logger``: which experiment trackers a run logs to, through Lightning's loggers.

The run's own ``metrics.csv`` (``csv_log.RunCSVLogger``) is always written: the training
curves, resume and ``metrics.json`` read it. ``trainer.logger`` adds TensorBoard
(``<run>/tensorboard/``), Weights & Biases or MLflow. Everything a run logs goes to each of
them: the loss terms per step and per epoch, the online probe, the kNN monitor, and the final
evaluation (``final/<metric>_top1``). The trackers are optional packages; a missing one is a
one-line error with its install command before anything is trained.

Where the trackers write: W&B follows its own environment (``WANDB_MODE=offline`` keeps it
local, in ``<run>/wandb``; ``WANDB_PROJECT``, default ``selfsup``); MLflow writes to
``$MLFLOW_TRACKING_URI`` if set, else ``<run>/mlruns`` (experiment
``$MLFLOW_EXPERIMENT_NAME``, default ``selfsup``). A resumed run continues the same W&B run.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path

from lightning.pytorch.loggers import Logger

from selfsup.config_schema import logger_names
from selfsup.errors import SelfsupError
from selfsup.train.csv_log import RunCSVLogger

TENSORBOARD = "tensorboard"
#: logger name -> (the package it needs, the pip extra that installs it)
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}


def require(name: str) -> None:
    """A one-line error with the install command when logger ``name``'s package is missing."""
    package = PACKAGES.get(name)
    if package and importlib.util.find_spec(package) is None:
        raise SelfsupError(
            f"trainer.logger={name} needs the '{package}' package: pip install "
            f"'selfsup[{name}]' (or pip install {package}), or choose another logger"
        )


def require_loggers(value) -> None:
    """:func:`require` for each tracker ``trainer.logger`` (``value``) names, before a run
    touches its directory."""
    for name in dict.fromkeys(logger_names(value)):
        require(name)


def _run_id(run_dir: Path) -> str:
    # stable for one run directory, so that a resume continues the same W&B run
    digest = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:8]
    return re.sub(r"[^A-Za-z0-9_-]", "-", run_dir.name)[:48] + "-" + digest


def _external(name: str, run_dir: Path) -> Logger:
    if name == TENSORBOARD:
        from lightning.pytorch.loggers import TensorBoardLogger

        return TensorBoardLogger(run_dir, name=TENSORBOARD, version="", default_hp_metric=False)
    if name == "wandb":
        from lightning.pytorch.loggers import WandbLogger

        return WandbLogger(
            name=run_dir.name,
            save_dir=str(run_dir),
            id=_run_id(run_dir),
            project=os.environ.get("WANDB_PROJECT", "selfsup"),
            resume="allow",
        )
    from lightning.pytorch.loggers import MLFlowLogger

    uri = os.environ.get("MLFLOW_TRACKING_URI") or (run_dir / "mlruns").resolve().as_uri()
    return MLFlowLogger(
        experiment_name=os.environ.get("MLFLOW_EXPERIMENT_NAME", "selfsup"),
        run_name=run_dir.name,
        tracking_uri=uri,
    )


def build_loggers(value, run_dir: Path, earlier: list[dict]) -> list[Logger]:
    """The run's CSV logger, then one logger per name in ``trainer.logger`` (``value``).

    Raises:
        SelfsupError: an unknown name, or a tracker whose package is not installed.
    """
    names = [n for n in dict.fromkeys(logger_names(value)) if n != "csv"]
    require_loggers(names)
    return [RunCSVLogger(run_dir, earlier), *(_external(n, Path(run_dir)) for n in names)]


def external_loggers(loggers: list[Logger]) -> list[Logger]:
    """The trackers beside the run's own CSV log."""
    return [lg for lg in loggers if not isinstance(lg, RunCSVLogger)]


def log_final(loggers: list[Logger], metrics: dict, step: int) -> None:
    """The final evaluation (``final/<name>``) to every tracker, which is then closed again
    (Lightning closed them at the end of ``fit``); ``metrics.json`` holds it for the CSV side."""
    numbers = {f"final/{k}": float(v) for k, v in metrics.items() if k.endswith("_top1")}
    for logger in external_loggers(loggers):
        logger.log_metrics(numbers, step=step)
        logger.save()
        logger.finalize("success")
