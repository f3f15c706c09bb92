"""The registry (selfsup.registry) is the one table of names: what its scan of the source reads
equals the imported classes, every list of names (config rules, the ``METHODS`` ... mappings,
the docs tables) is read from it, and every registered parameter is checked by its type hint."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from selfsup import registry
from selfsup.config import Config, load_config
from selfsup.config_schema import ConfigError, validate
from selfsup.param_rules import annotation_rule, param_rule
from selfsup.registry import REQUIRED, signature_params
from selfsup.registry_scan import SourceDefault, scan_builtins

REPO = Path(__file__).resolve().parents[2]


def _builtin(kind: str) -> dict[str, registry.Entry]:
    return {n: e for n, e in registry.entries(kind).items() if e.plugin is None}


@pytest.mark.parametrize("kind", registry.KINDS)
def test_the_scan_reads_what_inspect_sees(kind):
    """The source reading (no import) gives each built-in's target, parameters, type hints,
    defaults and metadata as the imported class or factory has them."""
    scanned = [e for e in scan_builtins(registry.BUILTIN_PACKAGES) if e.kind == kind]
    assert scanned, kind
    for entry in scanned:
        obj = entry.load()
        assert registry.get(kind, entry.name) is obj
        params, open_params = signature_params(kind, obj)
        assert open_params == entry.open_params, entry.name
        assert [p.name for p in params] == [p.name for p in entry.params], entry.name
        for seen, read in zip(params, entry.params, strict=True):
            assert param_rule(seen) == param_rule(read), (entry.name, seen.name)
            if not isinstance(read.default, SourceDefault):
                assert seen.default == read.default, (entry.name, seen.name)
        assert registry.entries(kind)[entry.name].meta == entry.meta, entry.name


def test_every_list_of_names_is_the_registry():
    from selfsup.data.datasets import DATASETS
    from selfsup.data.views import PRESETS
    from selfsup.methods import METHODS
    from selfsup.nets import BACKBONES

    for mapping, kind in ((METHODS, "method"), (BACKBONES, "backbone"), (DATASETS, "dataset")):
        assert tuple(mapping) == registry.names(kind)
    assert tuple(PRESETS) == registry.names("views")
    # the config's name keys take their choices from the registry, and say them when refused
    sections = {f.name: f.default_factory for f in dataclasses.fields(Config)}
    for section, key, kind in (
        ("method", "name", "method"),
        ("backbone", "name", "backbone"),
        ("data", "name", "dataset"),
        ("data", "views", "views"),
    ):
        rule = {f.name: f for f in dataclasses.fields(sections[section])}[key].metadata["rule"]
        assert rule.registry == kind
        with pytest.raises(ConfigError) as refused:
            load_config(None, [f"{section}.{key}=no_such_thing"])
        listed = str(refused.value).split("must be one of ")[1].split(" (")[0].split(", ")
        assert listed == list(registry.names(kind))


@pytest.mark.parametrize("kind", ["method", "backbone", "dataset"])
def test_every_parameter_is_checked_by_its_type_hint(kind):
    """Each built-in parameter has a rule; its own default passes it; an unknown key is refused
    with the closest valid one suggested."""
    for name, entry in _builtin(kind).items():
        section = {"method": "method", "backbone": "backbone", "dataset": "data"}[kind]
        for p in entry.params:
            assert param_rule(p) is not None, (name, p.name, p.annotation)
        defaults = {
            p.name: list(p.default) if isinstance(p.default, tuple) else p.default
            for p in entry.params
            if p.default is not REQUIRED and not isinstance(p.default, SourceDefault)
        }
        validate({section: {"name": name, "params": defaults}}, Config)
        if entry.params and not entry.open_params:
            typo = entry.params[0].name + "x"
            with pytest.raises(ConfigError, match=f"did you mean {entry.params[0].name}\\?"):
                validate({section: {"name": name, "params": {typo: 1}}}, Config)


@pytest.mark.parametrize(
    ("hint", "value", "ok"),
    [
        ("float", 3, 3.0),
        ("float", "1e-3", 1e-3),
        ("float", "abc", None),
        ("float", True, None),
        ("int", 2.5, None),
        ("bool", 1, None),
        ("int | None", None, None.__class__),
        ("Optional[int]", 4, 4),
        ("Literal['kl', 'w1']", "w1", "w1"),
        ("Literal['kl', 'w1']", "x", None),
        ("Literal[18, 34, 50]", 20, None),
        ("int | Literal['auto']", "auto", "auto"),
        ("int | Literal['auto']", "x", None),
        ("Sequence[int]", [1, 2], [1, 2]),
        ("list[int]", [1, "a"], None),
        ("tuple[float, float]", [0.1, 1], [0.1, 1.0]),
        ("tuple[float, float]", [0.1], None),
        ("tuple[int, ...]", [1, 2, 3], [1, 2, 3]),
        ("typing.Literal['a']", "a", "a"),
        ("str | Path | None", "/data/x", "/data/x"),
        ("str | Path | None", 3, None),
    ],
)
def test_type_hints_become_rules(hint, value, ok):
    rule = annotation_rule(hint)
    assert rule is not None
    if ok is None:
        with pytest.raises(ConfigError):
            rule.check("k", value)
    elif ok is None.__class__:
        assert rule.check("k", value) is None
    else:
        got = rule.check("k", value)
        assert got == ok and type(got) is type(ok)


def test_hints_without_a_rule_pass_values_on():
    assert annotation_rule("nn.Module") is None
    assert annotation_rule("Callable[[int], int]") is None
    assert annotation_rule("not python(") is None


def test_the_docs_tables_are_rendered_from_the_registry():
    from selfsup.registry_tables import check_docs

    assert check_docs(REPO / "docs" / "extending.md") == []


def test_the_configuration_guide_names_exactly_the_registered_things():
    guide = (REPO / "docs" / "configuration.md").read_text()
    rows = {"method": "`method.name`", "backbone": "`backbone.name`", "dataset": "`data.name`"}
    rows["views"] = "`data.views`"
    for kind, key in rows.items():
        line = next(x for x in guide.splitlines() if x.startswith(f"| {key}"))
        cell = line.split("|")[3]
        named = {w for w in re.findall(r"`([a-z0-9_]+)`", cell)}
        known = set(registry.names(kind))
        plain = {n for n, e in _builtin(kind).items() if "alias_of" not in e.meta}
        assert named <= known, (kind, named - known)
        assert plain <= named, (kind, plain - named)


def test_the_kept_scan_is_the_scan_and_follows_edits(tmp_path):
    """The scan kept in __pycache__ reads back equal to a fresh one, and an edited, added or
    removed module is read again (run in a copy of the package)."""
    import shutil
    import subprocess
    import sys

    src = Path(registry.__file__).parent
    shutil.copytree(src, tmp_path / "selfsup", ignore=shutil.ignore_patterns("__pycache__"))
    show = (
        "from selfsup import registry;"
        "e = registry.entries('method')['vicreg'];"
        "print(sorted(registry.names('method')), [(p.name, p.default) for p in e.params])"
    )

    def listed() -> str:
        env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True,
                              text=True, check=True)  # fmt: skip
        return done.stdout

    first = listed()
    assert list((tmp_path / "selfsup" / "__pycache__").glob("registry_scan.*.json"))
    assert listed() == first  # from the kept scan
    vicreg = tmp_path / "selfsup" / "methods" / "vicreg.py"
    vicreg.write_text(
        vicreg.read_text().replace("sim_coeff: float = 25.0", "sim_coeff: float = 3.0")
    )
    assert "('sim_coeff', 3.0)" in listed()
    (tmp_path / "selfsup" / "methods" / "simclr.py").unlink()
    assert "'simclr'" not in listed()
