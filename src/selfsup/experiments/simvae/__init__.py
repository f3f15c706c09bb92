"""``selfsup reproduce simvae``: SimVAE against VAE, beta-VAE, CR-VAE, SimCLR, VICReg and
Barlow Twins.

Every method uses the same encoder family and budget per dataset (the VAE encoder; for
SimCLR / VICReg its posterior-mean output is the representation, followed by a projector),
several seeds, on MNIST (FashionMNIST / CIFAR-10 / CelebA when present), on the procedural
``shapes`` set and on ``styled_mnist`` (MNIST digits with known colour, background, position
and scale). Parameters in ``settings.py``, one run in ``train_eval.py`` (what it measures in
``probing.py``), curves and crossing points in ``curves.py``, tables in ``tables.py``; what is
particular to the claims is here.

Runs are independent, so they go to worker processes with one thread each: on a small shared
CPU that beats one process with several threads, whose threads mostly wait for each other on
these small networks.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from selfsup.errors import SelfsupError
from selfsup.experiments.claims import Claim, compare, measure
from selfsup.experiments.experiment import Experiment, Finished, Plan, Run
from selfsup.experiments.simvae.curves import MARGIN_PTS, advantage_claims, mean_curve
from selfsup.experiments.simvae.settings import DISCRIMINATIVE, PRESETS, RESULT_KEYS, Params
from selfsup.experiments.simvae.settings import setting_for as setting_for
from selfsup.experiments.simvae.tables import fmt, report
from selfsup.experiments.simvae.train_eval import run_one
from selfsup.experiments.stats import mean_std

STYLE_DATASETS = ("shapes", "styled_mnist")  # the datasets with known style factors
LABELS = {"simvae": "SimVAE", "simvae_official": "SimVAE (official weighting)"}


def plan_runs(p: Params, plan: Plan) -> list[Run]:
    if p.shapes_size is not None and len(p.shapes_size) != 2:
        raise SelfsupError(f"--shapes-size takes N_TRAIN,N_TEST, got {p.shapes_size}")
    chosen = {}
    for d in p.datasets:
        s = setting_for(p, d)
        if s is None:
            plan.skip(d, "this preset has no settings for it (the full preset has)")
            continue
        why = plan.dataset_missing(d, **s.data_params)
        if why is not None:
            plan.skip(d, why)
            continue
        chosen[d] = s
    if not chosen:
        raise SelfsupError(
            "nothing to run: " + "; ".join(f"{d}: {w}" for d, w in plan.skipped.items())
        )
    runs = [
        Run(
            f"{d}-{m}-s{seed}",
            run_one,
            dict(
                dataset=d,
                method=m,
                seed=seed,
                setting=asdict(s),
                pictures=seed == 0,
                mlp_probe=p.mlp_probe,
            ),
        )
        for d, s in chosen.items()
        for m in p.methods
        for seed in plan.seeds
    ]
    # the slowest runs (conv nets) first, so the last ones to finish are short; seed by seed,
    # so that a reproduction stopped early has whole seeds
    return sorted(runs, key=lambda r: (r.args["setting"]["backbone"] != "conv_vae", r.args["seed"]))


def progress(result: dict) -> str:
    return f"linear={result.get('content_linear_top1', math.nan):.3f}"


def summarise(p: Params, finished: list[Finished]) -> dict:
    """``{dataset: {method: {mean, std, runs, errors, curve}}}``; mean and std of every numeric
    metric over seeds, each seed's full result, and the probe metrics against steps."""
    by: dict = {}
    for f in finished:
        by.setdefault(f.run.args["dataset"], {}).setdefault(f.run.args["method"], []).append(f)
    summary: dict = {}
    for d, per_method in by.items():
        summary[d] = {}
        for m, done in per_method.items():
            runs = [f.result for f in sorted(done, key=lambda f: f.run.args["seed"])]
            keys = sorted(
                {
                    k
                    for r in runs
                    for k, v in r.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
            )
            stats = {k: mean_std([r.get(k) for r in runs]) for k in keys}
            summary[d][m] = {
                "seeds": sorted(f.run.args["seed"] for f in done),
                "mean": {k: v[0] for k, v in stats.items()},
                "std": {k: v[1] for k, v in stats.items()},
                "runs": runs,
                "errors": [r["error"] for r in runs if "error" in r],
                "curve": mean_curve(runs),
            }
    return summary


def claims(summary: dict, p: Params) -> list[Claim]:
    """Content on MNIST vs the VAE; style vs each discriminative method at the longest budget,
    for each SimVAE weighting and each of the rival's probe points; the style advantage against
    steps (its crossing points); stability."""

    def get(d: str, m: str, k: str) -> tuple | None:
        info = summary.get(d, {}).get(m)
        if info is None or info["mean"].get(k) is None:
            return None
        return info["mean"][k], info["std"][k]

    def per_seed(d: str, m: str, k: str) -> dict[int, float | None]:
        info = summary[d][m]
        seeds = info.get("seeds", range(len(info["runs"])))
        return {s: r.get(k) for s, r in zip(seeds, info["runs"], strict=True)}

    def regime(d: str) -> str:
        s = setting_for(p, d)
        budget = f"{s.minutes:g} min" if s.minutes is not None else f"{s.steps} steps"
        return f"{d}, {budget} of {s.batch_size} x 2 views, Adam lr {s.lr:g}"

    out = []
    pairs = [("mnist", "simvae", "content_linear_top1", "vae", "content_linear_top1")]
    pairs += [
        ("mnist", "simvae_official", "content_linear_top1", "vae_official", "content_linear_top1")
    ]
    for d in STYLE_DATASETS:
        for ours in ("simvae", "simvae_official"):
            for rival in DISCRIMINATIVE:
                pairs += [
                    (d, ours, "style_score", rival, key)
                    for key in ("style_score", "projector_style_score")
                ]
    for d, ours, key, rival, rival_key in pairs:
        a, b = get(d, ours, key), get(d, rival, rival_key)
        if a is None or b is None:
            continue
        what = "content (linear probe)" if key.startswith("content") else "style (style_score)"
        point = " projector output" if rival_key.startswith("projector_") else ""
        out.append(
            compare(
                f"{LABELS[ours]}'s representation keeps more {what} than {rival}'s{point}",
                per_seed(d, ours, key),
                per_seed(d, rival, rival_key),
                above=MARGIN_PTS,
                scale=100,
                unit="pts",
                names=(ours, f"{rival}{point}"),
                ours={ours: a[0], f"{rival}{point}": b[0]},
                tolerance=f"{ours} minus the rival > {MARGIN_PTS} points (paired by seed)",
                regime=regime(d),
                evidence=f"{d}: {ours} {key} {fmt(*a)} vs {rival} {rival_key} {fmt(*b)} "
                "(mean ± std)",
            )
        )
    for d in STYLE_DATASETS:
        curves = {m: info["curve"] for m, info in summary.get(d, {}).items() if info["curve"]}
        for ours in ("simvae", "simvae_official"):
            out += advantage_claims(curves, d, ours, DISCRIMINATIVE)
    unstable = [
        f"{d}/{m}"
        for d, ms in summary.items()
        for m, info in ms.items()
        if info["errors"] or not all(r.get("finite", False) for r in info["runs"])
    ]
    failures: dict[int, float] = {}  # seed -> runs at that seed with non-finite numbers
    for ms in summary.values():
        for info in ms.values():
            seeds = info.get("seeds", range(len(info["runs"])))
            for seed, r in zip(seeds, info["runs"], strict=True):
                bad = "error" in r or not r.get("finite", False)
                failures[seed] = failures.get(seed, 0.0) + bad
    out.append(
        measure(
            "(check) Training stays finite: no non-finite losses or features",
            failures,
            below=0.5,
            ours=", ".join(unstable) or "none",
            tolerance="runs per seed with a non-finite loss or feature < 0.5",
            evidence=f"non-finite losses or features: {', '.join(unstable) or 'none'}",
        )
    )
    return out


EXPERIMENT = Experiment(
    name="simvae",
    title="SimVAE vs VAE, beta-VAE, CR-VAE, SimCLR, VICReg and Barlow Twins: content and style",
    paper="Bizeul, Schölkopf & Allen (2024)",
    presets=PRESETS,
    runs=plan_runs,
    summarise=summarise,
    claims=claims,
    report=report,
    workers=2,
    progress=progress,
)

__all__ = ["EXPERIMENT", "RESULT_KEYS", "Params", "run_one", "setting_for"]
