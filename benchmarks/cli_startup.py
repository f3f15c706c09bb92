"""How fast ``selfsup`` answers a mistake, against ``python -c "import torch"`` (issue #21).

Run: python benchmarks/cli_startup.py [--rounds 7]

Alternating rounds (so both see the same load), each a fresh process; prints the median wall
time of each command, its ratio to ``import torch``, and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
COMMANDS = {
    "import torch": [sys.executable, "-c", "import torch"],
    "selfsup train data.batch_size=0": [
        sys.executable, "-m", "selfsup.cli", "train", "data.batch_size=0"
    ],
    "selfsup train trainer.max_epochs=abc": [
        sys.executable, "-m", "selfsup.cli", "train", "trainer.max_epochs=abc"
    ],
    "selfsup --help": [sys.executable, "-m", "selfsup.cli", "--help"],
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    load_start = os.getloadavg()[0]
    for _ in range(args.rounds):
        for name, cmd in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(cmd, env=env, capture_output=True, check=False)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["import torch"])
    print(f"load average (1 min): {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at end")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<40} median {median:6.2f} s  ({median / base:.2f}x import torch)")


if __name__ == "__main__":
    main()
