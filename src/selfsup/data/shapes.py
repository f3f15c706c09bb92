"""``shapes``: a procedural content / style image set that needs no download.

The class (content) is the kind of shape; the style factors vary within a class and are
known for every image: centre position (``x``, ``y``), ``scale``, ``rotation``, foreground
``colour`` (one of six hues) and ``background`` (one of three grey levels). It plays the
role CelebA attributes play in the SimVAE paper: a representation that keeps style can
predict these factors, one that has collapsed them to the class cannot.

Images are rendered from a seed with 2x supersampling (anti-aliased edges), so the same
arguments always give the same data.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from selfsup.data.images import DataSplits, TensorImages
from selfsup.errors import InputError
from selfsup.registry import register_dataset

KINDS = ("square", "triangle", "ellipse", "cross")
COLOURS = np.array(  # saturated hues, RGB in [0, 1]
    [
        [0.95, 0.15, 0.15],  # red
        [0.15, 0.85, 0.2],  # green
        [0.2, 0.35, 1.0],  # blue
        [0.95, 0.9, 0.1],  # yellow
        [0.9, 0.2, 0.9],  # magenta
        [0.1, 0.9, 0.95],  # cyan
    ]
)
BACKGROUNDS = np.array([0.0, 0.3, 0.55])  # grey levels
#: factor name -> "categorical" (probe accuracy) or "continuous" (probe R^2)
STYLE_FACTORS = {
    "x": "continuous",
    "y": "continuous",
    "scale": "continuous",
    "rotation": "continuous",
    "colour": "categorical",
    "background": "categorical",
}
POSITION_RANGE = 0.3  # centre offset, in units of the image half-width
SCALE_RANGE = (0.35, 0.6)  # shape radius, same units
ROTATION_RANGE = 40.0  # degrees either way; below every shape's symmetry angle / 2 (45)


def _inside(kind: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership of points ``(u, v)`` (shape frame, radius 1) for each image's kind.

    ``kind``: ``(n, 1, 1)`` ints; ``u, v``: ``(n, s, s)`` -> bool ``(n, s, s)``.
    """
    square = np.maximum(np.abs(u), np.abs(v)) <= 0.8
    s3 = math.sqrt(3.0)
    triangle = (v >= -0.5) & (s3 * u + v <= 1.0) & (-s3 * u + v <= 1.0)
    ellipse = u**2 + (v / 0.55) ** 2 <= 1.0
    cross = ((np.abs(u) <= 0.3) & (np.abs(v) <= 0.95)) | ((np.abs(v) <= 0.3) & (np.abs(u) <= 0.95))
    return np.select([kind == 0, kind == 1, kind == 2], [square, triangle, ellipse], cross)


def render_shapes(
    n: int, image_size: int = 32, seed: int = 0, chunk: int = 1000
) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """Render ``n`` random shape images.

    Returns:
        ``images`` uint8 ``(n, 3, S, S)``, ``labels`` int64 ``(n,)`` (index into ``KINDS``),
        and ``style``: name -> ``(n,)`` tensor; float32 for continuous factors (``x``, ``y``,
        ``scale`` in half-widths, ``rotation`` in degrees), int64 for categorical ones
        (``colour`` into ``COLOURS``, ``background`` into ``BACKGROUNDS``).
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(KINDS), n)
    style = {
        "x": rng.uniform(-POSITION_RANGE, POSITION_RANGE, n),
        "y": rng.uniform(-POSITION_RANGE, POSITION_RANGE, n),
        "scale": rng.uniform(*SCALE_RANGE, n),
        "rotation": rng.uniform(-ROTATION_RANGE, ROTATION_RANGE, n),
        "colour": rng.integers(0, len(COLOURS), n),
        "background": rng.integers(0, len(BACKGROUNDS), n),
    }
    fine = 2 * image_size
    # pixel centres in [-1, 1]; v points up so that "up" in the shape frame is up in the image
    grid = (np.arange(fine) + 0.5) / fine * 2 - 1
    gu, gv = np.meshgrid(grid, -grid)
    images = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        theta = np.deg2rad(style["rotation"][sl])[:, None, None]
        du = gu[None] - style["x"][sl, None, None]
        dv = gv[None] - style["y"][sl, None, None]
        scale = style["scale"][sl, None, None]
        # into the shape frame: rotate by -theta, then divide by the radius
        u = (np.cos(theta) * du + np.sin(theta) * dv) / scale
        v = (-np.sin(theta) * du + np.cos(theta) * dv) / scale
        mask = _inside(labels[sl, None, None], u, v).astype(np.float32)
        mask = mask.reshape(-1, image_size, 2, image_size, 2).mean((2, 4))  # 2x2 supersampling
        fg = COLOURS[style["colour"][sl]][:, :, None, None]
        bg = BACKGROUNDS[style["background"][sl]][:, None, None, None]
        pixels = mask[:, None] * fg + (1 - mask[:, None]) * bg
        images[sl] = np.round(pixels * 255).astype(np.uint8)
    tensors = {
        k: torch.from_numpy(v).long()
        if STYLE_FACTORS[k] == "categorical"
        else torch.from_numpy(v).float()
        for k, v in style.items()
    }
    return torch.from_numpy(images), torch.from_numpy(labels).long(), tensors


@register_dataset(
    "shapes", views="shapes", stats=((0.33, 0.31, 0.32), (0.25, 0.25, 0.26)), in_code=True
)
def load_shapes(
    root=None,
    download: bool = False,
    n_train: int = 10000,
    n_test: int = 2000,
    image_size: int = 32,
    seed: int = 0,
    **_,
) -> DataSplits:
    """The ``shapes`` splits; style factors in ``extras["style_train"]`` / ``["style_test"]``
    (name -> ``(N,)`` tensor) and their kinds in ``extras["style_factors"]``.

    Train and test come from different seeds, so they never share an image.
    """
    if n_train < 1 or n_test < 1 or image_size < 8:
        raise InputError(
            f"shapes needs n_train, n_test >= 1 and image_size >= 8, got {n_train}, {n_test}, "
            f"{image_size}"
        )
    x_tr, y_tr, s_tr = render_shapes(n_train, image_size, seed=2 * seed)
    x_te, y_te, s_te = render_shapes(n_test, image_size, seed=2 * seed + 1)
    return DataSplits(
        "shapes",
        TensorImages(x_tr, y_tr, len(KINDS)),
        TensorImages(x_te, y_te, len(KINDS)),
        extras={"style_train": s_tr, "style_test": s_te, "style_factors": dict(STYLE_FACTORS)},
    )
