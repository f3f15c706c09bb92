"""``selfsup reproduce simvae``: SimVAE against VAE, beta-VAE, CR-VAE, SimCLR and VICReg.

Every method uses the same encoder family and budget per dataset (the VAE encoder; for
SimCLR / VICReg its posterior-mean output is the representation, followed by a projector),
several seeds, on MNIST (FashionMNIST / CIFAR-10 / CelebA when present, full runs only) and
on the procedural ``shapes`` set. Writes ``report.md``, ``results.json`` (means per dataset
and method), ``results_detail.json`` (every seed, std, extra metrics) and PNG grids.

Runs are independent, so they are spread over worker processes with one thread each: on a
small shared CPU that beats one process with several threads, whose threads mostly wait for
each other on these small networks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import torch
from omegaconf import OmegaConf

GENERATIVE = ("simvae", "vae", "beta_vae", "cr_vae")
DISCRIMINATIVE = ("simclr", "vicreg")
ALL_METHODS = (*GENERATIVE, *DISCRIMINATIVE)
ALL_DATASETS = ("mnist", "fashion_mnist", "cifar10", "celeba", "shapes")
RESULT_KEYS = (
    "content_linear_top1",
    "content_knn_top1",
    "gmm_accuracy",
    "nmi",
    "ari",
    "style_score",
)
KNN_KS = (1, 5, 10, 20)


@dataclass
class Setting:
    """One dataset's shared encoder, views and budget."""

    backbone: str
    backbone_params: dict
    views: str
    likelihood: str
    binarise_targets: float | None
    steps: int
    batch_size: int
    lr: float
    data_params: dict = field(default_factory=dict)
    projector: list[int] = field(default_factory=lambda: [512, 512])
    eval_train: int = 0  # 0: the whole train split for probes


def settings(quick: bool) -> dict[str, Setting]:
    """Per-dataset settings: ``--quick`` (runs here in minutes) or the official-size ones."""
    if quick:
        # narrower nets, larger lr and few steps: a budget that runs on 2 CPU cores
        mlp = dict(latent_dim=10, hidden=[512, 256])
        conv = dict(latent_dim=64, widths=[16, 32, 64], residual=False)
        grey = Setting("mlp_vae", mlp, "simvae_grey_fast", "bernoulli", 0.5, 800, 64, 1e-3)
        grey.projector, grey.eval_train = [256, 256], 10000  # probes fit on 10k train images
        shapes = Setting(
            "conv_vae",
            conv,
            "shapes",
            "gaussian",
            None,
            400,
            32,
            1e-3,
            data_params=dict(n_train=10000, n_test=2000),
        )
        shapes.projector = [256, 256]
        return {
            "mnist": grey,
            "fashion_mnist": replace(grey, binarise_targets=None),
            "shapes": shapes,
        }
    mlp = dict(latent_dim=10, hidden=[2000, 500, 500])
    conv = dict(latent_dim=64, widths=[32, 64, 128, 256], residual=True)
    grey = Setting("mlp_vae", mlp, "simvae_grey_fast", "bernoulli", 0.5, 30000, 64, 8e-5)
    colour = Setting("conv_vae", conv, "simvae_colour", "gaussian", None, 30000, 64, 8e-5)
    return {
        "mnist": grey,
        "fashion_mnist": replace(grey, binarise_targets=None),
        "cifar10": colour,
        "celeba": replace(colour, data_params=dict(image_size=64), eval_train=20000),
        "shapes": replace(colour, views="shapes", data_params=dict(n_train=20000, n_test=5000)),
    }


def run_config(dataset: str, method: str, seed: int, s: Setting, data_root: str) -> dict:
    """The full selfsup config of one run (also usable with ``selfsup train``)."""
    params: dict = {}
    if method in GENERATIVE:
        params = dict(likelihood=s.likelihood, binarise_targets=s.binarise_targets)
    return {
        "seed": seed,
        "data": {
            "name": dataset,
            "root": data_root,
            "batch_size": s.batch_size,
            "views": s.views,
            "params": s.data_params,
        },
        "backbone": {"name": s.backbone, "params": s.backbone_params},
        "method": {"name": method, "params": params, "projector": s.projector},
        "optim": {
            "name": "adam",
            "lr": s.lr,
            "eps": 1e-4,
            "weight_decay": 0.0,
            "warmup_epochs": 0,
            "schedule": "constant",
        },
        "trainer": {"max_steps": s.steps},
    }


