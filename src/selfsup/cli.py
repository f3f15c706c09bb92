"""The ``selfsup`` command: train | eval | analyze | dynamics | reproduce | export | compare |
sweep.

Bad input is one line on stderr (``error: ...``) and exit code 2; ``--debug`` (or
``SELFSUP_DEBUG=1``) adds the traceback. Nothing heavy (torch, Lightning) is imported before
the command line and the config have been checked, so a mistake is reported at once; the files a
command names (a run, a checkpoint) are checked before Lightning is imported
(``selfsup.train.preflight``), and torch only once a file looks like a checkpoint.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from selfsup import __version__
from selfsup.errors import OneLineParser as _Parser
from selfsup.errors import SelfsupError

COMMANDS = {
    "train": "train a method (default: VICReg on nuisance_digits, made in code)",
    "eval": "kNN and linear probe (or other protocols) of a trained encoder",
    "analyze": "the information-theory lens on an encoder (selfsup analyze --help)",
    "dynamics": "one learning-dynamics experiment (selfsup dynamics --help)",
    "reproduce": "reproduce a paper's experiments (selfsup reproduce --list)",
    "export": "write a run's encoder to a .safetensors file (selfsup.load_encoder reads it)",
    "compare": "runs side by side: accuracy and label-free measures (selfsup compare --help)",
    "sweep": "tune hyperparameters with Optuna, with or without labels (selfsup sweep --help)",
}
#: sub-commands whose parsing lives with the experiment: ``(module, function)``
FORWARDED = {
    "analyze": ("selfsup.analysis.command", "main"),
    "dynamics": ("selfsup.experiments.dynamics", "main"),
    "reproduce": ("selfsup.experiments.command", "main"),
    "export": ("selfsup.export", "main"),
    "compare": ("selfsup.compare.command", "main"),
    "sweep": ("selfsup.tune.command", "main"),
}
EPILOG = """examples:
  selfsup train                                   # the quickstart (about a minute on a CPU)
  selfsup train --config vicreg_mnist --data-root DIR trainer.max_epochs=2
  selfsup eval runs/my-run
  selfsup reproduce --list

Named datasets live in data.root (--data-root), else $SELFSUP_DATA, else ./data, for every
command; your own images or arrays are data.path=DIR|FILE (data.name=folder|tensors).
Add --debug (or SELFSUP_DEBUG=1) to see the traceback of an error."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show Lightning's messages and warnings"
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an error (or SELFSUP_DEBUG=1)"
    )


