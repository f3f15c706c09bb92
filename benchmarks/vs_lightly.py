"""VICReg on MNIST: lightly's usual pipeline against ours, same model, same machine, same run.

Run: python benchmarks/vs_lightly.py [--quick] [--root ../shared/data]
Needs the ``bench`` extra (``pip install -e .[bench]`` or ``pip install lightly``).

Both sides: ConvNet 32-64-128 backbone (``selfsup.nets.ConvNet``), 128-512-512-512 projector
(Linear-BN-ReLU x2 + Linear), batch 256, AdamW lr 2e-3 wd 1e-4 (no decay on biases / norms),
50 warm-up steps then a constant lr, the ``mnist`` view recipe: random resized crop area
(0.3, 1), aspect (0.75, 1.33), rotation up to 10 degrees.
  (a) lightly: PIL images, torchvision per-image transforms in 2 DataLoader workers
      (``lightly.transforms.MultiViewTransform``), ``VICRegProjectionHead``,
      ``lightly.loss.VICRegLoss``, one backbone pass per view (lightly's examples).
  (b) ours: uint8 MNIST in memory, index batches (``selfsup.data.batch_loader``), both views
      made in one batched call (``RandomResizedCropAffine``), one channels-last pass over both
      views, ``selfsup.losses.vicreg_terms`` (the ``vicreg_mnist`` config's method).
The two trainings alternate in rounds (same process, same load), each getting the same
wall-clock budget; images/s = 2 x pairs/s over that budget. Then kNN top-1 (k=20, our
evaluator for both) on the MNIST test set. Peak memory: each side again for a few steps in
a fresh subprocess, peak RSS of it plus its DataLoader workers.
Last line: ``throughput_ratio=<ours/lightly> knn_delta=<ours-lightly>``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

BATCH = 256
WARMUP = 50


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


class Lightly:
    """lightly's documented VICReg recipe on a per-image torchvision pipeline."""

    def __init__(self, data, seed: int = 0) -> None:
        import torchvision.transforms as T
        from lightly.loss import VICRegLoss
        from lightly.models.modules.heads import VICRegProjectionHead
        from lightly.transforms.multi_view_transform import MultiViewTransform

        from selfsup.nets.convnet import ConvNet

        torch.manual_seed(seed)
        view = T.Compose(
            [
                T.RandomResizedCrop(28, scale=(0.3, 1.0), ratio=(0.75, 1.33)),
                T.RandomRotation(10),
                T.ToTensor(),
                T.Normalize((0.1307,), (0.3081,)),
            ]
        )
        self.dataset = _PILDataset(data.ssl_train, MultiViewTransform([view, view]))
        self.loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=BATCH,
            shuffle=True,
            drop_last=True,
            num_workers=2,
            persistent_workers=True,
        )
        self.backbone = ConvNet((1, 28, 28))
        self.head = VICRegProjectionHead(128, 512, 512, num_layers=3)
        self.criterion = VICRegLoss()
        self.opt, self.sched = _optimiser([self.backbone, self.head])
        self.it = iter(self.loader)
        self.steps = 0

    def step(self) -> None:
        try:
            (x0, x1), _ = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            (x0, x1), _ = next(self.it)
        z0 = self.head(self.backbone(x0))
        z1 = self.head(self.backbone(x1))
        loss = self.criterion(z0, z1)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.steps += 1

    def encoder(self) -> tuple[nn.Module, nn.Module]:
        from selfsup.data.views import Normalise

        return self.backbone, Normalise((0.1307,), (0.3081,))


class _PILDataset(torch.utils.data.Dataset):
    def __init__(self, images, transform) -> None:
        self.images, self.labels, self.transform = images.images, images.labels, transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        from PIL import Image

        img = Image.fromarray(self.images[i, 0].numpy(), mode="L")
        return self.transform(img), int(self.labels[i])


class Ours:
    """The ``vicreg_mnist`` method's training step, as ``SSLMethod.training_step`` runs it."""

    def __init__(self, data, seed: int = 0) -> None:
        from selfsup.config import load_config
        from selfsup.data import batch_loader
        from selfsup.methods import build_method

        torch.manual_seed(seed)
        self.method = build_method(load_config("vicreg_mnist"), data).train()
        self.loader = batch_loader(data.ssl_train, BATCH, shuffle=True, drop_last=True, seed=seed)
        self.opt, self.sched = _optimiser([self.method.backbone, self.method.projector])
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
        m = self.method
        torch.manual_seed(m.seed * 1_000_003 + self.steps)  # as on_train_batch_start
        views = [m.normalise(v) for v in m.views(to_unit_float(images))]
        terms, _ = m.compute_loss(views)
        self.opt.zero_grad()
        terms.loss.backward()
        self.opt.step()
        self.sched.step()
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