_DATA: dict = {}


def _data(dataset: str, root: str, params: dict):
    from selfsup.data import load_dataset

    key = (dataset, json.dumps(params, sort_keys=True))
    if key not in _DATA:
        _DATA[key] = load_dataset(dataset, root, **params)
    return _DATA[key]


def _subset(dataset, n: int, seed: int = 0):
    from selfsup.data import TensorImages

    if not n or n >= len(dataset) or not isinstance(dataset, TensorImages):
        return dataset, None
    idx = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:n]
    return TensorImages(dataset.images[idx], dataset.labels[idx], dataset.num_classes), idx


def run_one(job: dict) -> dict:
    """Train one (dataset, method, seed) in-process and evaluate it; returns its metrics."""
    from selfsup.config import Config
    from selfsup.data.views import to_unit_float
    from selfsup.evaluate import (
        LinearProbe,
        MLPProbe,
        extract_features,
        gmm_clustering,
        knn_sweep,
        latent_structure,
        style_scores,
    )
    from selfsup.evaluate.pictures import cluster_samples_grid, reconstruction_grid
    from selfsup.methods import NonFiniteLossError, build_method
    from selfsup.optim import build_optimizer, parameter_groups

    torch.set_num_threads(job["threads"])
    s = Setting(**job["setting"])
    dataset, method_name, seed = job["dataset"], job["method"], job["seed"]
    config = OmegaConf.merge(
        OmegaConf.structured(Config),
        run_config(dataset, method_name, seed, s, job["data_root"]),
    )
    data = _data(dataset, job["data_root"], s.data_params)
    torch.manual_seed(seed)
    method = build_method(config, data)
    modules = [m for n, m in method.named_children() if n not in ("views", "normalise")]
    optimiser = build_optimizer(parameter_groups(modules, 0.0), "adam", s.lr, 0.0, eps=1e-4)
    order_gen = torch.Generator().manual_seed(seed)
    n = len(data.ssl_train)
    order = torch.randperm(n, generator=order_gen)
    cursor, losses, start = 0, [], time.time()
    method.train()
    for step in range(s.steps):
        if cursor + s.batch_size > n:
            order, cursor = torch.randperm(n, generator=order_gen), 0
        images, _ = data.ssl_train.get_batch(order[cursor : cursor + s.batch_size])
        cursor += s.batch_size
        torch.manual_seed(seed * 1_000_003 + step)  # the views of a step depend on (seed, step)
        views = [method.normalise(v) for v in method.views(to_unit_float(images))]
        terms, _ = method.compute_loss(views)
        if not torch.isfinite(terms[0]):
            raise NonFiniteLossError(step, 0, terms[0].item())
        optimiser.zero_grad(set_to_none=True)
        terms[0].backward()
        optimiser.step()
        if step % max(1, s.steps // 20) == 0 or step == s.steps - 1:
            losses.append((step, float(terms[0].detach())))
    train_seconds = time.time() - start
    method.eval()
    train_set, train_idx = _subset(data.train, s.eval_train, seed=0)
    tr_f, tr_y = extract_features(method.backbone, train_set, method.normalise)
    te_f, te_y = extract_features(method.backbone, data.test, method.normalise)
    finite = bool(torch.isfinite(tr_f).all() and torch.isfinite(te_f).all())
    m: dict = {
        "train_seconds": round(train_seconds, 1),
        "final_loss": losses[-1][1],
        "finite": finite,
        "losses": losses,
    }
    m["content_linear_top1"] = LinearProbe().fit(tr_f, tr_y).score(te_f, te_y)
    knn = knn_sweep(*_standardise(tr_f, te_f, tr_y, te_y), ks=KNN_KS)
    m["knn_by_k"] = knn
    m["content_knn_top1"] = max(knn.values())
    if job["mlp_probe"]:
        m["content_mlp_top1"] = MLPProbe(seed=seed).fit(tr_f, tr_y).score(te_f, te_y)
    m.update(gmm_clustering(te_f, te_y, data.num_classes, seed=seed))
    m.update(latent_structure(tr_f, tr_y, te_f, te_y, seed=seed))
    m["style_score"] = None
    if "style_train" in data.extras:
        style_train = data.extras["style_train"]
        if train_idx is not None:
            style_train = {k: v[train_idx] for k, v in style_train.items()}
        m.update(style_scores(tr_f, style_train, te_f, data.extras["style_test"]))
    if job["pictures"] and method_name in GENERATIVE:
        out = Path(job["out"]) / "img"
        images, _ = data.test.get_batch(torch.arange(12))
        m["pictures"] = [
            str(reconstruction_grid(method, images, out / f"{dataset}-{method_name}-recon.png")),
            str(
                cluster_samples_grid(
                    method,
                    tr_f[:5000],
                    data.num_classes,
                    out / f"{dataset}-{method_name}-samples.png",
                )
            ),
        ]
    return m


def _standardise(tr_f, te_f, tr_y, te_y):
    # cosine kNN on centred, unit-variance features: the VAE means are not centred at 0
    mean, std = tr_f.mean(0), tr_f.std(0).clamp_min(1e-8)
    return (tr_f - mean) / std, tr_y, (te_f - mean) / std, te_y


def _present(dataset: str, root: str) -> str | None:
    """``None`` if the dataset can be loaded from ``root``, else why not."""
    if dataset == "shapes":
        return None
    folders = {
        "mnist": "MNIST",
        "fashion_mnist": "FashionMNIST",
        "cifar10": "cifar-10-batches-py",
        "celeba": "celeba",
    }
    where = Path(root) / folders[dataset]
    return None if where.exists() else f"not found under {where}"


def _mean_std(values: list) -> tuple[float | None, float | None]:
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)
    return mean, math.sqrt(var)