def _parser() -> argparse.ArgumentParser:
    """``selfsup --help``: the commands (each parses its own words, see :func:`main`)."""
    parser = _Parser(
        prog="selfsup",
        usage="selfsup [--version] [-v] [--debug] COMMAND ...",
        description="Self-supervised learning, and the theory to measure it.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"selfsup {__version__}")
    _common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, about in COMMANDS.items():
        sub.add_parser(name, help=about)
    return parser


def _train_parser() -> argparse.ArgumentParser:
    t = _Parser(
        prog="selfsup train",
        description="Train a method. Overrides (key.sub=value) may stand anywhere on the line;\n"
        "changing backbone.name, method.name or data.name starts that section's params (and\n"
        "the dataset's views) from the chosen thing's own defaults.",
        epilog="e.g. selfsup train --config simclr_mnist --data-root DIR trainer.max_epochs=2\n"
        "Every key and what it allows: the Configuration guide (docs/configuration.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--config", help="YAML file or shipped config name (default: quickstart)")
    t.add_argument(
        "--run-dir", metavar="DIR", help="output folder (default: runs/<method>-<data>-<time>)"
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --run-dir from its newest checkpoint (with its config.yaml)",
    )
    t.add_argument("--data-root", metavar="DIR", help="the same as data.root=DIR")
    t.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides")
    _common(t)
    return t


def _eval_parser() -> argparse.ArgumentParser:
    e = _Parser(
        prog="selfsup eval",
        description="Evaluate a run's newest checkpoint (or a checkpoint file) on frozen "
        "features; the results go into the run's metrics.json.",
    )
    e.add_argument("run", nargs="?", metavar="RUN", help="run directory or checkpoint file")
    e.add_argument("--run-dir", metavar="DIR", help="the same as RUN")
    e.add_argument("--dataset", help="evaluate on another dataset of the same image shape")
    e.add_argument(
        "--data-root",
        metavar="DIR",
        help="where named datasets live (default: the run's data.root); a run on your own "
        "files reads its data.path",
    )
    e.add_argument(
        "--protocol",
        help="comma-separated, from knn,linear,linear-sgd,finetune,fewshot (default: knn,linear)",
    )
    e.add_argument("--epochs", type=int, default=30, help="epochs of linear-sgd and finetune")
    _common(e)
    return e


PARSERS = {"train": _train_parser, "eval": _eval_parser}


def _train(args: argparse.Namespace) -> int:
    from selfsup.config import load_config

    run_dir = Path(args.run_dir) if args.run_dir else None
    config_path = args.config
    if args.resume:
        if run_dir is None:
            raise SelfsupError("--resume needs --run-dir DIR (the run to continue)")
        if config_path is None and (run_dir / "config.yaml").exists():
            config_path = run_dir / "config.yaml"
    overrides = list(args.overrides)
    if args.data_root:
        overrides.append(f"data.root={args.data_root}")
    config = load_config(config_path, overrides)  # every config error is found here, quickly
    if args.resume:  # the checkpoint, and what the config may change, before Lightning
        from selfsup.train.preflight import check_resume

        _unless_in_use(run_dir, "train", check_resume, run_dir, config)
    if run_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path("runs") / f"{config.method.name}-{config.data.name}-{stamp}"

    from selfsup.methods import NonFiniteLossError
    from selfsup.train import train
    from selfsup.train.checkpoints import newest_checkpoint
    from selfsup.train.interrupt import Interrupted

    try:
        metrics = train(config, run_dir, resume=args.resume)
    except NonFiniteLossError as err:
        ckpt = newest_checkpoint(run_dir)
        where = f"last good checkpoint: {ckpt} (kept intact)" if ckpt else "no checkpoint yet"
        print(f"error: {err}; training stopped; {where}", file=sys.stderr)
        return 2  # like every error a setting causes (here, most often optim.lr)
    except Interrupted as stop:
        if stop.message:
            print(stop.message, file=sys.stderr)
        return stop.exit_code
    if metrics is not None:
        _print_metrics(metrics, run_dir)
    return 0


def _unless_in_use(run_dir: Path | None, purpose: str, check, *args) -> None:
    """``check(*args)``; if it refuses, a process working in ``run_dir`` is the news that
    matters first (what it finds may be that process's half-made run)."""
    from selfsup.train.run_lock import RunLock

    try:
        check(*args)
    except SelfsupError:
        if run_dir is not None:
            RunLock(run_dir, purpose).check_free()
        raise


def _print_metrics(metrics: dict, where: Path) -> None:
    shown = {k: v for k, v in metrics.items() if k.endswith("top1")}
    print("  ".join(f"{k}={v:.4f}" for k, v in shown.items()) + f"  ({where})")
    baseline = metrics.get("baseline", {}).get("knn_top1")
    if baseline is not None and "knn_top1" in metrics:
        # what training bought: the same kNN on the same test images, initial weights
        print(f"kNN {metrics['knn_top1']:.3f} (untrained encoder: {baseline:.3f})")


def _eval(args: argparse.Namespace) -> int:
    if args.run and args.run_dir and args.run != args.run_dir:
        raise SelfsupError("selfsup eval: give the run once (RUN or --run-dir)")
    path = args.run or args.run_dir
    if path is None:
        raise SelfsupError("selfsup eval: name a run directory or checkpoint (selfsup eval RUN)")
    if args.epochs < 1:
        raise SelfsupError(f"selfsup eval: --epochs must be >= 1, got {args.epochs}")
    from selfsup.train.preflight import check_trained, run_dir_of

    # the file and the image shape, before Lightning
    _unless_in_use(run_dir_of(path), "eval", check_trained, path, args.dataset)
    from selfsup.data.datasets import DatasetNotFoundError
    from selfsup.train import evaluate_encoder
    from selfsup.train.trained import evaluate_checkpoint

    evaluate = evaluate_encoder
    if args.protocol:  # the protocols beside the default kNN + linear probe
        from selfsup.evaluate.protocols import parse_protocols, run_protocols

        names = parse_protocols(args.protocol)

        def evaluate(method, data, config):
            encoder = (method.backbone, method.normalise)
            return run_protocols(*encoder, data, names, config.eval, config.seed, args.epochs)

    try:
        metrics, written = evaluate_checkpoint(path, args.dataset, args.data_root, evaluate)
    except DatasetNotFoundError as err:  # eval has no data.download: advise what it takes
        raise SelfsupError(err.advise("point --data-root (or $SELFSUP_DATA) at it")) from None
    _print_metrics(metrics, written)
    return 0


def _forward(command: str, argv: list[str]) -> int:
    import importlib

    module, function = FORWARDED[command]
    if command == "analyze":  # the run is named the same way in every command
        argv = _run_dir_as_positional(argv)
        _preflight_analyze(argv)
    try:
        target = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError):
        raise SelfsupError(f"{module}.{function} is not available in this version") from None
    return int(target(argv) or 0)


