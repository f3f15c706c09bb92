"""Colour operations on a batch of RGB images, each sample with its own parameter.

The definitions are torchvision's (``torchvision.transforms.v2.functional``) for float images
in [0, 1], applied to ``(B, 3, H, W)`` batches with ``(B,)`` factors, so a batched pipeline
draws the same distribution of views as torchvision's per-image transforms:

- brightness ``f``: ``clamp(f x)``
- contrast ``f``: ``clamp(f x + (1 - f) mean(grey(x)))``, the mean over the whole image
- saturation ``f``: ``clamp(f x + (1 - f) grey(x))``
- hue ``h`` (turns, in [-0.5, 0.5]): the HSV hue shifted by ``h``, saturation and value kept
- grey: ``0.2989 R + 0.587 G + 0.114 B`` in every channel (ITU-R 601-2 luma)
- solarise: ``1 - x`` where ``x >= threshold``
- Gaussian blur with standard deviation ``sigma``, reflected at the borders

``tests/data/test_views.py`` compares each with torchvision on the same image and factor.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

GREY_WEIGHTS = (0.2989, 0.587, 0.114)
_GREY = torch.tensor(GREY_WEIGHTS)

#: the four ColorJitter operations, in torchvision's numbering (``fn_idx``)
BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)


def _per_sample(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return f.to(x.dtype).view(-1, 1, 1, 1)


def grey(x: torch.Tensor) -> torch.Tensor:
    """``(B, 3, H, W)`` -> luma ``(B, 1, H, W)``."""
    r, g, b = x.unbind(1)
    return (
        (r * GREY_WEIGHTS[0]).add_(g, alpha=GREY_WEIGHTS[1]).add_(b, alpha=GREY_WEIGHTS[2])[:, None]
    )


def brightness(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``x (B, C, H, W)`` scaled by ``factor (B,)`` (>= 0), clipped to [0, 1]."""
    return (x * _per_sample(factor, x)).clamp_(0.0, 1.0)


