"""Small fake datasets written in the real on-disk layouts torchvision reads.

Each writer returns the images (uint8, as the loader should hand them out) and labels it
wrote, so a test can check what comes back pixel for pixel. Only the file contents are small
and random; names, byte layouts and headers are the real ones.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def cifar(root: Path, hundred: bool = False, n_train: int = 20, n_test: int = 10) -> dict:
    """CIFAR-10 (``cifar-10-batches-py``: five training batches, ``test_batch``,
    ``batches.meta``) or CIFAR-100 (``cifar-100-python``: ``train``, ``test``, ``meta``):
    pickled dicts with ``data`` uint8 (n, 3072) in CHW order and the labels list."""
    g = _rng(1)
    n_classes, folder = (100, "cifar-100-python") if hundred else (10, "cifar-10-batches-py")
    label_key = "fine_labels" if hundred else "labels"
    out = {}
    (root / folder).mkdir(parents=True, exist_ok=True)
    files = (
        {"train": ["train"], "test": ["test"]}
        if hundred
        else {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    )
    for split, n in (("train", n_train), ("test", n_test)):
        images = g.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        labels = g.integers(0, n_classes, size=n)
        out[split] = (images, labels)
        for part, idx in zip(
            files[split], np.array_split(np.arange(n), len(files[split])), strict=True
        ):
            entry = {"data": images[idx].reshape(len(idx), -1), label_key: labels[idx].tolist()}
            with open(root / folder / part, "wb") as f:
                pickle.dump(entry, f)
    meta_file, meta_key = (
        ("meta", "fine_label_names") if hundred else ("batches.meta", "label_names")
    )
    with open(root / folder / meta_file, "wb") as f:
        pickle.dump({meta_key: [f"class{i}" for i in range(n_classes)]}, f)
    return out


def stl10(root: Path, n_train: int = 10, n_test: int = 10, n_unlabeled: int = 6) -> dict:
    """``stl10_binary``: ``*_X.bin`` raw uint8 96x96 images stored column-major per channel,
    ``*_y.bin`` labels 1..10, ``class_names.txt``."""
    g = _rng(2)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        images = g.integers(0, 256, size=(n, 3, 96, 96), dtype=np.uint8)  # (N, C, H, W)
        # the file holds each channel column by column (MATLAB order): (N, C, W, H)
        images.transpose(0, 1, 3, 2).tofile(folder / f"{split}_X.bin")
        labels = g.integers(0, 10, size=n)
        if split != "unlabeled":
            (labels + 1).astype(np.uint8).tofile(folder / f"{split}_y.bin")
        out[split] = (images, labels)
    (folder / "class_names.txt").write_text("\n".join(f"class{i}" for i in range(10)) + "\n")
    return out


CELEBA_ATTRIBUTES = [
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
]  # fmt: skip


def celeba(root: Path, partitions: tuple[int, ...] = (0,) * 8 + (1,) * 2 + (2,) * 4) -> dict:
    """``celeba/``: ``img_align_celeba/NNNNNN.jpg`` (178x218 aligned faces) and the text files
    (``list_eval_partition.txt``, ``identity_CelebA.txt``, ``list_attr_celeba.txt``,
    ``list_bbox_celeba.txt``, ``list_landmarks_align_celeba.txt``) with their real headers."""
    g = _rng(3)
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True, exist_ok=True)
    names = [f"{i + 1:06d}.jpg" for i in range(len(partitions))]
    attrs = g.choice([-1, 1], size=(len(names), len(CELEBA_ATTRIBUTES)))
    for name in names:
        pixels = g.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name, quality=90)
    n = len(names)

    def table(file: str, header: list[str] | None, rows: list[list]) -> None:
        lines = [] if header is None else [str(n), " ".join(header)]
        lines += [" ".join(str(v) for v in row) for row in rows]
        (folder / file).write_text("\n".join(lines) + "\n")

    table("list_eval_partition.txt", None, [[m, p] for m, p in zip(names, partitions, strict=True)])
    table("identity_CelebA.txt", None, [[m, i % 3 + 1] for i, m in enumerate(names)])
    table(
        "list_attr_celeba.txt",
        CELEBA_ATTRIBUTES,
        [[m, *a] for m, a in zip(names, attrs, strict=True)],
    )
    table("list_bbox_celeba.txt", ["image_id", "x_1", "y_1", "width", "height"],
          [[m, 10, 20, 100, 120] for m in names])  # fmt: skip
    marks = ["lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
             "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y"]  # fmt: skip
    table("list_landmarks_align_celeba.txt", marks, [[m, *range(60, 70)] for m in names])
    return {"names": names, "partitions": np.array(partitions), "attrs": attrs}


def _idx(path: Path, array: np.ndarray) -> None:
    # IDX: two zero bytes, the type code (0x08: unsigned byte), the rank, big-endian sizes
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fashion_mnist(root: Path, n_train: int = 20, n_test: int = 10) -> dict:
    """``FashionMNIST/raw``: the four uncompressed IDX files (images 28x28, labels 0..9)."""
    g = _rng(4)
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = g.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = g.integers(0, 10, size=n)
        _idx(raw / f"{prefix}-images-idx3-ubyte", images)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        out[split] = (images, labels)
    return out


def stripes(root: Path, per_class: dict[str, int], seed: int = 0, grey: bool = False) -> None:
    """Horizontal and vertical stripes of random period, phase and colours, assorted sizes,
    PNG and JPEG, in ``root/<split>/<horizontal|vertical>/`` (``per_class``: split -> n)."""
    g = _rng(seed)
    for split, n in per_class.items():
        for label in ("horizontal", "vertical"):
            (root / split / label).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                h, w = (int(v) for v in g.integers(20, 48, size=2))
                period = int(g.integers(4, 9))
                axis = np.arange(h if label == "horizontal" else w)
                on = ((axis + g.integers(period)) % period) < period // 2
                mask = np.broadcast_to(on[:, None] if label == "horizontal" else on[None], (h, w))
                fg, bg = g.integers(0, 256, size=(2, 3))
                pixels = np.where(mask[..., None], fg, bg).astype(np.uint8)
                image = Image.fromarray(pixels)
                image = image.convert("L") if grey else image
                image.save(root / split / label / f"{i:03d}.{'jpg' if i % 4 == 3 else 'png'}")