def _preflight_analyze(argv: list[str]) -> None:
    """``selfsup analyze ...``: the line (options and their values), then a run's checkpoint
    and image shape, checked before the command's module imports torch."""
    from selfsup.analysis.args import parse_args

    args = parse_args(argv)
    if args.run_dir is not None and args.encoder is None:
        from selfsup.train.preflight import check_trained

        check_trained(args.run_dir, args.dataset)


def _run_dir_as_positional(argv: list[str]) -> list[str]:
    """``--run-dir D`` / ``--run-dir=D`` -> ``D`` (``selfsup analyze`` takes the run first)."""
    out, i = [], 0
    while i < len(argv):
        word = argv[i]
        if word == "--run-dir" and i + 1 < len(argv):
            out.insert(0, argv[i + 1])
            i += 2
            continue
        if word.startswith("--run-dir="):
            out.insert(0, word.split("=", 1)[1])
        else:
            out.append(word)
        i += 1
    return out


def _flags(argv: list[str]) -> tuple[list[str], bool, bool]:
    """``argv`` without the global ``-v`` / ``--debug`` words before the sub-command (they may
    also follow it), and whether each was given."""
    verbose = debug = False
    rest = list(argv)
    while rest and rest[0] in ("-v", "--verbose", "--debug"):
        word = rest.pop(0)
        verbose |= word != "--debug"
        debug |= word == "--debug"
    return rest, verbose, debug


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``selfsup``; the exit code (2: bad input, 130: interrupted)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    argv, verbose, debug = _flags(argv)
    debug |= os.environ.get("SELFSUP_DEBUG", "") not in ("", "0")
    try:
        if not argv or argv[0] in ("-h", "--help"):
            _parser().print_help()
            return 0
        command, rest = argv[0], argv[1:]
        if command not in COMMANDS:
            _parser().parse_args(argv)  # --version, or one line naming the unknown word
            raise SelfsupError(f"unknown command '{command}'; valid: {', '.join(COMMANDS)}")
        if command in FORWARDED:
            words = [w for w in rest if w != "--debug"]
            debug |= len(words) < len(rest)
            if command in ("analyze", "export"):  # their own parsers have no -v
                verbose |= any(w in ("-v", "--verbose") for w in words)
                words = [w for w in words if w not in ("-v", "--verbose")]
            else:
                verbose |= any(w in ("-v", "--verbose") for w in words)
                named = words and not words[0].startswith("-")  # not --list / --help
                if verbose and named and not any(w in ("-v", "--verbose") for w in words):
                    words.append("--verbose")  # `selfsup -v reproduce ...`: their own flag
            _set_verbosity(verbose)
            return _forward(command, words)
        args = PARSERS[command]().parse_intermixed_args(rest)
        debug |= args.debug
        _set_verbosity(verbose or args.verbose)
        return _train(args) if command == "train" else _eval(args)
    except SelfsupError as err:
        if debug:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `selfsup ... --help | head`
        sys.stderr.close()
        return 0
    except SystemExit as exit_:  # --help, --version
        return exit_.code if isinstance(exit_.code, int) else 0


def _set_verbosity(verbose: bool) -> None:
    # an environment variable, so that DDP's worker processes and reproduction workers see it
    if verbose:
        os.environ["SELFSUP_VERBOSE"] = "1"


if __name__ == "__main__":
    sys.exit(main())
