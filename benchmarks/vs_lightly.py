"""VICReg: lightly's usual pipeline against ours, same model, same machine, same run.

Run: python benchmarks/vs_lightly.py [--recipe mnist|cifar] [--quick] [--root ../shared/data]
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
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gpu_util import GpuSampler
from harness import LoadLog, final_line
from torch import nn

BATCH = 256
WARMUP = 50
SHAPES = {"n_train": 20_000, "n_test": 5_000, "image_size": 32}


def _peak_rss_mb(pid: int | str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children() -> list[int]:
    path = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _optimiser(modules: list[nn.Module]) -> tuple[torch.optim.Optimizer, object]:
    from selfsup.optim import build_optimizer, parameter_groups

    opt = build_optimizer(parameter_groups(modules, 1e-4), "adamw", 2e-3, 1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP))
    return opt, sched


def _autocast(precision: str, device: str = "cpu"):
    if precision == "bf16-mixed":
        return torch.autocast(device, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device, dtype=torch.float16)
    return contextlib.nullcontext()


class _Stepper:
    """backward + optimiser step, through a gradient scaler under ``16-mixed``."""

    def __init__(self, opt, sched, precision: str, device: str) -> None:
        self.opt, self.sched = opt, sched
        self.scaler = torch.amp.GradScaler(device) if precision == "16-mixed" else None

    def __call__(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad()
        if self.scaler is None:
            loss.backward()
            self.opt.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        self.sched.step()


def lightly_views(recipe: str, stats):
    """lightly's per-image transform for the recipe: PIL image -> [view a, view b]."""
    mean, std = stats
    if recipe == "cifar":
        from lightly.transforms import VICRegTransform

        return VICRegTransform(
            input_size=32,
            min_scale=0.2,
            gaussian_blur=0.0,
            solarize_prob=0.1,
            normalize={"mean": list(mean), "std": list(std)},
        )
    import torchvision.transforms as T
    from lightly.transforms.multi_view_transform import MultiViewTransform

    view = T.Compose(
        [
            T.RandomResizedCrop(28, scale=(0.3, 1.0), ratio=(0.75, 1.33)),
            T.RandomRotation(10),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )
    return MultiViewTransform([view, view])


class Lightly:
    """lightly's documented VICReg recipe on a per-image torchvision pipeline."""

    def __init__(
        self,
        data,
        recipe: str,
        precision: str,
        channels_last: bool,
        device: str = "cpu",
        workers: int = 2,
    ) -> None:
        from lightly.loss import VICRegLoss
        from lightly.models.modules.heads import VICRegProjectionHead

        from selfsup.data.views import normaliser
        from selfsup.nets.convnet import ConvNet

        torch.manual_seed(0)
        norm = normaliser(data.name, data.image_shape[0])
        self.normalise = norm.to(device)
        stats = (tuple(norm.mean.flatten().tolist()), tuple(norm.std.flatten().tolist()))
        self.dataset = _PILDataset(data.ssl_train, lightly_views(recipe, stats))
        self.loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=BATCH,
            shuffle=True,
            drop_last=True,
            num_workers=workers,
            persistent_workers=True,
            pin_memory=device == "cuda",
        )
        self.device = device
        self.backbone = ConvNet(data.image_shape).to(device)
        self.channels_last = channels_last
        if channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.head = VICRegProjectionHead(128, 512, 512, num_layers=3).to(device)
        self.criterion = VICRegLoss()
        self.precision = precision
        self.opt, self.sched = _optimiser([self.backbone, self.head])
        self.update = _Stepper(self.opt, self.sched, precision, device)
        self.it = iter(self.loader)
        self.steps = 0

    def step(self) -> None:
        try:
            (x0, x1), _ = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            (x0, x1), _ = next(self.it)
        x0 = x0.to(self.device, non_blocking=True)
        x1 = x1.to(self.device, non_blocking=True)
        if self.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
            x1 = x1.contiguous(memory_format=torch.channels_last)
        with _autocast(self.precision, self.device):
            z0 = self.head(self.backbone(x0))
            z1 = self.head(self.backbone(x1))
        self.update(self.criterion(z0.float(), z1.float()))
        self.steps += 1

    def encoder(self) -> tuple[nn.Module, nn.Module]:
        return self.backbone, self.normalise


class _PILDataset(torch.utils.data.Dataset):
    def __init__(self, images, transform) -> None:
        self.images, self.labels, self.transform = images.images, images.labels, transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        from PIL import Image

        image = self.images[i].numpy()
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        return self.transform(Image.fromarray(image)), int(self.labels[i])


class Ours:
    """The ``vicreg`` method's training step, as ``SSLMethod.training_step`` runs it."""

    def __init__(self, data, recipe: str, precision: str, device: str = "cpu") -> None:
        from selfsup.config import load_config
        from selfsup.data import batch_loader
        from selfsup.methods import build_method

        torch.manual_seed(0)
        overrides = ["data.name=shapes", "data.views=cifar"] if recipe == "cifar" else []
        method = build_method(load_config("vicreg_mnist", overrides), data)
        self.method = method.to(device).train()
        self.device = device
        self.loader = batch_loader(data.ssl_train, BATCH, shuffle=True, drop_last=True, seed=0)
        self.opt, self.sched = _optimiser([self.method.backbone, self.method.projector])
        self.update = _Stepper(self.opt, self.sched, precision, device)
        self.precision = precision
        self.epoch, self.steps = 0, 0
        self.it = iter(self.loader)

    def step(self) -> None:
        from selfsup.data.views import to_unit_float

        try:
            images, _ = next(self.it)
        except StopIteration:
            self.epoch += 1
            self.loader.sampler.set_epoch(self.epoch)
            self.it = iter(self.loader)
            images, _ = next(self.it)
        images = images.to(self.device, non_blocking=True)
        m = self.method
        torch.manual_seed(m.seed * 1_000_003 + self.steps)  # as on_train_batch_start
        views = [m.normalise(v) for v in m.views(to_unit_float(images))]
        with _autocast(self.precision, self.device):
            terms, _ = m.compute_loss(views)
        self.update(terms.loss)
        self.steps += 1

    def encoder(self) -> tuple[nn.Module, nn.Module]:
        return self.method.backbone, self.method.normalise


