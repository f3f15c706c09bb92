"""Wall time of `vicreg_digits` (digits MLP) with the lens (``lens.every_n_epochs=K``) and without.

Rounds alternate (without, with) so both see the same machine load; the figures are the
medians of the per-round ratios of wall time and of CPU time (user + system, all threads of
the child: much less sensitive to what else runs on a shared machine). The last line:
``wall_ratio=... cpu_ratio=... lens_rows=... lens_seconds=... load1=...``. Each run is a fresh
``selfsup train`` process (imports, data, training, final evaluation: what a user waits for).

    python benchmarks/lens_cost.py --rounds 3 --every 5 --out runs/lens_cost
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import final_line


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(out: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child, all its threads)."""
    if out.exists():
        import shutil

        shutil.rmtree(out)
    start, cpu = time.perf_counter(), _cpu()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "selfsup.cli",
            "train",
            "--config",
            "vicreg_digits",
            "--run-dir",
            str(out),
            *extra,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start, _cpu() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--out", default="runs/lens_cost")
    p.add_argument("overrides", nargs="*", help="extra config overrides for both runs")
    args = p.parse_args()
    out = Path(args.out)
    rows = []
    lens_on = [*args.overrides, f"lens.every_n_epochs={args.every}"]
    for r in range(args.rounds):
        load = os.getloadavg()[0]
        runs = {"without": list(args.overrides), "with": lens_on}
        # ABBA: odd rounds start with the lens, so a drift in load favours neither
        order = ["without", "with"] if r % 2 == 0 else ["with", "without"]
        got = {name: _run(out / name, runs[name]) for name in order}
        (base, base_cpu), (lens, lens_cpu) = got["without"], got["with"]
        rows.append(
            {
                "round": r,
                "without_s": base,
                "with_s": lens,
                "ratio": lens / base,
                "without_cpu_s": base_cpu,
                "with_cpu_s": lens_cpu,
                "cpu_ratio": lens_cpu / base_cpu,
                "load1_before": load,
                "load1_after": os.getloadavg()[0],
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    with open(out / "with" / "lens.csv", newline="") as f:
        seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
    loads = [r[k] for r in rows for k in ("load1_before", "load1_after")]
    summary = {
        "median_ratio": statistics.median(r["ratio"] for r in rows),
        "median_cpu_ratio": statistics.median(r["cpu_ratio"] for r in rows),
        "rounds": rows,
        "lens_rows": len(seconds),
        "lens_seconds": sum(seconds),  # the measurements' own cost in the last round
        "every": args.every,
        "overrides": args.overrides,
    }
    print(json.dumps(summary, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    final_line(
        wall_ratio=summary["median_ratio"],
        cpu_ratio=summary["median_cpu_ratio"],
        lens_rows=len(seconds),
        lens_seconds=sum(seconds),
        load1=f"{min(loads):.2f}-{max(loads):.2f}",
    )


if __name__ == "__main__":
    main()