def contrast(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``x (B, C, H, W)`` blended with its mean grey level; ``factor (B,)`` 0 gives flat grey."""
    if x.shape[1] == 3:
        mean = (x.mean((2, 3)) @ _GREY.to(x)).view(-1, 1, 1, 1)  # = mean of grey(x), one pass
    else:  # a grey image is its own luma
        mean = x.mean((1, 2, 3)).view(-1, 1, 1, 1)
    f = _per_sample(factor, x)
    # torchvision's blend f x + (1 - f) mean, as a multiply and an add: `lerp` with a start
    # that is one value per sample broadcasts poorly on CPU and is several times slower
    return (x * f).add_(mean * (1.0 - f)).clamp_(0.0, 1.0)


def saturation(x: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``x (B, 3, H, W)`` blended with its grey image; ``factor (B,)`` 0 gives grey.

    Grey images (one channel) are returned unchanged, as torchvision does."""
    if x.shape[1] != 3:
        return x
    return torch.lerp(grey(x), x, _per_sample(factor, x)).clamp_(0.0, 1.0)


def hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """``x (B, 3, H, W)`` with its HSV hue turned by ``shift (B,)`` turns (in [-0.5, 0.5]).

    Grey images (one channel) are returned unchanged, as torchvision does."""
    if x.shape[1] != 3:
        return x
    # Written without comparisons, `where`, `remainder` or reductions over the channel
    # dimension: on a CPU those cost several times an add per element (a reduction over three
    # channels is a strided pass), and this is the costliest step of a colour view.
    r, g, b = x.unbind(1)
    gb_max = torch.maximum(g, b)
    value = torch.maximum(r, gb_max)
    chroma = value - torch.minimum(torch.minimum(r, g), b)
    gb, br, rg = g - b, b - r, r - g
    # which channel is largest, ties to red, then green (torchvision's rule), as 0 / 1 masks:
    # `not_red` (r below max(g, b)) and `green` (g >= b and not red)
    not_red = (gb_max - r).sign_().clamp_(min=0.0)
    green = _step(gb).mul_(not_red)
    # hue in sextants: (g - b) / c if red is largest, 2 + (b - r) / c if green, 4 + (r - g) / c
    # if blue, i.e. gb + not_red (rg - gb) + green (br - rg) over c, plus 4 not_red - 2 green;
    # in [-1, 5], then turned by 6 * shift and wrapped to [0, 6] (grey pixels: chroma 0, and
    # every difference in the numerator and both masks are 0 too)
    sextant = gb.addcmul(not_red, rg - gb).addcmul_(green, br - rg).div_(chroma.clamp(min=1e-12))
    sextant.add_(not_red, alpha=4.0).add_(green, alpha=-2.0)
    sextant.add_(6.0 * _per_sample(shift, x)[:, 0])
    sextant.sub_(sextant.mul(1.0 / 6.0).floor_(), alpha=6.0)
    # back to RGB: channel k is v - c * clamp(2 - d_k, 0, 1), d_k the distance around the
    # hue circle (period 6) from the sextant to 3, 5, 1 for R, G, B; with the sextant in
    # [0, 6], d_k = 3 - ||sextant - centre_k| - 3|, so with y_k = ||sextant - centre_k| - 3|
    # the channel is v - c clamp(y_k - 1, 0, 1) = (v + c) - c clamp(y_k, 1, 2): the - 1 moves
    # onto one plane instead of three
    y = (sextant[:, None] - _CENTRES.to(x)).abs_().sub_(3.0).abs_().clamp_(1.0, 2.0)
    return torch.addcmul((value + chroma)[:, None], chroma[:, None], y, value=-1.0)


_CENTRES = torch.tensor([3.0, 5.0, 1.0]).view(1, 3, 1, 1)


def _step(d: torch.Tensor) -> torch.Tensor:
    """1.0 where ``d >= 0``, else 0.0 (``sign`` and ``clamp`` are cheaper than a comparison)."""
    return d.sign().add_(1.0).clamp_(max=1.0)


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` -> grey in every channel (single-channel images are returned as is)."""
    return grey(x).expand_as(x).contiguous() if x.shape[1] == 3 else x


def solarise(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Inverts the values at or above ``threshold`` (torchvision's / PIL's solarize)."""
    if threshold == 0.5:  # for x in [0, 1] the same as min(x, 1 - x), without a comparison
        return torch.minimum(x, 1.0 - x)
    return torch.where(x >= threshold, 1.0 - x, x)


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """``(B, 2 radius + 1)`` normalised 1-D Gaussian kernels, one per ``sigma (B,)``."""
    taps = torch.arange(-radius, radius + 1, dtype=sigma.dtype, device=sigma.device)
    k = torch.exp(-0.5 * (taps / sigma[:, None]) ** 2)
    return k / k.sum(1, keepdim=True)


def blur_radius(max_sigma: float) -> int:
    """Kernel half-width that keeps 3 standard deviations of the widest Gaussian."""
    return max(1, math.ceil(3.0 * max_sigma))


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, radius: int | None = None) -> torch.Tensor:
    """``x (B, C, H, W)`` blurred with a Gaussian of standard deviation ``sigma (B,)`` pixels.

    Separable, reflected at the borders (torchvision's ``gaussian_blur`` with
    ``kernel_size = 2 radius + 1``); ``radius`` defaults to ``ceil(3 max(sigma))``.
    """
    b, c, h, w = x.shape
    if radius is None:
        radius = blur_radius(float(sigma.max()))
    radius = min(radius, h - 1, w - 1)  # reflection needs the pad narrower than the image
    k = gaussian_kernels(sigma.to(x.dtype), radius).repeat_interleave(c, 0)  # (B C, K)
    # one image with B C channels, each with its own kernel: a depthwise convolution. Padded
    # once on all sides (the rows added above and below are reflections, so blurring them
    # along the width is the same as reflecting the blurred rows). In the NCHW layout: with
    # the few dozen images the pipeline blurs at once, oneDNN's NCHW kernel took ~0.6 times
    # the CPU time of its channels-last one plus the two layout changes (96 px, one thread).
    flat = F.pad(x.reshape(1, b * c, h, w), (radius,) * 4, mode="reflect")
    flat = F.conv2d(flat, k[:, None, None, :], groups=b * c)
    flat = F.conv2d(flat, k[:, None, :, None], groups=b * c)
    return flat.view(b, c, h, w)


def jitter(x: torch.Tensor, factors: torch.Tensor, order: tuple[int, ...]) -> torch.Tensor:
    """torchvision's ``ColorJitter`` on samples that share one order of operations.

    Args:
        x: ``(B, 3, H, W)`` in [0, 1].
        factors: ``(B, 4)`` brightness, contrast and saturation factors and hue shift.
        order: the operations (``BRIGHTNESS`` ... ``HUE``) in the order to apply them.
    """
    for i in order:
        x = JITTER_OPS[i](x, factors[:, i])
    return x


#: the four ColorJitter operations, indexed by ``BRIGHTNESS`` ... ``HUE``
JITTER_OPS = (brightness, contrast, saturation, hue)
