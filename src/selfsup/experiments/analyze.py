"""``selfsup analyze``: the information-theory lens on any encoder.

    selfsup analyze RUN_DIR [--dataset NAME] [--data-root DIR] [--out DIR]
    selfsup analyze --encoder module:callable --dataset NAME [--image-size S] [--channels C]
    selfsup analyze --encoder torchvision:NAME|timm:NAME --weights FILE --dataset NAME ...

The encoder is either one of ours (``selfsup.train.load_method``; its own normalisation and
view pipeline are used, and the projector output is analysed too) or a user's: ``callable()``
returns an ``nn.Module`` mapping *normalised* images ``(B, C, H, W)`` to features ``(B, ...)``
(flattened), or a torchvision / timm architecture by name whose weights come from ``--weights``
(safetensors or a ``torch.save`` file, read without running code; torchvision, timm, lightly and
solo-learn key layouts are recognised: :mod:`selfsup.experiments.analyze_encoders`).
Input handling for a user encoder: the dataset's [0, 1] images are augmented at
their own size, then (inside the analysed network, so Jacobians include it) resized bilinearly
to ``--image-size`` if given, their channels repeated to ``--channels`` if given (grey -> RGB),
and normalised with ``--mean`` / ``--std`` (default: the dataset's statistics, or ImageNet's
when ``--channels 3`` is asked of a grey dataset). The current directory is importable, so
``--encoder mymodels:make`` finds ``./mymodels.py``.

Writes ``report.md`` (entropy / MI estimates, the affine and Gaussianity checks, separation of
per-sample output clusters vs their spread), ``analysis.json`` (RankMe, effective rank,
alpha-ReQ, LiDAR, entropies, view MI with bootstrap 95% intervals and regime flags, and the
held-out R^2 of each augmentation parameter from the representation:
:mod:`selfsup.experiments.analyze_lens`) and PNG plots to ``--out`` (default
``RUN_DIR/analysis`` also for a checkpoint inside it, ``<stem>-analysis`` beside a checkpoint
outside any run, or ``runs/analysis-<callable>`` for ``--encoder``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.experiments.analyze_args import parse_args
from selfsup.experiments.meta import git_state, versions
from selfsup.train.atomic import atomic_write_text

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class InputAdapter(nn.Module):
    """[0, 1] images ``(B, C, H, W)`` -> resized, channel-repeated, normalised images."""

    def __init__(
        self,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        image_size: int | None = None,
        channels: int | None = None,
    ) -> None:
        super().__init__()
        self.image_size, self.channels = image_size, channels
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.image_size and x.shape[-1] != self.image_size:
            size = (self.image_size, self.image_size)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if self.channels and x.shape[1] != self.channels:
            if x.shape[1] != 1:
                raise SelfsupError(
                    f"--channels {self.channels}: can only repeat grey images, got {x.shape[1]}"
                )
            x = x.expand(-1, self.channels, -1, -1)
        return (x - self.mean) / self.std


class Flatten(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x).flatten(1)


def main(argv: list[str]) -> int:
    """Entry point of ``selfsup analyze``; returns the exit code (2 on bad input)."""
    if argv[:1] == ["--"]:  # `selfsup analyze -- --encoder ...` (see docs/infomax.md)
        argv = argv[1:]
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    try:
        # small LAPACK problems: one thread is faster, much faster on a busy CPU (see
        # selfsup.train.info_tracking.InfoTracking.measure)
        torch.set_num_threads(1)
        with threadpool_limits(1):
            return _main(parse_args(argv))
    except SelfsupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)


def _floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(t) for t in text.split(","))
    except ValueError:
        raise SelfsupError(f"{flag} must be comma-separated numbers, got '{text}'") from None


def load_encoder(spec: str) -> nn.Module:
    """``module:callable`` -> the module ``callable()`` returns, in eval mode."""
    if ":" not in spec:
        raise SelfsupError(f"--encoder must look like module:callable, got '{spec}'")
    module_name, name = spec.split(":", 1)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        factory = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError) as err:
        raise SelfsupError(f"--encoder {spec}: cannot import ({err})") from None
    model = factory()
    if not isinstance(model, nn.Module):
        raise SelfsupError(f"--encoder {spec} returned {type(model).__name__}, not an nn.Module")
    return model.eval()


def _main(args: argparse.Namespace) -> int:
    if args.run_dir is not None:  # the file and the image shape, before Lightning (the CLI
        # checked them before this module imported torch; main() may be called directly)
        from selfsup.train.preflight import check_trained

        check_trained(args.run_dir, args.dataset)
    from selfsup.data import load_dataset, make_views, normaliser
    from selfsup.data.datasets import DatasetNotFoundError

    spaces: dict[str, nn.Module] = {}
    data = None
    if args.run_dir is not None:
        from selfsup.train.preflight import run_dir_of
        from selfsup.train.trained import load_run, other_data

        run = Path(args.run_dir)
        try:  # the run's own data section (name, root, path, params), as it was trained
            method, config, data = load_run(run)
            data = other_data(config, data, args.dataset, args.data_root)
        except DatasetNotFoundError as err:
            raise SelfsupError(err.advise("point --data-root (or $SELFSUP_DATA) at it")) from None
        dataset = config.data.name
        preset = args.views or config.data.views
        spaces["backbone"] = nn.Sequential(method.normalise, Flatten(method.backbone))
        if getattr(method, "projector", None) is not None:
            spaces["projector"] = nn.Sequential(
                method.normalise, method.backbone, Flatten(method.projector)
            )
        title = str(run)
        # never inside checkpoints/: RUN/analysis, or <stem>-analysis beside a loose file
        home = run_dir_of(run)
        default = home / "analysis" if home else run.with_name(f"{run.stem}-analysis")
        out = Path(args.out) if args.out else default
    else:
        if args.dataset is None:
            raise SelfsupError("--encoder needs --dataset NAME")
        dataset, root = args.dataset, args.data_root
        preset = args.views or {"mnist": "mnist", "digits": "digits", "cifar10": "cifar"}.get(
            dataset, "none"
        )
        title = args.encoder
        out = Path(args.out or f"runs/analysis-{args.encoder.split(':')[-1]}")
    if data is None:
        try:
            data = load_dataset(dataset, root)
        except DatasetNotFoundError as err:
            raise SelfsupError(err.advise("point --data-root (or $SELFSUP_DATA) at it")) from None
    if args.run_dir is not None and tuple(data.image_shape) != tuple(method.image_shape):
        raise SelfsupError(
            f"the encoder was trained on images of shape {tuple(method.image_shape)}, but "
            f"'{dataset}' has {tuple(data.image_shape)}; pick a dataset of the same shape"
        )
    if args.encoder is not None:
        channels = data.image_shape[0]
        default = normaliser(dataset, channels)
        mean, std = default.mean.flatten().tolist(), default.std.flatten().tolist()
        if args.channels and args.channels != channels:
            mean, std = IMAGENET if args.channels == 3 else ([0.5] * 3, [0.25] * 3)
        mean = _floats(args.mean, "--mean") or tuple(mean)
        std = _floats(args.std, "--std") or tuple(std)
        adapter = InputAdapter(mean, std, args.image_size, args.channels)
        encoder = _user_encoder(args, args.channels or channels)
        spaces["encoder"] = nn.Sequential(adapter, Flatten(encoder)).eval()
        _check_forward(spaces["encoder"], data.image_shape, args.encoder)
    view = make_views(preset, data.image_shape[-1]).views[0]
    out.mkdir(parents=True, exist_ok=True)
    report = analyse(
        spaces,
        data.test,
        view,
        out,
        n_samples=args.n_samples,
        n_gaussianity=args.n_gaussianity,
        n_views=args.n_views,
        seed=args.seed,
    )
    git = git_state()
    header = [
        f"# Information-theory analysis of `{title}`",
        "",
        f"Dataset `{dataset}` (test split), augmentation preset `{preset}`, seed {args.seed}. "
        f"Command: `selfsup analyze {' '.join(_quoted(argv_of(args)))}`  ",
        f"Code {git['commit'] or 'unknown'}{' (uncommitted changes)' if git['dirty'] else ''}; "
        f"torch {versions()['torch']}.",
        "",
    ]
    from selfsup.experiments.analyze_lens import lens_analysis, lens_markdown

    images = probe_images(data.test, args.n_samples, args.seed)
    lens = lens_analysis(spaces, images, view, n_boot=args.n_resamples, seed=args.seed)
    meta = {
        "encoder": title,
        "weights": args.weights,
        "dataset": dataset,
        "views": preset,
        "seed": args.seed,
        "command": "selfsup analyze " + " ".join(_quoted(argv_of(args))),
        "code": git["commit"],
    }
    atomic_write_text(out / "analysis.json", json.dumps({**meta, **lens}, indent=1) + "\n")
    (out / "report.md").write_text("\n".join(header) + "\n" + report + "\n" + lens_markdown(lens))
    print(f"wrote {out / 'report.md'} and {out / 'analysis.json'}")
    return 0


def _user_encoder(args: argparse.Namespace, channels: int) -> nn.Module:
    library = args.encoder.partition(":")[0]
    if library in ("torchvision", "timm"):
        from selfsup.experiments.analyze_encoders import encoder_from_file

        return encoder_from_file(args.encoder, args.weights, channels)[0]
    model = load_encoder(args.encoder)
    if args.weights is not None:
        from selfsup.experiments.analyze_encoders import load_weights, read_weights

        load_weights(model, read_weights(args.weights), args.weights)
    return model.eval()


def _check_forward(net: nn.Module, image_shape, spec: str) -> None:
    try:
        with torch.no_grad():
            net(torch.zeros(2, *image_shape))
    except (RuntimeError, ValueError) as err:
        raise SelfsupError(
            f"--encoder {spec} cannot take these images ({str(err).splitlines()[0]}); "
            "try --channels 3 and/or --image-size"
        ) from None


def probe_images(test, n_samples: int, seed: int) -> torch.Tensor:
    """The ``min(n_samples, len(test))`` test images analysed, as [0, 1] floats (by ``seed``)."""
    from selfsup.data.views import to_unit_float

    n = min(n_samples, len(test))
    idx = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    return to_unit_float(test.get_batch(idx)[0])


def argv_of(args: argparse.Namespace) -> list[str]:
    words = [args.run_dir] if args.run_dir else ["--encoder", args.encoder]
    if args.weights:
        words += ["--weights", args.weights]
    for flag in ("dataset", "data_root", "out", "views", "image_size", "channels"):
        value = getattr(args, flag)
        if value is not None:
            words += [f"--{flag.replace('_', '-')}", str(value)]
    return words


def _quoted(words: list[str]) -> list[str]:
    return [w if " " not in w else f"'{w}'" for w in words]


def analyse(
    spaces: dict[str, nn.Module],
    test,
    view: nn.Module,
    out: Path,
    n_samples: int = 1024,
    n_gaussianity: int = 8,
    n_views: int = 128,
    seed: int = 0,
) -> str:
    """Measure every network in ``spaces`` (each maps [0, 1] images to ``(B, d)``); markdown."""
    from selfsup.info import augmentation_gaussianity, mixture_entropy_bounds
    from selfsup.train.info_tracking import embedding_stats
    from selfsup.train.lens import view_mutual_information

    torch.manual_seed(seed)
    images = probe_images(test, n_samples, seed)
    n = len(images)
    with torch.no_grad():
        views_a, views_b = view(images).clamp(0, 1), view(images).clamp(0, 1)
    lines: list[str] = []
    plots: dict[str, dict] = {}
    for name, net in spaces.items():
        net.eval()
        with torch.no_grad():
            z, z_a, z_b = (net(x).double() for x in (images, views_a, views_b))
        d = z.shape[1]
        stats = embedding_stats(z, z_a, z_b)
        # MI between two views' outputs: Gaussian formula on the top principal components
        # (plug-in covariances need n >> dims) and KSG on the first component of each view
        mi = view_mutual_information(z_a, z_b)
        k, mi_gauss, mi_ksg = int(mi["k_pcs"]), mi["mi_gauss"], mi["mi_ksg"]

        m = min(n_gaussianity, n)
        x = images[:m]
        try:
            g = augmentation_gaussianity(net, x, lambda v: view(v).clamp(0, 1), n_views=n_views)
        except ValueError as err:
            raise SelfsupError(f"Gaussianity check failed on '{name}': {err}") from None
        # per-sample output clusters: the views of each of the m images through the network
        with torch.no_grad():
            clusters = torch.stack(
                [
                    net(view(x[i : i + 1].expand(n_views, *x.shape[1:])).clamp(0, 1))
                    for i in range(m)
                ]
            ).double()  # (m, n_views, d)
        centres = clusters.mean(1)
        spread = clusters.var(1).sum(1).sqrt()  # (m,) rms distance of a view to its centre
        dist = torch.cdist(centres, centres)
        off = dist[~torch.eye(m, dtype=torch.bool)]
        ratio = float(off.median() / spread.median()) if m > 1 else math.nan
        # isotropic components with each cluster's per-dim variance: n_views < d makes the
        # empirical covariances singular, which would fake perfect separation
        covs = clusters.var(1).mean(1).clamp_min(1e-12)[:, None, None] * torch.eye(d)
        try:
            lo, hi = (float(v) for v in mixture_entropy_bounds(centres, covs))
        except (ValueError, RuntimeError):
            lo = hi = math.nan
        mard = [r for r in g.mardia if r is not None]
        lines += [
            f"## {name} output (d = {d})",
            "",
            "### Entropy and mutual information (nats)",
            "",
            "| estimate | value |",
            "|---|---|",
            f"| Gaussian upper bound, Ledoit-Wolf (n = {n}) | {stats['gauss_ub']:.2f} |",
            f"| LogDet entropy 1/2 log det(I + Sigma) | {stats['logdet']:.2f} |",
            f"| pairwise-distance lower / upper (s = augmentation spread) | "
            f"{stats['pd_lower']:.2f} / {stats['pd_upper']:.2f} |",
            f"| kNN (Kozachenko-Leonenko, k = 3; biased up in high d) | {stats['knn']:.2f} |",
            f"| log det covariance (Ledoit-Wolf) | {stats['logdet_cov']:.2f} |",
            f"| effective rank | {stats['erank']:.1f} |",
            f"| I(view a; view b), Gaussian on top {k} PCs | {mi_gauss:.3f} |",
            f"| I(view a; view b), KSG on the first PC | {mi_ksg:.3f} |",
            f"| invariance mse(z_a, z_b) / per-dim variance | {stats['invariance_rel']:.3f} |",
            "",
            f"### Affine and Gaussianity checks ({m} images x {n_views} views)",
            "",
            f"- region stability (share of views in the clean image's linear region): "
            f"mean {np.mean(g.region_stability):.3f}",
            f"- affine covariance error ||C_emp - A Sigma A^T|| / ||C_emp||: median "
            f"{np.nanmedian(g.cov_rel_error):.3f}",
            f"- share of output dims whose normality is rejected (D'Agostino, p < {g.alpha}; "
            f"about {g.alpha} if Gaussian): mean {np.nanmean(g.frac_dims_rejected):.3f}",
            f"- Mardia skewness p (top PCs): median "
            f"{np.median([r.skew_pvalue for r in mard]) if mard else math.nan:.3g}; kurtosis p: "
            f"median {np.median([r.kurt_pvalue for r in mard]) if mard else math.nan:.3g}",
            "",
            "### Separation of per-sample output clusters",
            "",
            f"- median distance between cluster centres {float(off.median()):.3g} vs median "
            f"cluster spread (rms distance of a view to its centre) {float(spread.median()):.3g}:"
            f" ratio {ratio:.2f} (>> 2 means separated components)",
            f"- on the {n} test images: E||z_i - z_j||^2 / E||z_i - z_i'||^2 = "
            f"{stats['separation']:.2f}",
            f"- Kolchinsky-Tracey bounds on the entropy of the {m}-component mixture of the "
            f"clusters (isotropic, each with its own per-dim variance): [{lo:.2f}, {hi:.2f}] "
            "nats; a gap near "
            f"log {m} = {math.log(m):.2f} means the bounds cannot tell overlap from separation",
            "",
        ]
        plots[name] = dict(z=z, pvalues=g.dim_pvalues, clusters=clusters)
    pictures = _plot(plots, out)
    lines += ["## Plots", ""] + [f"![{p}]({p})" for p in pictures]
    return "\n".join(lines) + "\n"


def _plot(plots: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    for name, p in plots.items():
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
        z = p["z"] - p["z"].mean(0)
        eig = torch.linalg.svdvals(z) ** 2 / max(1, z.shape[0] - 1)
        axes[0].semilogy(eig.numpy(), marker=".")
        axes[0].set_title(f"{name}: covariance spectrum", fontsize=9)
        pv = p["pvalues"][np.isfinite(p["pvalues"])]
        axes[1].hist(pv, bins=20, range=(0, 1))
        axes[1].set_title("per-dim normality p-values (flat if Gaussian)", fontsize=9)
        clusters = p["clusters"]
        flat = clusters.reshape(-1, clusters.shape[-1])
        pcs = torch.linalg.svd(flat - flat.mean(0), full_matrices=False).Vh[:2].T
        for i, c in enumerate(clusters):
            xy = ((c - flat.mean(0)) @ pcs).numpy()
            axes[2].scatter(xy[:, 0], xy[:, 1], s=4, label=str(i))
        axes[2].set_title("views of each image (top-2 PCs)", fontsize=9)
        fig.tight_layout()
        path = out / f"analysis_{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        names.append(path.name)
    return names
