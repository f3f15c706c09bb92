"""A sweep's figures: objective per trial, parameter importances, measures against kNN."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from selfsup.compare.figures import measures_vs_knn
from selfsup.experiments.report import pyplot, save_figure


def draw(summary: dict, out: Path, study=None) -> list[Path]:
    """Every figure the trials allow; returns the files written."""
    drawn = [objective_per_trial(summary, out / "sweep_objective.png")]
    if study is not None:
        drawn.append(importances(study, out / "sweep_importance.png"))
    complete = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
    names = [str(t["number"]) for t in complete]
    knn = [t["knn_top1"] if t["knn_top1"] is not None else math.nan for t in complete]
    scores = {
        name: [_num(t["measures"].get(name)) for t in complete]
        for name in ("rankme", "lidar", "alpha_req_score", "erank", "gauss_ub", "knn")
    }
    title = "label-free measures against kNN accuracy (one point per complete trial)"
    drawn.append(measures_vs_knn(names, scores, knn, out / "sweep_measures_vs_knn.png", title))
    return [p for p in drawn if p is not None]


def objective_per_trial(summary: dict, path: Path) -> Path | None:
    trials = [t for t in summary["trials"] if t["value"] is not None]
    if not trials:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
        chosen = [t for t in trials if t["state"] == state]
        if chosen:
            ax.scatter(
                [t["number"] for t in chosen],
                [t["value"] for t in chosen],
                marker=marker,
                label=state.lower(),
            )
    done = sorted((t["number"], t["value"]) for t in trials if t["state"] == "COMPLETE")
    if done:
        best, steps = -math.inf, []
        for number, value in done:
            best = max(best, value)
            steps.append((number, best))
        ax.step(*zip(*steps, strict=True), where="post", color="grey", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trial numbers
    ax.set_xlabel("trial")
    ax.set_ylabel(summary["objective"])
    ax.set_title(f"objective per trial ({summary['objective']}, maximised)")
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return path


def importances(study, path: Path) -> Path | None:
    """Optuna's parameter importances (``optuna.importance``), from two complete trials on;
    ``None`` when Optuna cannot compute them."""
    from optuna.importance import get_param_importances
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return None
    try:
        with warnings.catch_warnings():  # its notes on few trials per regime: the title says n
            warnings.simplefilter("ignore")
            found = get_param_importances(study)
    except Exception:  # too few trials, one parameter, a conditional space Optuna refuses
        return None
    if not found:
        return None
    plt = pyplot()
    names = list(found)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.5 * len(names) + 1.5))
    ax.barh(names, [found[n] for n in names])
    ax.set_xlabel("importance (Optuna's default evaluator)")
    ax.set_title(f"parameter importances ({len(complete)} complete trials)")
    save_figure(fig, path)
    return path


def _num(value) -> float:
    return float(value) if value is not None else math.nan
