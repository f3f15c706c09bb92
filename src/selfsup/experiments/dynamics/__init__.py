"""``selfsup reproduce dynamics``: the learning-dynamics paper (Esser, Mukherjee &
Ghoshdastidar 2023), one module per experiment (``collapse``, ``exact``, ``contrastive``,
``width``, ``mnist``), each with its run, its claims and its report section.

Every closed form is shown next to a simulation that is independent of it (discrete GD, or a
DOP853 integration of the ODE), and every claim is computed from those numbers. One run per
(experiment, seed); ``selfsup dynamics EXPERIMENT`` runs one of them.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from selfsup.experiments import command
from selfsup.experiments.claims import Claim, across_seeds
from selfsup.experiments.dynamics import collapse, contrastive, exact, mnist, width
from selfsup.experiments.dynamics.params import EXPERIMENTS, PRESETS, Sizes
from selfsup.experiments.experiment import Experiment, Finished, Plan, Run, RunContext

PARTS = {
    "collapse": collapse,
    "exact": exact,
    "contrastive": contrastive,
    "width": width,
    "mnist": mnist,
}
CLAIM_ORDER = ("collapse", "exact", "width", "contrastive", "mnist")
REPORT_ORDER = ("exact", "collapse", "contrastive", "width", "mnist")


def _sizes(args: dict) -> Sizes:
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in args["sizes"].items()}
    return Sizes(**values)


def run_one(args: dict, ctx: RunContext) -> dict:
    """One experiment at one seed; its PNGs go to the run's folder."""
    sz, name, seed = _sizes(args), args["experiment"], args["seed"]
    if name == "mnist":
        return mnist.run(sz, seed, ctx.run_dir, ctx.data_root)
    result = PARTS[name].run(sz, seed, ctx.run_dir)
    if name == "exact":
        result["ode_check"] = exact.ode_check(sz, seed)
    return result


def plan_runs(sz: Sizes, plan: Plan) -> list[Run]:
    names = list(sz.experiments)
    if "mnist" in names:
        why = plan.dataset_missing("mnist")
        if why is not None:
            plan.skip("mnist", why)
            names.remove("mnist")
    # the runs' identity: every size, but not the choice of experiments
    sizes = {f.name: getattr(sz, f.name) for f in fields(sz) if f.name != "experiments"}
    return [
        Run(f"{name}-s{seed}", run_one, {"experiment": name, "seed": seed, "sizes": sizes})
        for seed in plan.seeds
        for name in names
    ]


def summarise(sz: Sizes, finished: list[Finished]) -> dict:
    """``{seed: {experiment: result}}``."""
    summary: dict = {}
    for f in finished:
        summary.setdefault(str(f.run.args["seed"]), {})[f.run.args["experiment"]] = f.result
    return summary


def claims(summary: dict, sz: Sizes) -> list[Claim]:
    per_seed = {
        int(seed): [c for name in CLAIM_ORDER if name in res for c in PARTS[name].claims(res[name])]
        for seed, res in summary.items()
    }
    return across_seeds(per_seed) if per_seed else []


def report(summary: dict, sz: Sizes, finished: list[Finished], out: Path) -> list[str]:
    if not summary:
        return []
    seed, results = next(iter(summary.items()))
    lines = []
    if len(summary) > 1:
        lines += [f"The sections below show seed {seed}; the claims above cover every seed.", ""]
    for name in REPORT_ORDER:
        if name in results:
            lines += PARTS[name].section(results[name], f"runs/{name}-s{seed}")
    return lines


EXPERIMENT = Experiment(
    name="dynamics",
    title="Learning dynamics of SSL: collapse, exact Grassmannian flows, the NTK contrast",
    paper="Esser, Mukherjee & Ghoshdastidar (2023)",
    presets=PRESETS,
    runs=plan_runs,
    summarise=summarise,
    claims=claims,
    report=report,
)


def main(argv: list[str]) -> int:
    """``selfsup dynamics EXPERIMENT [options]``: ``reproduce dynamics --experiments EXPERIMENT``
    with its own default output folder."""
    valid = " | ".join(EXPERIMENTS)
    if argv[:1] in (["-h"], ["--help"]):
        prog = f"selfsup dynamics {{{valid}}}"
        print(command.parser(EXPERIMENT, prog, out="runs/dynamics-EXPERIMENT").format_help())
        return 0
    if not argv or argv[0] not in EXPERIMENTS:
        what = f"unknown experiment '{argv[0]}'" if argv else "name an experiment"
        print(f"error: selfsup dynamics: {what}; valid: {valid}", file=sys.stderr)
        return 2
    name = argv[0]
    return command.run(
        EXPERIMENT,
        ["--experiments", name, *argv[1:]],
        prog=f"selfsup dynamics {name}",
        out=f"runs/dynamics-{name}",
    )
