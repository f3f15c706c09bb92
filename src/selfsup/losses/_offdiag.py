"""Sums of squared off-diagonal entries of ``Z^T Z`` and ``A^T B``, exact in float32 and fast.

VICReg's covariance term and Barlow Twins' redundancy term are ``sum_{j != k} M_jk^2`` for a
``D x D`` matrix ``M = A^T B`` of a batch ``A, B: (n, D)``. Two routes, chosen by shape and dtype
only (no data-dependent branch, so no host-device sync):

- **D x D route** (``D < 16 n``, or float64 input): form ``M`` in the compute dtype (float32 for
  float32 / half input, float64 for float64), zero its diagonal *explicitly* and sum the
  squares: the paper's formula, so its rounding is the plain formula's. One custom autograd
  function: the forward is one product, the backward one product per distinct input (the
  matrix with zeroed diagonal is kept for it).
- **Gram route** (``D >= 16 n``, float32 / half input): ``||A^T B||_F^2 = <A A^T, B B^T>`` through
  the ``n x n`` Grams, ``O(n^2 D)`` instead of ``O(n D^2)`` work, **in float64**. The identity
  subtracts the squared diagonal from the squared Frobenius norm, which cancels when a few
  diagonal entries dominate (one feature with a large spread): done in float32 it can lose
  every digit. For VICReg the ``m = max(64, D / n)`` most spread features ``T`` are
  therefore taken apart: their ``m x m`` block is formed with its diagonal zeroed, their
  cross-covariances with the rest ``R`` are ``2 <G_T, G_R>`` (an inner product of PSD
  matrices, no cancellation), and only within ``R`` is a squared diagonal subtracted. Every
  feature of ``R`` has at most the smallest spread ``c`` of ``T``, so that subtraction's
  float64 rounding, about ``u64 tr(C_R)^2 <= u64 |R| c tr(C_R)``, stays below the rounding
  noise the plain float32 formula adds to the squared cross-covariances of ``R`` with ``T``,
  about ``u32^2 n m c tr(C_R)``: a factor ``u64 |R| / (u32^2 n m) <= 0.03`` (first order,
  times summation growth; ``m >= D / n``), whatever the spreads. Barlow Twins standardises
  every feature to a variance ``<= 1`` first, so no feature can dominate and one float64
  Gram suffices.
  ``tests/losses/test_hard_batches.py`` measures both routes against float64 on hard batches.

At B = 256, D = 8192 the Gram route costs a fraction of the ``n x D x D`` products
(``benchmarks/losses.py``); GPUs with slow float64 (consumer cards run it at 1/64 of
float32) pay more for it, see docs/losses.md.
"""

from __future__ import annotations

import torch

from selfsup.errors import InputError

GRAM_ROUTE_MIN_RATIO = 16  # Gram route when dim >= 16 * batch (benchmarks/losses.py --routes)


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


def sum_of_squares(m: torch.Tensor) -> torch.Tensor:
    """``sum(m ** 2)`` of a ``(D, D)`` matrix, accurate to a few float32 roundings, at the cost
    of one pass over ``m`` and no ``D x D`` temporary.

    ``torch.dot(m.flatten(), m.flatten())`` is as fast but BLAS accumulates the ``D^2``
    products in a few running float32 sums: with one feature 300x more spread than the
    others its row and column dominate and the total lost 4 digits at ``D = 1024``. Each
    row's norm is computed with a blocked, scaled accumulation instead; the ``D`` squared
    norms are summed in float64.
    """
    row_norms = torch.linalg.vector_norm(m, dim=1).to(torch.float64)
    return row_norms.square().sum().to(m.dtype)


class _OffDiagonalSquares(torch.autograd.Function):
    """``sum_{j != k} (a^T b)_jk^2``, the diagonal zeroed explicitly (no cancellation)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.same = a is b
        m = a.T @ b
        m.diagonal().zero_()
        ctx.save_for_backward(a, b, m)
        return sum_of_squares(m)

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
    """The float64 Gram route: float32 / half input with ``dim >= 16 * batch`` (``"auto"``), or
    forced (``"gram"``, ``"dxd"``: for tests and benchmarks)."""
    if route not in ROUTES:
        raise InputError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    if route != "auto":
        return route == "gram"
    return z.dtype != torch.float64 and z.shape[1] >= GRAM_ROUTE_MIN_RATIO * z.shape[0]


def top_block_size(n: int, d: int) -> int:
    """How many of the most spread features the Gram route treats apart: ``max(64, d / n)``,
    enough that ``(d - m) / (n m) <= 1`` (the accuracy argument of the module docstring)."""
    return min(d, max(64, -(-d // n)))


def _split_offdiag(zc: torch.Tensor) -> torch.Tensor:
    """``sum_{j != k} (zc^T zc)_jk^2`` for centred float64 ``zc: (n, D)``: the ``m`` most
    spread features ``T`` apart from the rest ``R``, three pieces without cancellation
    between them."""
    n, d = zc.shape
    m = top_block_size(n, d)
    order = torch.argsort(zc.detach().pow(2).sum(0), descending=True)
    top, rest = zc.index_select(1, order[:m]), zc.index_select(1, order[m:])
    # T x T: the m x m block with its diagonal zeroed explicitly (the plain formula)
    c_tt = top.T @ top
    c_tt = c_tt - torch.diag_embed(torch.diagonal(c_tt))
    total = torch.dot(c_tt.reshape(-1), c_tt.reshape(-1))
    if d > m:
        g_top, g_rest = gram(top).reshape(-1), gram(rest).reshape(-1)
        sq_rest = rest.pow(2).sum(0)
        # 2 ||C_TR||^2 = 2 <G_T, G_R>, a sum of squares; within R, ||G_R||^2 - sum C_jj^2,
        # whose cancellation is bounded because every feature of R is less spread than T's
        total = total + 2 * torch.dot(g_top, g_rest)
        total = total + torch.dot(g_rest, g_rest) - torch.dot(sq_rest, sq_rest)
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
        return _split_offdiag(z64 - z64.mean(0))
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
