"""What the quickstart's training buys: trained vs untrained kNN, and what a run costs.

Runs ``selfsup train`` (the unchanged quickstart, one fresh process per seed, with only
``seed=S`` and the progress bar off) and reads each run's ``metrics.json``: the final kNN
top-1 of the trained encoder and, beside it, of the same encoder with its initial weights
(``baseline``), both on the held-out test images. Each run's cost is measured as wall time
and as CPU time (user + system of the child, all its threads): on a shared machine the wall
time depends on the other jobs, the CPU time much less; with 2 idle cores a run's wall time
lies between half its CPU time (both cores busy throughout) and its CPU time.

Writes a JSON file (the command, commit, machine, date and every run) that the docs quote;
the last line is ``gain_min=... gain_mean=... cpu_max=...``. ``--table FILE`` prints the
Markdown table of docs/results.md from such a file instead.

    python benchmarks/quickstart_gain.py --seeds 0 1 2 --out benchmarks/results/quickstart_gain.json
    python benchmarks/quickstart_gain.py --table benchmarks/results/quickstart_gain.json
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import final_line

from selfsup.experiments.meta import collect, load_average


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_seed(seed: int, run_dir: Path, overrides: list[str]) -> dict:
    """One quickstart run in a fresh process: its metrics and costs."""
    command = [
        sys.executable,
        "-c",
        "import sys; from selfsup.cli import main; sys.exit(main())",
        "train",
        "--run-dir",
        str(run_dir),
        f"seed={seed}",
        "trainer.enable_progress_bar=false",
        *overrides,
    ]
    cpu, wall = _cpu(), time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall, _cpu() - cpu
    if proc.returncode != 0:
        raise SystemExit(f"seed {seed} failed:\n{proc.stderr[-3000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "seed": seed,
        "knn_top1": metrics["knn_top1"],
        "untrained_knn_top1": metrics["baseline"]["knn_top1"],
        "gain_points": 100 * (metrics["knn_top1"] - metrics["baseline"]["knn_top1"]),
        "linear_top1": metrics.get("linear_top1"),
        "epochs": metrics["epochs"],
        "cpu_seconds": round(cpu, 1),
        "wall_seconds": round(wall, 1),
        "load1_after": load_average(),
        "printed": proc.stdout.strip().splitlines()[-2:],
    }


def table(record: dict) -> str:
    """The Markdown table of one measurement (a file this script wrote)."""
    rows = [
        "| seed | kNN, trained | kNN, untrained | gain (points) | linear probe | CPU s "
        "(user + sys) | wall s (shared machine) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in record["runs"]:
        rows.append(
            f"| {r['seed']} | {r['knn_top1']:.3f} | {r['untrained_knn_top1']:.3f} | "
            f"+{r['gain_points']:.1f} | {r['linear_top1']:.3f} | {r['cpu_seconds']:.0f} | "
            f"{r['wall_seconds']:.0f} |"
        )
    git = record["git"]
    rows.append(
        f"\nMeasured at commit `{(git['commit'] or '?')[:7]}`{' (dirty)' if git['dirty'] else ''}"
        f" on {record['machine']['cpus']} CPUs, started {record['started']}, load average "
        f"{record['loadavg_1min_start']} at the start: `{record['command']}`."
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/quickstart_gain.json"))
    parser.add_argument("--table", type=Path, help="print the Markdown table of this file")
    parser.add_argument("overrides", nargs="*", help="config overrides (default: none)")
    args = parser.parse_args(argv)
    if args.table is not None:
        print(table(json.loads(args.table.read_text())))
        return 0
    meta = collect(["python", "benchmarks/quickstart_gain.py", *(argv or sys.argv[1:])])
    with tempfile.TemporaryDirectory(prefix="quickstart_gain-") as tmp:
        runs = []
        for seed in args.seeds:
            runs.append(run_seed(seed, Path(tmp) / f"seed{seed}", args.overrides))
            print(json.dumps(runs[-1]), flush=True)
    gains = [r["gain_points"] for r in runs]
    summary = {
        "gain_points_min": round(min(gains), 2),
        "gain_points_mean": round(statistics.mean(gains), 2),
        "knn_top1_mean": round(statistics.mean(r["knn_top1"] for r in runs), 4),
        "untrained_knn_top1_mean": round(statistics.mean(r["untrained_knn_top1"] for r in runs), 4),
        "cpu_seconds_max": max(r["cpu_seconds"] for r in runs),
        "wall_seconds_max": max(r["wall_seconds"] for r in runs),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": "quickstart_gain", **meta, "summary": summary, "runs": runs}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    final_line(
        gain_min=summary["gain_points_min"],
        gain_mean=summary["gain_points_mean"],
        cpu_max=summary["cpu_seconds_max"],
        wall_max=summary["wall_seconds_max"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
