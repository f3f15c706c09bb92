"""The colour jitter and grey scale of a view, image by image, compiled by numba (CPU).

``colour.py`` runs each operation as torch calls over a batch: ~25 elementwise passes for a
jittered RGB image, each one a trip through memory, plus a gather and a scatter to group the
samples by jitter order. Here numba compiles loops that take one image at a time through its
own operations, in its own order, while the image sits in the core's cache, and write it to
its place in the batch of views: no gather, no scatter, no temporaries
(``python benchmarks/augment.py --stages`` compares the two; docs/benchmarks.md).

The formulas are ``colour.py``'s (torchvision's definitions; the hue in the same branch-free
form), written per pixel in float32. ``fastmath`` lets LLVM vectorise the loops (it assumes
no NaN or infinity, which images in [0, 1] do not have); ``tests/data/test_colour_compiled.py``
checks the results against torchvision and against ``colour.py``.

Imported only when a CPU view has colour work (``pipeline.compiled_colour``), so numba's
import and its first compilation (seconds; then cached in ``__pycache__`` beside this file or
in numba's user cache directory, and redone when this file changes) stay out of everything
else.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from selfsup.data.colour import GREY_WEIGHTS
from selfsup.errors import InputError

_FASTMATH = {"nnan", "ninf", "nsz", "contract"}
_ZERO, _ONE = np.float32(0.0), np.float32(1.0)
_WR, _WG, _WB = (np.float32(w) for w in GREY_WEIGHTS)


def _kernel(fn):
    return numba.njit(nogil=True, cache=True, fastmath=_FASTMATH, error_model="numpy")(fn)


@_kernel
def _clip(v):
    return min(max(v, _ZERO), _ONE)


@_kernel
def _scale(plane, f):
    for p in range(plane.shape[0]):
        plane[p] = _clip(plane[p] * f)


@_kernel
def _brightness(img, f):
    """``img (C, P)``: every channel times ``f``, clipped."""
    for c in range(img.shape[0]):
        _scale(img[c], f)


@_kernel
def _contrast(img, f):
    """Blend with the image's mean grey level (the mean of the plane for one channel)."""
    total = 0.0  # float64: a sum over tens of thousands of pixels
    if img.shape[0] == 3:
        r, g, b = img[0], img[1], img[2]
        for p in range(r.shape[0]):
            total += _WR * r[p] + _WG * g[p] + _WB * b[p]
    else:
        for p in range(img.shape[1]):
            total += img[0, p]
    shift = np.float32(total / img.shape[1] * (1.0 - f))
    for c in range(img.shape[0]):
        plane = img[c]
        for p in range(plane.shape[0]):
            plane[p] = _clip(plane[p] * f + shift)


@_kernel
def _saturation(img, f):
    """Blend with the grey image (RGB only)."""
    r, g, b = img[0], img[1], img[2]
    for p in range(r.shape[0]):
        y = _WR * r[p] + _WG * g[p] + _WB * b[p]
        r[p] = _clip(y + f * (r[p] - y))
        g[p] = _clip(y + f * (g[p] - y))
        b[p] = _clip(y + f * (b[p] - y))


@_kernel
def _hue(img, shift):
    """The HSV hue turned by ``shift`` turns (RGB only): ``colour.hue``'s branch-free form."""
    r, g, b = img[0], img[1], img[2]
    turn = np.float32(6.0 * shift)
    for p in range(r.shape[0]):
        red, green, blue = r[p], g[p], b[p]
        gb_max = max(green, blue)
        value = max(red, gb_max)
        chroma = value - min(min(red, green), blue)
        gb, br, rg = green - blue, blue - red, red - green
        not_red = _ONE if gb_max > red else _ZERO  # a channel above red
        is_green = not_red if gb >= _ZERO else _ZERO  # green largest (ties to red, then green)
        sextant = (gb + not_red * (rg - gb) + is_green * (br - rg)) / max(chroma, np.float32(1e-12))
        sextant += np.float32(4.0) * not_red - np.float32(2.0) * is_green + turn
        sextant -= np.float32(6.0) * np.floor(sextant * np.float32(1.0 / 6.0))
        top = value + chroma
        r[p] = top - chroma * _fold(sextant, np.float32(3.0))
        g[p] = top - chroma * _fold(sextant, np.float32(5.0))
        b[p] = top - chroma * _fold(sextant, np.float32(1.0))


