"""Profile one VICReg training step on MNIST (ConvNet 32-64-128, 512x3 projector, batch 256).

Run: python benchmarks/profile_step.py [--steps 20] [--threads 2] [--by-shape]
    [--channels-first] [--default-allocator] [--steady SECONDS]
Prints the torch.profiler table of the top operators (``--by-shape``: per input shape, i.e.
per layer), then a per-phase timing (median of N, ``harness.py``). ``--steady S`` adds whole
steps timed back to back for S seconds (mean and percentiles: what a training loop sees).
Last line: name=value seconds per phase.
``--epochs-memory 3``: instead, ``selfsup train`` for 3 short epochs, RSS after each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from harness import closing_line, machine, medians
from torch.profiler import ProfilerActivity, profile

from selfsup.allocator import reuse_freed_memory
from selfsup.config import load_config
from selfsup.data.views import to_unit_float
from selfsup.methods import build_method


class _FakeData:
    name = "mnist"
    image_shape = (1, 28, 28)
    num_classes = 10


def build(batch: int):
    config = load_config("vicreg_mnist")
    method = build_method(config, _FakeData())
    optimiser = torch.optim.AdamW(method.parameters(), lr=1e-3, weight_decay=1e-4)
    images = torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8)
    return method, optimiser, images


def step(method, optimiser, images) -> torch.Tensor:
    views = [method.normalise(v) for v in method.views(to_unit_float(images))]
    terms, _ = method.compute_loss(views)
    optimiser.zero_grad(set_to_none=True)
    terms.loss.backward()
    optimiser.step()
    return terms.loss


def phases(method, optimiser, images) -> dict[str, float]:
    t = {}
    t0 = time.perf_counter()
    views = [method.normalise(v) for v in method.views(to_unit_float(images))]
    t["views"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    x = torch.cat(views)
    if method.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    f = method.backbone(x)
    t["backbone_fwd"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    z_a, z_b = method.projector(f).chunk(2)
    t["projector_fwd"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    loss = method.objective(z_a, z_b).loss
    t["loss_fwd"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    t["backward"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    optimiser.step()
    t["optimiser"] = time.perf_counter() - t0
    return t


def steady(method, optimiser, images, seconds: float) -> None:
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        step(method, optimiser, images)
        times.append(time.perf_counter() - t0)
    q = statistics.quantiles(times, n=10)
    print(
        f"steady: {len(times)} steps, mean {statistics.mean(times) * 1e3:.0f} ms "
        f"(p10 {q[0] * 1e3:.0f}, p50 {q[4] * 1e3:.0f}, p90 {q[8] * 1e3:.0f})"
    )


def epochs_memory(root: str, epochs: int, batches: int) -> None:
    """``selfsup train`` (Lightning, online probe, checkpoints) on MNIST for a few short
    epochs, printing the process's RSS at the end of each: a leak shows as growth."""
    import tempfile

    import lightning as L

    from selfsup.train.run import train

    rss: list[float] = []

    class RSS(L.Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            rss.append(_rss_mb("VmRSS"))
            print(f"epoch {trainer.current_epoch}: RSS {rss[-1]:.0f} MB", flush=True)

    overrides = [
        f"data.root={root}",
        f"trainer.max_epochs={epochs}",
        f"trainer.limit_train_batches={batches}",
        "trainer.enable_progress_bar=false",
        "eval.linear_probe=false",
    ]
    with tempfile.TemporaryDirectory() as run_dir:
        train(load_config("vicreg_mnist", overrides), f"{run_dir}/run", extra_callbacks=[RSS()])
    growth = rss[-1] - rss[1] if len(rss) > 2 else float("nan")
    print(f"load average {os.getloadavg()} (2-core machine shared with other jobs)")
    print(
        f"peak_rss_mb={_rss_mb('VmHWM'):.0f} rss_growth_epoch2_to_last_mb={growth:.1f} "
        + " ".join(f"rss_epoch{i}={v:.0f}" for i, v in enumerate(rss))
    )


def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs-memory", type=int, default=0, help="run N short epochs instead")
    ap.add_argument("--batches", type=int, default=30, help="steps per epoch for that check")
    ap.add_argument("--root", default="../shared/data")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--by-shape", action="store_true", help="profile table per input shape")
    ap.add_argument("--channels-first", action="store_true", help="ConvNet in NCHW instead")
    ap.add_argument("--steady", type=float, default=0.0, help="seconds of back-to-back steps")
    ap.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave glibc's mmap threshold alone (selfsup train raises it: selfsup.allocator)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.default_allocator:
        reuse_freed_memory().__enter__()  # for the whole process, as during `selfsup train`
    if args.epochs_memory:
        epochs_memory(args.root, args.epochs_memory, args.batches)
        return
    method, optimiser, images = build(args.batch)
    method.train()
    if args.channels_first:
        method.backbone.to(memory_format=torch.contiguous_format)
        method.channels_last = False
    for _ in range(3):
        step(method, optimiser, images)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=args.by_shape) as prof:
        for _ in range(5):
            step(method, optimiser, images)
    table = prof.key_averages(group_by_input_shape=args.by_shape)
    print(table.table(sort_by="self_cpu_time_total", row_limit=40 if args.by_shape else 25))
    rounds: dict[str, list[float]] = {}
    for _ in range(args.steps):
        for k, v in phases(method, optimiser, images).items():
            rounds.setdefault(k, []).append(v)
    if args.steady:
        steady(method, optimiser, images, args.steady)
    per_phase = medians(rounds)
    total = sum(per_phase.values())
    for k, v in per_phase.items():
        print(f"{k:>14s} {v * 1e3:8.1f} ms  {v / total:5.1%}")
    rate = args.batch / total
    print(f"{machine()}; step {total * 1e3:.1f} ms = {rate:.0f} pairs/s (median per phase)")
    print(closing_line(per_phase | {"step": total}))


if __name__ == "__main__":
    main()
