"""``selfsup analyze``: the information-theory lens on any encoder.

    selfsup analyze RUN_DIR [--dataset NAME] [--data-root DIR] [--out DIR]
    selfsup analyze --encoder module:callable --dataset NAME [--image-size S] [--channels C]
    selfsup analyze --encoder torchvision:NAME|timm:NAME --weights FILE --dataset NAME ...

The encoder is either one of ours (``selfsup.train.load_method``; its own normalisation and
view pipeline are used, and the projector output is analysed too) or a user's: ``callable()``
returns an ``nn.Module`` mapping *normalised* images ``(B, C, H, W)`` to features ``(B, ...)``
(flattened), or a torchvision / timm architecture by name whose weights come from ``--weights``
(safetensors or a ``torch.save`` file, read without running code; torchvision, timm, lightly and
solo-learn key layouts are recognised: :mod:`selfsup.analysis.encoders`).
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
:mod:`selfsup.analysis.lens`) and PNG plots to ``--out`` (default
``RUN_DIR/analysis`` also for a checkpoint inside it, ``<stem>-analysis`` beside a checkpoint
outside any run, or ``runs/analysis-<callable>`` for ``--encoder``).
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from selfsup import registry
from selfsup.analysis.args import parse_args
from selfsup.errors import SelfsupError
from selfsup.experiments.meta import git_state, versions

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
        preset = args.views or registry.entry("dataset", dataset).meta.get("views", "none")
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
    from selfsup.analysis.lens import draw_view_pair, lens_analysis
    from selfsup.analysis.report import capture_regime_notes, plot_space, write_report

    # one sample for every number: these images and one pair of views of each
    images = probe_images(data.test, args.n_samples, args.seed)
    pair = draw_view_pair(view, images, args.seed)
    notes: list[str] = []
    with capture_regime_notes(notes):
        lens = lens_analysis(
            spaces, images, view, n_boot=args.n_resamples, seed=args.seed, pair=pair
        )
        checks = analyse(spaces, images, pair, view, args.n_gaussianity, args.n_views)
    pictures = [plot_space(name, c["plot"], out) for name, c in checks.items()]
    git = git_state()
    meta = {
        "encoder": title,
        "weights": args.weights,
        "dataset": dataset,
        "views": preset,
        "seed": args.seed,
        "command": "selfsup analyze " + " ".join(_quoted(argv_of(args))),
        "code": git["commit"],
        "dirty": git["dirty"],
        "torch": versions()["torch"],
    }
    numbers = {name: c["numbers"] for name, c in checks.items()}
    write_report(out, meta, lens, numbers, notes, pictures)
    print(f"wrote {out / 'report.md'} and {out / 'analysis.json'}")
    return 0


def _user_encoder(args: argparse.Namespace, channels: int) -> nn.Module:
    library = args.encoder.partition(":")[0]
    if library in ("torchvision", "timm"):
        from selfsup.analysis.encoders import encoder_from_file

        return encoder_from_file(args.encoder, args.weights, channels)[0]
    model = load_encoder(args.encoder)
    if args.weights is not None:
        from selfsup.analysis.encoders import load_weights, read_weights

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
    images: torch.Tensor,
    pair: tuple,
    view: nn.Module,
    n_gaussianity: int = 8,
    n_views: int = 128,
) -> dict[str, dict]:
    """The checks of every network in ``spaces`` (each maps [0, 1] images to ``(B, d)``) that
    the lens (:mod:`selfsup.analysis.lens`) does not make, on ``images (n, C, H, W)``
    and the same two views of each, ``pair = (a, b, ...)``: LogDet entropy, pairwise-distance
    bounds, and the affine, Gaussianity and cluster checks on the first ``n_gaussianity``
    images with ``n_views`` views each.

    Returns:
        ``{space: {"numbers": {name: float}, "plot": {"z", "pvalues", "clusters"}}}``;
        entropies in nats.
    """
    from selfsup.info import (
        augmentation_gaussianity,
        logdet_entropy,
        pairwise_distance_entropy,
    )
    from selfsup.info.regimes import LOGDET_ENTROPY, EstimatorRegimeWarning
    from selfsup.train.info_tracking import _finite

    views_a, views_b = pair[0], pair[1]
    n = len(images)
    out: dict[str, dict] = {}
    for name, net in spaces.items():
        net.eval()
        with torch.no_grad():
            z, z_a, z_b = (net(x).double() for x in (images, views_a, views_b))
        d = z.shape[1]
        # per-dimension std of one view around its image's mean: E(z_a - z_b)^2 = 2 s^2
        s = math.sqrt(max(float(F.mse_loss(z_a, z_b)) / 2.0, 1e-300))
        with warnings.catch_warnings():  # its regime is flagged in the report, once
            warnings.simplefilter("ignore", EstimatorRegimeWarning)
            logdet = _finite(logdet_entropy, z)
        numbers = {
            "logdet_entropy": logdet,
            "logdet_entropy_in_measured_regime": LOGDET_ENTROPY.contains(n, d),
            "pairwise_lower": _finite(pairwise_distance_entropy, z, s, "bhattacharyya"),
            "pairwise_upper": _finite(pairwise_distance_entropy, z, s, "kl"),
            # both bounds' common ceiling: every pair of points many s apart
            "pairwise_ceiling": math.log(n) + d / 2 * math.log(2 * math.pi * math.e * s * s),
            "augmentation_spread": s,
        }
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
        numbers.update(_cluster_numbers(clusters))
        mard = [r for r in g.mardia if r is not None]
        numbers.update(
            region_stability=float(np.mean(g.region_stability)),
            affine_cov_error=float(np.nanmedian(g.cov_rel_error)),
            share_non_normal=float(np.nanmean(g.frac_dims_rejected)),
            normality_alpha=float(g.alpha),
            mardia_skew_p=float(np.median([r.skew_pvalue for r in mard])) if mard else math.nan,
            mardia_kurt_p=float(np.median([r.kurt_pvalue for r in mard])) if mard else math.nan,
            n_gaussianity=m,
            n_views=n_views,
        )
        out[name] = {
            "numbers": numbers,
            "plot": dict(z=z, pvalues=g.dim_pvalues, clusters=clusters),
        }
    return out


def _cluster_numbers(clusters: torch.Tensor) -> dict[str, float]:
    """How far apart the view clusters ``(m, v, d)`` of m images are (see the report)."""
    from selfsup.info import mixture_entropy_bounds

    m, _, d = clusters.shape
    centres = clusters.mean(1)
    spread = clusters.var(1).sum(1).sqrt()  # (m,) rms distance of a view to its centre
    off = ~torch.eye(m, dtype=torch.bool)
    dist = torch.cdist(centres, centres)
    # along the line joining two centres: distance / rms std of both clusters in that direction
    diffs = centres[:, None] - centres[None]  # (m, m, d)
    unit = diffs / dist.clamp_min(1e-300)[..., None]
    around = clusters - centres[:, None]  # (m, v, d)
    var_i = torch.einsum("ivd,ijd->ijv", around, unit).var(-1)
    var_j = torch.einsum("jvd,ijd->ijv", around, unit).var(-1)
    d_prime = dist / ((var_i + var_j) / 2).sqrt().clamp_min(1e-300)
    # isotropic components with each cluster's per-dim variance: n_views < d makes the
    # empirical covariances singular, which would fake perfect separation
    per_dim = clusters.var(1).mean(1).clamp_min(1e-300)
    covs = per_dim[:, None, None] * torch.eye(d, dtype=clusters.dtype)
    try:
        lo, hi = (float(v) for v in mixture_entropy_bounds(centres, covs))
    except (ValueError, RuntimeError):
        lo = hi = math.nan
    ceiling = math.log(m) + float((d / 2 * torch.log(2 * math.pi * math.e * per_dim)).mean())
    return {
        "centre_distance": float(dist[off].median()) if m > 1 else math.nan,
        "cluster_spread": float(spread.median()),
        "direction_separation": float(d_prime[off].median()) if m > 1 else math.nan,
        "mixture_lower": lo,
        "mixture_upper": hi,
        "mixture_ceiling": ceiling,
    }