@_kernel
def _fold(sextant, centre):
    return min(max(abs(abs(sextant - centre) - np.float32(3.0)), _ONE), np.float32(2.0))


@_kernel
def _grey(img):
    r, g, b = img[0], img[1], img[2]
    for p in range(r.shape[0]):
        y = _WR * r[p] + _WG * g[p] + _WB * b[p]
        r[p] = y
        g[p] = y
        b[p] = y


@_kernel
def _jitter_rows(src, factors, ops, grey, dst, start):
    rgb = src.shape[1] == 3
    for i in range(src.shape[0]):
        img = dst[start + i]
        img[:] = src[i]
        f = factors[i]
        for k in range(ops.shape[1]):
            op = ops[i, k]
            if op == 0:
                _brightness(img, np.float32(f[0]))
            elif op == 1:
                _contrast(img, np.float32(f[1]))
            elif op == 2 and rgb:
                _saturation(img, np.float32(f[2]))
            elif op == 3 and rgb:
                _hue(img, f[3])
        if grey[i] and rgb:
            _grey(img)


def jit_disabled() -> bool:
    """Whether numba runs these functions as plain Python (``NUMBA_DISABLE_JIT=1``)."""
    return bool(numba.config.DISABLE_JIT)


def jitter_into(
    src: torch.Tensor,
    factors: torch.Tensor,
    ops: torch.Tensor,
    grey: torch.Tensor,
    dst: torch.Tensor,
    start: int,
) -> None:
    """``dst[start + i] = grey?(jitter(src[i]))`` for every image of ``src``.

    Args:
        src: ``(k, C, H, W)`` float32 in [0, 1], C-contiguous (C = 1 or 3).
        factors: ``(k, 4)`` brightness, contrast, saturation factors and hue shift (turns).
        ops: ``(k, K)`` int64: each image's jitter operations (``colour.BRIGHTNESS`` ...
            ``colour.HUE``) in order; -1 for none. Saturation and hue skip one-channel images.
        grey: ``(k,)`` bool: grey scale after the jitter (RGB only).
        dst: ``(B, C, H, W)`` float32, C-contiguous, on the CPU; rows ``start:start + k``
            are written.
    """
    k, c = src.shape[:2]
    problem = None
    if c not in (1, 3) or dst.shape[1:] != src.shape[1:]:
        problem = f"images {tuple(src.shape)} into {tuple(dst.shape)}"
    elif not 0 <= start <= dst.shape[0] - k:
        problem = f"rows {start}:{start + k} of {dst.shape[0]}"
    elif factors.shape != (k, 4) or ops.shape[0] != k or grey.shape != (k,):
        shapes = ", ".join(str(tuple(t.shape)) for t in (factors, ops, grey))
        problem = f"factors, ops, grey of shapes {shapes}"
    elif src.dtype != torch.float32 or dst.dtype != torch.float32 or ops.dtype != torch.long:
        problem = f"dtypes {src.dtype}, {dst.dtype}, ops {ops.dtype} (float32, float32, int64)"
    elif not (src.is_contiguous() and dst.is_contiguous()):
        problem = "non-contiguous images"
    if problem is not None:  # numba does not check bounds: a wrong shape would write anywhere
        raise InputError(f"jitter_into: {problem}")
    _jitter_rows(
        src.reshape(k, c, -1).numpy(),
        factors.numpy(),
        ops.numpy(),
        grey.numpy(),
        dst.view(dst.shape[0], c, -1).numpy(),
        start,
    )
