"""A toy reproduction for the framework's tests: the smallest thing an experiment declares.

Each run draws ``n`` standard normals with its seed and reports their mean; the claim is that
the mean over seeds is within ``tolerance`` of 0. Run functions live at module level so that
worker processes can import them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from selfsup.experiments.claims import Claim, measure
from selfsup.experiments.experiment import (
    Experiment,
    Finished,
    Plan,
    Preset,
    Run,
    RunContext,
    option,
)
from selfsup.experiments.report import pyplot, save_figure
from selfsup.experiments.stats import mean_std


@dataclass(frozen=True)
class Params:
    n: int = option(100, "samples per run", minimum=1)
    scale: float = option(1.0, "standard deviation of the samples", minimum=0.0)
    groups: tuple[str, ...] = option(("a", "b"), "groups to run", choices=("a", "b", "c"))
    widths: tuple[int, ...] | None = option(None, "optional widths")
    loud: bool = option(False, "print a line per run")
    tolerance: float = 0.5  # preset-only


PRESETS = {
    "full": Preset(Params(n=1000), "1000 samples", seeds=3),
    "quick": Preset(Params(n=50), "50 samples", seeds=2),
}


def draw(args: dict, ctx: RunContext) -> dict:
    """One run: ``n`` normals from ``seed``; leaves a marker file to show where it ran."""
    rng = np.random.default_rng(args["seed"])
    x = args["scale"] * rng.standard_normal(args["n"])
    (ctx.run_dir / "marker.json").write_text(json.dumps({"pid_dir": str(ctx.run_dir)}))
    if args["loud"]:
        print("drawn", args["group"], args["seed"])
    return {"mean": float(x.mean()), "n": args["n"], "data_root": str(ctx.data_root)}


def plan_runs(p: Params, plan: Plan) -> list[Run]:
    if "c" in p.groups:
        plan.skip("c", "group c is never run")
    return [
        Run(f"{g}-s{seed}", draw, {"group": g, "seed": seed, "n": p.n, "scale": p.scale,
                                   "loud": p.loud})
        for g in p.groups
        if g != "c"
        for seed in plan.seeds
    ]  # fmt: skip


def summarise(p: Params, finished: list[Finished]) -> dict:
    by: dict = {}
    for f in finished:
        by.setdefault(f.run.args["group"], []).append(f.result["mean"])
    return {g: dict(zip(("mean", "std"), mean_std(v), strict=True)) | {"values": v}
            for g, v in by.items()}  # fmt: skip


def claims(summary: dict, p: Params) -> list[Claim]:
    return [
        measure(
            "The sample mean is near 0",
            dict(enumerate(row["values"])),
            paper=0.0,
            tolerance=p.tolerance,
            above=-p.tolerance,
            below=p.tolerance,
            regime=f"group {g}, n={p.n}",
            evidence=f"means per seed {row['values']}",
        )
        for g, row in summary.items()
    ]


def report(summary: dict, p: Params, finished: list[Finished], out: Path) -> list[str]:
    fig, ax = pyplot().subplots()
    ax.bar(list(summary), [row["mean"] for row in summary.values()])
    name = save_figure(fig, out / "means.png")
    return ["## Means", "", *(f"- {g}: {row['mean']:.3f}" for g, row in summary.items()),
            "", f"![means]({name})"]  # fmt: skip


EXPERIMENT = Experiment(
    name="toy",
    title="Toy: sample means",
    paper="nobody (2024)",
    presets=PRESETS,
    runs=plan_runs,
    summarise=summarise,
    claims=claims,
    report=report,
    progress=lambda r: f"mean={r['mean']:.3f}",
)
