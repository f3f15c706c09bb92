"""Experiment configuration: typed sections, strict keys, YAML files and dotted overrides.

A config file only names what differs from the defaults below. Unknown keys are errors (with
the valid ones listed), never silently ignored. ``params`` sections are free-form and checked
against the constructor they are passed to; ``trainer`` is passed to ``lightning.Trainer``
and checked against its signature.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

from selfsup.errors import SelfsupError


@dataclass
class DataConfig:
    name: str = "digits"
    root: str | None = None  # None: $SELFSUP_DATA or ./data
    download: bool = False
    batch_size: int = 256  # per process
    num_workers: int = 0
    views: str = "digits"  # augmentation preset, see selfsup.data.views.PRESETS
    n_views: int = 2
    train_subset: int = 0  # train on a fixed random subset of this many images (0: all)
    test_subset: int = 0  # evaluate on a fixed random subset of the test split (0: all)
    params: dict[str, Any] = field(default_factory=dict)  # extra dataset-loader arguments
    path: str | None = None  # data.name=tensors: the training .npz / .pt file
    test_path: str | None = None  # data.name=tensors: the evaluation file (optional)


@dataclass
class NetConfig:
    name: str = "mlp"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class MethodConfig:
    name: str = "vicreg"
    params: dict[str, Any] = field(default_factory=dict)  # loss / method arguments
    projector: list[int] = field(default_factory=lambda: [1024, 1024, 1024])


@dataclass
class OptimConfig:
    name: str = "adamw"  # sgd | adam | adamw | lars
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    warmup_epochs: float = 1.0
    schedule: str = "cosine"  # cosine | constant
    min_lr_ratio: float = 0.0
    scale_lr_with_batch: bool = False  # lr * global_batch / 256, as in the VICReg paper


@dataclass
class EvalConfig:
    knn_k: int = 20
    knn_temperature: float = 0.07
    linear_probe: bool = True
    linear_weight_decay: float = 1e-4
    mlp_probe: bool = False
    online_probe: bool = True
    every_n_epochs: int = 1  # online probe + kNN monitor on the test split (0: never)
    knn_monitor: bool = True  # kNN top-1 on the test split at each of those epochs


@dataclass
class CheckpointConfig:
    every_n_epochs: int = 1
    keep: int = -1  # how many epoch checkpoints to keep (newest first); -1 keeps all
    every_n_minutes: float = 0.0  # also save last.ckpt this often within an epoch (0: off)


@dataclass
class LensConfig:
    """The theory lens during training (selfsup.train.lens.Lens); off while every_n_epochs=0."""

    every_n_epochs: int = 0  # measure before training and after every K-th epoch
    n_samples: int = 512  # probe images from the test split
    lidar_samples: int = 64  # images for LiDAR (0: no LiDAR)
    lidar_views: int = 8  # views per LiDAR image


@dataclass
class Config:
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    backbone: NetConfig = field(default_factory=NetConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    callbacks: dict[str, Any] = field(default_factory=dict)  # name -> arguments, see train.py
    lens: LensConfig = field(default_factory=LensConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 10})


def packaged_config(name: str) -> Path | None:
    """Path of a config shipped with the package (``quickstart`` -> ``configs/quickstart.yaml``)."""
    candidate = resources.files("selfsup") / "configs" / f"{Path(name).stem}.yaml"
    return Path(str(candidate)) if candidate.is_file() else None


def _friendly(err: OmegaConfBaseException, where: str) -> SelfsupError:
    key = getattr(err, "full_key", None) or getattr(err, "key", "?")
    if isinstance(err, ConfigKeyError):
        parent = ".".join(str(key).split(".")[:-1])
        section = OmegaConf.select(OmegaConf.structured(Config), parent) if parent else None
        valid = (
            list(section.keys())
            if isinstance(section, DictConfig)
            else list(OmegaConf.structured(Config).keys())
        )
        return SelfsupError(
            f"unknown config key '{key}' in {where}; valid keys here: {', '.join(valid)}"
        )
    return SelfsupError(f"bad config value for '{key}' in {where}: {err.msg.splitlines()[0]}")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple = ()) -> DictConfig:
    """Defaults, then the YAML file (a path, or the name of a packaged config), then overrides.

    Args:
        path: YAML file; ``None`` means the packaged ``quickstart`` config.
        overrides: ``["optim.lr=0.01", "trainer.max_epochs=4"]``.

    Raises:
        SelfsupError: missing file, unknown key, or a value of the wrong type.
    """
    config = OmegaConf.structured(Config)
    if path is None:
        path = packaged_config("quickstart")
    file = Path(path)
    if not file.is_file():
        shipped = packaged_config(str(path)) if not file.suffix or not file.parent.name else None
        if shipped is None:
            raise SelfsupError(
                f"config file '{path}' not found; pass a YAML path or one of the "
                f"shipped configs: {', '.join(shipped_configs())}"
            )
        file = shipped
    try:
        loaded = OmegaConf.load(file)
    except Exception as err:  # YAML syntax errors come in several types
        raise SelfsupError(f"could not parse config '{file}': {err}") from None
    try:
        config = OmegaConf.merge(config, loaded)
    except OmegaConfBaseException as err:
        raise _friendly(err, str(file)) from None
    for item in overrides:
        if "=" not in item:
            raise SelfsupError(f"override '{item}' must look like key.sub=value")
    try:
        config = OmegaConf.merge(config, OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as err:
        raise _friendly(err, "the command-line overrides") from None
    check_trainer_keys(config.trainer)
    return config


def shipped_configs() -> list[str]:
    folder = resources.files("selfsup") / "configs"
    return sorted(Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".yaml"))


def check_trainer_keys(trainer: DictConfig | dict) -> None:
    from lightning import Trainer

    accepted = set(inspect.signature(Trainer.__init__).parameters) - {"self"}
    managed = {"callbacks", "default_root_dir", "enable_checkpointing"}
    for key in trainer:
        if key == "logger":  # a name (or list of names) selfsup turns into Lightning loggers
            logger_names(trainer[key])
            continue
        if key in managed:
            raise SelfsupError(f"trainer.{key} is set by selfsup itself; remove it from the config")
        if key not in accepted:
            raise SelfsupError(
                f"unknown config key 'trainer.{key}': not an argument of lightning.Trainer"
            )


#: what ``trainer.logger`` may name (Lightning's loggers); the run's metrics.csv is always kept
LOGGERS = ("csv", "tensorboard", "wandb", "mlflow")


def logger_names(value: Any) -> list[str]:
    """``trainer.logger`` as a list of names: ``"tensorboard"``, ``[tensorboard, wandb]``,
    ``None`` (csv only)."""
    if value is None or value is False:  # Lightning's "no logger": the run's CSV log stays
        return []
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, Sequence) or isinstance(names, bytes):
        names = [names]
    names = list(names)
    bad = [n for n in names if n not in LOGGERS]
    if bad:
        raise SelfsupError(
            f"trainer.logger: unknown logger {bad[0] if bad else value!r}; valid: "
            f"{', '.join(LOGGERS)} (or a list of them, e.g. [tensorboard,wandb])"
        )
    return names


def to_dict(config: DictConfig) -> dict:
    return OmegaConf.to_container(config, resolve=True)  # type: ignore[return-value]


def save_config(config: DictConfig, path: Path) -> None:
    path.write_text(OmegaConf.to_yaml(config))
