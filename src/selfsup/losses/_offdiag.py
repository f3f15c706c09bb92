"""Sums of squared off-diagonal entries of ``Z^T Z`` and ``A^T B``, exact in float32 and fast.

VICReg's covariance term and Barlow Twins' redundancy term are ``sum_{j != k} M_jk^2`` for a
``D x D`` matrix ``M = A^T B`` of a batch ``A, B: (n, D)``. Two routes, chosen by shape and dtype
only (no data-dependent branch, so no host-device sync):

- **D x D route** (``D < 8 n``, or float64 input): form ``M`` in the compute dtype (float32 for
  float32 / half input, float64 for float64), zero its diagonal *explicitly* and sum the
  squares: the paper's formula, so its rounding is the plain formula's. One custom autograd
  function: the forward is one product, the backward one product per distinct input (the
  matrix with zeroed diagonal is kept for it).
- **Gram route** (``D >= 8 n``, float32 / half input): ``||A^T B||_F^2 = <A A^T, B B^T>`` through
  the ``n x n`` Grams, ``O(n^2 D)`` instead of ``O(n D^2)`` work, **in float64**. The identity
  subtracts the squared diagonal from the squared Frobenius norm, which cancels when a few
  diagonal entries dominate (one feature with a large spread): done in float32 that lost all
  digits (issue 19). For VICReg the features are also sorted by spread and split into groups
  of sizes 1, 1, 2, 4, 8, ...; only *within* a group is anything subtracted, and every group of
  size ``m >= 2`` follows ``m`` features with at least its largest spread. The subtraction's
  float64 rounding in a group, about ``u64 tr(C_J)^2``, is then below the rounding noise the
  plain float32 formula adds on the cross-covariances of the group with those earlier
  features, about ``u32^2 n tr(C_J) m c >= u32^2 n tr(C_J)^2`` (``c`` the smallest earlier
  variance): first order, a factor ``u64 / (u32^2 n) ~ 0.03 / n`` times summation growth,
  whatever the spreads. The cross-group terms are inner products of PSD matrices and do not
  cancel. Barlow Twins standardises every feature to a
  variance ``<= 1`` first, so no feature can dominate and one float64 Gram suffices.
  ``tests/core/test_hard_batches.py`` measures both routes against float64 on hard batches.

At B = 256, D = 8192 the Gram route costs a fraction of the ``n x D x D`` products
(``benchmarks/losses.py``); on GPUs with slow float64 (consumer cards run it at 1/64 of
float32) it is still a few milliseconds per step, see docs/losses.md.
"""

from __future__ import annotations

import torch

GRAM_ROUTE_MIN_RATIO = 8  # Gram route when dim >= 8 * batch


class _Gram(torch.autograd.Function):
    """``x x^T`` whose backward is one product, ``(G + G^T) x``, where autograd's generic matmul
    rule does two because it does not know both factors are the same tensor. Written with
    differentiable ops, so double backward still works."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x @ x.T

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return (grad + grad.T) @ x


def gram(x: torch.Tensor) -> torch.Tensor:
    """``x @ x.T`` for ``x: (n, d)`` -> ``(n, n)``, with a one-product backward."""
    return _Gram.apply(x)


class _OffDiagonalSquares(torch.autograd.Function):
    """``sum_{j != k} (a^T b)_jk^2``, the diagonal zeroed explicitly (no cancellation)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.same = a is b
        m = a.T @ b
        m.diagonal().zero_()
        ctx.save_for_backward(a, b, m)
        flat = m.reshape(-1)
        return torch.dot(flat, flat)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        a, b, m = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph: rebuild m from differentiable ops
            m = a.T @ b
            m = m - torch.diag_embed(torch.diagonal(m))
        if ctx.same:  # m symmetric: both factors' gradients are a m, one product
            return (4 * grad) * (a @ m), None
        return (2 * grad) * (b @ m.T), (2 * grad) * (a @ m)


