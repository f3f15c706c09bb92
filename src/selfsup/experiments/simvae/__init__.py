"""``selfsup reproduce simvae``: SimVAE against VAE, beta-VAE, CR-VAE, SimCLR and VICReg.

Every method uses the same encoder family and budget per dataset (the VAE encoder; for
SimCLR / VICReg its posterior-mean output is the representation, followed by a projector),
several seeds, on MNIST (FashionMNIST / CIFAR-10 / CelebA when present) and on the procedural
``shapes`` set. Parameters in ``settings.py``, one run in ``train_eval.py``, tables in
``tables.py``; what is particular to the claims is here.

Runs are independent, so they go to worker processes with one thread each: on a small shared
CPU that beats one process with several threads, whose threads mostly wait for each other on
these small networks.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from selfsup.errors import SelfsupError
from selfsup.experiments.claims import Claim
from selfsup.experiments.experiment import Experiment, Finished, Plan, Run
from selfsup.experiments.simvae.settings import DISCRIMINATIVE, PRESETS, RESULT_KEYS, Params
from selfsup.experiments.simvae.settings import setting_for as setting_for
from selfsup.experiments.simvae.tables import fmt, report
from selfsup.experiments.simvae.train_eval import run_one
from selfsup.experiments.stats import mean_std


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
    # the slowest runs (conv nets) first, so the last ones to finish are short
    return sorted(runs, key=lambda r: r.args["setting"]["backbone"] != "conv_vae")


def progress(result: dict) -> str:
    return f"linear={result.get('content_linear_top1', math.nan):.3f}"


def summarise(p: Params, finished: list[Finished]) -> dict:
    """``{dataset: {method: {mean, std, runs, errors}}}``; mean and std of every numeric metric
    over seeds, and each seed's full result."""
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
                "mean": {k: v[0] for k, v in stats.items()},
                "std": {k: v[1] for k, v in stats.items()},
                "runs": runs,
                "errors": [r["error"] for r in runs if "error" in r],
            }
    return summary


def claims(summary: dict, p: Params) -> list[Claim]:
    """Content on MNIST vs the VAE, style on shapes vs SimCLR / VICReg, and stability."""

    def get(d: str, m: str, k: str) -> tuple | None:
        info = summary.get(d, {}).get(m)
        if info is None or info["mean"].get(k) is None:
            return None
        return info["mean"][k], info["std"][k]

    def regime(d: str) -> str:
        s = setting_for(p, d)
        return f"{d}, {s.steps} steps of {s.batch_size} x 2 views, Adam lr {s.lr:g}"

    out = []
    pairs = [("mnist", "content_linear_top1", "vae", "content (linear probe)")]
    pairs += [("shapes", "style_score", rival, "style (style_score)") for rival in DISCRIMINATIVE]
    for d, key, rival, what in pairs:
        a, b = get(d, "simvae", key), get(d, rival, key)
        if a is None or b is None:
            continue
        out.append(
            Claim(
                claim=f"SimVAE's representation keeps more {what} than {rival}'s",
                ours={"simvae": a[0], rival: b[0]},
                tolerance="SimVAE's mean over seeds above the rival's",
                holds=a[0] > b[0],
                regime=regime(d),
                evidence=f"{d} {key}: SimVAE {fmt(*a)} vs {rival} {fmt(*b)} (mean ± std)",
            )
        )
    unstable = [
        f"{d}/{m}"
        for d, ms in summary.items()
        for m, info in ms.items()
        if info["errors"] or not all(r.get("finite", False) for r in info["runs"])
    ]
    out.append(
        Claim(
            claim="(check) Training stays finite: no non-finite losses or features",
            ours=", ".join(unstable) or "none",
            tolerance="no run with a non-finite loss or feature",
            holds=not unstable,
            evidence=f"non-finite losses or features: {', '.join(unstable) or 'none'}",
        )
    )
    return out


EXPERIMENT = Experiment(
    name="simvae",
    title="SimVAE vs VAE, beta-VAE, CR-VAE, SimCLR and VICReg: content and style",
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
