"""The command line of ``selfsup analyze``: its options and the checks of their values, with
no torch import, so that ``selfsup analyze`` refuses a bad line before anything heavy loads
(the CLI parses it here first, then checks the run's file, then imports the command)."""

from __future__ import annotations

import argparse

from selfsup.errors import OneLineParser, SelfsupError


def parser() -> argparse.ArgumentParser:
    """The options of ``selfsup analyze`` (see :mod:`selfsup.analysis.command`)."""
    p = OneLineParser(
        prog="selfsup analyze", description="the information-theory lens on any encoder"
    )
    p.add_argument("run_dir", nargs="?", help="a selfsup run directory or checkpoint")
    p.add_argument(
        "--encoder",
        help="module:callable returning an nn.Module, or torchvision:NAME / timm:NAME with "
        "--weights (instead of a run)",
    )
    p.add_argument("--weights", help="weight file for --encoder (safetensors, .pt, .ckpt, .pth)")
    p.add_argument(
        "--n-resamples", type=int, default=100, help="half-samples for the 95%% intervals"
    )
    p.add_argument("--dataset", help="dataset name (default for a run: its own)")
    p.add_argument(
        "--data-root",
        help="where named datasets live (default: the run's data.root, $SELFSUP_DATA, ./data); "
        "a run on your own files reads its data.path",
    )
    p.add_argument(
        "--out", help="output folder (default: RUN_DIR/analysis, or runs/analysis-CALLABLE)"
    )
    p.add_argument("--views", help="augmentation preset (default: the run's, or the dataset's)")
    p.add_argument("--n-samples", type=int, default=1024, help="test images for entropies")
    p.add_argument("--n-gaussianity", type=int, default=8, help="images for Gaussianity checks")
    p.add_argument("--n-views", type=int, default=128, help="views per Gaussianity image")
    p.add_argument("--image-size", type=int, help="resize inputs for a user encoder")
    p.add_argument("--channels", type=int, help="repeat grey channels for a user encoder")
    p.add_argument("--mean", help="comma-separated normalisation mean for a user encoder")
    p.add_argument("--std", help="comma-separated normalisation std for a user encoder")
    p.add_argument("--seed", type=int, default=0)
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    """``argv`` parsed and its values checked; a bad line raises :class:`SelfsupError`."""
    args = parser().parse_args(argv[1:] if argv[:1] == ["--"] else argv)
    if (args.run_dir is None) == (args.encoder is None):
        raise SelfsupError("give either RUN_DIR or --encoder module:callable (exactly one)")
    if args.weights is not None and args.encoder is None:
        raise SelfsupError("--weights goes with --encoder torchvision:NAME / timm:NAME")
    if args.n_resamples < 20:
        raise SelfsupError(
            f"--n-resamples must be >= 20 for a 95% interval, got {args.n_resamples}"
        )
    if args.n_views < 20:
        raise SelfsupError(f"--n-views must be >= 20 (normality tests), got {args.n_views}")
    if args.n_samples < 8:
        raise SelfsupError(f"--n-samples must be >= 8, got {args.n_samples}")
    return args
