"""Plots of a run's training curves from its metrics CSV (matplotlib)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from selfsup.train.atomic import atomic_file


def read_metrics_csv(path: Path) -> dict[str, list[tuple[float, float]]]:
    """``{metric: [(step, value), ...]}`` from Lightning's CSV log (empty cells skipped)."""
    series: dict[str, list[tuple[float, float]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            step = float(row.get("step") or 0)
            for key, value in row.items():
                if key in ("step", "epoch") or value in ("", None):
                    continue
                series.setdefault(key, []).append((step, float(value)))
    return series


#: logged columns with a figure of their own (lens.png, info_tracking.png): dozens of panels
#: that would repeat them here (and took 5 s of a 50 s quickstart run, docs/lens.md)
OWN_FIGURE = ("lens/", "info/")


def plot_training_curves(csv_path: Path, out_path: Path) -> Path | None:
    """Write a grid of the per-step and per-epoch curves; ``None`` if there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not csv_path.exists():
        return None
    series = {
        k: v
        for k, v in read_metrics_csv(csv_path).items()
        if not k.endswith("_step") and not k.startswith(OWN_FIGURE)
    }
    if not series:
        return None
    names = sorted(series)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        steps, values = zip(*series[name], strict=True)
        ax.plot(steps, values, marker="." if len(steps) < 50 else None)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
    for ax in axes.flat[len(names) :]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_file(out_path) as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return out_path
