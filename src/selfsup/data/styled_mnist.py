"""``styled_mnist``: real handwritten digits rendered with known style, no download.

Content is the digit; the style factors are known per image and independent of it: the
digit's foreground ``colour`` (one of six hues), the ``background`` (one of three colours),
its centre position (``x``, ``y``) and its ``scale``. It tests the SimVAE style claim on natural
shapes, where ``shapes`` tests it on drawn ones. The digits come from MNIST under the data
root (``base="mnist"``) or, for tests and machines without MNIST, from scikit-learn's 8x8
digits (``base="digits"``). The same arguments always give the same images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from selfsup.data.images import DataSplits, TensorImages
from selfsup.data.shapes import COLOURS as SHAPE_COLOURS
from selfsup.errors import InputError

# the six saturated hues of ``shapes``, so that colour means the same in both sets
COLOURS = torch.from_numpy(SHAPE_COLOURS).float()
BACKGROUNDS = torch.tensor([[0.0, 0.0, 0.0], [0.35, 0.35, 0.35], [0.25, 0.15, 0.05]])
STYLE_FACTORS = {
    "x": "continuous",
    "y": "continuous",
    "scale": "continuous",
    "colour": "categorical",
    "background": "categorical",
}
POSITION_RANGE = 0.25  # centre offset, in image half-widths
SCALE_RANGE = (0.55, 0.95)  # the digit's box side, in image widths
BASES = ("mnist", "digits")  # the digit sets it restyles


def render_digits(
    digits: torch.Tensor, image_size: int = 32, seed: int = 0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Place each grey digit on a coloured canvas with a random colour, background, position
    and scale (one bilinear resampling per image, in one batched ``grid_sample``).

    Args:
        digits: ``(n, 1, h, w)`` uint8 or [0, 1] float digit images (ink bright).
        image_size: side of the output images.
        seed: the style draws.

    Returns:
        ``images`` uint8 ``(n, 3, S, S)`` and ``style``: name -> ``(n,)``; float32 ``x``, ``y``
        (centre, half-widths, +y down), ``scale`` (box side / image side); int64 ``colour``,
        ``background`` (indices into ``COLOURS``, ``BACKGROUNDS``).
    """
    n = digits.shape[0]
    g = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=g)

    style = {
        "x": uniform(-POSITION_RANGE, POSITION_RANGE),
        "y": uniform(-POSITION_RANGE, POSITION_RANGE),
        "scale": uniform(*SCALE_RANGE),
        "colour": torch.randint(len(COLOURS), (n,), generator=g),
        "background": torch.randint(len(BACKGROUNDS), (n,), generator=g),
    }
    ink = digits.float() / 255.0 if digits.dtype == torch.uint8 else digits.float()
    # output coords (in [-1, 1]) -> digit coords: (out - centre) / scale
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = theta[:, 1, 1] = 1 / style["scale"]
    theta[:, 0, 2] = -style["x"] / style["scale"]
    theta[:, 1, 2] = -style["y"] / style["scale"]
    images = torch.empty(n, 3, image_size, image_size, dtype=torch.uint8)
    for start in range(0, n, 2000):  # bounded memory on 60k digits
        sl = slice(start, start + 2000)
        grid = F.affine_grid(theta[sl], [theta[sl].shape[0], 1, image_size, image_size], False)
        mask = F.grid_sample(ink[sl], grid, mode="bilinear", align_corners=False).clamp(0, 1)
        fg = COLOURS[style["colour"][sl]][:, :, None, None]
        bg = BACKGROUNDS[style["background"][sl]][:, :, None, None]
        images[sl] = (mask * fg + (1 - mask) * bg).mul(255).round().to(torch.uint8)
    return images, style


def restyle_digits(
    source: DataSplits,
    n_train: int = 10000,
    n_test: int = 2000,
    image_size: int = 32,
    seed: int = 0,
    **_,
) -> DataSplits:
    """The ``styled_mnist`` splits from a loaded digit set (``BASES``): its first ``n_train`` /
    ``n_test`` train / test digits, restyled; style factors in ``extras["style_train"]`` /
    ``["style_test"]`` and their kinds in ``extras["style_factors"]``. The registry
    (``selfsup.data.datasets``) loads the base set from the data root and calls this."""
    if n_train < 1 or n_test < 1 or image_size < 8:
        raise InputError(
            f"styled_mnist needs n_train, n_test >= 1 and image_size >= 8, got {n_train}, "
            f"{n_test}, {image_size}"
        )
    splits = []
    for split, n, offset in ((source.train, n_train, 0), (source.test, n_test, 1)):
        if not isinstance(split, TensorImages):
            raise InputError(f"styled_mnist needs in-memory digits, got {type(split).__name__}")
        n = min(n, len(split))
        images, style = render_digits(split.images[:n], image_size, seed=2 * seed + offset)
        splits.append((TensorImages(images, split.labels[:n], 10), style))
    (train, s_tr), (test, s_te) = splits
    return DataSplits(
        "styled_mnist",
        train,
        test,
        extras={"style_train": s_tr, "style_test": s_te, "style_factors": dict(STYLE_FACTORS)},
    )
