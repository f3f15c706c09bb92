"""The config schema (selfsup.config_schema): every key has a rule, shipped configs pass, and
choosing another thing by name starts from its defaults (its names:
tests/registry/test_registry.py)."""

import dataclasses
import inspect
import math

import pytest

from selfsup import config_schema as schema
from selfsup.config import Config, load_config, shipped_configs, to_dict
from selfsup.config_schema import ConfigError, Rule


def test_the_trainer_keys_are_lightnings():
    from lightning import Trainer

    accepted = set(inspect.signature(Trainer.__init__).parameters) - {"self"}
    if not schema._lightning_differs():
        assert schema.TRAINER_KEYS == accepted
    assert schema._installed_trainer_keys() == accepted
    assert set(schema.TRAINER_RULES) <= accepted
    assert schema.TRAINER_MANAGED <= accepted


def _scalar_fields(section: type, prefix: str = ""):
    for f in dataclasses.fields(section):
        factory = f.default_factory
        if isinstance(factory, type) and dataclasses.is_dataclass(factory):
            yield from _scalar_fields(factory, f"{prefix}{f.name}.")
        elif f.default is not dataclasses.MISSING:  # not a list / dict
            yield f"{prefix}{f.name}", f


def test_every_scalar_key_has_a_rule_its_default_passes():
    keys = list(_scalar_fields(Config))
    assert len(keys) > 30
    for key, f in keys:
        rule = f.metadata.get("rule")
        assert isinstance(rule, Rule), f"{key} has no setting(...) rule"
        assert rule.check(key, f.default) == f.default


@pytest.mark.parametrize("name", shipped_configs())
def test_every_shipped_config_passes(name, tmp_path):
    from omegaconf import OmegaConf

    from selfsup.config import FILE_DATASETS, packaged_config

    # a recipe for the user's own files names no file: it asks for one in one line
    if OmegaConf.load(packaged_config(name)).get("data", {}).get("name") in FILE_DATASETS:
        with pytest.raises(ConfigError, match="needs data.path="):
            load_config(name)
        config = load_config(name, [f"data.path={tmp_path}"])
    else:
        config = load_config(name)
    assert config.trainer["max_epochs"] >= 1


@pytest.mark.parametrize(
    "rule, value, ok",
    [
        (Rule(int, low=1), 1, True),
        (Rule(int, low=1), 0, False),
        (Rule(int, low=1), True, False),  # a bool is not a count
        (Rule(int, low=1), "7", True),  # a number written as text in a free section
        (Rule(int, low=1), 2.0, False),
        (Rule(float, above=0), 1e-300, True),
        (Rule(float, above=0), 0.0, False),
        (Rule(float, above=0), math.inf, False),
        (Rule(float, above=0), math.nan, False),
        (Rule(float, low=0, high=1), 1.0, True),
        (Rule(float, low=0, high=1), 1.0000001, False),
        (Rule(int, low=0, special=(-1,)), -1, True),
        (Rule(int, low=0, special=(-1,)), -2, False),
        (Rule(choices=("a", "b")), "b", True),
        (Rule(choices=("a", "b")), "c", False),
        (Rule(str, optional=True), None, True),
        (Rule(str), None, False),
        (Rule((bool, int)), False, True),
    ],
)
def test_rules(rule, value, ok):
    if ok:
        rule.check("k", value)
    else:
        with pytest.raises(ConfigError, match=r"^k must be "):
            rule.check("k", value)


def test_a_text_number_becomes_a_number():
    assert Rule(int, low=1).check("k", "7") == 7
    config = load_config(None, ["trainer.max_epochs=7"])
    assert config.trainer.max_epochs == 7 and isinstance(config.trainer.max_epochs, int)


