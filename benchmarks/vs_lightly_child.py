"""One side of ``vs_lightly.py`` in its own process, and the parent's handle on it.

Each side gets its own process so that each keeps its own allocator state and its peak RSS is
its own. The child reads commands from stdin, one per line, and answers each with one JSON
line: ``steps N``, ``train S`` (seconds), ``memory`` (peak RSS, with DataLoader workers),
``knn BANK``, ``quit``.
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

import numpy as np
import torch
from vs_lightly_sides import Lightly, Ours

SHAPES = {"n_train": 20_000, "n_test": 5_000, "image_size": 32}
_SCRIPT = Path(__file__).with_name("vs_lightly.py")


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
    """Child process: one side, trained in rounds on the parent's commands (module doc)."""
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
        cmd = [sys.executable, str(_SCRIPT), "--serve", name, *args.child_args]
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
