"""The config's typed schema: what each key may hold, checked before torch is imported.

Every key of :class:`selfsup.config.Config` carries its rule in its dataclass field
(``batch_size: int = setting(256, low=1)``); ``trainer`` is a free section passed to
``lightning.Trainer``, so its keys are listed here (:data:`TRAINER_KEYS`, with rules for the
ones users set). :func:`validate` walks a merged config (plain dicts) and raises a
:class:`ConfigError` naming the first key that breaks its rule and what is allowed::

    data.batch_size must be an integer >= 1, got 0

This module imports nothing heavy (no torch, no Lightning), so ``selfsup train`` refuses a
bad config in a fraction of a second. The names users may choose (methods, backbones,
datasets, view presets) and the ``params`` each takes come from :mod:`selfsup.registry`: a
parameter's type hint in its constructor is its rule (``cov_coeff: float = 1.0`` takes a
number; ``Literal["kl", "w1"]``, ``int | None``, ``list[int]``, ``tuple[float, float]`` what
they say). Adding a key is one edit: a field with a ``setting(...)`` default in
``selfsup/config.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from selfsup.errors import closest
from selfsup.param_rules import check_params
from selfsup.rules import ConfigError, Rule

#: per section chosen by name: the keys that describe the chosen thing, which start from its
#: own defaults when the name is changed on the command line
SWAPPABLE = {"backbone": ("params",), "method": ("params",), "data": ("params", "views")}


#: every argument of ``lightning.Trainer`` (Lightning 2.x), which a config's ``trainer`` section
#: may set (tests/config/test_config_schema.py checks the list against the installed Lightning)
TRAINER_KEYS = frozenset(
    """accelerator accumulate_grad_batches barebones benchmark callbacks check_val_every_n_epoch
    default_root_dir detect_anomaly deterministic devices enable_autolog_hparams
    enable_checkpointing enable_model_summary enable_progress_bar fast_dev_run
    gradient_clip_algorithm gradient_clip_val inference_mode limit_predict_batches
    limit_test_batches limit_train_batches limit_val_batches log_every_n_steps logger max_epochs
    max_steps max_time min_epochs min_steps model_registry num_nodes num_sanity_val_steps
    overfit_batches plugins precision profiler reload_dataloaders_every_n_epochs strategy
    sync_batchnorm use_distributed_sampler val_check_interval""".split()
)
#: the Lightning version TRAINER_KEYS was checked against (another version is asked directly)
TRAINER_KEYS_LIGHTNING = "2.6.6"
#: Trainer arguments selfsup sets itself (a config that sets them is refused)
TRAINER_MANAGED = frozenset(
    {"callbacks", "default_root_dir", "enable_checkpointing", "use_distributed_sampler"}
)
_BATCHES = Rule((int, float), low=0, note="an integer counts batches, a float <= 1.0 is a share")
TRAINER_RULES: dict[str, Rule] = {
    "max_epochs": Rule(
        int,
        low=0,
        special=(-1,),
        note="no limit, with trainer.max_steps; 0 evaluates the untrained encoder",
    ),
    "min_epochs": Rule(int, low=0, optional=True),
    "max_steps": Rule(int, low=1, special=(-1,), note="no limit"),
    "min_steps": Rule(int, low=0, optional=True),
    "num_nodes": Rule(int, low=1),
    "accumulate_grad_batches": Rule(int, low=1),
    "log_every_n_steps": Rule(int, low=1),
    "check_val_every_n_epoch": Rule(int, low=1, optional=True),
    "num_sanity_val_steps": Rule(int, low=-1),
    "gradient_clip_val": Rule((int, float), low=0, optional=True),
    "gradient_clip_algorithm": Rule(choices=("norm", "value", None)),
    "limit_train_batches": _BATCHES,
    "limit_val_batches": _BATCHES,
    "limit_test_batches": _BATCHES,
    "limit_predict_batches": _BATCHES,
    "overfit_batches": _BATCHES,
    "enable_progress_bar": Rule(bool),
    "enable_model_summary": Rule(bool),
    "deterministic": Rule((bool, str)),
    "benchmark": Rule(bool, optional=True),
    "detect_anomaly": Rule(bool),
    "inference_mode": Rule(bool),
    "sync_batchnorm": Rule(bool),
    "barebones": Rule(bool),
    "fast_dev_run": Rule((bool, int)),
    "accelerator": Rule(str),
    "strategy": Rule(str),
    "precision": Rule(
        choices=(
            "64",
            "32",
            "16",
            "bf16",
            "transformer-engine",
            "transformer-engine-float16",
            "16-true",
            "16-mixed",
            "bf16-true",
            "bf16-mixed",
            "32-true",
            "64-true",
            64,
            32,
            16,
            None,
        )  # fmt: skip
    ),
}


#: what ``trainer.logger`` may name (Lightning's loggers); the run's metrics.csv is always kept
LOGGERS = ("csv", "tensorboard", "wandb", "mlflow")


def logger_names(value: Any) -> list[str]:
    """``trainer.logger`` as a list of names: ``"tensorboard"``, ``[tensorboard, wandb]``,
    ``None`` (csv only)."""
    if value is None or value is False:  # Lightning's "no logger": the run's CSV log stays
        return []
    names = list(value) if isinstance(value, (list, tuple)) else [value]
    bad = [n for n in names if n not in LOGGERS]
    if bad:
        raise ConfigError(
            f"trainer.logger: unknown logger {bad[0]!r}; valid: {', '.join(LOGGERS)} "
            "(or a list of them, e.g. [tensorboard,wandb])",
            "trainer.logger",
        )
    return names


def trainer_rule(key: str) -> Rule | None:
    """The rule of ``trainer.<key>``; ``None`` for a Trainer argument without one."""
    if key in TRAINER_MANAGED:
        raise ConfigError(
            f"trainer.{key} is set by selfsup itself; remove it from the config", f"trainer.{key}"
        )
    if key not in TRAINER_KEYS:
        close = closest(key, sorted(TRAINER_KEYS - TRAINER_MANAGED))
        if not close and _lightning_differs() and key in _installed_trainer_keys():
            return None  # an argument of a Lightning other than the one the list was made for
        hint = f"; did you mean trainer.{close}?" if close else ""
        raise ConfigError(
            f"unknown config key 'trainer.{key}': not an argument of lightning.Trainer{hint}",
            f"trainer.{key}",
        )
    return TRAINER_RULES.get(key)


def _lightning_differs() -> bool:
    """Whether the installed Lightning is not the one :data:`TRAINER_KEYS` was made for (read
    from its metadata, without importing it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("lightning") != TRAINER_KEYS_LIGHTNING
    except PackageNotFoundError:
        return True


def _installed_trainer_keys() -> set[str]:
    """The installed Lightning's Trainer arguments (imports Lightning: only for a key that is
    neither in :data:`TRAINER_KEYS` nor close to one of them)."""
    import inspect

    from lightning import Trainer

    return set(inspect.signature(Trainer.__init__).parameters) - {"self"}


def validate(config: Mapping, schema: type) -> dict:
    """Check a merged config (a plain nested dict) against ``schema`` (the ``Config``
    dataclass) and the trainer rules; the config with numbers given as text converted.

    Raises:
        ConfigError: the first key that breaks its rule, what is allowed and what was given.
    """
    checked = _walk(dict(config), schema, "")
    for section, kind in (("method", "method"), ("backbone", "backbone"), ("data", "dataset")):
        if isinstance(checked.get(section), Mapping) and "name" in checked[section]:
            checked[section] = dict(checked[section])
            checked[section]["params"] = check_params(kind, section, checked[section])
    trainer = dict(checked.get("trainer") or {})
    for key, value in trainer.items():
        if key == "logger":
            logger_names(value)
            continue
        rule = trainer_rule(str(key))
        if rule is not None:
            trainer[key] = rule.check(f"trainer.{key}", value)
    if trainer.get("max_epochs") == -1 and trainer.get("max_steps", -1) == -1:
        raise ConfigError(
            "trainer.max_epochs=-1 (no limit) needs trainer.max_steps >= 1", "trainer.max_epochs"
        )
    checked["trainer"] = trainer
    return checked


def _walk(section: dict, schema: type, prefix: str) -> dict:
    out = dict(section)
    for f in dataclasses.fields(schema):
        if f.name not in section:
            continue
        key, value = f"{prefix}{f.name}", section[f.name]
        sub = f.default_factory
        if isinstance(sub, type) and dataclasses.is_dataclass(sub):  # a section
            out[f.name] = _walk(dict(value or {}), sub, f"{key}.")
            continue
        rule = f.metadata.get("rule")
        if rule is not None:
            out[f.name] = rule.check(key, value)
    return out


def swapped_sections(current: Mapping, chosen: Mapping[str, Any]) -> list[str]:
    """The sections whose ``name`` the command line changes (``chosen``: ``{"backbone":
    "convnet"}``), which start from the chosen thing's own defaults."""
    return [s for s, name in chosen.items() if s in SWAPPABLE and current[s]["name"] != name]


def fresh_section(section: str, name: str, defaults: Mapping) -> dict:
    """The values of ``section``'s name-specific keys (:data:`SWAPPABLE`) for a new ``name``:
    the schema's defaults, and the dataset's own augmentation preset."""
    from selfsup import registry

    fresh = {key: defaults[key] for key in SWAPPABLE[section]}
    known = registry.find("dataset", name) if section == "data" else None
    if known is not None and known.meta.get("views"):
        fresh["views"] = known.meta["views"]
    return fresh


def dataset_shape(name: str) -> tuple[int, int, int] | None:
    """The ``(C, H, W)`` a dataset was registered with (``shape=``), when its images have that
    shape whatever ``data.params`` say: lets ``eval`` / ``analyze`` refuse a dataset of another
    shape before any data is read; ``None`` when it is known only once loaded."""
    from selfsup import registry

    known = registry.find("dataset", name)
    shape = known.meta.get("shape") if known is not None else None
    return tuple(shape) if shape else None