def test_choosing_another_backbone_starts_from_its_defaults():
    quick = load_config("vicreg_digits")
    assert to_dict(quick.backbone.params) == {"hidden": [512, 512]}
    config = load_config("vicreg_digits", ["backbone.name=convnet"])
    assert config.backbone.name == "convnet" and to_dict(config.backbone.params) == {}
    config = load_config("vicreg_digits", ["backbone.params={}", "backbone.name=convnet"])
    assert to_dict(config.backbone.params) == {}
    # its own params may follow, in either order
    for words in (
        ["backbone.name=convnet", "backbone.params.channels=[8,16]"],
        ["backbone.params.channels=[8,16]", "backbone.name=convnet"],
    ):
        assert to_dict(load_config("vicreg_digits", words).backbone.params) == {"channels": [8, 16]}


def test_choosing_the_same_name_keeps_the_files_section():
    config = load_config("vicreg_digits", ["backbone.name=mlp", "method.name=vicreg"])
    assert to_dict(config.backbone.params) == {"hidden": [512, 512]}


def test_choosing_another_method_or_dataset():
    moco = load_config("moco_digits")
    assert to_dict(moco.method.params)["queue_size"] == 1024
    config = load_config("moco_digits", ["method.name=simclr"])
    assert to_dict(config.method.params) == {}
    assert list(config.method.projector) == [1024, 128]  # a size choice, kept
    config = load_config("vicreg_digits", ["data.name=mnist"])
    assert config.data.views == "mnist" and config.data.batch_size == 256
    config = load_config("vicreg_digits", ["data.name=mnist", "data.views=simclr"])
    assert config.data.views == "simclr"


def test_a_dict_override_replaces():
    config = load_config("vicreg_digits", ["backbone.params={hidden: [64]}"])
    assert to_dict(config.backbone.params) == {"hidden": [64]}
    config = load_config("vicreg_digits", ["backbone.params={}"])
    assert to_dict(config.backbone.params) == {}


def test_train_builds_after_a_backbone_swap():
    from selfsup.data import load_dataset
    from selfsup.methods import build_method

    config = load_config("vicreg_digits", ["backbone.name=convnet", "backbone.params={}"])
    method = build_method(config, load_dataset("digits"))
    assert type(method.backbone).__name__ == "ConvNet"


def test_the_configuration_guide_lists_every_key():
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()

    def keys(section: type, prefix: str = ""):
        for f in dataclasses.fields(section):
            factory = f.default_factory
            if isinstance(factory, type) and dataclasses.is_dataclass(factory):
                yield from keys(factory, f"{prefix}{f.name}.")
            else:
                yield f"{prefix}{f.name}"

    missing = [k for k in keys(Config) if f"`{k}" not in guide]
    assert missing == [], f"docs/configuration.md does not document {missing}"


def test_the_dataset_shapes_are_the_loaders(tmp_path, monkeypatch):
    """The registered shapes (what eval / analyze check before loading data) equal what each
    loader gives: the embedded digits, and the torchvision sets read from fakes in their real
    layout."""
    import os

    import torchvision.datasets.cifar as cifar
    import torchvision.datasets.stl10 as stl10

    from selfsup.data import load_dataset
    from tests.data import fakes

    for module in (cifar, stl10):  # the fakes are not the real files: no md5 comparison
        monkeypatch.setattr(module, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    writers = {
        "mnist": fakes.fashion_mnist,  # the same IDX layout under another folder name
        "fashion_mnist": fakes.fashion_mnist,
        "cifar10": fakes.cifar,
        "cifar100": lambda root: fakes.cifar(root, hundred=True),
        "stl10": fakes.stl10,
    }
    from selfsup import registry

    shaped = {name for name in registry.names("dataset") if schema.dataset_shape(name)}
    assert shaped == {"digits", *writers}
    assert load_dataset("digits").image_shape == schema.dataset_shape("digits")
    for name, write in writers.items():
        root = tmp_path / name
        write(root)
        if name == "mnist":
            (root / "FashionMNIST").rename(root / "MNIST")
        assert load_dataset(name, root).image_shape == schema.dataset_shape(name), name
