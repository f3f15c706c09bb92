"""Subspace distances and the alignment of W with a direction.

The effective rank of W is :func:`selfsup.info.effective_rank` (one definition for the whole
library), re-exported by ``selfsup.dynamics``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from selfsup.errors import InputError


class SubspaceDistance(NamedTuple):
    """Distance between ``span(W1)`` and ``span(W2)``.

    ``projection``: ``||P1 - P2||_F / sqrt(h1 + h2)`` in [0, 1] (``sqrt(2h)`` for equal dims).
    ``angles``: principal angles in radians, ascending, ``min(h1, h2)`` of them.
    """

    projection: torch.Tensor
    angles: torch.Tensor


def subspace_distance(W1: torch.Tensor, W2: torch.Tensor) -> SubspaceDistance:
    """Projector distance and principal angles between column spans.

    Both are computed from sines (``||(I - P1) Q2||``), not ``1 - cos``, so distances down to
    ~1e-15 are resolved: ``||P1 - P2||_F^2 = ||(I - P1) Q2||_F^2 + ||(I - P2) Q1||_F^2``.

    Args:
        W1: ``(..., d, h1)`` full column rank (need not be orthonormal).
        W2: ``(..., d, h2)``; leading batch dims broadcast.

    Returns:
        ``SubspaceDistance`` with ``projection`` of shape ``(...)`` and ``angles`` ``(..., min h)``.
    """
    if W1.shape[-2] != W2.shape[-2]:
        raise InputError(f"W1 and W2 must have the same d, got {W1.shape[-2]} and {W2.shape[-2]}")
    Q1 = torch.linalg.qr(W1).Q
    Q2 = torch.linalg.qr(W2).Q
    h1, h2 = Q1.shape[-1], Q2.shape[-1]
    cross = Q1.transpose(-1, -2) @ Q2  # (.., h1, h2)
    res2 = Q2 - Q1 @ cross  # (I - P1) Q2
    res1 = Q1 - Q2 @ cross.transpose(-1, -2)  # (I - P2) Q1
    squared = res1.pow(2).sum((-1, -2)) + res2.pow(2).sum((-1, -2))
    projection = torch.sqrt(squared / (h1 + h2))
    # principal angles: cosines from the cross Gram, sines from the residual of the smaller frame;
    # use the sine for small angles (where arccos loses half the digits), the cosine otherwise
    res_small = res1 if h1 <= h2 else res2
    cos = torch.linalg.svdvals(cross).clamp(max=1.0)  # descending -> angles ascending
    sin = torch.linalg.svdvals(res_small).clamp(max=1.0).flip(-1)  # ascending sines
    angles = torch.where(cos > 0.7071, torch.arcsin(sin), torch.arccos(cos))
    return SubspaceDistance(projection, angles)


def top_direction_alignment(W: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Fraction of ``||W||_F^2`` along the unit vector ``u``: ``||u^T W||^2 / ||W||_F^2`` in [0, 1].

    Args:
        W: ``(..., d, h)``.
        u: ``(d,)`` unit vector.
    """
    along = torch.einsum("d,...dh->...h", u, W).pow(2).sum(-1)
    return along / W.pow(2).sum((-1, -2))
