"""``nuisance_digits``: scikit-learn's 8x8 digits hidden by nuisance factors, no download.

Each digit is drawn on a small RGB canvas at a random position and size, in a random
foreground colour on a random background colour (both uniform in RGB, kept apart in
brightness so the digit stays legible). The class is the digit; position, size and the two
colours vary within a class and are what dominates the raw pixels: a kNN on raw pixels or on
an untrained encoder's features mostly matches colours, while crops and colour jitter (the
``nuisance_digits`` views preset) vary exactly those factors, so self-supervised training
has something to learn. It is the quickstart's dataset.

Every training digit is rendered ``renders`` times with independent nuisances; the test
digits are scikit-learn digits never seen in training (the same stratified 80/20 split as
``digits``), each rendered ``test_renders`` times. The same arguments always give the same
images.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from selfsup.data.images import DataSplits, TensorImages
from selfsup.errors import InputError
from selfsup.registry import register_dataset

SIZE_RANGE = (0.6, 1.0)  # the digit's box side, as a fraction of the canvas side
MIN_CONTRAST = 0.3  # least |mean RGB of foreground - background|
CONTRAST_PUSH = 0.45  # a foreground too close to the background moves this far from it


def render_nuisance_digits(
    digits: torch.Tensor, image_size: int = 16, seed: int = 0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Draw each grey digit at a random position and size in random colours.

    Args:
        digits: ``(n, 1, h, w)`` uint8 or [0, 1] float images, ink bright.
        image_size: side of the square output canvas, pixels.
        seed: the nuisance draws.

    Returns:
        ``images`` uint8 ``(n, 3, S, S)`` and ``nuisance``: ``x``, ``y`` (box centre in
        canvas half-widths, +y down), ``size`` (box side / canvas side) float32 ``(n,)``;
        ``foreground``, ``background`` float32 ``(n, 3)`` RGB in [0, 1].
    """
    n = digits.shape[0]
    g = torch.Generator().manual_seed(seed)
    low, high = SIZE_RANGE
    size = low + (high - low) * torch.rand(n, generator=g)
    # the box stays inside the canvas: its centre moves at most 1 - size half-widths
    x = (2 * torch.rand(n, generator=g) - 1) * (1 - size)
    y = (2 * torch.rand(n, generator=g) - 1) * (1 - size)
    foreground = torch.rand(n, 3, generator=g)
    background = torch.rand(n, 3, generator=g)
    contrast = (foreground - background).mean(1, keepdim=True)
    pushed = (background + torch.where(contrast >= 0, 1.0, -1.0) * CONTRAST_PUSH).clamp(0, 1)
    foreground = torch.where(contrast.abs() < MIN_CONTRAST, pushed, foreground)

    ink = digits.float() / 255.0 if digits.dtype == torch.uint8 else digits.float()
    # output coordinates in [-1, 1] -> digit coordinates: (out - centre) / size
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / size
    theta[:, 0, 2], theta[:, 1, 2] = -x / size, -y / size
    grid = F.affine_grid(theta, [n, 1, image_size, image_size], align_corners=False)
    mask = F.grid_sample(ink, grid, mode="bilinear", align_corners=False).clamp(0, 1)
    pixels = mask * foreground[:, :, None, None] + (1 - mask) * background[:, :, None, None]
    images = pixels.mul(255).round().to(torch.uint8)
    nuisance = {"x": x, "y": y, "size": size, "foreground": foreground, "background": background}
    return images, nuisance


@register_dataset(
    "nuisance_digits",
    views="nuisance_digits",
    stats=((0.50, 0.50, 0.50), (0.28, 0.28, 0.28)),
    in_code=True,
)
def load_nuisance_digits(
    root=None,
    download: bool = False,
    renders: int = 6,
    test_renders: int = 2,
    image_size: int = 16,
    seed: int = 0,
    **_,
) -> DataSplits:
    """The ``nuisance_digits`` splits: ``renders`` x 1,437 training images, ``test_renders`` x
    360 test images (from digits that training never sees), 10 classes.

    ``root`` and ``download`` are unused (the digits ship with scikit-learn).
    """
    if renders < 1 or test_renders < 1 or image_size < 8:
        raise InputError(
            f"nuisance_digits needs renders, test_renders >= 1 and image_size >= 8, got "
            f"{renders}, {test_renders}, {image_size}"
        )
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    # the same split as the `digits` dataset: no test digit is ever rendered for training
    tr, te = train_test_split(
        np.arange(len(digits.images)), test_size=0.2, random_state=0, stratify=digits.target
    )
    ink = torch.from_numpy(digits.images / 16.0).float()[:, None]
    labels = torch.from_numpy(digits.target).long()
    splits = []
    for index, copies, offset in ((tr, renders, 0), (te, test_renders, 1)):
        index = torch.from_numpy(np.tile(index, copies))
        images, _ = render_nuisance_digits(ink[index], image_size, seed=2 * seed + offset)
        splits.append(TensorImages(images, labels[index], 10))
    return DataSplits("nuisance_digits", *splits)