def compute_dtype(z: torch.Tensor) -> torch.dtype:
    """float64 stays float64; float32 and half precision compute in float32."""
    return torch.float64 if z.dtype == torch.float64 else torch.float32


ROUTES = ("auto", "gram", "dxd")


def use_gram_route(z: torch.Tensor, route: str = "auto") -> bool:
    """The float64 Gram route: float32 / half input with ``dim >= 8 * batch`` (``"auto"``), or
    forced (``"gram"``, ``"dxd"``: for tests and benchmarks)."""
    if route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    if route != "auto":
        return route == "gram"
    return z.dtype != torch.float64 and z.shape[1] >= GRAM_ROUTE_MIN_RATIO * z.shape[0]


def _group_bounds(d: int) -> list[tuple[int, int]]:
    """``[(0, 1), (1, 2), (2, 4), (4, 8), ...]`` cut at ``d``: group ``m`` starts after ``m``
    features."""
    edges, size = [0, 1], 1
    while edges[-1] < d:
        edges.append(min(d, edges[-1] + size))
        size *= 2
    edges = [e for e in edges if e <= d]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _sorted_group_offdiag(zc: torch.Tensor) -> torch.Tensor:
    """``sum_{j != k} (zc^T zc)_jk^2`` for centred float64 ``zc: (n, D)`` by sorted groups."""
    rows = zc.T  # (D, n): one row per feature
    order = torch.argsort(rows.detach().pow(2).sum(1), descending=True)
    rows = rows.index_select(0, order)  # a differentiable permutation, contiguous
    total = rows.sum() * 0  # zero, but part of the graph even when no group adds a term (D = 1)
    later = None  # sum of the Grams of the groups after the current one
    for start, stop in reversed(_group_bounds(rows.shape[0])):
        block = rows[start:stop]
        g = gram(block.T).reshape(-1)  # (n * n,)
        if stop - start > 1:  # within the group: ||G||^2 - sum of squared diagonal
            sq = block.pow(2).sum(1)
            total = total + torch.dot(g, g) - torch.dot(sq, sq)
        if later is None:
            later = g
        else:  # across groups: 2 <G_J, sum_{K > J} G_K>, a sum of squares, no cancellation
            total = total + 2 * torch.dot(g, later)
            later = later + g
    return total


def centred_offdiag_squares(z: torch.Tensor, route: str = "auto") -> torch.Tensor:
    """``sum_{j != k} C_jk^2`` with ``C = zc^T zc`` (unnormalised), ``zc = z - mean(z, 0)``.

    Args:
        z: ``(n, D)`` samples.
        route: ``"auto"`` (by shape and dtype), or force ``"gram"`` / ``"dxd"``.

    Returns:
        0-d tensor, float64 on the Gram route, else the compute dtype (see module docstring).
    """
    if use_gram_route(z, route):
        z64 = z.to(torch.float64)
        return _sorted_group_offdiag(z64 - z64.mean(0))
    zc = z.to(compute_dtype(z))
    zc = zc - zc.mean(0)
    return _OffDiagonalSquares.apply(zc, zc)


def cross_offdiag_squares(a: torch.Tensor, b: torch.Tensor, route: str = "auto") -> torch.Tensor:
    """``sum_{j != k} (a^T b)_jk^2`` for ``a, b: (n, D)`` with column variances ``<= 1``
    (standardised, as in Barlow Twins); float64 on the Gram route, else the compute dtype.
    ``route`` as in :func:`centred_offdiag_squares`."""
    if use_gram_route(a, route):
        a64, b64 = a.to(torch.float64), b.to(torch.float64)
        total = torch.dot(gram(a64).reshape(-1), gram(b64).reshape(-1))
        diagonal = (a64 * b64).sum(0)
        return total - torch.dot(diagonal, diagonal)
    dtype = compute_dtype(a)
    return _OffDiagonalSquares.apply(a.to(dtype), b.to(dtype))
