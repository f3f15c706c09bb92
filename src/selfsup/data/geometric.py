"""Random resized crop, rotation and flip of a whole batch as one affine resampling.

Each sample's crop box (torchvision's ``RandomResizedCrop`` distribution, drawn per sample),
rotation and flip are composed into one 2x3 matrix, and every output pixel is read from the
input by a single bilinear ``grid_sample``: one interpolation instead of one per operation,
and no per-image Python work. Without rotation the result is torchvision's
``resized_crop`` + ``hflip`` of the same box (``tests/data/test_views.py`` checks it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_TRIES = 10  # torchvision's RandomResizedCrop draws up to 10 boxes before its fallback


def crop_boxes(
    n: int,
    height: int,
    width: int,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """``(n, 4)`` integer boxes ``(top, left, box_height, box_width)``, one per sample.

    The distribution of ``torchvision.transforms.v2.RandomResizedCrop.make_params``: area
    fraction ``~ U(scale)``, aspect (width / height) log-uniform in ``ratio``, sides rounded to
    pixels; a draw that does not fit is redrawn, up to 10 times, then the largest centred box
    with an aspect inside ``ratio`` is used. The position is uniform over the integer offsets
    that keep the box inside the image.
    """
    u = torch.rand(n, _TRIES, 2, device=device, dtype=torch.float64)
    area = height * width * (scale[0] + (scale[1] - scale[0]) * u[..., 0])
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
    w = torch.sqrt(area * aspect).round()
    h = torch.sqrt(area / aspect).round()
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    first = torch.where(fits.any(1), fits.int().argmax(1), -1)  # first accepted try, or none
    pick = first.clamp(min=0).unsqueeze(1)
    w = w.gather(1, pick).squeeze(1)
    h = h.gather(1, pick).squeeze(1)
    fallback_w, fallback_h = _fallback(height, width, ratio)
    w = torch.where(first < 0, float(fallback_w), w)
    h = torch.where(first < 0, float(fallback_h), h)
    offsets = torch.rand(n, 2, device=device, dtype=torch.float64)
    top = torch.floor(offsets[:, 0] * (height - h + 1))
    left = torch.floor(offsets[:, 1] * (width - w + 1))
    centred = first < 0
    top = torch.where(centred, torch.div(height - h, 2, rounding_mode="floor"), top)
    left = torch.where(centred, torch.div(width - w, 2, rounding_mode="floor"), left)
    return torch.stack([top, left, h, w], 1).long()


def _fallback(height: int, width: int, ratio: tuple[float, float]) -> tuple[int, int]:
    in_ratio = width / height
    if in_ratio < min(ratio):
        return width, int(round(width / min(ratio)))
    if in_ratio > max(ratio):
        return int(round(height * max(ratio))), height
    return width, height


def box_matrices(
    boxes: torch.Tensor,
    height: int,
    width: int,
    angle: torch.Tensor | None = None,
    flip: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(n, 2, 3)`` maps from output to input coordinates, both in [-1, 1] (pixel edges).

    Args:
        boxes: ``(n, 4)`` ``(top, left, box_height, box_width)`` in input pixels.
        angle: ``(n,)`` rotation of the output in radians (counter-clockwise), or ``None``.
        flip: ``(n,)`` bool, mirror the output left-right, or ``None``.
    """
    b = boxes.to(torch.float64)
    sx, sy = b[:, 3] / width, b[:, 2] / height  # half-extent of the box in [-1, 1] units
    cx = (2 * b[:, 1] + b[:, 3]) / width - 1
    cy = (2 * b[:, 0] + b[:, 2]) / height - 1
    n = boxes.shape[0]
    cos = torch.ones(n, dtype=torch.float64, device=boxes.device)
    sin = torch.zeros_like(cos)
    if angle is not None:
        cos, sin = torch.cos(angle.double()), torch.sin(angle.double())
    mirror = torch.ones_like(cos) if flip is None else 1 - 2 * flip.to(torch.float64)
    # torchvision's order (crop, flip, then rotate the output): an output point o reads the
    # input at centre + diag(sx, sy) diag(mirror, 1) R(angle) o, with y pointing down so that
    # R(angle) = [[cos, -sin], [sin, cos]] turns the picture counter-clockwise
    return torch.stack(
        [
            torch.stack([sx * mirror * cos, -sx * mirror * sin, cx], 1),
            torch.stack([sy * sin, sy * cos, cy], 1),
        ],
        1,
    )


