"""What the registry records of one registered thing (:class:`Entry`) and of one parameter a
config may set (:class:`Param`): plain values, shared by the registry and its source scan."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

#: what can be registered
KINDS = ("method", "dataset", "backbone", "views")
#: the arguments a factory of each kind takes from selfsup itself, not from the config
FIXED_ARGS = {"backbone": 1, "dataset": 2, "method": 0, "views": 0, "callback": 0}


class _Missing:
    def __repr__(self) -> str:
        return "required"


#: the default of a parameter that has none
REQUIRED: Any = _Missing()


@dataclass(frozen=True)
class Param:
    """One parameter a config may set: its name, its type hint as source text (``"float"``,
    ``"Literal['kl', 'w1']"``; ``None`` when it has none) and its default."""

    name: str
    annotation: str | None = None
    default: Any = REQUIRED


@dataclass
class Entry:
    """A registered thing.

    Attributes:
        kind, name: ``"method"``, ``"vicreg"``.
        target: ``"module:attribute"`` where it is defined (imported on :meth:`load`).
        params: what ``<section>.params`` may set.
        open_params: it also takes other keyword arguments (passes them on and checks them
            itself, e.g. a timm model's options).
        meta: the decorator's other keywords (a dataset's ``views``, ``stats``, ``shape``).
        plugin: the module that registered it, for things that are not built in.
        doc: the first line of its docstring.
    """

    kind: str
    name: str
    target: str
    params: tuple[Param, ...] = ()
    open_params: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    plugin: str | None = None
    doc: str = ""
    obj: Any = None

    def load(self) -> Any:
        """The registered class, factory or value (its module imported on first use)."""
        if self.obj is None:
            module, _, attr = self.target.partition(":")
            loaded: Any = importlib.import_module(module)
            for part in attr.split("."):
                loaded = getattr(loaded, part)
            self.obj = loaded
        return self.obj

    def param_names(self) -> list[str]:
        return [p.name for p in self.params]
