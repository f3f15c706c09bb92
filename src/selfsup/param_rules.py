"""Rules for the ``params`` of registered methods, backbones and datasets, from type hints.

A parameter's type hint in its constructor is its rule: ``cov_coeff: float = 1.0`` takes a
number (given as text on the command line too), ``depth: Literal[18, 34, 50]`` one of those,
``queue_size: int | Literal["auto"]`` an integer or ``"auto"``, ``hidden: Sequence[int]`` a
list of integers, ``scale: tuple[float, float]`` a list of two numbers, ``x: float | None``
(or a default of ``None``) also null. A hint with no rule here (a class, a callable) leaves
the value to the constructor, which checks it when the run is built, before training.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Mapping
from typing import Any

from selfsup.errors import closest
from selfsup.rules import ConfigError, Rule


def check_params(kind: str, section: str, values: Mapping) -> dict:
    """``<section>.params`` checked against the registered ``kind``'s signature: every key
    must be one of its parameters (with the closest one suggested), every value must fit the
    parameter's type hint (:func:`param_rule`). The values, numbers given as text converted."""
    from selfsup import registry

    name = values.get("name")
    params = dict(values.get("params") or {})
    found = registry.find(kind, name)
    if found is None:  # an unknown name is refused by its rule
        return params
    rules = {p.name: p for p in found.params}
    unknown = [key for key in params if key not in rules and not found.open_params]
    if unknown:
        close = closest(str(unknown[0]), rules)
        hint = f" (did you mean {close}?)" if close else ""
        raise ConfigError(
            f"unknown {kind} parameter(s) {', '.join(map(str, unknown))} for '{name}'{hint}; "
            f"valid: {', '.join(rules) or 'none'}",
            f"{section}.params.{unknown[0]}",
        )
    for key, value in params.items():
        rule = param_rule(rules[key]) if key in rules else None
        if rule is not None:
            params[key] = rule.check(f"{section}.params.{key}", value)
    return params


def param_rule(param: Any) -> Rule | None:
    """The :class:`Rule` of a registered parameter (``selfsup.registry.Param``), from its type
    hint; a default of ``None`` also allows null. ``None`` for a hint with no rule."""
    rule = annotation_rule(param.annotation) if param.annotation else None
    if rule is not None and param.default is None and not rule.optional:
        rule = dataclasses.replace(rule, optional=True)
    return rule


def annotation_rule(text: str) -> Rule | None:
    """The rule of a type hint written as text: ``"float"``, ``"int | None"``,
    ``"Literal['kl', 'w1']"``, ``"int | Literal['auto']"``, ``"list[int]"``,
    ``"tuple[float, float]"``, ``"Sequence[int]"``, ``"Optional[bool]"``; ``None`` for
    anything else (the value is then passed on unchecked)."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:
        return None
    return _hint_rule(node)


_SCALARS = {"int": int, "float": float, "bool": bool, "str": str, "Path": str, "PathLike": str}
_SEQUENCES = {"list", "List", "tuple", "Tuple", "Sequence", "MutableSequence"}


def _hint_rule(node: Any) -> Rule | None:
    options: list[Any] = []

    def flatten(n: Any) -> None:
        if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr):
            flatten(n.left)
            flatten(n.right)
        elif isinstance(n, ast.Subscript) and _name(n.value) in ("Union", "Optional"):
            inner = n.slice.elts if isinstance(n.slice, ast.Tuple) else [n.slice]
            for each in inner:
                flatten(each)
            if _name(n.value) == "Optional":
                options.append(None)
        else:
            options.append(n)

    flatten(node)
    kinds: list[type] = []
    literals: list[Any] = []
    optional, sequence = False, None
    for option in options:
        name = _name(option)
        if (
            option is None
            or name == "None"
            or (isinstance(option, ast.Constant) and option.value is None)
        ):
            optional = True
        elif name in _SCALARS:  # a path is written as text in a config
            if _SCALARS[name] not in kinds:
                kinds.append(_SCALARS[name])
        elif isinstance(option, ast.Subscript) and _name(option.value) == "Literal":
            inner = option.slice.elts if isinstance(option.slice, ast.Tuple) else [option.slice]
            try:
                literals += [ast.literal_eval(e) for e in inner]
            except ValueError:
                return None
        elif isinstance(option, ast.Subscript) and _name(option.value) == "Annotated":
            first = option.slice.elts[0] if isinstance(option.slice, ast.Tuple) else option.slice
            sub = _hint_rule(first)
            if sub is None or len(options) > 1:
                return None
            return sub
        elif isinstance(option, ast.Subscript) and _name(option.value) in _SEQUENCES:
            sequence = _sequence_rule(option)
            if sequence is None:
                return None
        else:
            return None  # a class, a callable, ...: not checked here
    if sequence is not None:
        if kinds or literals:
            return None
        return dataclasses.replace(sequence, optional=optional)
    if literals and not kinds:
        return Rule(choices=tuple(literals) + ((None,) if optional else ()), optional=optional)
    if not kinds:
        return Rule(optional=optional) if optional else None
    if float in kinds and int in kinds:
        kinds.remove(int)  # a float takes integers anyway
    return Rule(tuple(kinds) if len(kinds) > 1 else kinds[0], special=tuple(literals),
                optional=optional)  # fmt: skip


def _sequence_rule(node: Any) -> Rule | None:
    inner = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    variadic = len(inner) == 2 and isinstance(inner[1], ast.Constant) and inner[1].value is ...
    if _name(node.value) in ("tuple", "Tuple") and not variadic:
        rules = [_hint_rule(e) for e in inner]
        if any(r is None for r in rules) or len(set(rules)) != 1:
            return None
        return Rule(items=rules[0], length=len(rules))
    item = _hint_rule(inner[0])
    return Rule(items=item) if item is not None else None


def _name(node: Any) -> str:
    """``float`` -> "float", ``typing.Literal`` -> "Literal"."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return ""
