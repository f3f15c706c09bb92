"""Runs a reproduction's runs: in order or in worker processes, each timed, each saved.

Every run works in ``OUT/runs/<key>/`` and leaves ``result.json`` there when it finishes
(its ``args``, its result, its time). With ``resume`` a run whose ``result.json`` holds the
same ``args`` is read back instead of run again; any other run starts from an empty folder.
What a run prints (Lightning's messages, warnings) goes to its ``log.txt`` unless ``verbose``,
so the console shows one line per run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager, nullcontext, redirect_stderr, redirect_stdout
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from selfsup.errors import InputError
from selfsup.experiments.experiment import Experiment, Finished, Run, RunContext

RESULT = "result.json"


def to_json(value: Any) -> Any:
    """``json.dumps`` fallback: numpy / torch scalars and arrays, paths."""
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, default=to_json)


def _normalised(args: dict) -> Any:
    return json.loads(json.dumps(args, default=to_json))


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send everything written to file descriptors 1 and 2 (Python, C, child loggers) to
    ``path`` until the block ends."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(path, "a", buffering=1) as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            # Python-level streams too: they need not be descriptors 1 and 2 (pytest, IDEs)
            with redirect_stdout(log), redirect_stderr(log):
                yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def _execute(run: Run, ctx: RunContext, verbose: bool = False) -> tuple[dict, float]:
    """One run with ``ctx.threads`` torch threads; writes its ``result.json``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(ctx.threads)
    start = time.perf_counter()
    try:
        with nullcontext() if verbose else _output_to(ctx.run_dir / "log.txt"):
            result = run.fn(run.args, ctx)
    finally:
        torch.set_num_threads(before)
    seconds = time.perf_counter() - start
    record = {"key": run.key, "args": run.args, "seconds": seconds, "result": result}
    (ctx.run_dir / RESULT).write_text(dumps(record))
    return result, seconds


def _reusable(run: Run, run_dir: Path) -> Finished | None:
    try:
        record = json.loads((run_dir / RESULT).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("args") != _normalised(run.args):
        return None
    return Finished(run, record["result"], float(record.get("seconds", math.nan)), reused=True)


def execute(
    experiment: Experiment,
    runs: list[Run],
    out: Path,
    data_root: Path,
    threads: int = 1,
    workers: int = 1,
    resume: bool = False,
    verbose: bool = False,
) -> list[Finished]:
    """Every run's result, in the order of ``runs``."""
    keys = [r.key for r in runs]
    if len(set(keys)) != len(keys):
        raise InputError(f"{experiment.name}: run keys must be unique, got {keys}")
    done: dict[str, Finished] = {}
    todo: list[tuple[Run, RunContext]] = []
    for run in runs:
        run_dir = out / "runs" / run.key
        reused = _reusable(run, run_dir) if resume else None
        if reused is not None:
            done[run.key] = reused
            continue
        shutil.rmtree(run_dir, ignore_errors=True)  # an unfinished run restarts from scratch
        run_dir.mkdir(parents=True)
        todo.append((run, RunContext(out, run_dir, data_root, threads)))
    counter = _Progress(experiment, len(runs))
    for f in done.values():
        counter.show(f)
    if workers <= 1 or len(todo) <= 1:
        for run, ctx in todo:
            done[run.key] = Finished(run, *_execute(run, ctx, verbose))
            counter.show(done[run.key])
    else:
        with ProcessPoolExecutor(min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_execute, run, ctx, verbose): run for run, ctx in todo}
            try:
                for future in as_completed(futures):
                    run = futures[future]
                    done[run.key] = Finished(run, *future.result())
                    counter.show(done[run.key])
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return [done[k] for k in keys]


class _Progress:
    def __init__(self, experiment: Experiment, total: int) -> None:
        self.experiment, self.total, self.count = experiment, total, 0

    def show(self, f: Finished) -> None:
        self.count += 1
        how = "reused" if f.reused else f"{f.seconds:.1f} s"
        words = self.experiment.progress(f.result) if self.experiment.progress else ""
        line = f"[{self.experiment.name} {self.count}/{self.total}] {f.run.key}: {how}"
        print(f"{line}  {words}".rstrip(), flush=True)
