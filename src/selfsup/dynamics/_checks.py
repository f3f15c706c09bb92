"""Input validation shared by the dynamics modules: clear messages instead of shape errors."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from selfsup.errors import InputError


def check_symmetric(C: torch.Tensor, name: str = "C") -> None:
    """Raise ``ValueError`` unless ``C`` is a square, symmetric, floating matrix."""
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise InputError(f"{name} must be a square (d, d) matrix, got shape {tuple(C.shape)}")
    if not C.is_floating_point():
        raise InputError(f"{name} must be floating point, got {C.dtype}")
    scale = C.abs().max().clamp_min(1.0)
    # the flows use eigh, which silently reads one triangle; an asymmetric C is a caller bug
    if (C - C.T).abs().max() > 1e-10 * scale:
        raise InputError(f"{name} must be symmetric; pass (C + C.T) / 2")


def check_frame(W: torch.Tensor, d: int, name: str = "W0", orthonormal: bool = False) -> None:
    """Raise ``ValueError`` unless ``W`` is ``(d, h)`` with ``1 <= h <= d`` (and orthonormal)."""
    if W.ndim != 2 or W.shape[0] != d:
        raise InputError(f"{name} must have shape ({d}, h), got {tuple(W.shape)}")
    h = W.shape[1]
    if not 1 <= h <= d:
        raise InputError(f"{name} must have 1 <= h <= d columns, got h={h}, d={d}")
    if orthonormal:
        gram = W.T @ W
        err = (gram - torch.eye(h, dtype=W.dtype, device=W.device)).abs().max()
        # loose enough for float32 frames, tight enough to catch an un-normalised W
        if err > max(1e-8, 1e3 * torch.finfo(W.dtype).eps):
            raise InputError(
                f"{name} must have orthonormal columns (max |W^T W - I| = {err:.2e}); "
                "orthonormalise it first, e.g. torch.linalg.qr(W).Q"
            )


def as_times(
    t: float | Sequence[float] | torch.Tensor, like: torch.Tensor
) -> tuple[torch.Tensor, bool]:
    """Times as a 1-D tensor of ``like``'s dtype/device, and whether the input was a scalar."""
    times = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if times.ndim > 1:
        raise InputError(f"t must be a scalar or 1-D tensor of times, got {tuple(times.shape)}")
    scalar = times.ndim == 0
    return times.reshape(-1), scalar
