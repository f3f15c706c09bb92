"""Search-space words: the override syntax, with distributions as values.

::

    optim.lr=loguniform(1e-4,1e-2)          # log-uniform float in [low, high]
    method.params.cov_coeff=uniform(0.5,4)   # uniform float in [low, high]
    data.batch_size=int(64,256)              # uniform integer in [low, high] (logint: log scale)
    method.projector=choice([512,512],[1024,1024,1024])
    method.name=choice(vicreg,simclr,barlow_twins)

A plain ``key=value`` word fixes the value for every trial. ``method.name`` and the other
``.name`` keys are drawn first, so that the section's parameters start from the chosen thing's
defaults (as in ``selfsup train``); a ``method.params.X`` dimension that the drawn method does
not take is not drawn in that trial (a conditional space, which Optuna's samplers support).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from selfsup.config import load_config, parse_override
from selfsup.config_schema import ConfigError
from selfsup.errors import SelfsupError

_WORD = re.compile(
    r"^(?P<key>[A-Za-z_][\w.]*)=(?P<kind>loguniform|uniform|logint|int|choice)\((?P<args>.*)\)$"
)
NUMERIC = ("loguniform", "uniform", "logint", "int")


class SearchSpaceError(SelfsupError):
    """A search-space word that cannot be used; the message names it."""


@dataclass(frozen=True)
class Dimension:
    """One searched key: ``kind`` with ``low`` / ``high`` or ``choices`` (override texts)."""

    key: str
    kind: str
    low: float = 0.0
    high: float = 0.0
    choices: tuple[str, ...] = ()
    word: str = ""

    def corners(self) -> list[str]:
        """The values that bound the dimension, as override texts (checked before trials)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind in ("int", "logint"):
            return [str(int(self.low)), str(int(self.high))]
        return [repr(self.low), repr(self.high)]

    def describe(self, corner: str) -> str:
        """Which of :meth:`corners` ``corner`` is, in words: "its low end 0.0", "the choice a"."""
        if self.kind == "choice":
            return f"the choice {corner}"
        end = "low" if corner == self.corners()[0] else "high"
        return f"its {end} end {corner}"

    def suggest(self, trial) -> str:
        """Draw this dimension's value from an Optuna trial, as an override text."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.choices))
        if self.kind in ("int", "logint"):
            return str(
                trial.suggest_int(
                    self.key, int(self.low), int(self.high), log=self.kind == "logint"
                )
            )
        return repr(
            trial.suggest_float(self.key, self.low, self.high, log=self.kind == "loguniform")
        )


@dataclass(frozen=True)
class SearchSpace:
    """The fixed overrides and the searched dimensions of a sweep."""

    fixed: tuple[str, ...]
    dimensions: tuple[Dimension, ...]

    def ordered(self) -> list[Dimension]:
        """The ``.name`` keys first (they reset their section's parameters)."""
        return sorted(self.dimensions, key=lambda d: not d.key.endswith(".name"))


def is_search_word(word: str) -> bool:
    return _WORD.match(word.strip()) is not None


def parse_space(words: list[str] | tuple[str, ...]) -> SearchSpace:
    """Split the words into fixed overrides and dimensions; each dimension's syntax is checked
    here (one-line :class:`SearchSpaceError`), its values by :func:`check_space`."""
    fixed, dims, seen = [], [], set()
    for word in words:
        match = _WORD.match(word.strip())
        if match is None:
            if re.match(r"^[\w.]+=\w+\(", word):
                raise SearchSpaceError(
                    f"search space '{word}': unknown distribution; use loguniform(low,high), "
                    f"uniform(low,high), int(low,high), logint(low,high) or choice(a,b,...)"
                )
            parse_override(word)  # the override syntax's own one-line error
            fixed.append(word)
            continue
        key, kind, args = match["key"], match["kind"], match["args"]
        if key in seen:
            raise SearchSpaceError(f"search space: '{key}' is searched twice")
        seen.add(key)
        dims.append(_dimension(word, key, kind, _split(args)))
    fixed_keys = {w.partition("=")[0] for w in fixed}
    both = fixed_keys & seen
    if both:
        raise SearchSpaceError(f"search space: {', '.join(sorted(both))} both fixed and searched")
    return SearchSpace(tuple(fixed), tuple(dims))


def _dimension(word: str, key: str, kind: str, args: list[str]) -> Dimension:
    if kind == "choice":
        if not args or any(not a for a in args):
            raise SearchSpaceError(f"search space '{word}': choice needs values, e.g. choice(a,b)")
        if len(set(args)) < len(args):
            raise SearchSpaceError(f"search space '{word}': a choice is repeated")
        for a in args:
            parse_override(f"{key}={a}")
        return Dimension(key, kind, choices=tuple(args), word=word)
    if len(args) != 2:
        raise SearchSpaceError(f"search space '{word}': {kind} takes two numbers (low,high)")
    try:
        low, high = (float(a) for a in args)
    except ValueError:
        raise SearchSpaceError(
            f"search space '{word}': {kind} takes two numbers (low,high)"
        ) from None
    if not (math.isfinite(low) and math.isfinite(high)) or not low < high:
        raise SearchSpaceError(f"search space '{word}': needs finite low < high")
    if kind.startswith("log") and low <= 0:
        raise SearchSpaceError(f"search space '{word}': {kind} needs 0 < low")
    if kind in ("int", "logint") and (low != int(low) or high != int(high)):
        raise SearchSpaceError(f"search space '{word}': {kind} takes whole numbers")
    return Dimension(key, kind, low, high, word=word)


def _split(args: str) -> list[str]:
    """``"[1,2],[3]"`` -> ``["[1,2]", "[3]"]``: commas outside brackets split."""
    out, depth, current = [], 0, []
    for ch in args:
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    out.append("".join(current).strip())
    return out if out != [""] else []


def trial_overrides(config: str | None, space: SearchSpace, draw) -> tuple[list[str], list[str]]:
    """The overrides of one trial, and the dimensions left out (not taken by the drawn
    method). ``draw(dimension) -> str`` gives a value (Optuna's ``suggest``, or a corner)."""
    overrides = list(space.fixed)
    skipped = []
    for dim in space.ordered():
        if dim.key.startswith(("method.params.", "backbone.params.", "data.params.")):
            probe = f"{dim.key}={dim.corners()[0]}"
            if _not_taken(config, [*overrides, probe], dim.key):
                skipped.append(dim.key)
                continue
        overrides.append(f"{dim.key}={draw(dim)}")
    return overrides, skipped


def _not_taken(config: str | None, overrides: list[str], key: str) -> bool:
    try:
        load_config(config, overrides)
    except ConfigError as err:
        return err.key == key and "unknown" in str(err)
    return False


def check_space(config: str | None, space: SearchSpace) -> None:
    """Every bound of every dimension (the others at their first value) must pass the config
    schema, and each parameter dimension must be taken by some drawn method: else a one-line
    :class:`SearchSpaceError` before any trial runs."""
    dims = space.ordered()
    used: set[str] = set()
    for dim in dims or [None]:
        for value in dim.corners() if dim else [None]:

            def draw(d: Dimension, dim=dim, value=value) -> str:
                return value if d is dim else d.corners()[0]

            overrides, skipped = trial_overrides(config, space, draw)
            used |= {d.key for d in dims} - set(skipped)
            try:
                load_config(config, overrides)
            except ConfigError as err:
                where = f"'{dim.word}', {dim.describe(value)}: " if dim else ""
                raise SearchSpaceError(f"search space {where}{err}") from None
    unused = [d.word for d in dims if d.key not in used]
    if unused:
        raise SearchSpaceError(
            f"search space '{unused[0]}': no method in the sweep takes this parameter"
        )
