"""What a training chunk reached, from a run dir's ``metrics.csv``.

Run: python benchmarks/gpu/chunk_summary.py RUN_DIR
Prints steps and epochs reached, whether any logged value is non-finite, the epoch-mean loss and
the online linear probe curves; last line ``steps=... epochs=... nonfinite=... probe=...``.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path


def summarise(rows: list[dict[str, str]]) -> dict:
    """Steps / epochs reached, non-finite cells, and per-epoch loss and online probe curves."""
    nonfinite = [
        (row.get("step"), key)
        for row in rows
        for key, value in row.items()
        if value not in ("", None) and not math.isfinite(float(value))
    ]
    steps = max((int(float(r["step"])) for r in rows if r.get("step")), default=-1) + 1
    epochs = max((int(float(r["epoch"])) for r in rows if r.get("epoch")), default=-1) + 1

    def curve(column: str) -> list[tuple[int, float]]:
        return [(int(float(r["epoch"])), float(r[column])) for r in rows if r.get(column)]

    return {
        "steps": steps,
        "epochs": epochs,
        "nonfinite": nonfinite,
        "loss": curve("train/loss_epoch"),
        "probe": curve("val/online_probe_top1"),
    }


def main(argv: list[str]) -> int:
    path = Path(argv[0]) / "metrics.csv"
    if not path.exists():
        print(f"no {path}: the chunk logged nothing")
        return 1
    with open(path, newline="") as f:
        s = summarise(list(csv.DictReader(f)))
    print(f"run: {argv[0]}")
    print(f"steps reached: {s['steps']} (logged steps; epochs started: {s['epochs']})")
    bad = s["nonfinite"]
    print(f"non-finite logged values: {len(bad)}" + (f" (first: {bad[:5]})" if bad else ""))
    print("epoch-mean loss (epoch, loss): " + ", ".join(f"({e}, {v:.1f})" for e, v in s["loss"]))
    print("online probe top-1 (epoch, acc): " + ", ".join(f"({e}, {v:.4f})" for e, v in s["probe"]))
    last = f"{s['probe'][-1][1]:.4f}" if s["probe"] else "none"
    print(f"steps={s['steps']} epochs={s['epochs']} nonfinite={len(bad)} probe={last}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
