"""Profile one VICReg training step (ConvNet 32-64-128, 512x3 projector, batch 256).

Run: python benchmarks/profile_step.py [--recipe mnist|cifar] [--steps 20] [--threads 2]
    [--by-shape] [--channels-first] [--default-allocator] [--precision 32|bf16-mixed]
    [--steady SECONDS] [--allocator-rounds N]
``--recipe mnist``: 1 x 28 x 28 images, the ``mnist`` views; ``cifar``: 3 x 32 x 32, the
``cifar`` views (colour jitter, grey, solarisation), as ``vs_lightly.py --recipe cifar``.
Prints the torch.profiler table of the top operators (``--by-shape``: per input shape, i.e.
per layer), then a per-phase timing (best of N). ``--steady S`` adds whole steps timed
back to back for S seconds (mean and percentiles: what a training loop sees).
``--allocator-rounds N`` instead alternates N rounds of back-to-back steps with glibc's
default allocator and with ``selfsup.allocator``'s setting (``--steady`` seconds each, 20 by
default), in one process, and prints the median step of each and their ratio.
``--epochs-memory 3``: instead, ``selfsup train`` for 3 short epochs, RSS after each.
Last line: name=value pairs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

import torch
from harness import LoadLog, final_line, median
from torch.profiler import ProfilerActivity, profile

from selfsup.allocator import reuse_freed_memory
from selfsup.config import load_config
from selfsup.data.views import to_unit_float
from selfsup.hardware import describe_cpu
from selfsup.methods import build_method


class _FakeData:
    def __init__(self, recipe: str) -> None:
        self.name = "mnist" if recipe == "mnist" else "shapes"
        self.image_shape = (1, 28, 28) if recipe == "mnist" else (3, 32, 32)
        self.num_classes = 10 if recipe == "mnist" else 4
        # only its length is read (defaults sized to the data): the training sets' sizes
        self.ssl_train = range(60000 if recipe == "mnist" else 20000)


def _autocast(precision: str):
    if precision == "bf16-mixed":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def build(batch: int, recipe: str = "mnist"):
    overrides = ["data.name=shapes", "data.views=cifar"] if recipe == "cifar" else []
    data = _FakeData(recipe)
    method = build_method(load_config("vicreg_mnist", overrides), data)
    optimiser = torch.optim.AdamW(method.parameters(), lr=1e-3, weight_decay=1e-4)
    images = torch.randint(0, 256, (batch, *data.image_shape), dtype=torch.uint8)
    return method, optimiser, images


def step(method, optimiser, images, precision: str = "32") -> torch.Tensor:
    views = [method.normalise(v) for v in method.views(to_unit_float(images))]
    with _autocast(precision):
        terms, _ = method.compute_loss(views)
    optimiser.zero_grad(set_to_none=True)
    terms.loss.backward()
    optimiser.step()
    return terms.loss


def phases(method, optimiser, images, precision: str = "32") -> dict[str, float]:
    t = {}
    t0 = time.perf_counter()
    views = [method.normalise(v) for v in method.views(to_unit_float(images))]
    t["views"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    x = torch.cat(views)
    if method.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with _autocast(precision):
        f = method.backbone(x)
        t["backbone_fwd"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        z_a, z_b = method.projector(f).chunk(2)
        t["projector_fwd"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    loss = method.objective(z_a.float(), z_b.float()).loss
    t["loss_fwd"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    t["backward"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    optimiser.step()
    t["optimiser"] = time.perf_counter() - t0
    return t


def steady(method, optimiser, images, seconds: float, precision: str = "32") -> list[float]:
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        step(method, optimiser, images, precision)
        times.append(time.perf_counter() - t0)
    q = statistics.quantiles(times, n=10) if len(times) > 1 else times * 9
    print(
        f"steady: {len(times)} steps, mean {statistics.mean(times) * 1e3:.0f} ms "
        f"(p10 {q[0] * 1e3:.0f}, p50 {q[4] * 1e3:.0f}, p90 {q[8] * 1e3:.0f})",
        flush=True,
    )
    return times


def allocator_rounds(method, optimiser, images, rounds: int, seconds: float, precision: str):
    """Alternate back-to-back steps with glibc's default allocator and with ours' setting."""
    load = LoadLog()
    medians: dict[str, list[float]] = {"default": [], "tuned": []}
    for r in range(rounds):
        for name in ("default", "tuned") if r % 2 == 0 else ("tuned", "default"):
            setting = reuse_freed_memory() if name == "tuned" else contextlib.nullcontext()
            with setting:
                print(f"round {r + 1} {name}: ", end="")
                medians[name].append(median(steady(method, optimiser, images, seconds, precision)))
        load.sample()
    print(load)
    for name, values in medians.items():
        print(f"{name:>8s}: median step per round (ms) {[round(v * 1e3) for v in values]}")
    final_line(
        default_ms=median(medians["default"]) * 1e3,
        tuned_ms=median(medians["tuned"]) * 1e3,
        tuned_speedup=median(medians["default"]) / median(medians["tuned"]),
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
    ap.add_argument("--root", default=os.environ.get("SELFSUP_DATA", "data"))
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
    ap.add_argument("--recipe", choices=["mnist", "cifar"], default="mnist")
    ap.add_argument("--precision", choices=["32", "bf16-mixed"], default="32")
    ap.add_argument("--allocator-rounds", type=int, default=0, help="alternate N rounds instead")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.allocator_rounds:
        method, optimiser, images = build(args.batch, args.recipe)
        method.train()
        for _ in range(3):
            step(method, optimiser, images, args.precision)
        seconds = args.steady or 20.0
        allocator_rounds(method, optimiser, images, args.allocator_rounds, seconds, args.precision)
        return
    if not args.default_allocator:
        reuse_freed_memory().__enter__()  # for the whole process, as during `selfsup train`
    if args.epochs_memory:
        epochs_memory(args.root, args.epochs_memory, args.batches)
        return
    print(describe_cpu(), f"threads {torch.get_num_threads()}, precision {args.precision}")
    method, optimiser, images = build(args.batch, args.recipe)
    method.train()
    if args.channels_first:
        method.backbone.to(memory_format=torch.contiguous_format)
        method.channels_last = False
    for _ in range(3):
        step(method, optimiser, images, args.precision)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=args.by_shape) as prof:
        for _ in range(5):
            step(method, optimiser, images, args.precision)
    table = prof.key_averages(group_by_input_shape=args.by_shape)
    print(table.table(sort_by="self_cpu_time_total", row_limit=40 if args.by_shape else 25))
    best: dict[str, float] = {}
    for _ in range(args.steps):
        for k, v in phases(method, optimiser, images, args.precision).items():
            best[k] = min(best.get(k, float("inf")), v)
    steady_ms = {}
    if args.steady:
        times = steady(method, optimiser, images, args.steady, args.precision)
        steady_ms = {"steady_mean_ms": statistics.mean(times) * 1e3}
    total = sum(best.values())
    for k, v in best.items():
        print(f"{k:>14s} {v * 1e3:8.1f} ms  {v / total:5.1%}")
    rate = args.batch / total
    print(f"load average {os.getloadavg()}; step {total * 1e3:.1f} ms = {rate:.0f} pairs/s")
    final_line(**{k: round(v, 4) for k, v in best.items()}, step=round(total, 4), **steady_ms)


if __name__ == "__main__":
    main()
