"""The two ways the view pipeline groups its per-sample jitter order, timed against each other.

Run: python benchmarks/jitter_grouping.py [--rounds 7]

torchvision's ColorJitter applies its four operations in a random order per image. Our
pipeline (``selfsup/data/pipeline.py``) renders a large batch of views *order by order* (the
samples sharing one of the 24 orders, crop to jitter, in cache-sized chunks) and a batch on
the CPU up to ``_BY_POSITION_MAX_BYTES`` *position by position* (the whole batch resampled,
then at each position of the order one call per operation). Both give the same views bit for
bit (checked here and in ``tests/data/test_views.py``); this prints the CPU time per view of
each on one thread (process time, interleaved rounds, medians) for the batch sizes that
decided the limit, and which one the pipeline picks. Last line:
``<preset>_<size>px_b<batch>=<by position / by order>`` for each case (below 1: by position is
cheaper).
"""

from __future__ import annotations

import argparse
import functools
import time

import torch
from harness import LoadLog, final_line, interleave, median

from selfsup.data import pipeline
from selfsup.data.views import make_views

CASES = [  # (preset, image size, batch): the SimVAE shapes runs, CIFAR, ImageNet-style 96 px
    ("shapes", 32, 32),
    ("shapes", 32, 128),
    ("cifar", 32, 256),
    ("cifar", 32, 512),
    ("vicreg", 96, 64),
    ("vicreg", 96, 128),
    ("vicreg", 96, 256),
]
ORDER, POSITION = -1, 1 << 40  # values of _BY_POSITION_MAX_BYTES that force each grouping


def views_with(limit: int, views, x: torch.Tensor) -> list[torch.Tensor]:
    pipeline._BY_POSITION_MAX_BYTES = limit
    return views(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    chosen_limit = pipeline._BY_POSITION_MAX_BYTES
    load, ratios = LoadLog(), {}
    try:
        for preset, size, batch in CASES:
            views = make_views(preset, size)
            x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
            torch.manual_seed(1)
            a = views_with(ORDER, views, x)
            torch.manual_seed(1)
            b = views_with(POSITION, views, x)
            if not all(torch.equal(u, v) for u, v in zip(a, b, strict=True)):
                raise SystemExit(f"{preset} {size}px b{batch}: the two groupings differ")
            times = interleave(
                {
                    "order": functools.partial(views_with, ORDER, views, x),
                    "position": functools.partial(views_with, POSITION, views, x),
                },
                args.rounds,
                load=load,
                clock=time.process_time,
            )
            per_view = {k: median(v) * 1e6 / (2 * batch) for k, v in times.items()}
            mib = batch * 3 * size * size * 4 / 2**20
            picked = "position" if mib * 2**20 <= chosen_limit else "order"
            key = f"{preset}_{size}px_b{batch}"
            ratios[key] = per_view["position"] / per_view["order"]
            print(
                f"{key:<20} {mib:5.1f} MiB  by order {per_view['order']:6.0f} CPU-us/view  "
                f"by position {per_view['position']:6.0f}  ratio {ratios[key]:.2f}  "
                f"(the pipeline picks: by {picked})",
                flush=True,
            )
    finally:
        pipeline._BY_POSITION_MAX_BYTES = chosen_limit
    print(load)
    final_line(**ratios)


if __name__ == "__main__":
    main()