def _fmt(mean, std) -> str:
    return "—" if mean is None else f"{mean:.3f} ± {std:.3f}"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="selfsup reproduce simvae", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the small budget that runs on 2 cores")
    p.add_argument("--out", default="runs/reproduce-simvae", help="output folder")
    p.add_argument("--data-root", default=os.environ.get("SELFSUP_DATA", "../shared/data"))
    p.add_argument("--seeds", type=int, default=3, help="seeds per method (0, 1, ...)")
    p.add_argument("--methods", default=",".join(ALL_METHODS))
    p.add_argument("--datasets", default=",".join(ALL_DATASETS))
    p.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="parallel runs, one thread each",
    )
    # size knobs for smoke tests and longer runs
    p.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    p.add_argument("--hidden", help=argparse.SUPPRESS)  # MLP widths, e.g. 64,32
    p.add_argument("--widths", help=argparse.SUPPRESS)  # conv widths, e.g. 8,16,32
    p.add_argument("--shapes-size", help=argparse.SUPPRESS)  # n_train,n_test
    p.add_argument("--eval-train", type=int, help=argparse.SUPPRESS)
    p.add_argument("--lr", type=float, help=argparse.SUPPRESS)
    p.add_argument("--mlp-probe", action="store_true", help="also an MLP probe (slower)")
    return p


def _ints(text: str, flag: str) -> list[int]:
    from selfsup.errors import SelfsupError

    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise SelfsupError(f"{flag} takes comma-separated integers, got '{text}'") from None
    if not values or min(values) < 1:
        raise SelfsupError(f"{flag} takes positive integers, got '{text}'")
    return values


