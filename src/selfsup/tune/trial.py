"""One trial of a sweep: an ordinary selfsup run in ``OUT/trial-NNN``, then its scores.

The folder is a normal run directory (``selfsup eval``, ``analyze``, ``compare`` and
``train --resume`` work on it); ``NNN`` is the study-wide Optuna trial number. Everything the
sweep needs to know about the trial is also stored in the study (user attributes): the
overrides, the folder, the label-free measures, kNN / linear accuracy, the training time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from selfsup.compare.measures import MEASURES, label_free_measures, selection_scores
from selfsup.config import load_config
from selfsup.tune.objective import objective_value
from selfsup.tune.pruning import PruningReport
from selfsup.tune.space import SearchSpace, trial_overrides
from selfsup.tune.storage import LOCKED, Heartbeat, TrialLock

#: overrides every trial starts from (the command line's own come after and win)
TRIAL_DEFAULTS = ("trainer.enable_progress_bar=false",)


@dataclass(frozen=True)
class TrialSettings:
    """What every trial of one worker shares."""

    config: str | None
    space: SearchSpace
    objective: str
    out: Path
    prune: bool = False
    n_samples: int = 512


def trial_dir(out: Path, number: int) -> Path:
    return out / f"trial-{number:03d}"


def run_trial(study, settings: TrialSettings) -> None:
    """Ask the study for a trial, run it, tell the study how it went.

    A failed trial (a non-finite loss, an error in training) is told ``FAIL`` with its error
    and the worker goes on; an interruption (Ctrl-C, SIGTERM) is told ``FAIL`` and re-raised.
    """
    from optuna.trial import TrialState

    trial = study.ask()
    folder = trial_dir(settings.out, trial.number)
    lock = TrialLock(folder)
    lock.acquire()
    try:
        with Heartbeat(study, trial):
            trial.set_user_attr(LOCKED, str(lock.path.resolve()))
            trial.set_user_attr("dir", folder.name)
            try:
                value, state = _run(trial, folder, settings)
            except BaseException as err:
                trial.set_user_attr("error", _one_line(err))
                study.tell(trial, state=TrialState.FAIL)
                print(f"trial {trial.number}: failed ({_one_line(err)})", file=sys.stderr)
                from selfsup.train.interrupt import Interrupted

                if not isinstance(err, Exception) or isinstance(err, Interrupted):
                    raise
                if _is_user_error(err):
                    raise
                return  # this trial's own failure (a diverging loss, a bad value): go on
            study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
            shown = (
                f"{settings.objective}={value:.4g}" if state == TrialState.COMPLETE else "pruned"
            )
            print(f"trial {trial.number}: {shown}  ({folder})", flush=True)
    finally:
        lock.release()


def _run(trial, folder: Path, settings: TrialSettings):
    from optuna.trial import TrialState

    from selfsup.train import train
    from selfsup.train.run_dir import read_metrics
    from selfsup.train.trained import load_run

    space = SearchSpace((*TRIAL_DEFAULTS, *settings.space.fixed), settings.space.dimensions)
    overrides, skipped = trial_overrides(settings.config, space, lambda d: d.suggest(trial))
    trial.set_user_attr("overrides", overrides)
    config = load_config(settings.config, overrides)
    pruning = PruningReport(trial, settings.objective, settings.n_samples)
    train(config, folder, extra_callbacks=[pruning] if settings.prune else [])
    metrics = read_metrics(folder)
    method, _, data = load_run(folder)  # the data as the trial was trained on, loaded once
    measures = label_free_measures(method, data, n_samples=settings.n_samples)
    scores = selection_scores(measures)
    trial.set_user_attr("measures", {k: _plain(v) for k, v in scores.items()})
    for key in ("knn_top1", "linear_top1", "online_probe_top1", "train_seconds"):
        if key in metrics:
            trial.set_user_attr(key, float(metrics[key]))
    value = objective_value(settings.objective, metrics, scores)
    if pruning.pruned_at is not None:
        trial.set_user_attr("pruned_at_epoch", pruning.pruned_at)
        return value, TrialState.PRUNED
    return value, TrialState.COMPLETE


def _plain(value: float) -> float | None:
    return None if value != value else float(value)  # JSON has no nan


def _is_user_error(err: BaseException) -> bool:
    """Errors the next trial would meet too (a wrong objective, missing data): stop."""
    from selfsup.data.datasets import DatasetNotFoundError
    from selfsup.errors import SelfsupError

    return isinstance(err, DatasetNotFoundError) or (
        isinstance(err, SelfsupError) and "needs labels" in str(err)
    )


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())[:200]
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


__all__ = ["MEASURES", "TrialSettings", "run_trial", "trial_dir"]
