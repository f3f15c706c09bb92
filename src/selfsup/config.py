"""Experiment configuration: typed sections, strict keys, YAML files and dotted overrides.

A config file only names what differs from the defaults below. Unknown keys are errors (with
the valid ones listed), never silently ignored; every value is checked against its rule (type,
range, choices: ``setting(...)`` below, see ``selfsup.config_schema``) before anything heavy is
imported. ``params`` sections are free-form and checked against the constructor they are
passed to; ``trainer`` is passed to ``lightning.Trainer`` (its keys and their rules are in
``selfsup.config_schema``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from selfsup.config_schema import ConfigError, fresh_section, swapped_sections, validate
from selfsup.errors import SelfsupError, closest
from selfsup.rules import setting


@dataclass
class DataConfig:
    name: str = setting("digits", registry="dataset")  # @register_dataset names
    root: str | None = setting(None, kind=str, optional=True)  # None: $SELFSUP_DATA or ./data
    download: bool = setting(False)
    batch_size: int = setting(256, low=1)  # per process: DDP on N devices trains on N x this
    num_workers: int = setting(0, low=0)
    views: str = setting("digits", registry="views")  # register_views names
    n_views: int = setting(2, low=1)
    train_subset: int = setting(0, low=0)  # train on a fixed random subset this big (0: all)
    test_subset: int = setting(0, low=0)  # evaluate on a fixed random test subset (0: all)
    params: dict[str, Any] = field(default_factory=dict)  # extra dataset-loader arguments
    # your own data (data.name=folder: a folder of images; tensors: an .npz / .pt file) and
    # its optional evaluation folder / file; data.root is where named datasets live
    path: str | None = setting(None, kind=str, optional=True)
    test_path: str | None = setting(None, kind=str, optional=True)


#: the datasets read from the user's own files (``data.path``), and what the path names
FILE_DATASETS = {"folder": "DIR", "image_folder": "DIR", "tensors": "FILE"}


def check_data_files(data: Any) -> None:
    """The cross-key rule of the data section: ``data.path`` is given exactly for the datasets
    read from the user's files (:data:`FILE_DATASETS`); ``data.test_path`` only with it.

    Raises:
        ConfigError: one line saying what to pass (or remove).
    """
    name, path = data.get("name"), data.get("path")
    if name not in FILE_DATASETS:
        for key in ("path", "test_path"):
            if data.get(key):
                raise ConfigError(
                    f"data.{key} is for your own files (data.name=folder or tensors), not "
                    f"'{name}'; remove it, or set data.name",
                    f"data.{key}",
                )
        return
    if path:
        return
    what = "the folder of your images" if FILE_DATASETS[name] == "DIR" else "an .npz / .pt file"
    if data.get("root") and FILE_DATASETS[name] == "DIR":
        raise ConfigError(
            f"data.name={name} reads data.path=DIR, {what}; data.root is where named "
            f"datasets live: pass data.path={data.get('root')} instead",
            "data.root",
        )
    raise ConfigError(
        f"data.name={name} needs data.path={FILE_DATASETS[name]}, {what}", "data.path"
    )


def upgrade_data_section(data: Any) -> None:
    """A run stored before image folders were read from ``data.path`` (they were read from
    ``data.root`` then): its folder moved to ``data.path``, in place, so old runs still load."""
    if FILE_DATASETS.get(data.get("name")) == "DIR" and not data.get("path") and data.get("root"):
        data.path, data.root = data.root, None


@dataclass
class NetConfig:
    name: str = setting("mlp", registry="backbone")
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class MethodConfig:
    name: str = setting("vicreg", registry="method")
    params: dict[str, Any] = field(default_factory=dict)  # loss / method arguments
    projector: list[int] = field(default_factory=lambda: [1024, 1024, 1024])


@dataclass
class OptimConfig:
    name: str = setting("adamw", choices=("sgd", "adam", "adamw", "lars"))
    lr: float = setting(1e-3, above=0)
    weight_decay: float = setting(1e-4, low=0)
    momentum: float = setting(0.9, low=0, high=1)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = setting(1e-8, above=0)
    warmup_epochs: float = setting(1.0, low=0)
    schedule: str = setting("cosine", choices=("cosine", "constant"))
    min_lr_ratio: float = setting(0.0, low=0, high=1)
    scale_lr_with_batch: bool = setting(False)  # lr * global_batch / 256, as in the VICReg paper


@dataclass
class EvalConfig:
    knn_k: int = setting(20, low=1)
    knn_temperature: float = setting(0.07, above=0)
    linear_probe: bool = setting(True)
    linear_weight_decay: float = setting(1e-4, low=0)
    mlp_probe: bool = setting(False)
    online_probe: bool = setting(True)
    every_n_epochs: int = setting(1, low=0)  # online probe + kNN monitor on the test (0: never)
    knn_monitor: bool = setting(True)  # kNN top-1 on the test split at each of those epochs


@dataclass
class CheckpointConfig:
    every_n_epochs: int = setting(1, low=1)
    keep: int = setting(-1, low=0, special=(-1,))  # newest epoch files kept; -1 keeps all
    every_n_minutes: float = setting(0.0, low=0)  # also save last.ckpt this often (0: off)


@dataclass
class LensConfig:
    """The theory lens during training (selfsup.train.lens.Lens); off while every_n_epochs=0."""

    every_n_epochs: int = setting(0, low=0)  # measure before training and every K-th epoch
    n_samples: int = setting(512, low=4)  # probe images from the test split
    lidar_samples: int = setting(64, low=2, special=(0,), note="no LiDAR")  # LiDAR images
    lidar_views: int = setting(8, low=2)  # views per LiDAR image


@dataclass
class Config:
    seed: int = setting(0, low=0)
    # modules imported before the config is checked, whose @register_* add methods, datasets,
    # backbones and view presets (selfsup.registry.load_plugins)
    plugins: list[str] = field(default_factory=list)
    data: DataConfig = field(default_factory=DataConfig)
    backbone: NetConfig = field(default_factory=NetConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    # name -> arguments; the names are selfsup.train.callbacks.CALLBACKS
    callbacks: dict[str, Any] = field(default_factory=dict)
    lens: LensConfig = field(default_factory=LensConfig)
    trainer: dict[str, Any] = field(default_factory=lambda: {"max_epochs": 10})


def packaged_config(name: str) -> Path | None:
    """Path of a config shipped with the package (``quickstart`` -> ``configs/quickstart.yaml``)."""
    candidate = resources.files("selfsup") / "configs" / f"{Path(name).stem}.yaml"
    return Path(str(candidate)) if candidate.is_file() else None


def _rule_of(key: str):
    """The schema rule of a dotted key of :class:`Config` (``None`` if it has none)."""
    schema: Any = Config
    for part in key.split("."):
        found = {f.name: f for f in dataclasses.fields(schema)}.get(part)
        if found is None:
            return None
        if isinstance(found.default_factory, type) and dataclasses.is_dataclass(
            found.default_factory
        ):
            schema = found.default_factory
            continue
        return found.metadata.get("rule")
    return None


def _friendly(err: OmegaConfBaseException, where: str, value: Any = None) -> SelfsupError:
    key = str(getattr(err, "full_key", None) or getattr(err, "key", "?"))
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)):
        parent = ".".join(key.split(".")[:-1])
        section = OmegaConf.select(OmegaConf.structured(Config), parent) if parent else None
        valid = (
            list(section.keys())
            if isinstance(section, DictConfig)
            else list(OmegaConf.structured(Config).keys())
        )
        close = closest(key.split(".")[-1], valid)
        hint = f"did you mean {'.'.join([parent, close]).lstrip('.')}? " if close else ""
        return ConfigError(
            f"unknown config key '{key}' in {where}; {hint}valid keys here: {', '.join(valid)}"
        )
    rule = _rule_of(key)
    if rule is not None:
        shown = f"{value!r}" if value is not None else "a value of another type"
        return ConfigError(f"{key} must be {rule.allowed()}, got {shown} (in {where})")
    return ConfigError(f"bad config value for '{key}' in {where}: {err.msg.splitlines()[0]}")


def parse_override(item: str) -> tuple[str, Any]:
    """``"optim.lr=0.01"`` -> ``("optim.lr", 0.01)``; values are YAML-like (``[1, 2]``,
    ``{}``, ``null``, ``true``), as in OmegaConf's dotlist."""
    key, sep, _ = item.partition("=")
    if not sep or not key or key.startswith("-") or " " in key:
        raise ConfigError(
            f"'{item}' is neither an option nor an override; overrides look like "
            f"key.sub=value, e.g. trainer.max_epochs=4"
        )
    try:
        value = OmegaConf.select(OmegaConf.from_dotlist([item]), key)
    except OmegaConfBaseException as err:
        raise ConfigError(f"cannot parse override '{item}': {err.msg.splitlines()[0]}") from None
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value)
    return key, value


