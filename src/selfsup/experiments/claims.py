"""A paper's claim as data: what it says, the paper's number, ours, and how sure the verdict is.

A reproduction states each claim once and computes its verdict from its own numbers (never
hard-coded); the report writer renders the list as a table and ``results.json`` keeps it as a
list of objects with the fields of :class:`Claim`.

A claim is about one number, its *effect*: a difference between two methods (A - B, paired by
seed), or one quantity against a tolerance (a slope in [0.8, 1.2]). The claim says on which
side of a bound the effect lies (``above`` / ``below``; both for a range); a reproduction
puts into the bound the practical margin the paper implies (e.g. "A beats B" with a margin of
0.5 accuracy points: ``above=0.5``; "A matches or beats B": ``above=-0.5``). The verdict is
decided by the effect's 95 % interval across seeds (Student-t, :mod:`.stats`):

- ``holds``: the whole interval lies on the claim's side of the bound(s);
- ``does not hold``: the whole interval lies on the other side;
- ``inconclusive``: the interval straddles a bound (or a number is missing);
- ``single seed``: one seed, no interval; never settled (``leaning`` says where its point lies).

A claim whose number does not depend on the seed (a closed form against an ODE solver, an
exact identity) is ``deterministic``: no interval, and its verdict is holds / does not hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from selfsup.errors import InputError
from selfsup.experiments.stats import Estimate, difference_interval, mean_interval

#: ``ours`` / ``paper`` may be a number, a few named numbers, or a short phrase
Value = float | int | str | Mapping[str, Any] | None

HOLDS, FAILS, INCONCLUSIVE, SINGLE = "holds", "does not hold", "inconclusive", "single seed"
VERDICTS = (HOLDS, FAILS, INCONCLUSIVE, SINGLE)
LEVEL = 0.95  # every interval's confidence level


@dataclass(frozen=True)
class Claim:
    """One statement of a paper, checked against our numbers.

    Build one with :func:`compare`, :func:`measure`, :func:`exact` or :func:`all_of`, which
    compute the effect, its interval and the verdict; ``Claim(claim, ours, holds)`` alone is a
    verdict without an interval.

    Attributes:
        claim: the paper's statement, in a sentence.
        ours: our number(s) behind the verdict, e.g. ``{"supervised": -0.98, "ssl": -0.08}``.
        holds: ``True`` when the verdict is ``holds``, ``False`` when ``does not hold``, else
            ``None`` (inconclusive, single seed, or a number missing).
        paper: the paper's number where it gives one (else ``None``).
        tolerance: the rule the verdict applies, e.g. ``"slope in [0.8, 1.2]"``.
        regime: the parameter range the verdict stands for, e.g. ``"W1 frozen, t = 40"``.
        evidence: the numbers around the verdict, in words, for the report.
        verdict: one of :data:`VERDICTS`.
        effect: the number the verdict is about, in ``unit`` (mean over seeds).
        interval: its 95 % interval ``[low, high]`` across seeds; ``None`` with one seed or
            when ``deterministic``.
        seeds: how many seeds the effect is computed from.
        deterministic: the number does not depend on the seed.
        above, below: the bound(s) the claim says the effect lies above / below.
        unit: the effect's unit in the report, e.g. ``"pts"`` (accuracy points).
        per_seed: each seed's value(s) behind the effect, ``{seed: value}`` or, for a
            comparison, ``{"A": {seed: value}, "B": {...}}``.
        interval_method: how the interval was computed (:mod:`.stats`).
        leaning: with a single seed, the verdict its one value would give (never settled).
        parts: for a claim about several numbers (every method, both bounds), each part's
            ``{name, verdict, effect, interval}``; the effect shown is the deciding part's.
    """

    claim: str
    ours: Value = None
    holds: bool | None = None
    paper: Value = None
    tolerance: Value = None
    regime: str | None = None
    evidence: str = ""
    verdict: str = ""
    effect: float | None = None
    interval: tuple[float, float] | None = None
    seeds: int = 0
    deterministic: bool = False
    above: float | None = None
    below: float | None = None
    unit: str = ""
    per_seed: Mapping | None = None
    interval_method: str | None = None
    leaning: str | None = None
    parts: list[dict] | None = None

    def __post_init__(self) -> None:
        if not self.verdict:
            word = {True: HOLDS, False: FAILS, None: INCONCLUSIVE}[self.holds]
            object.__setattr__(self, "verdict", word)
        if self.verdict not in VERDICTS:
            raise InputError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        object.__setattr__(self, "holds", {HOLDS: True, FAILS: False}.get(self.verdict))
        if self.interval is not None:
            object.__setattr__(self, "interval", tuple(float(v) for v in self.interval))

    def to_dict(self) -> dict:
        record = asdict(self)
        record["interval"] = None if self.interval is None else list(self.interval)
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Claim:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


def decide(
    value: float | None,
    interval: tuple[float, float] | None,
    seeds: int,
    above: float | None = None,
    below: float | None = None,
) -> str:
    """The verdict for an effect ``value`` with ``interval`` from ``seeds`` seeds, when the
    claim says it lies above ``above`` and / or below ``below`` (see the module docstring)."""
    if above is None and below is None:
        raise InputError("a claim needs a bound: above=, below= or both")
    if value is None or not math.isfinite(value):
        return INCONCLUSIVE
    if seeds < 2 or interval is None:
        return SINGLE
    low, high = interval
    if (above is None or low > above) and (below is None or high < below):
        return HOLDS
    if (above is not None and high < above) or (below is not None and low > below):
        return FAILS
    return INCONCLUSIVE


def _point(value: float, above: float | None, below: float | None) -> str:
    """Holds / does not hold for one number without an interval."""
    inside = (above is None or value > above) and (below is None or value < below)
    return HOLDS if inside else FAILS


def _from_estimate(
    claim: str,
    estimate: Estimate | None,
    above: float | None,
    below: float | None,
    scale: float,
    **more: Any,
) -> Claim:
    if estimate is None:
        return Claim(claim, verdict=INCONCLUSIVE, above=above, below=below, **more)
    value = estimate.value * scale
    interval = None
    if estimate.interval is not None:
        interval = (estimate.interval[0] * scale, estimate.interval[1] * scale)
    verdict = decide(value, interval, estimate.n, above, below)
    leaning = _point(value, above, below) if verdict == SINGLE else None
    return Claim(
        claim,
        verdict=verdict,
        effect=value,
        interval=interval,
        seeds=estimate.n,
        above=above,
        below=below,
        interval_method=estimate.method,
        leaning=leaning,
        **more,
    )


def compare(
    claim: str,
    a: Mapping[Any, float | None],
    b: Mapping[Any, float | None],
    *,
    above: float | None = 0.0,
    below: float | None = None,
    scale: float = 1.0,
    names: tuple[str, str] = ("A", "B"),
    **more: Any,
) -> Claim:
    """A claim about ``A - B``: ``a`` and ``b`` map a seed to each method's value.

    Paired by seed when both have the same seeds, else Welch's unpaired interval. The bounds
    are in the scaled unit (``scale=100, unit="pts"`` for accuracies in points): ``above=0``
    "A beats B", ``above=0.5`` "by more than half a point", ``above=-0.5`` "matches or beats
    (within half a point)". ``ours`` defaults to both means.
    """
    if "ours" not in more:
        means = {n: _mean(v) for n, v in zip(names, (a, b), strict=True)}
        more["ours"] = means
    more.setdefault("per_seed", {names[0]: dict(a), names[1]: dict(b)})
    return _from_estimate(claim, difference_interval(a, b, LEVEL), above, below, scale, **more)


def measure(
    claim: str,
    values: Mapping[Any, float | None],
    *,
    above: float | None = None,
    below: float | None = None,
    scale: float = 1.0,
    **more: Any,
) -> Claim:
    """A claim about one number (its mean over seeds) against a tolerance: ``values`` maps a
    seed to the number; ``above`` / ``below`` bound it (both for a range)."""
    more.setdefault("ours", _mean(values))
    more.setdefault("per_seed", dict(values))
    return _from_estimate(claim, mean_interval(values, LEVEL), above, below, scale, **more)


def exact(
    claim: str,
    value: float,
    *,
    above: float | None = None,
    below: float | None = None,
    seeds: int = 1,
    **more: Any,
) -> Claim:
    """A deterministic claim: ``value`` does not depend on the seed (the worst over the seeds
    run, when several were), so there is no interval and the verdict is holds / not."""
    more.setdefault("ours", value)
    verdict = INCONCLUSIVE if not math.isfinite(value) else _point(value, above, below)
    return Claim(
        claim,
        verdict=verdict,
        effect=value,
        seeds=seeds,
        deterministic=True,
        above=above,
        below=below,
        **more,
    )


def all_of(claim: str, parts: Mapping[str, Claim], **more: Any) -> Claim:
    """A claim that holds when every part holds (every method, both bounds of a rule).

    ``does not hold`` when a part does not; ``holds`` when every part holds; otherwise
    ``single seed`` if a part has one seed, else ``inconclusive``. The effect, interval and
    bounds shown are the deciding part's: the one nearest its bound among the parts whose
    verdict is the claim's.
    """
    if not parts:  # nothing measured (e.g. a run that would measure it was skipped)
        return Claim(claim, verdict=INCONCLUSIVE, **more)
    verdicts = [p.verdict for p in parts.values()]
    if FAILS in verdicts:
        verdict = FAILS
    elif all(v == HOLDS for v in verdicts):
        verdict = HOLDS
    elif SINGLE in verdicts and INCONCLUSIVE not in verdicts:
        verdict = SINGLE
    else:
        verdict = INCONCLUSIVE
    deciding = [(n, p) for n, p in parts.items() if p.verdict == verdict] or list(parts.items())
    name, part = min(deciding, key=lambda item: _slack(item[1]))
    leaning = None
    if verdict == SINGLE:
        leaning = FAILS if any(p.leaning == FAILS for p in parts.values()) else HOLDS
    summary = {
        n: {
            "verdict": p.verdict,
            "effect": p.effect,
            "interval": _list(p.interval),
            "seeds": p.seeds,
            "above": p.above,
            "below": p.below,
            "deterministic": p.deterministic,
        }
        for n, p in parts.items()
    }
    more.setdefault("ours", {n: p.effect for n, p in parts.items()})
    more.setdefault("per_seed", {n: p.per_seed for n, p in parts.items()})
    return Claim(
        claim,
        verdict=verdict,
        effect=part.effect,
        interval=part.interval,
        seeds=min((p.seeds for p in parts.values()), default=0),
        deterministic=all(p.deterministic for p in parts.values()),
        above=part.above,
        below=part.below,
        unit=part.unit,
        interval_method=part.interval_method,
        leaning=leaning,
        parts=[{"name": name, **summary.pop(name)}]
        + [{"name": n, **s} for n, s in summary.items()],
        **more,
    )


def _slack(c: Claim) -> float:
    """How far the claim's interval (or point) clears its bounds; negative when it does not."""
    if c.effect is None or not math.isfinite(c.effect):
        return -math.inf
    low, high = c.interval if c.interval is not None else (c.effect, c.effect)
    gaps = []
    if c.above is not None:
        gaps.append(low - c.above)
    if c.below is not None:
        gaps.append(c.below - high)
    return min(gaps, default=math.inf)