def _load(root: str):
    from selfsup.data import load_dataset

    return load_dataset("mnist", root)


def memory_only(side: str, root: str, steps: int) -> None:
    """Child process: a few steps of one side, then its peak RSS (with workers) as JSON."""
    data = _load(root)
    trainer = (Ours if side == "ours" else Lightly)(data)
    for _ in range(steps):
        trainer.step()
    workers = sum(_peak_rss_mb(pid) for pid in _children())
    print(json.dumps({"main_mb": _peak_rss_mb(), "workers_mb": workers}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="2 x 25 s per side, kNN bank 10k")
    ap.add_argument("--root", default=str(Path(__file__).resolve().parents[1] / "../shared/data"))
    ap.add_argument("--seconds", type=float, help="training budget per side (default 240)")
    ap.add_argument("--rounds", type=int, help="alternations (default 4; quick 2)")
    ap.add_argument("--memory-side", choices=["ours", "lightly"], help=argparse.SUPPRESS)
    ap.add_argument("--memory-steps", type=int, default=15)
    args = ap.parse_args()
    if not (Path(args.root) / "MNIST" / "raw").is_dir():
        print(f"MNIST not found under {Path(args.root).resolve()}/MNIST/raw; skipping")
        return
    try:
        import lightly  # noqa: F401
    except ImportError:
        print("lightly is not installed (pip install -e '.[bench]'); skipping")
        return
    if args.memory_side:
        memory_only(args.memory_side, args.root, args.memory_steps)
        return
    seconds = args.seconds or (50.0 if args.quick else 240.0)
    rounds = args.rounds or (2 if args.quick else 4)
    bank = 10_000 if args.quick else 60_000
    memory_steps = min(args.memory_steps, 8) if args.quick else args.memory_steps
    data = _load(args.root)
    sides = {"lightly": Lightly(data), "ours": Ours(data)}
    for side in sides.values():  # warm-up (worker start, oneDNN kernels), not timed
        for _ in range(3):
            side.step()
    for side in sides.values():
        side.steps = 0
    spent = dict.fromkeys(sides, 0.0)
    loads = []
    for r in range(rounds):
        for name, side in sides.items():
            start = time.perf_counter()
            while time.perf_counter() - start < seconds / rounds:
                side.step()
            spent[name] += time.perf_counter() - start
        loads.append(os.getloadavg()[0])
        print(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{n} {s.steps} steps" for n, s in sides.items())
        )
    results = {}
    for name, side in sides.items():
        pairs = side.steps * BATCH / spent[name]
        t = time.perf_counter()
        knn = _knn(side, data, bank)
        results[name] = dict(pairs_s=pairs, images_s=2 * pairs, knn=knn, steps=side.steps)
        print(
            f"{name:>8s}: {side.steps} steps in {spent[name]:.0f} s = {pairs:.0f} pairs/s "
            f"({2 * pairs:.0f} images/s); kNN top-1 {knn:.4f} (bank {bank}, "
            f"eval {time.perf_counter() - t:.0f} s)"
        )
    del sides
    for name in ("lightly", "ours"):
        cmd = [sys.executable, __file__, "--root", args.root, "--memory-side", name]
        cmd += ["--memory-steps", str(memory_steps)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        mem = json.loads(out.strip().splitlines()[-1])
        results[name]["peak_rss_mb"] = mem["main_mb"] + mem["workers_mb"]
        print(
            f"{name:>8s}: peak RSS {mem['main_mb']:.0f} MB main + {mem['workers_mb']:.0f} MB "
            f"DataLoader workers ({memory_steps} steps in a fresh process)"
        )
    print(
        f"load average during rounds {[round(x, 2) for x in loads]}, now {os.getloadavg()} "
        f"(2-core machine shared with other jobs)"
    )
    ours, theirs = results["ours"], results["lightly"]
    print(
        f"throughput_ratio={ours['pairs_s'] / theirs['pairs_s']:.3f} "
        f"knn_delta={ours['knn'] - theirs['knn']:+.4f} "
        f"peak_rss_ratio={ours['peak_rss_mb'] / theirs['peak_rss_mb']:.3f}"
    )


if __name__ == "__main__":
    main()
