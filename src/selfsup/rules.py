"""What one config value may hold (:class:`Rule`), the error naming a value that breaks its rule
(:class:`ConfigError`) and the dataclass field that carries a rule (:func:`setting`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from selfsup.errors import SelfsupError, closest


class ConfigError(SelfsupError):
    """A config value breaks its rule; the message names the key and what is allowed
    (``key``: the dotted key, when one is to blame)."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class Rule:
    """What one key may hold: its kind (``int``, ``float``, ``bool``, ``str``), an inclusive
    lower bound ``low`` or an exclusive one ``above``, an inclusive ``high``, a set of
    ``choices``, extra allowed ``special`` values (e.g. ``-1`` meaning "no limit") and
    whether ``None`` is allowed."""

    kind: type | tuple[type, ...] | None = None
    low: float | None = None
    above: float | None = None
    high: float | None = None
    choices: tuple = ()
    special: tuple = ()
    optional: bool = False
    note: str = ""
    registry: str = ""  # a kind of selfsup.registry: its names are the choices
    items: Rule | None = None  # a list or tuple whose items follow this rule
    length: int | None = None  # ... of exactly this many items

    def allowed(self) -> str:
        """``"an integer >= 1"``, ``"a finite number > 0"``, ``"one of a, b"`` ..."""
        if self.registry:
            from selfsup import registry

            names = ", ".join(registry.names(self.registry))
            text = f"one of {names} (or a plug-in's: plugins=[module])"
        elif self.items is not None:
            count = f"{self.length} " if self.length is not None else ""
            text = f"a list of {count}{_plural(self.items.allowed())}"
        elif self.choices:
            text = "one of " + ", ".join(map(str, self.choices))
        else:
            kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
            words = [_KIND_WORDS.get(k, getattr(k, "__name__", "a value")) for k in kinds]
            text = " or ".join(words)
            bounds = []
            if self.low is not None:
                bounds.append(f">= {_num(self.low)}")
            if self.above is not None:
                bounds.append(f"> {_num(self.above)}")
            if self.high is not None:
                bounds.append(f"<= {_num(self.high)}")
            if bounds:
                text += " " + " and ".join(bounds)
        if self.special:
            note = f": {self.note}" if self.note else ""
            text += " (or " + ", ".join(map(str, self.special)) + note + ")"
        elif self.note:
            text += f" ({self.note})"
        if self.optional:
            text += " (or null)"
        return text

    def check(self, key: str, value: Any) -> Any:
        """The value, converted where a number was given as text; :class:`ConfigError` if not
        allowed."""
        if value is None:
            if self.optional:
                return None
            raise ConfigError(f"{key} must be {self.allowed()}, got null", key)
        if not isinstance(value, (list, dict)) and value in self.special:
            if not isinstance(value, bool) or any(isinstance(x, bool) for x in self.special):
                return value
        if self.registry:
            from selfsup import registry

            if not isinstance(value, str) or registry.find(self.registry, value) is None:
                names = registry.names(self.registry)
                close = closest(str(value), names)
                hint = f"; did you mean {close}?" if close else ""
                raise ConfigError(f"{key} must be {self.allowed()}, got {value!r}{hint}", key)
            return value
        if self.items is not None:
            return self._items(key, value)
        if self.choices:
            if value not in self.choices:
                raise ConfigError(f"{key} must be {self.allowed()}, got {value!r}", key)
            return value
        value = self._converted(key, value)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number:
            bad = not math.isfinite(value)
            bad |= self.low is not None and value < self.low
            bad |= self.above is not None and value <= self.above
            bad |= self.high is not None and value > self.high
            if bad:
                raise ConfigError(f"{key} must be {self.allowed()}, got {value!r}", key)
        return value

    def _items(self, key: str, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or (
            self.length is not None and len(value) != self.length
        ):
            raise ConfigError(f"{key} must be {self.allowed()}, got {value!r}", key)
        assert self.items is not None
        return [self.items.check(f"{key}[{i}]", item) for i, item in enumerate(value)]

    def _converted(self, key: str, value: Any) -> Any:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if None in kinds:
            return value
        for kind in kinds:
            if kind is bool and isinstance(value, bool):
                return value
            if kind is int and isinstance(value, int) and not isinstance(value, bool):
                return value
            if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if kind is str and isinstance(value, str):
                return value
        if isinstance(value, str):  # a number written as text ("3", "1e-3") in a free section
            for kind in kinds:
                if kind in (int, float):
                    try:
                        return kind(value)
                    except ValueError:
                        continue
        raise ConfigError(f"{key} must be {self.allowed()}, got {value!r}", key)


_KIND_WORDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "a text"}


def _plural(words: str) -> str:
    for one, many in (("an integer", "integers"), ("a finite number", "finite numbers")):
        words = words.replace(one, many)
    return words.replace("a text", "texts").replace("true or false", "true/false values")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def setting(default: Any, **rule: Any) -> Any:
    """A dataclass field with its :class:`Rule` (``kind`` defaults to the default's type)::

    batch_size: int = setting(256, low=1)
    """
    if "kind" not in rule and not rule.get("choices"):
        rule["kind"] = float if isinstance(default, float) else type(default)
    if isinstance(default, (list, dict)):
        meta = {"rule": Rule(**rule)}
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata={"rule": Rule(**rule)})
