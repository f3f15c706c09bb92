"""``selfsup reproduce``: one command line for every reproduction.

    selfsup reproduce --list
    selfsup reproduce NAME [--quick | --preset P] [--out DIR] [--seeds N] [--data-root DIR]
                           [--resume] [--threads N] [--workers N] [--verbose]
                           [NAME's own options]

The options after NAME come from the experiment's parameters dataclass (fields declared with
:func:`selfsup.experiments.experiment.option`), so ``NAME --help`` lists every one of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import types
import typing
from pathlib import Path
from typing import Any

from selfsup.errors import SelfsupError
from selfsup.experiments import REPRODUCTIONS, load
from selfsup.experiments.experiment import Experiment, Plan, default_workers
from selfsup.experiments.meta import collect, load_average

FRAMEWORK_OPTIONS = (
    "preset",
    "quick",
    "out",
    "seeds",
    "data_root",
    "resume",
    "threads",
    "workers",
    "verbose",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:  # one line, not usage + message
        raise SelfsupError(message)


def main(argv: list[str]) -> int:
    """Entry point of ``selfsup reproduce``; returns the exit code (2 on bad input)."""
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv[0] == "--list":
        return _list()
    if argv[0] not in REPRODUCTIONS:
        return _fail(
            f"selfsup reproduce: unknown reproduction '{argv[0]}'; valid: "
            f"{', '.join(REPRODUCTIONS)} (selfsup reproduce --list)"
        )
    try:
        experiment = load(argv[0])
    except SelfsupError as err:
        return _fail(str(err))
    return run(experiment, argv[1:])


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _usage() -> str:
    names = "\n".join(f"  {name:<10} {load(name).title}" for name in REPRODUCTIONS)
    return (
        "usage: selfsup reproduce NAME [--quick | --preset P] [--out DIR] [--seeds N]\n"
        "                         [--data-root DIR] [--resume] [--threads N] [--workers N]\n"
        "                         [--verbose] [NAME's own options]\n"
        "       selfsup reproduce --list\n\n"
        "Reproduce a paper's experiments: runs, claims checked against our numbers, a report\n"
        "(report.md, results.json, PNGs) in --out. `selfsup reproduce NAME --help` lists every\n"
        f"option of NAME.\n\nreproductions:\n{names}"
    )


def _list() -> int:
    """Each reproduction, and the verdicts of its last report in its default folder."""
    from selfsup.experiments.claims import Claim, verdict

    for name in REPRODUCTIONS:
        e = load(name)
        presets = ", ".join(e.presets)
        print(f"{name:<10} {e.title}. {e.paper}. Presets: {presets}")
        results = Path(f"runs/reproduce-{name}") / "results.json"
        try:
            record = json.loads(results.read_text())
            claims = [Claim.from_dict(c) for c in record["claims"]]
        except (OSError, ValueError, TypeError, KeyError):
            continue  # never run here, or not a report this version reads
        print(f"{'':<10} last report: {results} (preset {record.get('preset')})")
        for c in claims:
            regime = f" [{c.regime}]" if c.regime else ""
            print(f"{'':<12}{verdict(c)}: {c.claim}{regime}")
    return 0


def run(
    experiment: Experiment, argv: list[str], prog: str | None = None, out: str | None = None
) -> int:
    """Parse ``argv`` for ``experiment``, run it and write its report; the exit code."""
    prog = prog or f"selfsup reproduce {experiment.name}"
    try:
        args = parser(experiment, prog, out).parse_args(argv)
        return _run(experiment, args, [*prog.split(), *argv])
    except SelfsupError as err:
        return _fail(f"{prog}: {err}")
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)
    except KeyboardInterrupt:
        print("interrupted; finished runs are kept (rerun with --resume)", file=sys.stderr)
        return 130


def parser(experiment: Experiment, prog: str, out: str | None = None) -> argparse.ArgumentParser:
    """The options of ``selfsup reproduce NAME``: the framework's, then the experiment's."""
    from selfsup.data.datasets import default_root

    p = _Parser(
        prog=prog, description=f"{experiment.title}. {experiment.paper}.", allow_abbrev=False
    )
    presets = experiment.presets
    about = "; ".join(f"{k}: {v.about}" for k, v in presets.items())
    p.add_argument("--preset", choices=list(presets), default="full", help=f"sizes ({about})")
    p.add_argument("--quick", action="store_true", help="the same as --preset quick")
    p.add_argument(
        "--out",
        metavar="DIR",
        default=out or f"runs/reproduce-{experiment.name}",
        help="output folder (default: %(default)s)",
    )
    seeds = ", ".join(f"{k} {v.seeds}" for k, v in presets.items())
    p.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help=f"how many seeds: 0, 1, ..., N-1 (default per preset: {seeds})",
    )
    p.add_argument(
        "--data-root",
        metavar="DIR",
        help=f"where datasets live (default: $SELFSUP_DATA, else ./data; now '{default_root()}')",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="reuse the runs already finished in --out with the same settings (others rerun)",
    )
    p.add_argument(
        "--threads", type=int, metavar="N", default=1, help="torch threads per run (default: 1)"
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        default=default_workers(experiment),
        help="runs in parallel, each in its own process (default: %(default)s)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show what each run prints (Lightning, warnings) instead of writing it to "
        "OUT/runs/KEY/log.txt",
    )
    group = p.add_argument_group(f"{experiment.name} options (default: the preset's value)")
    for f, kind in _options(experiment.params_type):
        if kind is bool:
            group.add_argument(
                f"--{f.name.replace('_', '-')}",
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f.metadata["help"],
            )
            continue
        group.add_argument(
            f"--{f.name.replace('_', '-')}", default=None, metavar=_metavar(f, kind), help=_help(f)
        )
    return p


def _metavar(f: dataclasses.Field, kind: Any) -> str:
    if f.metadata.get("metavar"):
        return f.metadata["metavar"]
    names = {int: "N", float: "X"}
    item = _item(kind)
    if item is not None:
        return f"{names.get(item, 'NAME')},..."
    return names.get(kind, f.name.upper())


def _help(f: dataclasses.Field) -> str:
    extra = []
    if f.metadata.get("choices"):
        extra.append("of " + ", ".join(map(str, f.metadata["choices"])))
    if f.metadata.get("minimum") is not None:
        extra.append(f">= {f.metadata['minimum']}")
    return f.metadata["help"] + (f" ({'; '.join(extra)})" if extra else "")


def _options(params_type: type) -> list[tuple[dataclasses.Field, Any]]:
    """The dataclass fields the command line may set, with their (non-None) types."""
    hints = typing.get_type_hints(params_type)
    out = []
    for f in dataclasses.fields(params_type):
        if "help" not in f.metadata:
            continue
        if f.name in FRAMEWORK_OPTIONS:
            raise TypeError(f"{params_type.__name__}.{f.name} clashes with a framework option")
        kind = hints[f.name]
        if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        out.append((f, kind))
    return out


def _item(kind: Any) -> type | None:
    """The item type of ``tuple[X, ...]``, else ``None``."""
    if typing.get_origin(kind) is tuple:
        return typing.get_args(kind)[0]
    return None


def _parse(text: str, kind: Any, flag: str) -> Any:
    item = _item(kind)
    try:
        if item is None:
            return kind(text)
        values = tuple(item(t.strip()) for t in text.split(",") if t.strip())
    except ValueError:
        names = {int: "integer", float: "number"}
        what = f"comma-separated {names.get(item, 'value')}s" if item else names.get(kind, "value")
        raise SelfsupError(f"{flag} takes {'' if item else 'one '}{what}, got '{text}'") from None
    if not values:
        raise SelfsupError(f"{flag} needs at least one value")
    return values


def _check(value: Any, f: dataclasses.Field, flag: str) -> None:
    items = value if isinstance(value, tuple) else (value,)
    choices, minimum = f.metadata.get("choices"), f.metadata.get("minimum")
    bad = [v for v in items if choices and v not in choices]
    if bad:
        raise SelfsupError(f"{flag}: unknown {bad}; valid: {', '.join(map(str, choices))}")
    low = [v for v in items if minimum is not None and v < minimum]
    if low:
        raise SelfsupError(f"{flag} must be >= {minimum}, got {', '.join(map(str, low))}")


def resolve(experiment: Experiment, args: argparse.Namespace) -> tuple[str, Any, int]:
    """``(preset name, params, number of seeds)`` from the parsed command line."""
    preset = "quick" if args.quick else args.preset
    if args.quick and args.preset not in ("full", "quick"):
        raise SelfsupError(f"--quick and --preset {args.preset} disagree; give one")
    changes = {}
    for f, kind in _options(experiment.params_type):
        text = getattr(args, f.name)
        if text is None:
            continue
        flag = f"--{f.name.replace('_', '-')}"
        changes[f.name] = text if kind is bool else _parse(text, kind, flag)
        _check(changes[f.name], f, flag)
    params = dataclasses.replace(experiment.presets[preset].params, **changes)
    seeds = experiment.presets[preset].seeds if args.seeds is None else args.seeds
    for flag, value in (
        ("--seeds", seeds),
        ("--threads", args.threads),
        ("--workers", args.workers),
    ):
        if value < 1:
            raise SelfsupError(f"{flag} must be >= 1, got {value}")
    return preset, params, seeds


def _run(experiment: Experiment, args: argparse.Namespace, command: list[str]) -> int:
    from selfsup.data.datasets import default_root
    from selfsup.experiments import report
    from selfsup.experiments.runner import execute

    preset, params, n_seeds = resolve(experiment, args)
    data_root = Path(args.data_root) if args.data_root else default_root()
    meta = collect(command)
    start = time.perf_counter()
    plan = Plan(seeds=list(range(n_seeds)), data_root=data_root)
    runs = experiment.runs(params, plan)  # checks the data before anything is written
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SelfsupError(f"cannot create output folder '{out}': {err.strerror}") from None
    finished = execute(
        experiment,
        runs,
        out,
        data_root,
        args.threads,
        args.workers,
        resume=args.resume,
        verbose=args.verbose,
    )
    summary = experiment.summarise(params, finished)
    claims = experiment.claims(summary, params)
    sections = experiment.report(summary, params, finished, out)
    wall = time.perf_counter() - start
    meta.update(
        threads=args.threads,
        workers=args.workers,
        data_root=str(data_root),
        loadavg_1min_end=load_average(),
    )
    record = {
        "experiment": experiment.name,
        "title": experiment.title,
        "paper": experiment.paper,
        "preset": preset,
        "params": dataclasses.asdict(params),
        "seeds": plan.seeds,
        "skipped": plan.skipped,
        "summary": summary,
        "runs": {f.run.key: {"dir": f"runs/{f.run.key}", "reused": f.reused} for f in finished},
        "timing_s": {
            "total": wall,
            "runs": {f.run.key: f.seconds for f in finished},
        },
        "meta": meta,
    }
    report.write(out, record, claims, sections)
    report.print_claims(claims)
    print(f"wrote {out / 'report.md'} and {out / 'results.json'} ({wall:.1f} s)")
    return 0
