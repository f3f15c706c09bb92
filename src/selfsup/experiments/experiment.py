"""What a reproduction declares: its parameters and presets, its runs, its claims, its report.

A reproduction is one :class:`Experiment` value built from plain functions::

    @dataclass(frozen=True)
    class Params:
        steps: int = option(800, "training steps per run", minimum=1)   # --steps N
        widths: tuple[int, ...] = (16, 32)                               # preset-only

    EXPERIMENT = Experiment(
        name="mine", title="...", paper="Author et al. (2024)",
        presets={"full": Preset(Params(), "..."), "quick": Preset(Params(steps=80), "...")},
        runs=plan_runs,        # (params, plan) -> [Run(key, fn, args), ...]
        summarise=summarise,   # (params, [Finished, ...]) -> summary dict (JSON-able)
        claims=claims,         # (summary, params) -> [Claim, ...]
        report=report,         # (summary, params, finished, out) -> Markdown (may save PNGs)
    )

The framework (``command.py``, ``runner.py``, ``report.py``) gives every reproduction the same
command line, seeds, threads, timing, resume, metadata, ``results.json`` and ``report.md``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfsup.errors import SelfsupError
from selfsup.experiments.claims import Claim


def option(
    default: Any,
    help: str,
    *,
    choices: tuple | None = None,
    minimum: float | None = None,
    metavar: str | None = None,
) -> Any:
    """A parameter the command line may set, as ``--name-with-dashes VALUE``.

    ``choices`` restricts a value (or each item of a tuple); ``minimum`` bounds a number (or
    each item); ``metavar`` names the value in ``--help``. Fields declared without ``option``
    are set by the presets only.
    """
    meta = {"help": help, "choices": choices, "minimum": minimum, "metavar": metavar}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Preset:
    """Named parameters: ``params`` (an instance of the experiment's dataclass), a one-line
    description for ``--help``, and the default number of seeds."""

    params: Any
    about: str
    seeds: int = 1


@dataclass(frozen=True)
class RunContext:
    """Where a run works; handed to every run function (also in a worker process)."""

    out: Path  # the reproduction's folder
    run_dir: Path  # this run's own folder, OUT/runs/<key>
    data_root: Path
    threads: int


@dataclass(frozen=True)
class Run:
    """One independent unit of work.

    ``fn(args, ctx) -> dict`` must be a module-level function (runs may go to worker
    processes) returning a JSON-able dict; ``args`` is JSON-able too and identifies the run:
    ``--resume`` reuses a finished run only if its ``args`` are the same.
    """

    key: str  # unique, a folder name: "mnist-vicreg-s0"
    fn: Callable[[dict, RunContext], dict]
    args: dict


@dataclass(frozen=True)
class Finished:
    """A run and its result, as ``summarise`` receives them."""

    run: Run
    result: dict
    seconds: float
    reused: bool = False


@dataclass
class Plan:
    """What ``runs(params, plan)`` may ask of the framework while it lists the runs."""

    seeds: list[int]
    data_root: Path
    skipped: dict[str, str] = field(default_factory=dict)

    def skip(self, what: str, why: str) -> None:
        """Leave ``what`` out of this reproduction; the report says so, and why."""
        self.skipped[what] = why

    def dataset_missing(self, name: str, **params: Any) -> str | None:
        """``None`` if dataset ``name`` loads from the data root, else why not (one line)."""
        from selfsup.data.datasets import DatasetNotFoundError, in_code, load_dataset

        if in_code(name):
            return None
        try:
            load_dataset(name, self.data_root, **params)
        except DatasetNotFoundError as err:
            return err.advise(DATA_ADVICE)
        return None

    def require_dataset(self, name: str, **params: Any) -> None:
        why = self.dataset_missing(name, **params)
        if why is not None:
            raise SelfsupError(why)


#: what to tell a user of ``selfsup reproduce`` whose data is not where we looked
DATA_ADVICE = (
    "point --data-root (or $SELFSUP_DATA) at the folder that holds it, in torchvision's layout "
    "(e.g. DIR/MNIST/raw)"
)


@dataclass(frozen=True)
class Experiment:
    """A reproduction, declared (see the module docstring). ``presets`` must name ``full`` and
    ``quick``; ``workers`` is the default number of worker processes for its runs."""

    name: str
    title: str
    paper: str
    presets: Mapping[str, Preset]
    runs: Callable[[Any, Plan], list[Run]]
    summarise: Callable[[Any, list[Finished]], dict]
    claims: Callable[[dict, Any], list[Claim]]
    report: Callable[[dict, Any, list[Finished], Path], list[str]]
    workers: int = 1
    progress: Callable[[dict], str] | None = None  # a few words per finished run, e.g. "knn=0.91"

    def __post_init__(self) -> None:
        missing = {"full", "quick"} - set(self.presets)
        if missing:
            raise TypeError(f"experiment '{self.name}' lacks preset(s) {sorted(missing)}")
        kinds = {type(p.params) for p in self.presets.values()}
        if len(kinds) != 1 or not dataclasses.is_dataclass(next(iter(kinds))):
            raise TypeError(f"experiment '{self.name}': presets must share one dataclass")

    @property
    def params_type(self) -> type:
        return type(self.presets["full"].params)


def default_workers(experiment: Experiment) -> int:
    return max(1, min(experiment.workers, os.cpu_count() or 1))
