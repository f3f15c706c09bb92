"""The ``selfsup`` command: train | eval | analyze | dynamics | reproduce."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from selfsup.errors import SelfsupError

REPRODUCTIONS = ("infomax", "simvae", "dynamics")


def _train(args: argparse.Namespace) -> int:
    from selfsup.config import load_config
    from selfsup.methods import NonFiniteLossError
    from selfsup.train import train
    from selfsup.train.run import last_checkpoint

    run_dir = Path(args.run_dir) if args.run_dir else None
    config_path = args.config
    if args.resume:
        if run_dir is None:
            raise SelfsupError("--resume needs --run-dir DIR (the run to continue)")
        if config_path is None and (run_dir / "config.yaml").exists():
            config_path = run_dir / "config.yaml"
    config = load_config(config_path, args.overrides)
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path("runs") / f"{config.method.name}-{config.data.name}-{stamp}"
    try:
        metrics = train(config, run_dir, resume=args.resume)
    except NonFiniteLossError as err:
        ckpt = last_checkpoint(run_dir)
        where = f"last good checkpoint: {ckpt} (kept intact)" if ckpt else "no checkpoint yet"
        print(f"error: {err}; training stopped; {where}", file=sys.stderr)
        return 1
    if metrics is not None:
        _print_metrics(metrics, run_dir)
    return 0


def _print_metrics(metrics: dict, where: Path) -> None:
    shown = {k: v for k, v in metrics.items() if k.endswith("top1")}
    print("  ".join(f"{k}={v:.4f}" for k, v in shown.items()) + f"  ({where})")


def _eval(args: argparse.Namespace) -> int:
    from selfsup.train.run import evaluate_encoder, load_data, load_method

    method, config = load_method(args.path)
    if args.dataset:
        config.data.name = args.dataset
    if args.data_root:
        config.data.root = args.data_root
    data = load_data(config)
    if tuple(data.image_shape) != method.image_shape:
        raise SelfsupError(
            f"the encoder was trained on images of shape {method.image_shape}, but "
            f"'{data.name}' has {tuple(data.image_shape)}; pick a dataset of the same shape"
        )
    if args.protocol:  # the protocols beside the default kNN + linear probe
        from selfsup.evaluate.protocols import parse_protocols, run_protocols

        names, encoder = parse_protocols(args.protocol), (method.backbone, method.normalise)
        metrics = run_protocols(*encoder, data, names, config.eval, config.seed, args.epochs)
    else:
        metrics = evaluate_encoder(method, data, config)
    metrics["dataset"] = data.name
    out = Path(args.path) if Path(args.path).is_dir() else Path(args.path).parent
    name = "metrics.json" if not args.dataset else f"metrics-{data.name}.json"
    (out / name).write_text(json.dumps(metrics, indent=2))
    _print_metrics(metrics, out / name)
    return 0


def _forward(module: str, function: str, argv: list[str]) -> int:
    try:
        target = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError):
        raise SelfsupError(f"{module}.{function} is not available in this version") from None
    return int(target(argv) or 0)


def _forwarded(argv: list[str]) -> tuple[str, str, list[str]] | None:
    """``(module, function, words)`` for sub-commands whose parsing lives with the experiment."""
    if argv[0] in ("analyze", "dynamics"):
        return f"selfsup.experiments.{argv[0]}", "main", argv[1:]
    if argv[0] == "reproduce" and len(argv) > 1 and argv[1] in REPRODUCTIONS:
        return f"selfsup.experiments.{argv[1]}", "reproduce", argv[2:]
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfsup", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    t = sub.add_parser("train", help="train a method (default: VICReg on digits)")
    t.add_argument("--config", help="YAML file or shipped config name (default: quickstart)")
    t.add_argument("--run-dir", help="output folder (default: runs/<method>-<data>-<time>)")
    t.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
    t.add_argument("overrides", nargs="*", help="key.sub=value, e.g. trainer.max_epochs=4")
    e = sub.add_parser("eval", help="kNN and linear probe of a trained encoder")
    e.add_argument("path", help="run directory or checkpoint")
    e.add_argument("--dataset", help="evaluate on another dataset of the same image shape")
    e.add_argument("--data-root", help="where the dataset lives")
    e.add_argument(
        "--protocol",
        help="comma-separated, from knn,linear,linear-sgd,finetune,fewshot (default: knn,linear)",
    )
    e.add_argument("--epochs", type=int, default=30, help="epochs of linear-sgd and finetune")
    for name, helptext in (
        ("analyze", "information-theory lens on an encoder"),
        ("dynamics", "learning-dynamics experiments"),
    ):
        p = sub.add_parser(name, help=helptext, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
    r = sub.add_parser("reproduce", help="reproduce a paper's experiments", add_help=False)
    r.add_argument("paper", nargs="?", choices=REPRODUCTIONS)
    r.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    if not argv:
        argv = ["train"]
    forwarded = _forwarded(argv)
    if forwarded is not None:  # their own parsers own every word after the sub-command
        module, function, rest = forwarded
        try:
            return _forward(module, function, rest)
        except SelfsupError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "reproduce":
            raise SelfsupError(f"name what to reproduce: {', '.join(REPRODUCTIONS)}")
    except SelfsupError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
