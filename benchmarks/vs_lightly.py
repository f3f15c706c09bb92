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
Each side runs in its own process (own allocator state, own peak RSS); the parent alternates
their training rounds (same load), each getting the same wall-clock budget; images/s =
2 x pairs/s, the median over rounds (``harness.py``). Ours raises glibc's mmap threshold as
``selfsup train`` does (``selfsup.allocator``); lightly's runs as its users run it.
``--allocator both-default`` or ``both-tuned`` gives both sides the same allocator, to tell
the pipelines apart from it.
Then kNN top-1 (k=20, our evaluator for both) on the MNIST test set. Peak memory: each
training process's peak RSS plus its DataLoader workers', taken before the kNN evaluation.
Last line: ``throughput_ratio=<ours/lightly> knn_delta=<ours-lightly>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from harness import closing_line, machine, median
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


def _reply(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def serve(side: str, root: str, tune_allocator: bool) -> None:
    """Child process: one side, trained in rounds on the parent's command (one per line).

    Each side gets its own process so that each keeps its own allocator state and its peak RSS
    is its own: ``train S`` trains for S seconds, ``memory`` reports peak RSS (with DataLoader
    workers), ``knn BANK`` evaluates, ``quit`` ends.
    """
    from selfsup.allocator import reuse_freed_memory

    allocator = reuse_freed_memory() if tune_allocator else contextlib.nullcontext(False)
    tuned = allocator.__enter__()  # left, as ``selfsup train`` leaves it, before evaluating
    data = _load(root)
    trainer = (Ours if side == "ours" else Lightly)(data)
    for _ in range(3):  # warm-up (worker start, oneDNN kernels), not timed
        trainer.step()
    trainer.steps = 0
    _reply({"ready": True, "allocator_tuned": tuned})
    for line in sys.stdin:
        command, *arg = line.split()
        if command == "train":
            start = time.perf_counter()
            steps = trainer.steps
            while time.perf_counter() - start < float(arg[0]):
                trainer.step()
            _reply({"steps": trainer.steps - steps, "seconds": time.perf_counter() - start})
        elif command == "memory":
            workers = sum(_peak_rss_mb(pid) for pid in _children())
            _reply({"main_mb": _peak_rss_mb(), "workers_mb": workers})
        elif command == "knn":
            allocator.__exit__(None, None, None)
            start = time.perf_counter()
            knn = _knn(trainer, data, int(arg[0]))
            _reply({"knn": knn, "seconds": time.perf_counter() - start})
        elif command == "quit":
            return


class _Side:
    """The parent's handle on one child process."""

    def __init__(self, name: str, root: str, tune_allocator: bool) -> None:
        cmd = [sys.executable, __file__, "--root", root, "--serve", name]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
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
    ap.add_argument("--serve", choices=["ours", "lightly"], help=argparse.SUPPRESS)
    ap.add_argument("--tune-allocator", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not (Path(args.root) / "MNIST" / "raw").is_dir():
        print(f"MNIST not found under {Path(args.root).resolve()}/MNIST/raw; skipping")
        return
    try:
        import lightly  # noqa: F401
    except ImportError:
        print("lightly is not installed (pip install -e '.[bench]'); skipping")
        return
    if args.serve:
        serve(args.serve, args.root, args.tune_allocator)
        return
    seconds = args.seconds or (50.0 if args.quick else 240.0)
    rounds = args.rounds or (2 if args.quick else 4)
    bank = 10_000 if args.quick else 60_000
    tuned = {
        "lightly": args.allocator == "both-tuned",
        "ours": args.allocator != "both-default",
    }
    sides = {name: _Side(name, args.root, tuned[name]) for name in ("lightly", "ours")}
    print(
        f"allocator ({args.allocator}): "
        + ", ".join(
            f"{n} {'tuned' if s.ready['allocator_tuned'] else 'glibc default'}"
            for n, s in sides.items()
        )
    )
    steps, spent = dict.fromkeys(sides, 0), dict.fromkeys(sides, 0.0)
    rates: dict[str, list[float]] = {name: [] for name in sides}  # pairs/s of each round
    loads = []
    for r in range(rounds):
        for name, side in sides.items():
            done = side.ask(f"train {seconds / rounds}")
            steps[name] += done["steps"]
            spent[name] += done["seconds"]
            rates[name].append(done["steps"] * BATCH / done["seconds"])
        loads.append(os.getloadavg()[0])
        print(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {steps[n]} steps" for n in sides))
    results = {}
    for name, side in sides.items():
        mem = side.ask("memory")
        knn = side.ask(f"knn {bank}")
        side.close()
        pairs = median(rates[name])
        results[name] = dict(pairs_s=pairs, knn=knn["knn"])
        results[name]["peak_rss_mb"] = mem["main_mb"] + mem["workers_mb"]
        print(
            f"{name:>8s}: {steps[name]} steps in {spent[name]:.0f} s, median round "
            f"{pairs:.0f} pairs/s "
            f"({2 * pairs:.0f} images/s); kNN top-1 {knn['knn']:.4f} (bank {bank}, "
            f"eval {knn['seconds']:.0f} s); peak RSS while training {mem['main_mb']:.0f} MB "
            f"main + {mem['workers_mb']:.0f} MB DataLoader workers"
        )
    print(f"load average during rounds {[round(x, 2) for x in loads]}; now {machine()}")
    ours, theirs = results["ours"], results["lightly"]
    pairs = {
        "throughput_ratio": ours["pairs_s"] / theirs["pairs_s"],
        "knn_delta": ours["knn"] - theirs["knn"],
        "peak_rss_ratio": ours["peak_rss_mb"] / theirs["peak_rss_mb"],
    }
    print(closing_line(pairs))


if __name__ == "__main__":
    main()