def box_limits(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(n, 2, 2)`` ``[[x_first, y_first], [x_last, y_last]]``: the centres of each box's
    first and last pixels in [-1, 1] coordinates (see ``resample``'s ``limits``)."""
    b = boxes.to(torch.float64)
    first = torch.stack([(2 * b[:, 1] + 1) / width, (2 * b[:, 0] + 1) / height], 1) - 1
    last = torch.stack(
        [(2 * (b[:, 1] + b[:, 3]) - 1) / width, (2 * (b[:, 0] + b[:, 2]) - 1) / height], 1
    )
    return torch.stack([first, last - 1], 1)


def resample(
    images: torch.Tensor,
    theta: torch.Tensor,
    size: tuple[int, int],
    padding: str = "zeros",
    limits: torch.Tensor | None = None,
) -> torch.Tensor:
    """``images (n, C, H, W)`` read through ``theta (n, 2, 3)`` -> ``(n, C, *size)`` (bilinear).

    Args:
        padding: ``"zeros"`` or ``"border"`` where a rotated box leaves the image.
        limits: ``(n, 2, 2)`` from ``box_limits``: sampling points are clamped to the box's
            pixel centres, so the box's edge pixels repeat as if the box had been cut out
            first (torchvision's crop-then-resize); without it, points within half a pixel
            of the box's edge blend in the pixels just outside it.
    """
    rows, cols = size
    t = theta.to(images.dtype)
    # the grid F.affine_grid(align_corners=False) builds: pixel centres in [-1, 1] mapped by
    # theta (affine_grid itself, or a batched product with a 3-wide inner dimension, is
    # several times slower on CPU)
    xs = (torch.arange(cols, device=images.device, dtype=images.dtype) * 2 + 1) / cols - 1
    ys = (torch.arange(rows, device=images.device, dtype=images.dtype) * 2 + 1) / rows - 1
    # grid[b, i, j] = theta[b] @ (x_j, y_i, 1): x_j's and y_i's terms, (n, cols, 2) and
    # (n, rows, 2), summed into the full (n, rows, cols, 2) grid only where the map rotates
    along_x = xs.view(1, cols, 1) * t[:, None, :, 0] + t[:, None, :, 2]
    along_y = ys.view(1, rows, 1) * t[:, None, :, 1]
    lim = None if limits is None else limits.to(images.dtype)
    if images.device.type == "cpu" and not t[:, 0, 1].any() and not t[:, 1, 0].any():
        # axis-aligned (no rotation): x depends on the column only, y on the row only, so
        # the clamp runs on those small tensors and the grid is one broadcast copy (a full-
        # size sum and clamp were a third of the resampling's time)
        gx, gy = along_x[..., 0], along_y[..., 1] + t[:, None, 1, 2]
        if lim is not None:
            gx = torch.clamp(gx, lim[:, None, 0, 0], lim[:, None, 1, 0])
            gy = torch.clamp(gy, lim[:, None, 0, 1], lim[:, None, 1, 1])
        n = images.shape[0]
        grid = torch.stack(
            [gx[:, None, :].expand(n, rows, cols), gy[:, :, None].expand(n, rows, cols)], -1
        )
    else:
        grid = along_x[:, None] + along_y[:, :, None]  # (n, rows, cols, 2)
        if lim is not None:
            grid = torch.clamp(grid, lim[:, None, None, 0], lim[:, None, None, 1])
    return F.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)