def _config_file(path: str | Path | None) -> Path:
    if path is None:
        path = packaged_config("quickstart")
    file = Path(path)
    if file.is_file():
        return file
    shipped = packaged_config(str(path)) if not file.suffix or not file.parent.name else None
    if shipped is None:
        raise ConfigError(
            f"config file '{path}' not found; pass a YAML path or one of the "
            f"shipped configs: {', '.join(shipped_configs())}"
        )
    return shipped


def load_config(path: str | Path | None = None, overrides: list[str] | tuple = ()) -> DictConfig:
    """Defaults, then the YAML file (a path, or the name of a packaged config), then overrides;
    every value checked against the schema (``selfsup.config_schema``).

    An override that changes ``backbone.name``, ``method.name`` or ``data.name`` starts that
    section's name-specific keys (``params``; for data also ``views``) from the chosen thing's
    own defaults instead of the file's; later overrides of them apply as usual.

    Args:
        path: YAML file; ``None`` means the packaged ``quickstart`` config.
        overrides: ``["optim.lr=0.01", "trainer.max_epochs=4"]``; a dict or list value
            replaces the former one (``backbone.params={}`` clears it).

    Raises:
        ConfigError: missing file, unknown key, or a value its rule does not allow.
    """
    config = OmegaConf.structured(Config)
    file = _config_file(path)
    try:
        loaded = OmegaConf.load(file)
    except Exception as err:  # YAML syntax errors come in several types
        first = " ".join(str(err).split())[:200]
        raise ConfigError(f"could not parse config '{file}': {first}") from None
    if not isinstance(loaded, DictConfig):
        raise ConfigError(f"config '{file}' must be a mapping of sections, not a list")
    try:
        config = OmegaConf.merge(config, loaded)
    except OmegaConfBaseException as err:
        key = str(getattr(err, "full_key", "") or "")
        raise _friendly(err, str(file), OmegaConf.select(loaded, key) if key else None) from None
    parsed = [parse_override(item) for item in overrides]
    parsed = [(k, [v] if k == "plugins" and isinstance(v, str) else v) for k, v in parsed]
    named = [value for key, value in parsed if key == "plugins"]
    load_plugins_of(
        named[-1] if named else config.plugins, "the command line" if named else file.name
    )
    chosen = {k.split(".")[0]: v for k, v in parsed if k.count(".") == 1 and k.endswith(".name")}
    for section in swapped_sections(config, chosen):
        fresh = fresh_section(section, chosen[section], OmegaConf.structured(Config)[section])
        for key, value in fresh.items():
            config[section][key] = value
    for key, value in parsed:
        try:
            OmegaConf.update(config, key, value, merge=False)
        except OmegaConfBaseException as err:
            raise _friendly(err, "the command-line overrides", value) from None
    try:
        checked = validate(to_dict(config), Config)
    except ConfigError as err:
        given = {key for key, _ in parsed}
        where = "the command line" if err.key.split("[")[0] in given else file.name
        raise ConfigError(f"{err} (in {where})", err.key) from None
    config.trainer = checked["trainer"]
    check_data_files(config.data)
    for key in ("path", "test_path"):  # recorded absolute: eval and analyze run from anywhere
        if config.data.get(key):
            config.data[key] = os.path.abspath(os.path.expanduser(config.data[key]))
    return config


def load_plugins_of(modules: Any, where: str) -> None:
    """Import a config's ``plugins`` (and the installed ones) before its names are checked."""
    from selfsup.registry import load_plugins

    if isinstance(modules, str):  # plugins=myplug
        modules = [modules]
    if modules is not None and not isinstance(modules, (list, tuple, ListConfig)):
        raise ConfigError(f"plugins must be a list of module names, got {modules!r} (in {where})")
    load_plugins(list(modules or ()), where)


def shipped_configs() -> list[str]:
    folder = resources.files("selfsup") / "configs"
    return sorted(Path(str(p)).stem for p in folder.iterdir() if str(p).endswith(".yaml"))


def to_dict(config: DictConfig) -> dict:
    return OmegaConf.to_container(config, resolve=True)  # type: ignore[return-value]


def save_config(config: DictConfig, path: Path) -> None:
    path.write_text(OmegaConf.to_yaml(config))