def reproduce(argv: list[str]) -> int:
    """Entry point of ``selfsup reproduce simvae``; returns the exit status."""
    from selfsup.errors import SelfsupError

    args = _parser().parse_args(argv)
    args.argv = list(argv)
    try:
        return _reproduce(args)
    except SelfsupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _reproduce(args: argparse.Namespace) -> int:
    from selfsup.errors import SelfsupError

    methods = [m for m in args.methods.split(",") if m]
    datasets = [d for d in args.datasets.split(",") if d]
    bad = [m for m in methods if m not in ALL_METHODS] + [
        d for d in datasets if d not in ALL_DATASETS
    ]
    if bad or not methods or not datasets:
        raise SelfsupError(
            f"unknown or missing --methods/--datasets {bad}; methods: {', '.join(ALL_METHODS)}; "
            f"datasets: {', '.join(ALL_DATASETS)}"
        )
    if args.seeds < 1 or args.workers < 1:
        raise SelfsupError("--seeds and --workers must be at least 1")
    table = settings(args.quick)
    skipped: dict[str, str] = {}
    chosen: dict[str, Setting] = {}
    for d in datasets:
        if d not in table:
            skipped[d] = "not part of the --quick budget (run without --quick)"
            continue
        why = _present(d, args.data_root)
        if why:
            skipped[d] = why
            continue
        s = table[d]
        if args.steps:
            s = replace(s, steps=args.steps)
        if args.batch_size:
            s = replace(s, batch_size=args.batch_size)
        if args.lr:
            s = replace(s, lr=args.lr)
        if args.eval_train:
            s = replace(s, eval_train=args.eval_train)
        if args.hidden and s.backbone == "mlp_vae":
            s = replace(
                s, backbone_params={**s.backbone_params, "hidden": _ints(args.hidden, "--hidden")}
            )
        if args.widths and s.backbone == "conv_vae":
            s = replace(
                s, backbone_params={**s.backbone_params, "widths": _ints(args.widths, "--widths")}
            )
        if args.shapes_size and d == "shapes":
            n_train, n_test = _ints(args.shapes_size, "--shapes-size")
            s = replace(s, data_params={**s.data_params, "n_train": n_train, "n_test": n_test})
        chosen[d] = s
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [
        dict(
            dataset=d,
            method=m,
            seed=seed,
            setting=asdict(s),
            data_root=args.data_root,
            out=str(out),
            pictures=seed == 0,
            mlp_probe=args.mlp_probe,
            threads=1,
        )
        for d, s in chosen.items()
        for m in methods
        for seed in range(args.seeds)
    ]
    # the slowest runs (conv nets) first, so the last ones to finish are short
    jobs.sort(key=lambda j: j["setting"]["backbone"] != "conv_vae")
    start = time.time()
    results = _run_all(jobs, args.workers)
    wall = time.time() - start
    _write(out, args, chosen, skipped, jobs, results, wall)
    print(f"wrote {out / 'report.md'} ({len(jobs)} runs in {wall / 60:.1f} min)")
    return 0


def _run_all(jobs: list[dict], workers: int) -> list[dict]:
    if workers == 1:
        torch_threads = torch.get_num_threads()
        try:
            return [_safe(job) for job in jobs]
        finally:
            torch.set_num_threads(torch_threads)
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        return list(pool.map(_safe, jobs))


def _safe(job: dict) -> dict:
    from selfsup.methods import NonFiniteLossError

    t = time.time()
    try:
        result = run_one(job)
    except NonFiniteLossError as err:
        result = {"error": f"non-finite loss: {err}", "finite": False}
    print(
        f"  {job['dataset']:<8} {job['method']:<8} seed {job['seed']}: "
        f"{time.time() - t:5.1f}s  linear={result.get('content_linear_top1', float('nan')):.3f}",
        flush=True,
    )
    return result


