"""The built-ins' registrations, read from their source files without importing them.

The modules that define methods, backbones, datasets and view presets import torch, which
takes far longer than checking a config. So the registry reads their source (:mod:`ast`) for
the same ``@register_method("name")`` decorators (and ``NAME = register_views("name")(value)``
assignments) that register them on import, and takes the parameters from the signatures
written there: the names, the type hints as text and the defaults.
``tests/registry/test_registry.py`` checks that this reading equals :mod:`inspect` on the
imported classes.
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from selfsup.registry_entry import FIXED_ARGS, KINDS, REQUIRED, Entry, Param

_REGISTERS = re.compile(r"\bregister_(?:" + "|".join(KINDS) + r")\(")
#: the package's root folder (``.../selfsup``)
ROOT = Path(__file__).resolve().parent


class SourceDefault:
    """A default that is not a literal (``PAPER_QUEUE``): its source text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def scan_builtins(packages: Iterable[str]) -> list[Entry]:
    """The registrations in the modules of ``packages`` (``"selfsup.methods"``).

    The result is kept in ``selfsup/__pycache__`` (as Python keeps bytecode there), keyed by
    the size and modification time of every file read, and read back as plain values (JSON and
    literals, never code); a folder that cannot be written just means reading the sources.
    """
    packages = tuple(packages)
    files = [p for package in packages for p in sorted(_folder(package).glob("*.py"))]
    cached = _cached(packages, files)
    if cached is not None:
        return cached
    found: list[Entry] = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if not _REGISTERS.search(text):  # many modules register nothing: no parse
            continue
        package = ".".join(("selfsup", *path.parent.relative_to(ROOT).parts))
        module = package if path.stem == "__init__" else f"{package}.{path.stem}"
        found += _registrations(module, _parsed(module))
    _store(packages, files, found)
    return found


def _folder(package: str) -> Path:
    return ROOT.joinpath(*package.split(".")[1:])


def _stamps(files: Iterable[Path]) -> dict[str, list[int]]:
    stamps = {}
    for path in files:
        stat = path.stat()
        stamps[str(path.relative_to(ROOT))] = [stat.st_mtime_ns, stat.st_size]
    return stamps


def _cache_file() -> Path:
    return ROOT / "__pycache__" / f"registry_scan.{sys.implementation.cache_tag}.json"


def _cached(packages: tuple[str, ...], files: list[Path]) -> list[Entry] | None:
    try:
        saved = json.loads(_cache_file().read_text(encoding="utf-8"))
        if saved["packages"] != list(packages) or saved["version"] != _CACHE_VERSION:
            return None
        read = [ROOT / name for name in saved["stamps"]]
        if saved["stamps"] != _stamps(sorted(set(files) | set(read), key=str)):
            return None
        return [_decoded(_back(item)) for item in saved["entries"]]
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return None


def _store(packages: tuple[str, ...], files: list[Path], found: list[Entry]) -> None:
    read = {ROOT.joinpath(*m.split(".")[1:]).with_suffix(".py") for m in _PARSED}
    read = {p if p.is_file() else p.with_suffix("") / "__init__.py" for p in read}
    try:
        saved = {
            "version": _CACHE_VERSION,
            "packages": list(packages),
            "stamps": _stamps(sorted(set(files) | {p for p in read if p.is_file()}, key=str)),
            "entries": [_plain(_encoded(e)) for e in found],
        }
        target = _cache_file()
        target.parent.mkdir(exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(saved), encoding="utf-8")
        os.replace(partial, target)
    except (OSError, TypeError, ValueError):  # a read-only install: read the sources every time
        pass


def _encoded(entry: Entry) -> tuple:
    params = tuple((p.name, p.annotation, _default_encoded(p.default)) for p in entry.params)
    meta = tuple(entry.meta.items())
    return (entry.kind, entry.name, entry.target, params, entry.open_params, meta, entry.doc)


def _plain(value: Any) -> Any:
    """Literal values as JSON: a tuple becomes ``{"tuple": [...]}``."""
    if isinstance(value, tuple):
        return {"tuple": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"not a literal: {value!r}")


