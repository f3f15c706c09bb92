"""Your own arrays: images saved as ``.npz`` (numpy) or ``.pt`` (torch) files.

A file holds ``x``, the images, and optionally ``y``, integer class labels ``(N,)``:

- uint8 ``(N, H, W)`` (grey) or ``(N, H, W, C)`` with C = 1 or 3 (numpy's usual layout);
- float ``(N, C, H, W)`` with values in [0, 1] (torch's usual layout), stored as uint8.

``data.path`` is the training file and ``data.test_path`` the optional evaluation file (with
``y``); without labels or a test file SSL still trains and label-based evaluation is skipped.
Non-square images, or any with ``image_size`` set, are resized (shorter side) and centre-
cropped. Files are untrusted: ``.npz`` is read without pickles, ``.pt`` with
``torch.load(weights_only=True)``; anything unexpected is a one-line error naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from selfsup.data.images import DataSplits, TensorImages
from selfsup.errors import SelfsupError
from selfsup.registry import register_dataset

SUFFIXES = (".npz", ".pt", ".pth")


def _read(path: Path) -> dict:
    """``{"x": ..., "y": ...}`` from an ``.npz`` or ``.pt`` file, as numpy arrays or tensors."""
    if path.suffix not in SUFFIXES:
        raise SelfsupError(f"data file '{path}' must end in .npz or .pt (got '{path.suffix}')")
    if not path.is_file():
        raise SelfsupError(f"data file '{path.resolve()}' not found; check data.path")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                return {k: archive[k] for k in archive.files}
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # zip, pickle and numpy errors come in many types
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise SelfsupError(f"cannot read data file '{path}' ({first[:200]})") from None
    if not isinstance(content, dict):
        raise SelfsupError(
            f"data file '{path}' holds a {type(content).__name__}; save a dict "
            f"{{'x': images, 'y': labels}} with torch.save"
        )
    return content


def _as_tensor(value, path: Path, key: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return torch.from_numpy(np.ascontiguousarray(value))
    raise SelfsupError(f"data file '{path}': '{key}' must be a numeric array, got {type(value)}")


def to_uint8_nchw(x: torch.Tensor, where: str) -> torch.Tensor:
    """Images in one of the accepted layouts (module docstring) -> uint8 ``(N, C, H, W)``."""
    shape = tuple(x.shape)
    if x.dtype == torch.uint8:
        if x.ndim == 3:
            return x[:, None]
        if x.ndim == 4 and shape[-1] in (1, 3):
            return x.permute(0, 3, 1, 2)
    elif x.is_floating_point():
        if x.ndim == 4 and shape[1] in (1, 3):
            lo, hi = (float(v) for v in (x.min(), x.max())) if x.numel() else (0.0, 0.0)
            if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0.0 or hi > 1.0:
                raise SelfsupError(
                    f"{where}: float images must lie in [0, 1], found [{lo:.4g}, {hi:.4g}]; "
                    f"save them unnormalised (x / 255 for 8-bit images)"
                )
            return (x.float() * 255.0).round_().to(torch.uint8)
    raise SelfsupError(
        f"{where}: 'x' is {str(x.dtype).removeprefix('torch.')} {shape}; expected uint8 "
        f"(N, H, W) or (N, H, W, C) or float (N, C, H, W) in [0, 1], with C = 1 or 3"
    )


def _labels(y, n: int, path: Path) -> torch.Tensor:
    if y is None:
        return torch.full((n,), -1, dtype=torch.long)
    y = _as_tensor(y, path, "y")
    if y.is_floating_point() or y.dtype == torch.bool or y.ndim != 1 or y.shape[0] != n:
        raise SelfsupError(
            f"data file '{path}': 'y' is {str(y.dtype).removeprefix('torch.')} "
            f"{tuple(y.shape)}; expected integer class labels of shape ({n},)"
        )
    y = y.long()
    if n and int(y.min()) < 0:
        raise SelfsupError(f"data file '{path}': 'y' holds negative labels; classes are 0, 1, ...")
    return y


def _square(images: torch.Tensor, size: int | None) -> torch.Tensor:
    import torchvision.transforms.v2.functional as TF

    h, w = images.shape[-2:]
    if size is None and h == w:
        return images
    size = int(size or min(h, w))
    if size < 1:
        raise SelfsupError(f"data.params.image_size must be >= 1, got {size}")
    resized = TF.resize(images, size, antialias=True) if min(h, w) != size else images
    return TF.center_crop(resized, [size, size])


def read_images(path: Path, image_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 ``(N, C, H, W)`` images and int64 labels (-1 where the file has no ``y``)."""
    content = _read(path)
    unknown = sorted(set(content) - {"x", "y"})
    if "x" not in content or unknown:
        raise SelfsupError(
            f"data file '{path}' holds keys {sorted(content)}; expected 'x' (images) and "
            f"optionally 'y' (labels)"
        )
    x = to_uint8_nchw(_as_tensor(content["x"], path, "x"), f"data file '{path}'")
    return _square(x, image_size).contiguous(), _labels(content.get("y"), x.shape[0], path)


@register_dataset("tensors")
def load_tensors(
    root: Path,
    download: bool,
    path: str | None = None,
    test_path: str | None = None,
    image_size: int | None = None,
    **_,
) -> DataSplits:
    """The ``tensors`` dataset: ``path`` (training) and ``test_path`` (evaluation) files."""
    if download:
        raise SelfsupError("data.name=tensors reads local files; set data.download=false")
    if not path:
        raise SelfsupError("data.name=tensors needs data.path=FILE (.npz or .pt with 'x', 'y')")
    x, y = read_images(Path(path), image_size)
    labelled = bool(len(y)) and int(y.min()) >= 0
    n_classes = int(y.max()) + 1 if labelled else 0
    test = None
    if test_path:
        tx, ty = read_images(Path(test_path), image_size or x.shape[-1])
        if tx.shape[1:] != x.shape[1:]:
            raise SelfsupError(
                f"data.test_path images are {tuple(tx.shape[1:])}, data.path images "
                f"{tuple(x.shape[1:])}; they must have the same channels and size"
            )
        test_labelled = labelled and bool(len(ty)) and int(ty.min()) >= 0
        if test_labelled:
            n_classes = max(n_classes, int(ty.max()) + 1)
        test = TensorImages(tx, ty, n_classes if test_labelled else 0)
    return DataSplits("tensors", TensorImages(x, y, n_classes), test)
