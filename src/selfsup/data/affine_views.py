"""Fast batched style augmentations: crop + rotation + flip in one ``grid_sample``, and a
colour jitter written as per-image linear maps.

Every random parameter is drawn per image. On these 2-core machines kornia's
``RandomResizedCrop`` + ``ColorJitter`` cost ~400 ms for 64 colour 32 px images (more than
the training step); this module does the same family of transforms in a few milliseconds.
Inputs and outputs are float images in [0, 1], ``(B, C, H, W)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# RGB -> YIQ; hue rotation is a rotation of the (I, Q) chroma plane
_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_GREY = torch.tensor([0.299, 0.587, 0.114])


class AffineStyleView(nn.Module):
    """A random-resized crop, rotation and flip (one resampling), then colour jitter.

    Args:
        size: output side in pixels (square).
        scale: range of the crop's area as a fraction of the image (as RandomResizedCrop).
        ratio: range of the crop's aspect ratio (width / height), sampled log-uniformly.
        degrees: rotation drawn uniformly in ``[-degrees, degrees]`` with probability
            ``rotate_p``.
        flip: horizontal flip with probability 1/2.
        jitter: ``(brightness, contrast, saturation, hue)`` strengths as in torchvision's
            ColorJitter (hue in turns, at most 0.5), applied with probability ``jitter_p``;
            ``None`` for none (grey images).
    """

    def __init__(
        self,
        size: int,
        scale: tuple[float, float] = (0.6, 1.0),
        ratio: tuple[float, float] = (0.75, 1.3),
        degrees: float = 0.0,
        rotate_p: float = 1.0,
        flip: bool = False,
        jitter: tuple[float, float, float, float] | None = None,
        jitter_p: float = 0.8,
    ) -> None:
        super().__init__()
        self.size, self.scale, self.ratio = size, scale, ratio
        self.degrees, self.rotate_p, self.flip = degrees, rotate_p, flip
        self.jitter, self.jitter_p = jitter, jitter_p

    def _uniform(self, n: int, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
        return torch.rand(n, device=like.device, dtype=like.dtype) * (high - low) + low

    def _geometry(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        area = self._uniform(n, *self.scale, x)
        log_ratio = self._uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), x)
        # half-widths of the crop in normalised coordinates (the image spans [-1, 1])
        w = torch.sqrt(area * log_ratio.exp()).clamp(max=1.0)
        h = torch.sqrt(area / log_ratio.exp()).clamp(max=1.0)
        cx = self._uniform(n, -1.0, 1.0, x) * (1 - w)
        cy = self._uniform(n, -1.0, 1.0, x) * (1 - h)
        angle = torch.deg2rad(self._uniform(n, -self.degrees, self.degrees, x))
        angle = angle * (torch.rand(n, device=x.device) < self.rotate_p)
        sign = torch.ones(n, device=x.device, dtype=x.dtype)
        if self.flip:
            sign = torch.where(torch.rand(n, device=x.device) < 0.5, -sign, sign)
        cos, sin = angle.cos(), angle.sin()
        theta = torch.stack(
            [
                torch.stack([w * cos * sign, -h * sin, cx], 1),
                torch.stack([w * sin * sign, h * cos, cy], 1),
            ],
            1,
        )
        # the same grid F.affine_grid builds (align_corners=False), as one batched matmul:
        # affine_grid itself takes ~50 ms for 64 small images on these CPUs
        k = (torch.arange(self.size, device=x.device, dtype=x.dtype) * 2 + 1) / self.size - 1
        gy, gx = torch.meshgrid(k, k, indexing="ij")
        base = torch.stack([gx, gy, torch.ones_like(gx)], -1).view(-1, 3)
        grid = (base @ theta.transpose(1, 2)).view(n, self.size, self.size, 2)
        # border padding: a rotated crop near the edge repeats the (uniform) background
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _colour(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        b, c, s, hue = self.jitter  # type: ignore[misc]
        apply = (torch.rand(n, device=x.device) < self.jitter_p).to(x.dtype).view(n, 1, 1, 1)
        out = x * self._uniform(n, 1 - b, 1 + b, x).clamp(min=0).view(n, 1, 1, 1)
        grey = torch.einsum("c,nchw->nhw", _GREY.to(x), out).unsqueeze(1)
        mean = grey.mean((2, 3), keepdim=True)
        out = (out - mean) * self._uniform(n, 1 - c, 1 + c, x).clamp(min=0).view(n, 1, 1, 1) + mean
        out = out.clamp(0, 1)
        grey = torch.einsum("c,nchw->nhw", _GREY.to(x), out).unsqueeze(1)
        out = (out - grey) * self._uniform(n, 1 - s, 1 + s, x).clamp(min=0).view(n, 1, 1, 1) + grey
        out = out.clamp(0, 1)
        if hue > 0:
            phi = 2 * math.pi * self._uniform(n, -hue, hue, x)
            yiq = _YIQ.to(x)
            rot = torch.zeros(n, 3, 3, device=x.device, dtype=x.dtype)
            rot[:, 0, 0] = 1
            rot[:, 1, 1], rot[:, 1, 2] = phi.cos(), -phi.sin()
            rot[:, 2, 1], rot[:, 2, 2] = phi.sin(), phi.cos()
            m = torch.linalg.inv(yiq) @ rot @ yiq  # (n, 3, 3) RGB -> RGB
            out = torch.einsum("nij,njhw->nihw", m, out).clamp(0, 1)
        return apply * out + (1 - apply) * x

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` in [0, 1] -> ``(B, C, size, size)`` in [0, 1]."""
        out = self._geometry(x)
        if self.jitter is not None and x.shape[1] == 3:
            out = self._colour(out)
        return out.clamp(0, 1)