def _write(out, args, chosen, skipped, jobs, results, wall) -> None:
    by: dict = {}
    for job, r in zip(jobs, results, strict=True):
        by.setdefault(job["dataset"], {}).setdefault(job["method"], []).append(r)
    summary: dict = {}
    detail: dict = {}
    for d, per_method in by.items():
        summary[d], detail[d] = {}, {}
        for m, runs in per_method.items():
            keys = sorted(
                {
                    k
                    for r in runs
                    for k, v in r.items()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                }
            )
            stats = {k: _mean_std([r.get(k) for r in runs]) for k in keys}
            summary[d][m] = {k: stats.get(k, (None, None))[0] for k in RESULT_KEYS}
            detail[d][m] = {
                "mean": {k: v[0] for k, v in stats.items()},
                "std": {k: v[1] for k, v in stats.items()},
                "runs": runs,
                "errors": [r["error"] for r in runs if "error" in r],
            }
    (out / "results.json").write_text(json.dumps(summary, indent=2))
    (out / "results_detail.json").write_text(json.dumps(detail, indent=2))
    command = " ".join(["selfsup reproduce simvae", *args.argv])
    lines = [
        "# SimVAE reproduction",
        "",
        f"Command: `{command}`  ",
        f"{len(jobs)} runs, {args.seeds} seed(s) each, {wall / 60:.1f} min wall time on "
        f"{args.workers} worker process(es). Mean ± std over seeds; features are the frozen "
        f"encoder's posterior mean (VAEs) or its output (SimCLR, VICReg).",
        "",
    ]
    for d, reason in skipped.items():
        lines.append(f"- {d}: skipped ({reason})")
    if skipped:
        lines.append("")
    cols = [*RESULT_KEYS, "scatter_ratio", "class_gaussian_gain", "gmm_gain"]
    for d, per_method in detail.items():
        s = chosen[d]
        lines += [
            f"## {d}",
            "",
            f"Encoder `{s.backbone}` {s.backbone_params}, views `{s.views}`, "
            f"{s.steps} steps of {s.batch_size} samples x 2 views, Adam lr {s.lr}.",
            "",
        ]
        lines.append("| method | " + " | ".join(cols) + " |")
        lines.append("|---" * (len(cols) + 1) + "|")
        for m, info in per_method.items():
            cells = [_fmt(info["mean"].get(c), info["std"].get(c)) for c in cols]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        style_cols = sorted(
            k
            for k in next(iter(per_method.values()))["mean"]
            if k.startswith("style_")
            and k != "style_score"
            and (k.endswith("_acc") or k.endswith("_r2"))
        )
        if style_cols:
            lines += ["", "Style probes (accuracy or R^2 per factor):", ""]
            lines.append("| method | " + " | ".join(style_cols) + " |")
            lines.append("|---" * (len(style_cols) + 1) + "|")
            for m, info in per_method.items():
                cells = [_fmt(info["mean"].get(c), info["std"].get(c)) for c in style_cols]
                lines.append(f"| {m} | " + " | ".join(cells) + " |")
        errors = [e for info in per_method.values() for e in info["errors"]]
        if errors:
            lines += ["", "Errors: " + "; ".join(errors)]
        pics = [
            p for info in per_method.values() for r in info["runs"] for p in r.get("pictures", [])
        ]
        if pics:
            lines += [""] + [f"![{Path(p).stem}](img/{Path(p).name})" for p in pics]
        lines.append("")
    lines += _claims(summary, detail)
    (out / "report.md").write_text("\n".join(lines) + "\n")


def _claims(summary: dict, detail: dict) -> list[str]:
    """The two claims the issue asks about, stated from the numbers, whichever way they go."""
    lines = ["## Claims checked", ""]

    def get(d, m, k):
        info = detail.get(d, {}).get(m)
        return None if info is None else (info["mean"].get(k), info["std"].get(k))

    a, b = get("mnist", "simvae", "content_linear_top1"), get("mnist", "vae", "content_linear_top1")
    if a and b and a[0] is not None and b[0] is not None:
        verdict = "beats" if a[0] > b[0] else "does NOT beat"
        lines.append(f"- MNIST content linear probe: SimVAE {_fmt(*a)} {verdict} VAE {_fmt(*b)}.")
    for rival in DISCRIMINATIVE:
        a, b = get("shapes", "simvae", "style_score"), get("shapes", rival, "style_score")
        if a and b and a[0] is not None and b[0] is not None:
            verdict = "beats" if a[0] > b[0] else "does NOT beat"
            lines.append(f"- shapes style_score: SimVAE {_fmt(*a)} {verdict} {rival} {_fmt(*b)}.")
    unstable = [
        f"{d}/{m}"
        for d, ms in detail.items()
        for m, info in ms.items()
        if info["errors"] or not all(r.get("finite", False) for r in info["runs"])
    ]
    lines.append(f"- Non-finite losses or features: {', '.join(unstable) or 'none'}.")
    return [*lines, ""]