def _mean(values: Mapping[Any, float | None]) -> float | None:
    estimate = mean_interval(values)
    return None if estimate is None else estimate.value


def _list(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else list(interval)


def across_seeds(per_seed: Mapping[int, Sequence[Claim]]) -> list[Claim]:
    """Merge claims checked once per seed into one claim each, decided across the seeds.

    Every seed must state the same claims in the same order, each with its ``effect`` and
    bounds (or ``parts``). A deterministic claim keeps its worst value over the seeds; any
    other gets the Student-t interval of its per-seed effects (per part, for :func:`all_of`
    claims). Claims without an effect (a bare ``holds``) hold when they hold for every seed.
    """
    seeds = list(per_seed)
    merged = []
    for row in zip(*(per_seed[s] for s in seeds), strict=True):
        if len({c.claim for c in row}) != 1:
            raise InputError(f"seeds disagree on the claims: {[c.claim for c in row]}")
        merged.append(_merge(dict(zip(seeds, row, strict=True))))
    return merged


def _merge(row: Mapping[int, Claim]) -> Claim:
    first = next(iter(row.values()))
    evidence = " | ".join(f"seed {s}: {c.evidence}" for s, c in row.items() if c.evidence)
    ours = {f"seed {s}": c.ours for s, c in row.items()}
    keep = dict(paper=first.paper, tolerance=first.tolerance, regime=first.regime)
    if first.parts is not None:
        parts = {}
        for part in first.parts:
            values = {s: _part(c, part["name"]) for s, c in row.items()}
            parts[part["name"]] = _merge_values(
                part["name"],
                values,
                first.unit,
                part["above"],
                part["below"],
                part["deterministic"],
            )
        return all_of(first.claim, parts, ours=ours, evidence=evidence, **keep)
    if first.effect is None:
        verdicts = [c.holds for c in row.values()]
        holds = None if None in verdicts else all(verdicts)
        return replace(first, ours=ours, holds=holds, verdict="", evidence=evidence)
    values = {s: c.effect for s, c in row.items()}
    merged = _merge_values(
        first.claim, values, first.unit, first.above, first.below, first.deterministic
    )
    return replace(merged, ours=ours, evidence=evidence, **keep)


def _part(c: Claim, name: str) -> float | None:
    found = [p for p in c.parts or [] if p["name"] == name]
    return found[0]["effect"] if found else None


def _merge_values(
    name: str,
    values: Mapping[int, float | None],
    unit: str,
    above: float | None,
    below: float | None,
    deterministic: bool,
) -> Claim:
    """One number over the seeds: the worst value if deterministic, else its interval."""
    if deterministic:
        kept = [v for v in values.values() if v is not None]
        probe = Claim(name, verdict=HOLDS, above=above, below=below)
        worst = min(kept, key=lambda v: _slack(replace(probe, effect=v)), default=math.nan)
        return exact(
            name,
            worst,
            above=above,
            below=below,
            seeds=len(values),
            unit=unit,
            per_seed=dict(values),
        )
    return measure(name, values, above=above, below=below, unit=unit)


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


def _signed(value: float, digits: int) -> str:
    return f"{value:+.{digits}g}"


def verdict(claim: Claim, digits: int = 3) -> str:
    """The verdict with its effect and interval, as reports and docs print it, e.g.
    ``holds (+1.9 pts, 95 % CI [+1.2, +2.6], 3 seeds)``."""
    unit = f" {claim.unit}" if claim.unit else ""
    if claim.effect is None or not math.isfinite(claim.effect):
        return claim.verdict
    effect = _signed(claim.effect, digits) + unit
    if claim.parts:  # the deciding part's number
        effect = f"{claim.parts[0]['name']} {effect}"
    if claim.deterministic:
        return f"{claim.verdict} ({effect}, deterministic)"
    if claim.verdict == SINGLE:
        return f"single seed ({effect}, no interval; leans {claim.leaning})"
    low, high = claim.interval or (math.nan, math.nan)
    ci = f"95 % CI [{_signed(low, digits)}, {_signed(high, digits)}]"
    return f"{claim.verdict} ({effect}, {ci}, {claim.seeds} seeds)"


def bound(claim: Claim, digits: int = 3) -> str:
    """The side the claim says the effect lies on, e.g. ``> +0.5 pts`` or ``in [0.8, 1.2]``."""
    unit = f" {claim.unit}" if claim.unit else ""
    if claim.above is not None and claim.below is not None:
        return f"in [{claim.above:.{digits}g}, {claim.below:.{digits}g}]{unit}"
    if claim.above is not None:
        return f"> {_signed(claim.above, digits)}{unit}"
    if claim.below is not None:
        return f"< {_signed(claim.below, digits)}{unit}"
    return "—"


def claims_table(claims: Sequence[Claim]) -> list[str]:
    """Markdown: one table row per claim, then each claim's evidence as a bullet."""
    lines = [
        "| # | claim | verdict (effect, 95 % CI, seeds) | claim's side | ours | paper | "
        "tolerance | regime |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(claims, 1):
        cells = [str(i), c.claim, f"**{verdict(c)}**", bound(c), fmt(c.ours), fmt(c.paper)]
        cells += [fmt(c.tolerance), c.regime or "—"]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    methods = sorted({c.interval_method for c in claims if c.interval_method})
    if methods:
        lines += ["", "Intervals: " + "; ".join(methods) + f" ({LEVEL:.0%} level)."]
    evidence = [f"{i}. {c.evidence}" for i, c in enumerate(claims, 1) if c.evidence]
    if evidence:
        lines += ["", "Evidence:", "", *evidence]
    return lines
