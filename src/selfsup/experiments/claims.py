"""A paper's claim as data: what it says, the paper's number, ours, and whether it holds.

A reproduction states each claim once, computes ``ours`` and ``holds`` from its own numbers
(never hard-coded), and the report writer renders the list as a table; ``results.json`` keeps it
as a list of objects with exactly these fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from selfsup.errors import InputError

#: ``ours`` / ``paper`` may be a number, a few named numbers, or a short phrase
Value = float | int | str | Mapping[str, Any] | None


@dataclass(frozen=True)
class Claim:
    """One statement of a paper, checked against our numbers.

    Attributes:
        claim: the paper's statement, in a sentence.
        ours: our number(s) behind the verdict, e.g. ``{"supervised": -0.98, "ssl": -0.08}``.
        holds: ``True`` / ``False`` from our numbers; ``None`` when they cannot decide
            (e.g. a run that would measure it was skipped).
        paper: the paper's number where it gives one (else ``None``).
        tolerance: the rule ``holds`` applies, e.g. ``"slope in [0.8, 1.2]"`` or ``0.05``.
        regime: the parameter range the verdict stands for, e.g. ``"W1 frozen, t = 40"``.
        evidence: the numbers around the verdict, in words, for the report.
    """

    claim: str
    ours: Value
    holds: bool | None
    paper: Value = None
    tolerance: Value = None
    regime: str | None = None
    evidence: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def verdict(claim: Claim) -> str:
    """``holds`` / ``does not hold`` / ``undecided``, as the report prints it."""
    if claim.holds is None:
        return "undecided"
    return "holds" if claim.holds else "does NOT hold"


def fmt(value: Value, digits: int = 3) -> str:
    """A claim's value in a table cell: numbers to ``digits`` significant figures."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {fmt(v, digits)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v, digits) for v in value)
    return str(value)


def across_seeds(per_seed: Mapping[int, Sequence[Claim]]) -> list[Claim]:
    """Merge claims checked once per seed: a claim holds when it holds for every seed.

    Every seed must state the same claims in the same order. With one seed the claims come
    back unchanged; otherwise ``ours`` becomes ``{"seed 0": ..., "seed 1": ...}`` and the
    evidence lists each seed's.
    """
    seeds = list(per_seed)
    if len(seeds) == 1:
        return list(per_seed[seeds[0]])
    merged = []
    for row in zip(*(per_seed[s] for s in seeds), strict=True):
        if len({c.claim for c in row}) != 1:
            raise InputError(f"seeds disagree on the claims: {[c.claim for c in row]}")
        verdicts = [c.holds for c in row]
        holds = None if None in verdicts else all(verdicts)
        merged.append(
            replace(
                row[0],
                ours={f"seed {s}": c.ours for s, c in zip(seeds, row, strict=True)},
                holds=holds,
                evidence=" | ".join(
                    f"seed {s}: {c.evidence}" for s, c in zip(seeds, row, strict=True)
                ),
            )
        )
    return merged


def claims_table(claims: Sequence[Claim]) -> list[str]:
    """Markdown: one table row per claim, then each claim's evidence as a bullet."""
    lines = [
        "| # | claim | verdict | ours | paper | tolerance | regime |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(claims, 1):
        cells = [str(i), c.claim, f"**{verdict(c)}**", fmt(c.ours), fmt(c.paper)]
        cells += [fmt(c.tolerance), c.regime or "—"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    evidence = [f"{i}. {c.evidence}" for i, c in enumerate(claims, 1) if c.evidence]
    if evidence:
        lines += ["", "Evidence:", "", *evidence]
    return lines
