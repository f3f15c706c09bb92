"""The one registry of what a config names: methods, datasets, backbones and view presets.

A thing is registered where it is defined, by a decorator on its class or factory::

    @selfsup.register_method("vicreg")
    class VICReg(JointEmbedding):
        def __init__(self, *, sim_coeff: float = 25.0, ..., **common): ...

The registry records the name, where the thing lives (``"selfsup.methods.vicreg:VICReg"``, so
it is imported only when used) and the parameters a config may set, with their type hints and
defaults; the config schema, the CLI's choices, the docs tables and the tests read them here.

The built-ins are known without importing them (their modules import torch, which takes far
longer than checking a config): their source files under :data:`BUILTIN_PACKAGES` are read
(:mod:`selfsup.registry_scan`) for the same decorators, and the decorator fills in the loaded
object when its module is imported. A user's modules join through plug-ins
(:func:`load_plugins`: ``plugins=[mymodule]`` in a config or on the command line, or the
``selfsup.plugins`` entry-point group of an installed package): they are imported, and their
decorators register what they define.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from selfsup.errors import InputError, SelfsupError, closest
from selfsup.registry_entry import FIXED_ARGS, KINDS, REQUIRED, Entry, Param

T = TypeVar("T")

#: the packages whose modules register the built-ins (read without importing them)
BUILTIN_PACKAGES = ("selfsup.methods", "selfsup.nets", "selfsup.data")
#: the entry-point group through which an installed package adds its plug-in modules
ENTRY_POINT_GROUP = "selfsup.plugins"

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class RegistryError(InputError):
    """An unknown name, a name registered twice, or a plug-in that cannot be imported."""


_ENTRIES: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
_SCANNED = False
_PLUGINS: list[str] = []
_ENTRY_POINTS_LOADED = False


def _builtins() -> None:
    global _SCANNED
    if not _SCANNED:
        from selfsup.registry_scan import scan_builtins

        _SCANNED = True
        for entry in scan_builtins(BUILTIN_PACKAGES):
            _ENTRIES[entry.kind].setdefault(entry.name, entry)


def _register(kind: str, name: str, meta: dict[str, Any]) -> Callable[[T], T]:
    if not isinstance(name, str) or not _MODULE_NAME.match(name) or "." in name:
        raise RegistryError(f"a {kind} name must be a word (letters, digits, _), got {name!r}")

    def decorate(obj: T) -> T:
        _builtins()
        caller = str(sys._getframe(1).f_globals.get("__name__", "__main__"))
        own = inspect.isclass(obj) or inspect.isfunction(obj)
        module = obj.__module__ if own else caller
        for each in (name, *meta.get("aliases", ())):
            alias_of = name if each != name else None
            _add(_entry_of(kind, each, obj, module, meta, alias_of))
        return obj

    return decorate


def register_method(name: str, **meta: Any) -> Callable[[T], T]:
    """Register a method class under ``name`` (``method.name``); its keyword-only constructor
    arguments, across its base classes, are what ``method.params`` may set."""
    return _register("method", name, meta)


def register_dataset(name: str, **meta: Any) -> Callable[[T], T]:
    """Register a dataset loader ``loader(root, download, **params) -> DataSplits`` under
    ``name`` (``data.name``). Keywords: ``views`` (the preset it starts with), ``stats``
    (``(mean, std)`` per channel of [0, 1] images), ``shape`` (``(C, H, W)`` when it does not
    depend on ``data.params``), ``in_code`` (made in code: needs no files), ``aliases``."""
    return _register("dataset", name, meta)


def register_backbone(name: str, **meta: Any) -> Callable[[T], T]:
    """Register a backbone ``cls(in_shape, **params)`` (a module with an ``out_dim``) under
    ``name`` (``backbone.name``); its other arguments are what ``backbone.params`` may set."""
    return _register("backbone", name, meta)


def register_views(name: str, **meta: Any) -> Callable[[T], T]:
    """Register a view preset under ``name`` (``data.views``): a sequence of ``ViewSpec`` (the
    first view, the second, the recipe of any further one) or a function returning one."""
    return _register("views", name, meta)


def _entry_of(
    kind: str, name: str, obj: Any, module: str, meta: dict[str, Any], alias_of: str | None
) -> Entry:
    known = _ENTRIES[kind].get(name)
    qualname = getattr(obj, "__qualname__", "")
    if known is not None and known.plugin is None and known.target.startswith(module + ":"):
        target = known.target  # a built-in, found by the scan (may be an assigned value)
    elif qualname and "<" not in qualname:
        target = f"{module}:{qualname}"
    else:
        target = f"{module}:<value>"
    params, open_params = signature_params(kind, obj)
    meta = {k: v for k, v in meta.items() if k != "aliases"}
    if alias_of:
        meta["alias_of"] = alias_of
    builtin = module.split(".")[0] == "selfsup"
    return Entry(
        kind, name, target, params, open_params, meta, None if builtin else module,
        _first_line(getattr(obj, "__doc__", None) if callable(obj) else None), obj,
    )  # fmt: skip


def _first_line(doc: str | None) -> str:
    return (inspect.cleandoc(doc).splitlines() or [""])[0] if doc else ""


def _add(entry: Entry) -> None:
    known = _ENTRIES[entry.kind].get(entry.name)
    if known is not None and known.target != entry.target:
        raise RegistryError(
            f"{entry.kind} '{entry.name}' is registered twice: by {known.target} and by "
            f"{entry.target}; choose another name"
        )
    if known is not None:
        entry = replace(entry, doc=entry.doc or known.doc)
    _ENTRIES[entry.kind][entry.name] = entry


def signature_params(kind: str, obj: Any) -> tuple[tuple[Param, ...], bool]:
    """What a config may set of ``obj`` (a registered class or factory), read with
    :mod:`inspect`: a method's keyword-only arguments across its base classes; the arguments
    of a backbone after ``in_shape`` and of a dataset loader after ``root, download``; and
    whether it takes any other keyword (``**kwargs``)."""
    if kind == "views" or not callable(obj):
        return (), False
    if kind == "method":
        found: dict[str, Param] = {}
        for klass in obj.__mro__:
            if "__init__" not in vars(klass):
                continue
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.kind is p.KEYWORD_ONLY and p.name not in found:
                    found[p.name] = _param(p)
        return tuple(found.values()), False
    function = obj.__init__ if inspect.isclass(obj) else obj
    parameters = list(inspect.signature(function).parameters.values())
    if inspect.isclass(obj):
        parameters = parameters[1:]  # self
    parameters = parameters[FIXED_ARGS[kind] :]
    params = tuple(
        _param(p) for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    )
    return params, any(p.kind is p.VAR_KEYWORD for p in parameters)


def _param(p: inspect.Parameter) -> Param:
    annotation = None
    if p.annotation is not p.empty:
        annotation = p.annotation if isinstance(p.annotation, str) else _type_text(p.annotation)
    default = REQUIRED if p.default is p.empty else p.default
    return Param(p.name, annotation, default)


def _type_text(hint: Any) -> str:
    """A type hint object as the source text that would write it (``Optional[float]``)."""
    return inspect.formatannotation(hint)


# --- reading the registry ----------------------------------------------------------------
def entries(kind: str) -> dict[str, Entry]:
    """Every registered ``kind`` (built-ins, plug-ins, installed packages' plug-ins), by name."""
    if kind not in KINDS:
        raise InputError(f"kind must be one of {KINDS}, got {kind!r}")
    _builtins()
    _entry_point_plugins()
    return dict(sorted(_ENTRIES[kind].items()))


def find(kind: str, name: str) -> Entry | None:
    """The entry of ``name``, or ``None``. Installed packages' plug-ins (entry points) are
    imported only when ``name`` is neither built in nor registered by a plug-in loaded so far:
    naming a built-in costs no scan of the installed packages."""
    _builtins()
    found = _ENTRIES[kind].get(name)
    if found is None and not _ENTRY_POINTS_LOADED:
        _entry_point_plugins()
        found = _ENTRIES[kind].get(name)
    return found


def names(kind: str) -> tuple[str, ...]:
    """The names a config may give for ``kind``, sorted."""
    return tuple(entries(kind))


def entry(kind: str, name: str, key: str | None = None) -> Entry:
    """The entry of ``name``; a one-line error listing the valid names (and the closest one)
    when it is not registered."""
    known = find(kind, name)
    if known is not None:
        return known
    found = entries(kind)
    close = closest(str(name), found)
    hint = f" (did you mean '{close}'?)" if close else ""
    where = f"{key}: " if key else ""
    raise RegistryError(
        f"{where}unknown {_WORDS[kind]} {name!r}{hint}; valid: {', '.join(found)} "
        "(plug-ins add more: plugins=[module])"
    )


_WORDS = {"method": "method", "dataset": "dataset", "backbone": "backbone", "views": "view preset"}


def get(kind: str, name: str) -> Any:
    """The registered class, factory or value of ``name`` (imported here)."""
    return entry(kind, name).load()


class Registered(Mapping[str, Any]):
    """A read-only ``{name: class or factory}`` view of one kind (``METHODS``,
    ``BACKBONES``, ``DATASETS``, ``PRESETS``); each value is imported on access."""

    def __init__(self, kind: str, convert: Callable[[Any], Any] | None = None) -> None:
        self.kind, self.convert = kind, convert

    def __getitem__(self, name: str) -> Any:
        if find(self.kind, name) is None:
            raise KeyError(name)
        value = get(self.kind, name)
        return self.convert(value) if self.convert else value

    def __iter__(self) -> Iterator[str]:
        return iter(entries(self.kind))

    def __len__(self) -> int:
        return len(entries(self.kind))

    def __repr__(self) -> str:
        return f"Registered({self.kind!r}: {', '.join(self)})"


# --- plug-ins ----------------------------------------------------------------------------
def load_plugins(modules: Iterable[str] = (), where: str = "") -> list[str]:
    """Import the plug-in modules ``modules``, so that what they register can be named (the
    modules of installed packages, in the ``selfsup.plugins`` entry-point group, are imported
    when a name is not found otherwise: :func:`find`).

    Args:
        modules: importable module names (``["myplug", "lab.methods"]``); never a path.
        where: where the names came from, for the error (``"the config"``, a checkpoint).

    Returns:
        Every plug-in module imported so far, in order.

    Raises:
        RegistryError: a name that is not a module name, or a module that cannot be imported
            (one line naming it and why).
    """
    source = f" (named in {where})" if where else ""
    for module in modules or ():
        if not isinstance(module, str) or not _MODULE_NAME.match(module):
            raise RegistryError(f"plug-in {module!r}{source} is not a Python module name")
        if module in _PLUGINS:
            continue
        _import_plugin(module, source)
        _PLUGINS.append(module)
    return list(_PLUGINS)


def _import_plugin(module: str, source: str) -> None:
    _builtins()
    try:
        importlib.import_module(module)
    except SelfsupError:
        raise
    except ModuleNotFoundError as err:
        if err.name and module.startswith(err.name):
            raise RegistryError(
                f"plug-in module '{module}'{source} cannot be imported: no module named "
                f"'{err.name}' (install it, or put its folder on PYTHONPATH)"
            ) from None
        raise RegistryError(
            f"plug-in module '{module}'{source} cannot be imported: it needs '{err.name}', "
            "which is not installed"
        ) from None
    except Exception as err:  # the plug-in's own code failed: say where, in one line
        first = (str(err).strip().splitlines() or [""])[0]
        raise RegistryError(
            f"plug-in module '{module}'{source} failed on import: {type(err).__name__}: {first}"
        ) from None


def _entry_point_plugins() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        module = point.value.partition(":")[0].strip()
        if module not in _PLUGINS:
            _import_plugin(module, f" (entry point '{point.name}' of {ENTRY_POINT_GROUP})")
            _PLUGINS.append(module)


def plugins() -> list[str]:
    """The plug-in modules imported so far (a run records them)."""
    return list(_PLUGINS)
