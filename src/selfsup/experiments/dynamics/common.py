"""Data and small helpers shared by the learning-dynamics experiments."""

from __future__ import annotations

import math

import numpy as np
import torch

F64 = torch.float64
#: a normalised loss matrix and its ``eigh``
CEig = tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]


def planted_data(
    n: int, d: int, strengths: list[float], noise: float, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``x = S diag(strengths) z + noise * eps``: a planted k-dim signal in isotropic noise.

    Returns ``x`` ``(n, d)``, the orthonormal signal basis ``S`` ``(d, k)`` and ``z`` ``(n, k)``.
    """
    k = len(strengths)
    S = torch.linalg.qr(torch.randn(d, k, generator=gen, dtype=F64)).Q
    z = torch.randn(n, k, generator=gen, dtype=F64)
    x = (z * torch.tensor(strengths, dtype=F64)) @ S.T
    return x + noise * torch.randn(n, d, generator=gen, dtype=F64), S, z


def noise_view(x: torch.Tensor, sigma: float, gen: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise augmentation."""
    return x + sigma * torch.randn(x.shape, generator=gen, dtype=x.dtype)


def crop_view(images: torch.Tensor, shift: int, gen: torch.Generator) -> torch.Tensor:
    """Random translation by up to ``shift`` pixels (zero-pad, then crop back), per image.

    Args:
        images: ``(n, H, W)``.

    Returns:
        ``(n, H * W)`` flattened views; one gather for the whole batch, no per-image loop.
    """
    n, H, W = images.shape
    padded = torch.nn.functional.pad(images, (shift, shift, shift, shift))
    oy = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    ox = torch.randint(0, 2 * shift + 1, (n,), generator=gen)
    rows = (oy[:, None] + torch.arange(H))[:, :, None]
    cols = (ox[:, None] + torch.arange(W))[:, None, :]
    return padded[torch.arange(n)[:, None, None], rows, cols].reshape(n, H * W)


def normalised(C: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """``C / ||C||_2`` (time in units of ``1 / |lambda|_max``) and its ``eigh`` for reuse."""
    lam, U = torch.linalg.eigh(C)
    scale = lam.abs().max()
    return C / scale, (lam / scale, U)


def random_frame(d: int, h: int, gen: torch.Generator) -> torch.Tensor:
    return torch.linalg.qr(torch.randn(d, h, generator=gen, dtype=F64)).Q


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x``; nan if fewer than two positive points."""
    pts = [(math.log(a), math.log(b)) for a, b in zip(xs, ys, strict=True) if a > 0 and b > 0]
    if len(pts) < 2:
        return float("nan")
    return float(np.polyfit([p[0] for p in pts], [p[1] for p in pts], 1)[0])


def loglog_fit(xs: list[float], ys: list[float], level: float = 0.95) -> dict:
    """Least-squares slope of ``log y`` against ``log x`` with its ``level`` confidence interval
    (``scipy.stats.linregress``'s standard error times Student's t with ``n - 2`` degrees of
    freedom). Repeated ``x`` (several seeds per width) are separate points; non-positive
    points are left out. ``slope`` is nan with fewer than two points, the interval with fewer
    than three or when every ``x`` is the same.

    Returns:
        ``{"slope", "stderr", "ci": [lo, hi], "n", "level"}``.
    """
    from scipy import stats

    pts = [(math.log(a), math.log(b)) for a, b in zip(xs, ys, strict=True) if a > 0 and b > 0]
    nan = float("nan")
    out = {"slope": nan, "stderr": nan, "ci": [nan, nan], "n": len(pts), "level": level}
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return out
    fit = stats.linregress([p[0] for p in pts], [p[1] for p in pts])
    out["slope"] = float(fit.slope)
    if len(pts) > 2:
        half = float(stats.t.ppf(0.5 + level / 2, len(pts) - 2)) * float(fit.stderr)
        out.update(stderr=float(fit.stderr), ci=[float(fit.slope - half), float(fit.slope + half)])
    return out


def fmt(v: float) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)
