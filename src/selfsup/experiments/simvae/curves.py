"""Probe metrics against training steps: per-method curves over seeds, where two curves cross,
the PNGs, and the style-advantage-vs-budget claims: the regime map of where SimVAE's style
advantage over each rival holds as training goes on."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from selfsup.errors import InputError
from selfsup.experiments.claims import Claim, compare
from selfsup.experiments.stats import mean_std

PROJECTOR = "projector_"
CURVE_KEYS = (
    "style_score",
    "projector_style_score",
    "content_linear_top1",
    "projector_content_linear_top1",
)


#: SimVAE "keeps more" content / style than a rival only by more than this many points (scores
#: and accuracies in [0, 1]); a smaller difference is within what a draw of views moves
MARGIN_PTS = 0.5


def _seed_values(curve: dict, key: str, step: int) -> dict[int, float | None]:
    """``{run index: value}`` of ``key`` at ``step`` (runs in seed order, so pairable)."""
    values = curve.get("values", {}).get(key)
    if values is None:  # a curve summarised before per-run values were kept: the mean only
        return {0: curve["mean"][key][curve["steps"].index(step)]}
    return dict(enumerate(values[curve["steps"].index(step)]))


def mean_curve(runs: Sequence[dict]) -> dict | None:
    """Each seed's ``curve`` (a list of ``{"step": s, key: value, ...}``) -> ``{"steps": [...],
    "mean": {key: [...]}, "std": {key: [...]}, "values": {key: [[per run] per step]},
    "seeds": n}`` on the steps every seed measured (runs in seed order);
    ``None`` when no seed has a curve."""
    curves = [{row["step"]: row for row in r.get("curve", [])} for r in runs if r.get("curve")]
    if not curves:
        return None
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    out: dict = {"steps": steps, "mean": {}, "std": {}, "values": {}, "seeds": len(curves)}
    for key in CURVE_KEYS:
        cells = [mean_std([c[s].get(key) for c in curves]) for s in steps]
        if all(m is None for m, _ in cells):
            continue
        out["mean"][key] = [m for m, _ in cells]
        out["std"][key] = [sd for _, sd in cells]
        out["values"][key] = [[c[s].get(key) for c in curves] for s in steps]  # run by run
    return out


def crossings(steps: Sequence[float], a: Sequence[float], b: Sequence[float]) -> list[dict]:
    """Where curve ``a`` crosses curve ``b``, both measured at increasing ``steps``.

    Between two measured steps where ``a - b`` changes sign, the crossing step is interpolated
    linearly in ``log(step)`` (the curves are sampled geometrically); where the sign changes
    across exact ties, the crossing is the first tied step. A tie with the same sign on both
    sides is no crossing. Points with a missing value (``None`` / NaN) are skipped.

    Returns:
        One ``{"step": float, "direction": "a_overtakes" | "b_overtakes", "between":
        [s_i, s_j]}`` per sign change, in order of steps; empty if ``a - b`` never changes
        sign.
    """
    if not (len(steps) == len(a) == len(b)):
        raise InputError(
            f"steps, a and b must have one value per step: {len(steps)}, {len(a)}, {len(b)}"
        )
    pairs = zip(steps[:-1], steps[1:], strict=True)
    if any(s2 <= s1 for s1, s2 in pairs) or any(s <= 0 for s in steps):
        raise InputError(f"steps must be positive and increasing, got {list(steps)}")
    pts = [
        (float(s), float(x) - float(y))
        for s, x, y in zip(steps, a, b, strict=True)
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
    ]
    out = []
    last = None  # the last point with a non-zero difference
    tie = None  # the first step of a run of exact ties since then
    for s, d in pts:
        if d == 0:
            tie = s if tie is None else tie
            continue
        if last is not None and (last[1] > 0) != (d > 0):
            (s0, d0), (s1, d1) = last, (s, d)
            if tie is not None:  # the curves meet exactly at a measured step
                step = tie
            else:
                t = d0 / (d0 - d1)
                step = math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))
            direction = "a_overtakes" if d > 0 else "b_overtakes"
            out.append({"step": step, "direction": direction, "between": [s0, s1]})
        last, tie = (s, d), None
    return out


def plateaued(values: Sequence[float | None], stds: Sequence[float | None], tail: int = 3) -> bool:
    """Has a curve stopped moving? Its last ``tail`` points lie within the seeds' spread (the
    largest std there, at least 0.01) of the last value."""
    pts = [(v, s) for v, s in zip(values, stds, strict=True) if v is not None]
    if len(pts) < tail:
        return False
    last = pts[-tail:]
    spread = max(0.01, max((s or 0.0) for _, s in last))
    return all(abs(v - last[-1][0]) <= spread for v, _ in last)


def advantage_claims(
    curves: dict,
    dataset: str,
    ours: str,
    rivals: Sequence[str],
    key: str = "style_score",
    rival_key: str | None = None,
) -> list[Claim]:
    """The regime map for SimVAE: ``ours``'s ``key`` minus each rival's ``rival_key`` (default
    ``key``) against steps, its crossing points and the range of steps where ours is ahead."""
    rival_key = rival_key or key
    mine = curves.get(ours)
    out = []
    for rival in rivals:
        theirs = curves.get(rival)
        if mine is None or theirs is None or key not in mine["mean"]:
            continue
        if rival_key not in theirs["mean"]:
            continue
        common = sorted(set(mine["steps"]) & set(theirs["steps"]))
        if not common:
            continue
        a = [mine["mean"][key][mine["steps"].index(s)] for s in common]
        b = [theirs["mean"][rival_key][theirs["steps"].index(s)] for s in common]
        diff = [x - y for x, y in zip(a, b, strict=True)]
        cross = crossings(common, a, b)
        ahead = [s for s, d in zip(common, diff, strict=True) if d > 0]
        if not ahead:
            regime = f"never ahead at steps {common[0]}-{common[-1]}"
        elif len(ahead) == len(common):
            regime = f"ahead at every step measured, {common[0]}-{common[-1]}"
        else:
            regime = f"ahead at steps {', '.join(map(str, ahead))} of {common[0]}-{common[-1]}"
        where = (
            "; ".join(
                f"{c['direction'].replace('a_', ours + ' ').replace('b_', rival + ' ')}"
                f" at ~{c['step']:.0f} steps"
                for c in cross
            )
            or "no crossing"
        )
        point = "" if rival_key == key else f" ({rival_key} of {rival})"
        last = common[-1]
        mine_last = _seed_values(mine, key, last)
        theirs_last = _seed_values(theirs, rival_key, last)
        out.append(
            compare(
                claim=f"{ours} keeps more style than {rival}{point} once trained long enough "
                f"({dataset}, {key} vs steps)",
                paper="SimVAE retains more style information than discriminative SSL",
                ours={
                    "advantage_at_last_step": diff[-1],
                    "last_step": common[-1],
                    "crossing_steps": [round(c["step"], 1) for c in cross],
                },
                a=mine_last,
                b=theirs_last,
                above=MARGIN_PTS,
                scale=100,
                unit="pts",
                names=(ours, rival),
                tolerance=f"{ours}'s {key} minus {rival}'s at the longest budget > "
                f"{MARGIN_PTS} points (paired by seed)",
                regime=f"{dataset}: {regime}",
                evidence=f"{dataset} {key}, {ours} minus {rival} by step: "
                + ", ".join(f"{s}: {d:+.3f}" for s, d in zip(common, diff, strict=True))
                + f"; {where}",
            )
        )
    return out


def plot_curves(curves: dict, dataset: str, path: Path, keys: Sequence[str] = CURVE_KEYS[:2]):
    """One panel per key: mean ± std over seeds against steps (log axis), one line per method.
    Returns the file name, or ``None`` when there is nothing to draw."""
    from selfsup.experiments.report import pyplot, save_figure

    keys = [k for k in keys if any(k in c["mean"] for c in curves.values())]
    if not keys:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 3.8), squeeze=False)
    colours = {m: f"C{i % 10}" for i, m in enumerate(sorted(curves))}  # the same in every panel
    for ax, key in zip(axes[0], keys, strict=True):
        for method, c in sorted(curves.items()):
            # a method without a projector (the VAEs) shows its one probe point, mu, in the
            # projector panel too, as the reference the heads are compared with
            shown = key if key in c["mean"] else key.removeprefix(PROJECTOR)
            if shown not in c["mean"]:
                continue
            ys = [math.nan if v is None else v for v in c["mean"][shown]]
            sd = [0.0 if v is None else v for v in c["std"][shown]]
            style = "-" if "vae" in method else "--"
            label = method if shown == key else f"{method} (mu)"
            ax.plot(c["steps"], ys, style, marker="o", ms=3, label=label, color=colours[method])
            ax.fill_between(
                c["steps"],
                [y - e for y, e in zip(ys, sd, strict=True)],
                [y + e for y, e in zip(ys, sd, strict=True)],
                alpha=0.15,
                color=colours[method],
            )
        ax.set_xscale("log")
        ax.set_xlabel("training steps")
        ax.set_ylabel(key)
        where = "encoder / mu" if not key.startswith("projector_") else "projector output"
        ax.set_title(f"{dataset}: {key} ({where})", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)


def plot_advantage(
    curves: dict, dataset: str, ours: Sequence[str], rivals: Sequence[str], path: Path
) -> str | None:
    """The regime map as a picture: each SimVAE variant's style_score minus each rival's (at
    the rival's encoder output, solid, and projector output, dotted) against steps, with the
    zero line and the crossing points. Returns the file name, or ``None`` if nothing to draw."""
    from selfsup.experiments.report import pyplot, save_figure

    pairs = []
    for mine in ours:
        for rival in rivals:
            for rival_key in ("style_score", "projector_style_score"):
                a, b = curves.get(mine), curves.get(rival)
                if a is None or b is None or rival_key not in b["mean"]:
                    continue
                if "style_score" not in a["mean"]:
                    continue
                common = sorted(set(a["steps"]) & set(b["steps"]))
                ya = [a["mean"]["style_score"][a["steps"].index(s)] for s in common]
                yb = [b["mean"][rival_key][b["steps"].index(s)] for s in common]
                if len(common) >= 2 and None not in ya and None not in yb:
                    pairs.append((mine, rival, rival_key, common, ya, yb))
    if not pairs:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, len(ours), figsize=(5.2 * len(ours), 3.8), squeeze=False)
    for ax, mine in zip(axes[0], ours, strict=True):
        for m, rival, rival_key, steps, ya, yb in pairs:
            if m != mine:
                continue
            diff = [x - y for x, y in zip(ya, yb, strict=True)]
            style = ":" if rival_key.startswith("projector_") else "-"
            where = "projector" if rival_key.startswith("projector_") else "encoder"
            (line,) = ax.plot(steps, diff, style, marker="o", ms=3, label=f"{rival} ({where})")
            for c in crossings(steps, ya, yb):
                ax.axvline(c["step"], color=line.get_color(), alpha=0.4, lw=0.8)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("training steps")
        ax.set_ylabel(f"{mine} style_score minus rival's")
        ax.set_title(f"{dataset}: {mine}'s style advantage (> 0: ahead)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return save_figure(fig, path)
