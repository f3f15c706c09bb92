"""One lens measurement on `vicreg_digits` (digits MLP), this tree against another checkout.

Each round runs, in fresh processes and alternating (ABBA), this tree's ``Lens.measure`` and
the one under ``--other SRC`` (another commit's ``src``) on the same probe
batch, ``--repeats`` times each, and reads their CPU seconds (``time.process_time``: the
measurement runs on one thread, so this is its own cost and is less sensitive to what else
runs on a shared machine than wall time). The last line: the median CPU seconds of each and
their ratio.

    mkdir -p /tmp/lens-main && git archive c5354bd src | tar -x -C /tmp/lens-main
    python benchmarks/lens_measure_ab.py --other /tmp/lens-main/src --rounds 4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from harness import LoadLog, final_line, median

CHILD = r"""
import json, sys, time, warnings
from types import SimpleNamespace
import torch
from selfsup.config import load_config
from selfsup.methods import build_method
from selfsup.train.lens import Lens
from selfsup.data.from_config import load_data

warnings.simplefilter("ignore")
config = load_config("vicreg_digits", [])
data = load_data(config)
method = build_method(config, data)
lens = Lens(every_n_epochs=5)
probe = SimpleNamespace(datamodule=SimpleNamespace(data=data), is_global_zero=False)
lens.on_fit_start(probe, method)
lens.measure(method)  # warm-up: first calls, allocator
cpu, wall = [], []
for _ in range(int(sys.argv[1])):
    c, w = time.process_time(), time.perf_counter()
    lens.measure(method)
    cpu.append(time.process_time() - c)
    wall.append(time.perf_counter() - w)
print(json.dumps({"cpu": cpu, "wall": wall}))
"""


def _child(src: str, repeats: int) -> dict:
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(repeats)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--other", required=True, help="src folder of the checkout to compare with")
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    here = str(Path(__file__).resolve().parents[1] / "src")
    load = LoadLog()
    cpu: dict[str, list[float]] = {"this": [], "other": []}
    wall: dict[str, list[float]] = {"this": [], "other": []}
    for r in range(args.rounds):
        order = ["this", "other"] if r % 2 == 0 else ["other", "this"]
        for name in order:
            got = _child(here if name == "this" else args.other, args.repeats)
            cpu[name] += got["cpu"]
            wall[name] += got["wall"]
        load.sample()
        print(json.dumps({"round": r, **{k: median(v) for k, v in cpu.items()}}), flush=True)
    print(load)
    final_line(
        this_cpu_s=median(cpu["this"]),
        other_cpu_s=median(cpu["other"]),
        cpu_ratio=median(cpu["this"]) / median(cpu["other"]),
        this_wall_s=median(wall["this"]),
        other_wall_s=median(wall["other"]),
    )


if __name__ == "__main__":
    main()
