"""The ``selfsup`` command: train | eval | analyze | dynamics | reproduce."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from selfsup.errors import SelfsupError


def _train(args: argparse.Namespace) -> int:
    from selfsup.config import load_config
    from selfsup.methods import NonFiniteLossError
    from selfsup.train import train
    from selfsup.train.checkpoints import newest_checkpoint
    from selfsup.train.interrupt import Interrupted

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
        ckpt = newest_checkpoint(run_dir)
        where = f"last good checkpoint: {ckpt} (kept intact)" if ckpt else "no checkpoint yet"
        print(f"error: {err}; training stopped; {where}", file=sys.stderr)
        return 1
    except Interrupted as stop:
        if stop.message:
            print(stop.message, file=sys.stderr)
        return stop.exit_code
    if metrics is not None:
        _print_metrics(metrics, run_dir)
    return 0


def _print_metrics(metrics: dict, where: Path) -> None:
    shown = {k: v for k, v in metrics.items() if k.endswith("top1")}
    print("  ".join(f"{k}={v:.4f}" for k, v in shown.items()) + f"  ({where})")


def _eval(args: argparse.Namespace) -> int:
    from selfsup.train import evaluate_encoder
    from selfsup.train.trained import evaluate_checkpoint

    evaluate = evaluate_encoder
    if args.protocol:  # the protocols beside the default kNN + linear probe
        from selfsup.evaluate.protocols import parse_protocols, run_protocols

        names = parse_protocols(args.protocol)

        def evaluate(method, data, config):
            encoder = (method.backbone, method.normalise)
            return run_protocols(*encoder, data, names, config.eval, config.seed, args.epochs)

    metrics, written = evaluate_checkpoint(args.path, args.dataset, args.data_root, evaluate)
    _print_metrics(metrics, written)
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
    if argv[0] == "reproduce":  # selfsup.experiments.command: --list, --help, NAME ...
        return "selfsup.experiments.command", "main", argv[1:]
    if argv[0] == "export":  # selfsup.export: RUN FILE.safetensors
        return "selfsup.export", "main", argv[1:]
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
        ("reproduce", "reproduce a paper's experiments (selfsup reproduce --list)"),
        ("export", "write a run's encoder to a .safetensors file (selfsup.load_encoder)"),
    ):
        p = sub.add_parser(name, help=helptext, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
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
