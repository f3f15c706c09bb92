"""``selfsup reproduce infomax``: VICReg vs VICReg-LogDet vs VICReg-PairDist vs SimCLR, and
Radial-VICReg (KL and W1 forms) beside them.

Shwartz-Ziv et al. (2022/2023); the theory is explained in docs/theory/infomax.md. Every method
gets the same backbone, projector, views, optimiser and budget, several seeds, on MNIST
(CIFAR-10 too, full preset, when its data is present). Each run is an ordinary
``selfsup.train.train`` run with :class:`selfsup.train.info_tracking.InfoTracking`, so the
paper's assumptions (Gaussian outputs under augmentation, local affinity, separation of per-
sample clusters) are measured over training.

After training, every run sweeps the augmentation from tiny isotropic input noise to the real
views (``experiments/infomax_regimes.py``, ``--noise-levels``): where the piecewise-affine
premise holds and where it stops, in ``results.json`` as ``summary.gaussianity_vs_noise``.

``--quick`` trains on a fixed 10,000-image subset of MNIST (probes fit on it, tested on a
2,000-image test subset) with an MLP backbone for 3 epochs: 18 runs (6 methods x 3 seeds) on
2 shared CPU cores. The subsets are the run config's ``data.train_subset`` /
``data.test_subset``, so each run's ``config.yaml`` records them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from selfsup.errors import SelfsupError
from selfsup.experiments import infomax_regimes as regimes
from selfsup.experiments.experiment import (
    Experiment,
    Finished,
    Plan,
    Preset,
    Run,
    RunContext,
    option,
)
from selfsup.experiments.infomax_claims import RESULT_KEYS, claims
from selfsup.experiments.report import image, pyplot, save_figure
from selfsup.experiments.stats import mean_std

METHODS = (
    "vicreg",
    "vicreg_logdet",
    "vicreg_pairdist",
    "simclr",
    "radial_vicreg",
    "radial_vicreg_w1",
)
#: method label -> (method.name, method.params) where the label is not the method's own name
#: with its defaults; SimCLR uses our MNIST config's temperature 0.2
METHOD_CONFIG = {
    "simclr": ("simclr", "{temperature: 0.2}"),
    "radial_vicreg_w1": ("radial_vicreg", "{radial: w1}"),
}
#: InfoTracking values summarised in the report (final epoch, mean over seeds)
TRACKED = (
    "emb_gauss_ub",
    "emb_logdet",
    "emb_pd_lower",
    "emb_pd_upper",
    "emb_knn",
    "emb_erank",
    "emb_std",
    "emb_invariance_rel",
    "emb_separation",
    "rep_separation",
    "rep_erank",
    "gauss_frac_dims_rejected",
    "gauss_mardia_skew_p",
    "gauss_mardia_kurt_p",
    "gauss_cov_rel_error",
    "region_stability",
)


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Params:
    methods: tuple[str, ...] = option(METHODS, "methods to compare", choices=METHODS)
    datasets: tuple[str, ...] = option(
        ("mnist", "cifar10"), "datasets; one whose files are absent is skipped"
    )
    epochs: int | None = option(None, "training epochs (default: the config's)", minimum=1)
    n_train: int = option(0, "fixed random training subset (0: the whole split)", minimum=0)
    n_test: int = option(0, "fixed random test subset (0: the whole split)", minimum=0)
    hidden: tuple[int, ...] | None = option(
        None, "MLP backbone widths, e.g. 512,256 (default: the config's backbone)", minimum=1
    )
    projector: tuple[int, ...] | None = option(
        None, "projector widths, e.g. 512,512 (default: the config's)", minimum=1
    )
    n_gaussianity: int = option(8, "images for the Gaussianity checks per epoch", minimum=1)
    n_views: int = option(128, "views per Gaussianity image", minimum=20)
    noise_levels: tuple[float, ...] = option(
        regimes.NOISE_LEVELS,
        "isotropic input-noise stds ([0, 1] pixels) of the Gaussianity-vs-noise sweep run on "
        "each trained encoder, e.g. 1e-4,1e-2",
    )
    # the sweep's images for the Gaussianity checks (n_views views each), then images, views
    # per image and principal directions for its entropy comparison
    sweep_sizes: tuple[int, int, int, int] = (16, 128, 64, 4)
    lean: bool = False  # no online probe, one checkpoint kept: the quick budget's savings


PRESETS = {
    "full": Preset(Params(), "MNIST and CIFAR-10 (when present) at the configs' budgets", 3),
    "quick": Preset(
        Params(
            datasets=("mnist",),
            epochs=3,
            n_train=10000,
            n_test=2000,
            hidden=(512, 256),
            projector=(512, 512),
            n_gaussianity=4,
            n_views=64,
            lean=True,
        ),
        "MNIST subset 10k/2k, MLP 512-256, 3 epochs",
        3,
    ),
    "tiny": Preset(
        Params(
            datasets=("digits",),
            methods=("vicreg", "vicreg_logdet"),
            epochs=1,
            hidden=(32, 16),
            projector=(32, 32),
            n_gaussianity=1,
            n_views=20,
            noise_levels=(1e-4, 0.3),
            sweep_sizes=(1, 32, 8, 2),
            lean=True,
        ),
        "digits, two methods, 1 epoch, tiny nets (the test suite)",
        1,
    ),
}


# ----------------------------------------------------------------------------- runs


def overrides(p: Params, dataset: str, method: str, seed: int) -> list[str]:
    """The run's config overrides on top of the dataset's packaged VICReg config."""
    words = ["trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]
    if p.hidden is not None:
        words.append("backbone.name=mlp")
    if p.projector is not None:
        words.append(f"method.projector=[{','.join(map(str, p.projector))}]")
    if p.epochs is not None:
        words.append(f"trainer.max_epochs={p.epochs}")
    if p.lean:
        words += ["eval.online_probe=false", "checkpoint.keep=1"]
    name, params = METHOD_CONFIG.get(method, (method, "{}"))
    words += [f"method.name={name}", f"method.params={params}", f"seed={seed}"]
    words += [f"data.name={dataset}", f"data.train_subset={p.n_train}"]
    return [*words, f"data.test_subset={p.n_test}"]


def train_one(args: dict, ctx: RunContext) -> dict:
    """Train and evaluate one run with InfoTracking; its metrics and per-epoch history."""
    from threadpoolctl import threadpool_limits

    from selfsup.config import load_config
    from selfsup.train import train
    from selfsup.train.info_tracking import InfoTracking

    config = load_config(args["config"], [*args["overrides"], f"data.root={ctx.data_root}"])
    if args["backbone_params"] is not None:
        config.backbone.params = args["backbone_params"]
    tracker = InfoTracking(
        n_samples=512, n_gaussianity=args["n_gaussianity"], n_views=args["n_views"]
    )
    train(config, ctx.run_dir, extra_callbacks=[tracker])
    with threadpool_limits(ctx.threads):
        sweep = regimes.sweep_run(ctx.run_dir, n_views=args["n_views"], **args["sweep"])
    return {
        "metrics": json.loads((ctx.run_dir / "metrics.json").read_text()),
        "history": json.loads((ctx.run_dir / "info_tracking.json").read_text()),
        regimes.KEY: sweep,
    }


def plan_runs(p: Params, plan: Plan) -> list[Run]:
    if not all(s > 0 for s in p.noise_levels):
        raise SelfsupError(
            f"--noise-levels must be > 0 (a noise-free view has no law), got {p.noise_levels}"
        )
    datasets = []
    for dataset in p.datasets:
        why = plan.dataset_missing(dataset)
        if why is None:
            datasets.append(dataset)
        else:
            plan.skip(dataset, why)
    if not datasets:
        raise SelfsupError(next(iter(plan.skipped.values())))
    args = dict(
        backbone_params=None if p.hidden is None else {"hidden": list(p.hidden)},
        n_gaussianity=p.n_gaussianity,
        n_views=p.n_views,
        sweep=dict(zip(regimes.SIZES, p.sweep_sizes, strict=True), levels=list(p.noise_levels)),
    )
    return [
        Run(
            f"{dataset}-{method}-s{seed}",
            train_one,
            dict(
                args,
                dataset=dataset,
                method=method,
                seed=seed,
                config="vicreg_cifar10" if dataset == "cifar10" else "vicreg_mnist",
                overrides=overrides(p, dataset, method, seed),
            ),
        )
        for dataset in datasets
        for method in p.methods
        for seed in plan.seeds
    ]


def progress(result: dict) -> str:
    m = result["metrics"]
    return f"knn={m['knn_top1']:.4f} linear={m.get('linear_top1', math.nan):.4f}"


def summarise(p: Params, finished: list[Finished]) -> dict:
    """``{dataset: {method: {metric: {mean, std, values}}}}`` incl. first / last tracked values,
    and the sweep under ``gaussianity_vs_noise`` (a list, see :mod:`.infomax_regimes`)."""
    runs: dict = {}
    seeds: dict = {}
    for f in finished:
        runs.setdefault(f.run.args["dataset"], {}).setdefault(f.run.args["method"], [])
        runs[f.run.args["dataset"]][f.run.args["method"]].append(f.result)
        seeds.setdefault((f.run.args["dataset"], f.run.args["method"]), []).append(
            f.run.args["seed"]
        )
    summary: dict = {}
    for dataset, by_method in runs.items():
        for method, results in by_method.items():
            row = {k: _stats([r["metrics"].get(k) for r in results]) for k in RESULT_KEYS}
            row["seeds"] = seeds[(dataset, method)]
            for key in TRACKED:
                row[f"info_first/{key}"] = _stats([r["history"][0].get(key) for r in results])
                row[f"info_last/{key}"] = _stats([r["history"][-1].get(key) for r in results])
            summary.setdefault(dataset, {})[method] = row
    sweeps = [
        (f.run.args["dataset"], f.run.args["method"], f.result[regimes.KEY]) for f in finished
    ]
    summary[regimes.KEY] = regimes.summarise(sweeps)
    return summary


def _datasets(summary: dict) -> list[tuple[str, dict]]:
    return [(k, v) for k, v in summary.items() if k != regimes.KEY]


def _stats(values: list) -> dict:
    mean, std = mean_std(values)
    return {"mean": mean, "std": std, "values": values}


# ----------------------------------------------------------------------------- claims


def _f(v: float | None, digits: int = 3) -> str:
    return "n/a" if v is None else f"{v:.{digits}f}"


# ----------------------------------------------------------------------------- report and figures


def report(summary: dict, p: Params, finished: list[Finished], out: Path) -> list[str]:
    lines = []
    for dataset, rows in _datasets(summary):
        lines += [f"## {dataset}", "", "Accuracy on the test split, mean +- std over seeds:", ""]
        lines += ["| method | kNN top-1 | linear top-1 |", "|---|---|---|"]
        for m, row in rows.items():
            cells = [
                f"{row[k]['mean'] * 100:.2f} +- {row[k]['std'] * 100:.2f}"
                if row[k]["mean"] is not None
                else "n/a"
                for k in RESULT_KEYS
            ]
            lines.append(f"| {m} | {' | '.join(cells)} |")
        lines += ["", "Tracked on 512 fixed test images, final epoch (mean over seeds):", ""]
        lines.append("| method | " + " | ".join(TRACKED) + " |")
        lines.append("|---" * (len(TRACKED) + 1) + "|")
        for m, row in rows.items():
            cells = [_f(row[f"info_last/{k}"]["mean"], 3) for k in TRACKED]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        histories = {
            m: [f.result["history"] for f in finished
                if f.run.args["dataset"] == dataset and f.run.args["method"] == m]
            for m in rows
        }  # fmt: skip
        lines += ["", *(image(f, out) for f in _figures(dataset, rows, histories, out)), ""]
        lines += regimes.section(summary.get(regimes.KEY, []), rows, dataset, out)
    lines += [
        "Entropies are in nats, summed over dimensions; kNN entropy in 256-512 dimensions is "
        "biased by many nats (docs/info.md) and only comparable at equal n and d. Pairwise-"
        "distance bounds use the measured per-dimension augmentation spread as the component "
        "std. Gaussianity / region checks run with each method's first view pipeline.",
    ]
    return lines


def _figures(dataset: str, rows: dict, histories: dict, out: Path) -> list[Path]:
    plt = pyplot()
    methods = list(rows)
    fig, axes = plt.subplots(1, len(RESULT_KEYS), figsize=(4.5 * len(RESULT_KEYS), 3.2))
    for ax, key in zip(np.atleast_1d(axes), RESULT_KEYS, strict=True):
        means = [rows[m][key]["mean"] or 0 for m in methods]
        stds = [rows[m][key]["std"] or 0 for m in methods]
        ax.bar(range(len(methods)), means, yerr=stds, capsize=4)
        ax.set_xticks(range(len(methods)), methods, rotation=20, fontsize=8)
        lo = min(means) - 3 * max(stds + [0.005])
        ax.set_ylim(max(0.0, lo), min(1.0, max(means) + 3 * max(stds + [0.005])))
        ax.set_title(f"{dataset}: {key} (mean +- std over seeds)", fontsize=9)
    accuracy = out / f"accuracy_{dataset}.png"
    save_figure(fig, accuracy, dpi=90)

    keys = [
        ("emb_logdet", "LogDet entropy (nats)"),
        ("emb_gauss_ub", "Gaussian upper bound (nats)"),
        ("emb_separation", "separation between/within"),
        ("emb_invariance_rel", "invariance / variance"),
        ("gauss_frac_dims_rejected", "dims non-normal (p<.05)"),
        ("region_stability", "region stability"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(13, 6.4))
    for ax, (key, title) in zip(axes.flat, keys, strict=True):
        for m, runs in histories.items():
            epochs = [row["epoch"] for row in runs[0]]
            values = np.array([[row.get(key, np.nan) for row in h] for h in runs], float)
            ax.plot(epochs, np.nanmean(values, 0), marker=".", label=m)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
    axes.flat[0].legend(fontsize=7)
    info = out / f"info_{dataset}.png"
    save_figure(fig, info, dpi=90)
    return [accuracy, info]


EXPERIMENT = Experiment(
    name="infomax",
    title="VICReg from information theory: VICReg vs LogDet / PairDist / Radial-VICReg vs SimCLR",
    paper="Shwartz-Ziv et al. (2023)",
    presets=PRESETS,
    runs=plan_runs,
    summarise=summarise,
    claims=claims,
    report=report,
    progress=progress,
)
