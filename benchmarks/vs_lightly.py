"""VICReg: lightly's usual pipeline against ours, same model, same machine, same run.

Run: python benchmarks/vs_lightly.py [--recipe mnist|cifar] [--quick] [--root DIR]
    [--allocator ...] [--precision 32|bf16-mixed] [--lightly-precision 32|bf16-mixed]
    [--lightly-channels-last] [--device cpu|cuda] [--workers N]
Needs the ``bench`` extra (``pip install -e .[bench]`` or ``pip install lightly``).

Both sides: ConvNet 32-64-128 backbone (``selfsup.nets.ConvNet``; a CIFAR-stem ResNet-18 is
~10 s per step on 2 CPU cores, so the CPU-sized net stands in for it), 128-512-512-512
projector (Linear-BN-ReLU x2 + Linear), batch 256, AdamW lr 2e-3 wd 1e-4 (no decay on
biases / norms), 50 warm-up steps then a constant lr. Recipes:
  mnist: MNIST; random resized crop area (0.3, 1), aspect (0.75, 1.33), rotation <= 10 deg.
  cifar: synthetic CIFAR-shaped data, no download: the ``shapes`` set rendered at 32 x 32 x 3
      uint8 (4 classes of shape, with position, scale, rotation, colour and background as
      nuisances; 20k train / 5k test), solo-learn's CIFAR VICReg recipe: crop area (0.2, 1),
      flip, colour jitter (0.4, 0.4, 0.2, 0.1) with p 0.8, grey p 0.2, solarisation p 0.1,
      no blur (lightly: ``VICRegTransform(input_size=32, min_scale=0.2, gaussian_blur=0.0,
      solarize_prob=0.1)``, whose defaults give the same jitter; ours: the ``cifar`` preset).
  (a) lightly: PIL images, torchvision per-image transforms in 2 DataLoader workers
      (``lightly.transforms``), ``VICRegProjectionHead``, ``lightly.loss.VICRegLoss``, one
      backbone pass per view, default NCHW layout (lightly's examples);
      ``--lightly-channels-last`` gives it our memory layout, to show what that is worth.
  (b) ours: uint8 images in memory, index batches (``selfsup.data.batch_loader``), both views
      made in batched calls on the training device (``selfsup.data.pipeline``), one
      channels-last pass over both views, ``selfsup.losses.vicreg_terms`` (the ``vicreg``
      method's step).
``--precision bf16-mixed`` runs our forward under CPU autocast to bfloat16 (the loss stays
float32, as in training); ``--lightly-precision`` does the same for lightly's side.
Each side runs in its own process (own allocator state, own peak RSS); the parent alternates
their training rounds (same load), each getting the same wall-clock budget; images/s =
2 x pairs/s over that budget. Ours raises glibc's mmap threshold as ``selfsup train`` does
(``selfsup.allocator``); lightly's runs as its users run it. ``--allocator both-default`` or
``both-tuned`` gives both sides the same allocator, to tell the pipelines apart from it.
Then kNN top-1 (k=20, our evaluator for both) on the test split. Peak memory: each
training process's peak RSS plus its DataLoader workers', taken before the kNN evaluation.
Last line: ``throughput_ratio=<ours/lightly> knn_delta=<ours-lightly> ...``.

``--device cuda`` (the GPU box: ``benchmarks/gpu/throughput.sh``): both sides train on the GPU
(models and batches moved there; ours makes its views there, lightly's stay in its DataLoader
workers, ``--workers N``, default 2; give it all the box's cores), autocast on CUDA for the
mixed precisions, ``16-mixed`` with a gradient scaler; each side's GPU utilisation is sampled
every 0.5 s (``nvidia-smi``) during its rounds and the last line gains
``gpu_util_ours=... gpu_util_lightly=...`` (mean %) and each side's peak GPU memory.

``--equal-steps N [--knn-every K]``: instead, both sides train the same N steps and are
evaluated every K steps (is a step of ours worth a step of theirs?); last line
``knn_delta_at_N=...``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

import torch
from gpu_util import GpuSampler
from harness import LoadLog, final_line
from vs_lightly_child import _save_shapes, _Side, serve
from vs_lightly_sides import BATCH


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recipe", choices=["mnist", "cifar"], default="mnist")
    ap.add_argument("--quick", action="store_true", help="2 x 25 s per side, kNN bank 10k")
    ap.add_argument(
        "--root",
        default=os.environ.get("SELFSUP_DATA", "data"),
        help="the folder holding MNIST/raw ($SELFSUP_DATA, else ./data)",
    )
    ap.add_argument("--seconds", type=float, help="training budget per side (default 240)")
    ap.add_argument("--rounds", type=int, help="alternations (default 4; quick 2)")
    ap.add_argument(
        "--allocator",
        choices=["as-shipped", "both-default", "both-tuned"],
        default="as-shipped",
        help="as-shipped: ours with the allocator setting `selfsup train` makes "
        "(selfsup.allocator), lightly with glibc's default; both-default / both-tuned: "
        "the same for both sides, to separate the pipelines from the allocator",
    )
    precisions = ["32", "bf16-mixed", "16-mixed"]
    ap.add_argument("--precision", choices=precisions, default="32")
    ap.add_argument("--lightly-precision", choices=precisions, default="32")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument(
        "--workers", type=int, default=2, help="lightly's DataLoader workers (GPU box: all cores)"
    )
    ap.add_argument("--lightly-channels-last", action="store_true")
    ap.add_argument("--equal-steps", type=int, default=0, help="train N steps each instead")
    ap.add_argument("--knn-every", type=int, default=0, help="with --equal-steps (default N)")
    ap.add_argument("--serve", choices=["ours", "lightly"], help=argparse.SUPPRESS)
    ap.add_argument("--data-file", help=argparse.SUPPRESS)
    ap.add_argument("--tune-allocator", action="store_true", help=argparse.SUPPRESS)
    return ap


def main() -> None:
    args = _parser().parse_args()
    problem = _device_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    if args.recipe == "mnist" and not (Path(args.root) / "MNIST" / "raw").is_dir():
        print(f"MNIST not found under {Path(args.root).resolve()}/MNIST/raw; skipping")
        return
    try:
        import lightly  # noqa: F401
    except ImportError:
        print("lightly is not installed (pip install -e '.[bench]'); skipping")
        return
    if args.serve:
        serve(args)
        return
    with tempfile.TemporaryDirectory(prefix="vs_lightly-") as tmp:
        data_file = Path(tmp) / "shapes.npz"
        if args.recipe == "cifar":
            _save_shapes(data_file)
        args.child_args = [
            *("--recipe", args.recipe, "--root", args.root, "--data-file", str(data_file)),
            *("--precision", args.precision, "--lightly-precision", args.lightly_precision),
            *("--device", args.device, "--workers", str(args.workers)),
            *(["--lightly-channels-last"] if args.lightly_channels_last else []),
        ]
        equal_steps(args) if args.equal_steps else compare(args)


def _device_problem(args: argparse.Namespace) -> str | None:
    if args.device == "cuda" and not torch.cuda.is_available():
        return (
            "--device cuda, but torch sees no CUDA device (torch.cuda.is_available() is False); "
            "run on the GPU box or use --device cpu"
        )
    if args.device == "cpu" and "16-mixed" in (args.precision, args.lightly_precision):
        return "16-mixed needs --device cuda (on a CPU use bf16-mixed)"
    return None


def equal_steps(args: argparse.Namespace) -> None:
    """kNN of both sides after the same numbers of steps (from the same initial weights)."""
    every = args.knn_every or args.equal_steps
    bank = 10_000 if args.quick else 60_000
    load = LoadLog()
    sides = {name: _Side(name, args, False) for name in ("lightly", "ours")}
    curves: dict[str, list[tuple[int, float]]] = {name: [] for name in sides}
    done = 0
    while done < args.equal_steps:
        done = min(done + every, args.equal_steps)
        for name, side in sides.items():
            step = side.ask(f"steps {done - (side.ready.get('done', 0))}")["steps"]
            side.ready["done"] = step
            curves[name].append((step, round(side.ask(f"knn {bank}")["knn"], 4)))
        load.sample()
        print(", ".join(f"{n} {c[-1]}" for n, c in curves.items()), flush=True)
    for side in sides.values():
        side.close()
    print(f"kNN top-1 (bank {bank}) after equal steps (step, kNN):")
    for name, curve in curves.items():
        print(f"{name:>8s}: {curve}")
    print(load)
    final_line(
        **{
            f"knn_delta_at_{s}": f"{o - t:+.4f}"
            for (s, o), (_, t) in zip(curves["ours"], curves["lightly"], strict=True)
        }
    )


def compare(args: argparse.Namespace) -> None:
    seconds = args.seconds or (50.0 if args.quick else 240.0)
    rounds = args.rounds or (2 if args.quick else 4)
    bank = 10_000 if args.quick else 60_000
    tuned = {
        "lightly": args.allocator == "both-tuned",
        "ours": args.allocator != "both-default",
    }
    load = LoadLog()
    sides = {name: _Side(name, args, tuned[name]) for name in ("lightly", "ours")}
    print(
        f"recipe {args.recipe}; precision: ours {args.precision}, lightly "
        f"{args.lightly_precision}{' channels-last' if args.lightly_channels_last else ''}; "
        f"allocator ({args.allocator}): "
        + ", ".join(
            f"{n} {'tuned' if s.ready['allocator_tuned'] else 'glibc default'}"
            for n, s in sides.items()
        )
    )
    steps, spent = dict.fromkeys(sides, 0), dict.fromkeys(sides, 0.0)
    per_round: dict[str, list[int]] = {name: [] for name in sides}
    on_gpu = args.device == "cuda"
    samplers = {name: GpuSampler() for name in sides}
    for r in range(rounds):
        for name, side in sides.items():
            with samplers[name] if on_gpu else contextlib.nullcontext():
                done = side.ask(f"train {seconds / rounds}")
            steps[name] += done["steps"]
            spent[name] += done["seconds"]
            per_round[name].append(done["steps"])
        load.sample()
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {steps[n]} steps" for n in sides))
    results = {}
    for name, side in sides.items():
        mem = side.ask("memory")
        knn = side.ask(f"knn {bank}")
        side.close()
        pairs = steps[name] * BATCH / spent[name]
        results[name] = dict(pairs_s=pairs, knn=knn["knn"])
        results[name]["peak_rss_mb"] = mem["main_mb"] + mem["workers_mb"]
        if on_gpu:
            results[name]["gpu_util"] = samplers[name].mean_util()
            results[name]["gpu_peak_mb"] = mem["gpu_peak_mb"]
            print(
                f"{name:>8s} on the GPU: utilisation {samplers[name].mean_util():.1f}% (mean of "
                f"{len(samplers[name].util)} samples, 0.5 s apart, while it trained), peak "
                f"memory allocated {mem['gpu_peak_mb']:.0f} MB"
            )
        print(
            f"{name:>8s}: {steps[name]} steps in {spent[name]:.0f} s = {pairs:.0f} pairs/s "
            f"({2 * pairs:.0f} images/s; steps per round {per_round[name]}); kNN top-1 "
            f"{knn['knn']:.4f} (bank {bank}, eval {knn['seconds']:.0f} s); peak RSS while "
            f"training {mem['main_mb']:.0f} MB main + {mem['workers_mb']:.0f} MB DataLoader "
            f"workers"
        )
    print(load)
    ours, theirs = results["ours"], results["lightly"]
    gpu = {}
    if on_gpu:
        gpu = dict(
            images_s_ours=2 * ours["pairs_s"],
            images_s_lightly=2 * theirs["pairs_s"],
            gpu_util_ours=ours["gpu_util"],
            gpu_util_lightly=theirs["gpu_util"],
            gpu_peak_mb_ours=ours["gpu_peak_mb"],
            gpu_peak_mb_lightly=theirs["gpu_peak_mb"],
        )
    final_line(
        table=[
            {
                "side": name,
                "pairs_s": round(r["pairs_s"]),
                "knn": round(r["knn"], 4),
                "peak_rss_mb": round(r["peak_rss_mb"]),
            }
            for name, r in results.items()
        ],
        load=load,
        throughput_ratio=ours["pairs_s"] / theirs["pairs_s"],
        knn_delta=f"{ours['knn'] - theirs['knn']:+.4f}",
        peak_rss_ratio=ours["peak_rss_mb"] / theirs["peak_rss_mb"],
        **gpu,
    )


if __name__ == "__main__":
    main()
