"""The comparison's figures: accuracy per run, lens curves overlaid, measures against kNN."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from selfsup.compare.measures import LABELS, MEASURES
from selfsup.compare.runs import ACCURACIES, RunRecord
from selfsup.compare.table import spearman
from selfsup.experiments.report import pyplot, save_figure

ACCURACY_LABELS = {
    "knn_top1": "kNN",
    "linear_top1": "linear probe",
    "online_probe_top1": "online probe",
}


def accuracy_per_run(records: Sequence[RunRecord], path: Path) -> Path | None:
    """Grouped bars: each run's kNN, linear and online-probe accuracy (``None``: no labels)."""
    shown = [k for k in ACCURACIES if any(_finite(r.metrics.get(k)) for r in records)]
    if not shown:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(records) + 2), 3.6))
    width = 0.8 / len(shown)
    for i, key in enumerate(shown):
        values = [float(r.metrics.get(key, math.nan)) for r in records]
        xs = [j + (i - (len(shown) - 1) / 2) * width for j in range(len(records))]
        bars = ax.bar(xs, values, width, label=ACCURACY_LABELS[key])
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
    ax.set_xticks(range(len(records)), [_label(r) for r in records], fontsize=8)
    ax.set_ylabel("top-1 accuracy (test split)")
    ax.set_ylim(0, 1.22)  # room for the legend above the bars
    ax.set_yticks([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.legend(fontsize=8, loc="upper center", ncol=len(shown), frameon=False)
    ax.set_title("accuracy per run")
    save_figure(fig, path)
    return path


def lens_curves(records: Sequence[RunRecord], path: Path) -> Path | None:
    """Each lens measure of the backbone output against the epoch, one line per run with a
    lens (``None`` if none has one)."""
    with_lens = [r for r in records if r.lens]
    if not with_lens:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.4))
    for ax, name in zip(axes.flat, MEASURES, strict=True):
        for r in with_lens:
            epochs = [row.get("epoch", math.nan) for row in r.lens]
            ax.plot(
                epochs,
                [row.get(f"rep_{name}", math.nan) for row in r.lens],
                marker=".",
                label=_label(r),
            )
        ax.set_title(LABELS[name], fontsize=10)
        ax.set_xlabel("epoch")
    axes.flat[0].legend(fontsize=7)
    title = "lens during training (backbone output, test probe images)"
    without = [r.name for r in records if not r.lens]
    if without:
        title += f"; no lens: {', '.join(without)}"
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path)
    return path


def measures_vs_knn(
    names: Sequence[str],
    measures: Mapping[str, Sequence[float]],
    knn: Sequence[float],
    path: Path,
    title: str = "label-free measures against kNN accuracy",
) -> Path | None:
    """One scatter per measure (``measures[name]``: one value per point), Spearman's rho in
    each panel's title; points named by ``names``. ``None`` without a finite kNN value."""
    if not any(_finite(k) for k in knn):
        return None
    plt = pyplot()
    keys = list(measures)
    cols = 3
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        xs = list(measures[key])
        ax.scatter(xs, knn, s=22)
        if len(names) <= 12:
            for x, y, name in zip(xs, knn, names, strict=True):
                if _finite(x) and _finite(y):
                    ax.annotate(name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        rho = spearman(xs, list(knn))
        shown = "n/a" if math.isnan(rho) else f"{rho:+.2f}"
        ax.set_title(f"{LABELS.get(key, key)}  (Spearman {shown})", fontsize=9)
        ax.set_ylabel("kNN top-1")
    for ax in list(axes.flat)[len(keys) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    save_figure(fig, path)
    return path


def _label(r: RunRecord) -> str:
    return f"{r.name}\n({r.method})" if r.method not in r.name else r.name


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False