def _back(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(_back(v) for v in value["tuple"])
    if isinstance(value, list):
        return [_back(v) for v in value]
    return value


def _default_encoded(value: Any) -> tuple:
    if value is REQUIRED:
        return ("required",)
    if isinstance(value, SourceDefault):
        return ("source", value.text)
    return ("value", value)


def _decoded(item: tuple) -> Entry:
    kind, name, target, params, open_params, meta, doc = item
    decoded = tuple(Param(n, a, _default_decoded(d)) for n, a, d in params)
    return Entry(kind, name, target, decoded, open_params, dict(meta), None, doc)


def _default_decoded(value: tuple) -> Any:
    if value[0] == "required":
        return REQUIRED
    return SourceDefault(value[1]) if value[0] == "source" else value[1]


_CACHE_VERSION = 2
_PARSED: set[str] = set()


def _registrations(module: str, tree: ast.Module) -> Iterator[Entry]:
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            for decorator in node.decorator_list:
                found = _register_call(decorator)
                if found:
                    yield from _entries(module, node.name, node, *found)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                found = _register_call(value.func)
                if found:
                    yield from _entries(module, target.id, None, *found)


def _register_call(node: ast.expr) -> tuple[str, str, dict[str, Any]] | None:
    """``register_<kind>("name", key=literal, ...)`` -> ``(kind, name, meta)``."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    kind = called.removeprefix("register_")
    if not called.startswith("register_") or kind not in KINDS:
        return None
    meta = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    return kind, ast.literal_eval(node.args[0]), meta


def _entries(
    module: str, attr: str, node: ast.ClassDef | ast.FunctionDef | None, kind: str, name: str,
    meta: dict[str, Any],
) -> Iterator[Entry]:  # fmt: skip
    params, open_params = _params(kind, module, node) if node is not None else ((), False)
    doc = (ast.get_docstring(node) or "").strip().splitlines() if node is not None else []
    aliases = meta.pop("aliases", ())
    target = f"{module}:{attr}"
    yield Entry(kind, name, target, params, open_params, dict(meta), None, doc[0] if doc else "")
    for alias in aliases:
        alias_meta = {**meta, "alias_of": name}
        yield Entry(
            kind, alias, target, params, open_params, alias_meta, None, doc[0] if doc else ""
        )


def _params(
    kind: str, module: str, node: ast.ClassDef | ast.FunctionDef
) -> tuple[tuple[Param, ...], bool]:
    if kind == "views":
        return (), False
    if kind == "method":  # keyword-only arguments along the base classes
        found: dict[str, Param] = {}
        for init in _inits(module, node):
            for arg, default in zip(init.args.kwonlyargs, init.args.kw_defaults, strict=True):
                found.setdefault(arg.arg, _param(arg, default))
        return tuple(found.values()), False
    init = next(_inits(module, node), None) if isinstance(node, ast.ClassDef) else node
    if init is None:
        return (), True
    args = init.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    skip = FIXED_ARGS[kind] + (1 if isinstance(node, ast.ClassDef) else 0)
    params = [_param(a, d) for a, d in list(zip(positional, defaults, strict=True))[skip:]]
    params += [_param(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)]
    return tuple(params), args.kwarg is not None


def _param(arg: ast.arg, default: ast.expr | None) -> Param:
    annotation = ast.unparse(arg.annotation) if arg.annotation is not None else None
    if default is None:
        value: Any = REQUIRED
    else:
        try:
            value = ast.literal_eval(default)
        except ValueError:
            value = SourceDefault(ast.unparse(default))
    return Param(arg.arg, annotation, value)


def _inits(module: str, node: ast.ClassDef) -> Iterator[ast.FunctionDef]:
    """The ``__init__`` of ``node`` and of its base classes defined in selfsup, nearest first."""
    seen: set[tuple[str, str]] = set()
    todo = [(module, node)]
    while todo:
        where, klass = todo.pop(0)
        if (where, klass.name) in seen:
            continue
        seen.add((where, klass.name))
        for item in klass.body:
            if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                yield item
        todo += [found for base in klass.bases if (found := _resolve(where, base))]


def _resolve(module: str, base: ast.expr) -> tuple[str, ast.ClassDef] | None:
    """Where a base class named in ``module`` is defined, if it is in selfsup."""
    if not isinstance(base, ast.Name):
        return None
    tree = _parsed(module)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == base.id:
            return module, node
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if (alias.asname or alias.name) == base.id and node.module.startswith("selfsup"):
                    return _resolve(node.module, ast.Name(alias.name))
    return None


@cache
def _parsed(module: str) -> ast.Module:
    _PARSED.add(module)
    parts = module.split(".")[1:]
    path = ROOT.joinpath(*parts).with_suffix(".py")
    if not path.is_file():
        path = ROOT.joinpath(*parts, "__init__.py")
    if not path.is_file():
        return ast.Module(body=[], type_ignores=[])
    return ast.parse(path.read_text(encoding="utf-8"), str(path))
