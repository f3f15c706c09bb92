"""A sweep's results: ``sweep.json`` (every trial), ``sweep.md`` and the figures.

Where the trials have kNN accuracy (labelled data), the summary also says how a label-free
choice would have done: for each measure, the trial it ranks first, that trial's kNN accuracy,
and its **regret**, the best kNN accuracy of any trial (the labelled oracle) minus it; and the
Spearman rank correlation of the measure with kNN accuracy over the complete trials.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from selfsup.compare.measures import LABELS
from selfsup.compare.table import spearman
from selfsup.train.atomic import atomic_write_text

#: the label-free scores compared with kNN (``selfsup.compare.measures.selection_scores``)
SCORES = ("rankme", "lidar", "alpha_req_score", "erank", "gauss_ub", "knn")


def trial_record(trial) -> dict:
    """One trial of the study as plain data."""
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "state": trial.state.name,
        "params": dict(trial.params),
        "value": trial.value,
        "dir": attrs.get("dir"),
        "overrides": attrs.get("overrides"),
        "measures": attrs.get("measures", {}),
        "knn_top1": attrs.get("knn_top1"),
        "linear_top1": attrs.get("linear_top1"),
        "train_seconds": attrs.get("train_seconds"),
        "error": attrs.get("error"),
        "pruned_at_epoch": attrs.get("pruned_at_epoch"),
    }


def summarise(study, objective: str, storage: str, words: list[str]) -> dict:
    """The sweep as one JSON-able dict (see the module docstring)."""
    trials = [trial_record(t) for t in study.get_trials(deepcopy=False)]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    best = max(complete, key=lambda t: t["value"], default=None)
    summary = {
        "study": study.study_name,
        "storage": storage,
        "objective": objective,
        "direction": "maximize",
        "search": words,
        "counts": {s: sum(t["state"] == s for t in trials) for s in _states(trials)},
        "best": best and {k: best[k] for k in ("number", "value", "params", "dir", "knn_top1")},
        "trials": trials,
    }
    summary.update(label_free_choice(complete))
    return summary


def label_free_choice(complete: list[dict]) -> dict:
    """Oracle kNN, each label-free measure's pick and regret, and its Spearman rho with kNN."""
    labelled = [t for t in complete if _finite(t["knn_top1"])]
    if not labelled:
        return {"oracle": None, "picks": {}, "spearman_with_knn": {}}
    oracle = max(labelled, key=lambda t: t["knn_top1"])
    picks, rhos = {}, {}
    for name in SCORES:
        scored = [t for t in labelled if _finite(t["measures"].get(name))]
        knn = [t["knn_top1"] for t in labelled]
        rhos[name] = _plain(spearman([_get(t, name) for t in labelled], knn))
        if not scored:
            continue
        pick = max(scored, key=lambda t: t["measures"][name])
        picks[name] = {
            "trial": pick["number"],
            "knn_top1": pick["knn_top1"],
            "regret": oracle["knn_top1"] - pick["knn_top1"],
        }
    return {
        "oracle": {"trial": oracle["number"], "knn_top1": oracle["knn_top1"]},
        "picks": picks,
        "spearman_with_knn": rhos,
    }


def write(summary: dict, out: Path, study=None) -> list[Path]:
    """``sweep.json``, ``sweep.md`` and the figures in ``out``; returns the files written."""
    from selfsup.tune import figures

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "sweep.json", json.dumps(summary, indent=1) + "\n")
    drawn = figures.draw(summary, out, study)
    atomic_write_text(out / "sweep.md", "\n".join(markdown(summary, drawn)) + "\n")
    return [out / "sweep.json", out / "sweep.md", *drawn]


def markdown(summary: dict, drawn: list[Path]) -> list[str]:
    counts = ", ".join(f"{n} {s.lower()}" for s, n in summary["counts"].items()) or "no trials"
    lines = [
        f"# Sweep '{summary['study']}': objective {summary['objective']}",
        "",
        f"Trials: {counts}. Search: `{' '.join(summary['search']) or '(none)'}`.",
        "",
    ]
    best = summary["best"]
    if best:
        lines += [
            f"Best trial by {summary['objective']}: {best['number']} ({best['dir']}), "
            f"value {best['value']:.4g}, params {best['params']}.",
            "",
        ]
    if summary["oracle"]:
        o = summary["oracle"]
        lines += [
            f"Labelled oracle: trial {o['trial']}, kNN {o['knn_top1']:.4f}.",
            "",
            "| measure | Spearman with kNN | its pick | pick's kNN | regret |",
            "|---|---|---|---|---|",
        ]
        for name, rho in summary["spearman_with_knn"].items():
            pick = summary["picks"].get(name)
            cells = [LABELS.get(name, name).replace("|", "\\|"), _fmt(rho)]
            cells += (
                [str(pick["trial"]), _fmt(pick["knn_top1"]), _fmt(pick["regret"])]
                if pick
                else ["—"] * 3
            )
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "| trial | state | value | kNN | linear | RankMe | LiDAR | alpha-ReQ | params |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in summary["trials"]:
        m = t["measures"]
        cells = [
            str(t["number"]),
            t["state"].lower(),
            _fmt(t["value"]),
            _fmt(t["knn_top1"]),
            _fmt(t["linear_top1"]),
            _fmt(m.get("rankme")),
            _fmt(m.get("lidar")),
            _fmt(m.get("alpha_req")),
            json.dumps(t["params"]).replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"![{p.stem}]({p.name})" for p in drawn]
    return lines


def _states(trials: list[dict]) -> list[str]:
    order = ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"]
    return [s for s in order if any(t["state"] == s for t in trials)]


def _get(t: dict, name: str) -> float:
    value = t["measures"].get(name)
    return float(value) if value is not None else math.nan


def _finite(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _plain(value: float) -> float | None:
    return None if value != value else value


def _fmt(value) -> str:
    return "—" if not _finite(value) else f"{value:.4g}"