def _knn(side, data, bank: int) -> float:
    from selfsup.evaluate import extract_features, knn_accuracy

    backbone, normalise = side.encoder()
    train = data.train
    if bank < len(train):
        from selfsup.data.datasets import TensorImages

        train = TensorImages(train.images[:bank], train.labels[:bank], data.num_classes)
    tr_f, tr_y = extract_features(backbone, train, normalise)
    te_f, te_y = extract_features(backbone, data.test, normalise)
    backbone.train()
    return knn_accuracy(tr_f, tr_y, te_f, te_y, k=20, temperature=0.07)


def _save_shapes(path: Path) -> None:
    """Render the synthetic CIFAR-shaped set once; both children load the same arrays."""
    from selfsup.data import load_dataset

    d = load_dataset("shapes", **SHAPES)
    np.savez(
        path,
        **{
            f"{split}_{part}": getattr(getattr(d, split), part).numpy()
            for split in ("train", "test")
            for part in ("images", "labels")
        },
    )


def _load(recipe: str, root: str, data_file: str | None):
    from selfsup.data import DataSplits, TensorImages, load_dataset

    if recipe == "mnist":
        return load_dataset("mnist", root)
    arrays = np.load(data_file)
    split = {
        s: TensorImages(
            torch.from_numpy(arrays[f"{s}_images"]), torch.from_numpy(arrays[f"{s}_labels"]), 4
        )
        for s in ("train", "test")
    }
    return DataSplits("shapes", split["train"], split["test"])


def _reply(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def serve(args: argparse.Namespace) -> None:
    """Child process: one side, trained in rounds on the parent's command (one per line).

    Each side gets its own process so that each keeps its own allocator state and its peak RSS
    is its own: ``train S`` trains for S seconds, ``memory`` reports peak RSS (with DataLoader
    workers), ``knn BANK`` evaluates, ``quit`` ends.
    """
    from selfsup.allocator import reuse_freed_memory

    allocator = reuse_freed_memory() if args.tune_allocator else contextlib.nullcontext(False)
    tuned = allocator.__enter__()  # left, as ``selfsup train`` leaves it, before evaluating
    data = _load(args.recipe, args.root, args.data_file)
    device = args.device
    if args.serve == "ours":
        trainer = Ours(data, args.recipe, args.precision, device)
    else:
        trainer = Lightly(
            data,
            args.recipe,
            args.lightly_precision,
            args.lightly_channels_last,
            device,
            args.workers,
        )
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(3):  # warm-up (worker start, oneDNN / cuDNN kernels), not timed
        trainer.step()
    sync()
    trainer.steps = 0
    _reply({"ready": True, "allocator_tuned": tuned})
    for line in sys.stdin:
        command, *arg = line.split()
        if command == "steps":
            for _ in range(int(arg[0])):
                trainer.step()
            sync()
            _reply({"steps": trainer.steps})
        elif command == "train":
            start = time.perf_counter()
            steps = trainer.steps
            while time.perf_counter() - start < float(arg[0]):
                trainer.step()
            sync()
            _reply({"steps": trainer.steps - steps, "seconds": time.perf_counter() - start})
        elif command == "memory":
            workers = sum(_peak_rss_mb(pid) for pid in _children())
            reply = {"main_mb": _peak_rss_mb(), "workers_mb": workers}
            if device == "cuda":
                reply["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
            _reply(reply)
        elif command == "knn":
            allocator.__exit__(None, None, None)
            start = time.perf_counter()
            knn = _knn(trainer, data, int(arg[0]))
            _reply({"knn": knn, "seconds": time.perf_counter() - start})
        elif command == "quit":
            return


class _Side:
    """The parent's handle on one child process."""

    def __init__(self, name: str, args: argparse.Namespace, tune_allocator: bool) -> None:
        cmd = [sys.executable, __file__, "--serve", name, *args.child_args]
        cmd += ["--tune-allocator"] if tune_allocator else []
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ready = self._read()

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("{"):
                return json.loads(line)
        raise RuntimeError(f"benchmark child exited with code {self.proc.wait()}")

    def ask(self, command: str) -> dict:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recipe", choices=["mnist", "cifar"], default="mnist")
    ap.add_argument("--quick", action="store_true", help="2 x 25 s per side, kNN bank 10k")
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1] / "../shared/data"))
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
        throughput_ratio=ours["pairs_s"] / theirs["pairs_s"],
        knn_delta=f"{ours['knn'] - theirs['knn']:+.4f}",
        peak_rss_ratio=ours["peak_rss_mb"] / theirs["peak_rss_mb"],
        **gpu,
    )


if __name__ == "__main__":
    main()
