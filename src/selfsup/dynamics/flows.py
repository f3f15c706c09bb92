"""Closed-form gradient flows of ``L(W) = -tr(W^T C W)``: unconstrained and on the Grassmannian.

Both cost one ``torch.linalg.eigh`` of ``C`` for a whole trajectory; everything after it is
matrix products in the eigenbasis.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from selfsup.dynamics._checks import as_times, check_frame, check_symmetric

Times = float | Sequence[float] | torch.Tensor


Eig = tuple[torch.Tensor, torch.Tensor]


def _eigh_descending(C: torch.Tensor, eig: Eig | None = None) -> Eig:
    lam, U = torch.linalg.eigh(C) if eig is None else eig
    return lam.flip(0), U.flip(1)


def top_eigenspace(C: torch.Tensor, h: int, *, eig: Eig | None = None) -> torch.Tensor:
    """``(d, h)`` orthonormal eigenvectors of the ``h`` largest eigenvalues of symmetric ``C``.

    ``eig``: optional ``torch.linalg.eigh(C)`` output to reuse (ascending eigenvalues).
    """
    check_symmetric(C)
    return _eigh_descending(C, eig)[1][:, :h]


def unconstrained_flow(
    C: torch.Tensor, W0: torch.Tensor, t: Times, *, eig: Eig | None = None
) -> torch.Tensor:
    """``W(t) = exp(2tC) W0``, the solution of ``dW/dt = 2 C W`` (gradient flow of -tr(W^T C W)).

    Args:
        C: ``(d, d)`` symmetric.
        W0: ``(d, h)`` initial weights (any, not necessarily orthonormal).
        t: time (units of 1 / eigenvalue of C), scalar or ``(T,)``.
        eig: optional ``torch.linalg.eigh(C)`` output, to reuse one decomposition for many W0.

    Returns:
        ``(d, h)`` for scalar ``t``, else ``(T, d, h)``. Overflows to inf where ``2 t lambda_max``
        exceeds the dtype's range: that is the true solution's size, not an error.
    """
    check_symmetric(C)
    check_frame(W0, C.shape[0])
    times, scalar = as_times(t, C)
    lam, U = torch.linalg.eigh(C) if eig is None else eig
    coeffs = U.T @ W0.to(C.dtype)  # (d, h) in the eigenbasis
    growth = torch.exp(2 * times[:, None] * lam[None, :])  # (T, d)
    W = U @ (growth[:, :, None] * coeffs)
    return W[0] if scalar else W


def _orthonormal(Y: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis of the span of each ``(..., d, h)`` frame (Householder QR)."""
    return torch.linalg.qr(Y).Q


def _polar(M: torch.Tensor) -> torch.Tensor:
    U, _, Vh = torch.linalg.svd(M)
    return U @ Vh


def grassmann_flow(
    C: torch.Tensor, W0: torch.Tensor, t: Times, *, eig: Eig | None = None
) -> torch.Tensor:
    """Closed-form solution of the orthogonality-constrained flow ``dW/dt = 2 (I - W W^T) C W``.

    The subspace is ``span(W(t)) = span(exp(2tC) W0)`` and its projector ``P(t) = W W^T`` is exact
    (the matrix Riccati / Oja subspace flow). The returned basis is the orthonormal basis of that
    span closest to ``W0`` (orthogonal Procrustes); the flow's own basis differs from it by an
    ``h x h`` rotation, so compare projectors or rotation-invariant quantities, never raw ``W``.

    Numerics: with ``C = U diag(lam) U^T`` (lam descending) and ``A = U^T W0 = [A_top; A_rest]``,
    ``span(diag(e^{2t lam}) A) = span([I; K(t)])`` with
    ``K(t)_ij = (A_rest A_top^{-1})_ij exp(2t (lam_{h+i} - lam_j))``. Every exponent is <= 0, so
    nothing overflows and ``[I; K]`` stays well conditioned at any t, even for negative or
    repeated eigenvalues. If ``A_top`` is (near) singular, i.e. ``W0`` is (nearly) orthogonal to
    part of the top-h eigenspace, the direct formula with a shifted exponent is used instead.

    Args:
        C: ``(d, d)`` symmetric.
        W0: ``(d, h)`` with orthonormal columns.
        t: time (units of 1 / eigenvalue of C), scalar or ``(T,)``.
        eig: optional ``torch.linalg.eigh(C)`` output, to reuse one decomposition for many W0.

    Returns:
        ``(d, h)`` for scalar ``t``, else ``(T, d, h)``, orthonormal columns.
    """
    check_symmetric(C)
    check_frame(W0, C.shape[0], orthonormal=True)
    times, scalar = as_times(t, C)
    h = W0.shape[1]
    lam, U = _eigh_descending(C, eig)
    A = U.T @ W0.to(C.dtype)
    A_top, A_rest = A[:h], A[h:]
    if torch.linalg.cond(A_top) < 1e8:
        R = torch.linalg.solve(A_top.T, A_rest.T).T  # A_rest A_top^{-1}, (d-h, h)
        gaps = lam[h:, None] - lam[None, :h]  # <= 0 up to rounding
        K = R * torch.exp(2 * times[:, None, None] * gaps)  # (T, d-h, h)
        eye = torch.eye(h, dtype=C.dtype, device=C.device).expand(len(times), h, h)
        Y = torch.cat([eye, K], dim=1)
    else:
        Y = torch.exp(2 * times[:, None, None] * (lam - lam[0])[None, :, None]) * A
    Q = _orthonormal(Y)  # (T, d, h), eigenbasis coordinates
    Q = Q @ _polar(Q.transpose(1, 2) @ A)  # Procrustes: the basis of span(Q) closest to W0
    # one (d, d) x (d, T h) GEMM is ~2x faster on CPU than T broadcast (d, d) x (d, h) products
    T, d = Q.shape[0], Q.shape[1]
    W = (U @ Q.permute(1, 0, 2).reshape(d, T * h)).reshape(d, T, h).permute(1, 0, 2)
    return W[0] if scalar else W.contiguous()


def projector(W: torch.Tensor) -> torch.Tensor:
    """Orthogonal projector onto ``span(W)``: ``(..., d, h) -> (..., d, d)``.

    Orthonormalises first, so ``W`` need not have orthonormal columns (it must have full rank).
    """
    Q = _orthonormal(W)
    return Q @ Q.transpose(-1, -2)
