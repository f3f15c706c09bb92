"""How fast ``selfsup`` answers a mistake, against ``python -c "import torch"``.

Run: python benchmarks/cli_startup.py [--rounds 7] [--out runs/cli_startup]

The mistakes: config errors (a value out of range, a wrong type, an unknown method parameter),
reproductions' option errors (a bad ``--budget``, ``--seeds``, an unknown option),
files that are not what they should be (a text file, a truncated checkpoint, a digits run
analysed on MNIST) and a ``--resume`` below the epochs already trained; each must exit 2 with
one line. A 2-epoch digits run is trained once under ``--out`` for the file cases (not timed).
Alternating rounds (so every command sees the same load), each a fresh process; prints the
median wall and CPU time of each command, its ratios to ``import torch`` and the load average;
the last line is ``key=value`` wall-time ratios (``worst``: the largest of the mistakes).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import final_line

SRC = Path(__file__).resolve().parents[1] / "src"
README = Path(__file__).resolve().parents[1] / "README.md"
SELFSUP = [sys.executable, "-m", "selfsup.cli"]
TINY_RUN = [
    "backbone.params.hidden=[64,32]",
    "method.projector=[64,64]",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "eval.linear_probe=false",
]


def commands(run: Path, cut: Path) -> dict[str, list[str]]:
    """name -> command line; every one but ``import_torch`` and ``help`` is a mistake."""
    return {
        "import_torch": [sys.executable, "-c", "import torch"],
        "batch_size_0": [*SELFSUP, "train", "data.batch_size=0"],
        "max_epochs_abc": [*SELFSUP, "train", "trainer.max_epochs=abc"],
        "method_param": [*SELFSUP, "train", "method.params.sim_coef=3"],
        "eval_text_file": [*SELFSUP, "eval", str(README)],
        "eval_truncated": [*SELFSUP, "eval", str(cut)],
        "analyze_on_mnist": [*SELFSUP, "analyze", str(run), "--dataset", "mnist"],
        "resume_below_done": [
            *SELFSUP,
            "train",
            "--run-dir",
            str(run),
            "--resume",
            "trainer.max_epochs=1",
        ],
        "reproduce_simvae_budget": [*SELFSUP, "reproduce", "simvae", "--budget", "abc"],
        "reproduce_infomax_seeds": [*SELFSUP, "reproduce", "infomax", "--seeds", "x"],
        "dynamics_unknown": [*SELFSUP, "dynamics", "mnist", "--bogus"],
        "help": [*SELFSUP, "--help"],
    }


def prepare(out: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """The digits run (trained once) and a truncated copy of its checkpoint."""
    run = out / "digits-run"
    if not (run / "checkpoints" / "last.ckpt").is_file():
        subprocess.run([*SELFSUP, "train", "--run-dir", str(run), *TINY_RUN], env=env, check=True)
    whole = (run / "checkpoints" / "last.ckpt").read_bytes()
    cut = out / "truncated.ckpt"
    cut.write_bytes(whole[: len(whole) // 2])
    return run, cut


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--out", default="runs/cli_startup", help="where the digits run is kept")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    env.pop("SELFSUP_DEBUG", None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = commands(*prepare(out, env))
    wall: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    load_start = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, cmd in cases.items():
            used = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            wall[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime)
            mistake = name not in ("import_torch", "help")
            lines = done.stderr.strip().splitlines()
            if mistake and (done.returncode != 2 or len(lines) != 1):
                sys.exit(f"{name}: expected one line and exit 2, got {done.returncode}: {lines}")
    base_wall = statistics.median(wall["import_torch"])
    base_cpu = statistics.median(cpu["import_torch"])
    print(f"load average (1 min): {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    ratios, rows = {}, []
    for name in cases:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        ratios[name] = w / base_wall
        rows.append(
            {
                "case": name,
                "wall_ratio": round(w / base_wall, 2),
                "cpu_ratio": round(c / base_cpu, 2),
            }
        )
        print(
            f"{name:<20} wall {w:6.2f} s ({w / base_wall:.2f}x import torch)  "
            f"cpu {c:6.2f} s ({c / base_cpu:.2f}x)"
        )
    mistakes = {k: v for k, v in ratios.items() if k not in ("import_torch", "help")}
    shown = {**mistakes, "help": ratios["help"], "worst": max(mistakes.values())}
    final_line(table=rows, **{k: round(v, 2) for k, v in shown.items()})


if __name__ == "__main__":
    main()
