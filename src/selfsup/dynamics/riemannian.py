"""Riemannian gradient descent on the Stiefel manifold ``{W in R^{d x h}: W^T W = I}``.

Plain torch, no Riemannian-optimisation library: the step is three lines, and we need float64,
both retractions, the recorded trajectory and no extra dependency.
"""

from __future__ import annotations

import torch

from selfsup.dynamics._checks import check_frame, check_symmetric
from selfsup.errors import InputError

RETRACTIONS = ("qr", "polar")


def stiefel_project(W: torch.Tensor, G: torch.Tensor) -> torch.Tensor:
    """Project ``G`` onto the tangent space at ``W`` (embedded metric): ``G - W sym(W^T G)``.

    This is the Riemannian gradient when ``G`` is the Euclidean gradient. For the quadratic loss
    (``G = -2 C W``, so ``W^T G`` is symmetric) it equals ``(I - W W^T) G``.

    Args:
        W: ``(d, h)`` with orthonormal columns.
        G: ``(d, h)``.
    """
    WtG = W.T @ G
    return G - W @ ((WtG + WtG.T) / 2)


def retract(W: torch.Tensor, V: torch.Tensor, method: str = "qr") -> torch.Tensor:
    """Map the tangent step ``V`` at ``W`` back onto the manifold.

    ``"qr"``: the Q factor of ``W + V`` with ``diag(R) > 0`` (so a zero step returns ``W``);
    ``"polar"``: the polar factor ``U V^T`` of the SVD of ``W + V``. Both agree with the
    exponential map to second order, hence GD with either is first order in the step size.
    """
    Y = W + V
    if method == "qr":
        Q, R = torch.linalg.qr(Y)
        signs = torch.sign(torch.diagonal(R))
        signs[signs == 0] = 1
        return Q * signs
    if method == "polar":
        U, _, Vh = torch.linalg.svd(Y, full_matrices=False)
        return U @ Vh
    raise InputError(f"unknown retraction {method!r}; choose one of {', '.join(RETRACTIONS)}")


def riemannian_step(
    W: torch.Tensor, egrad: torch.Tensor, lr: float, retraction: str = "qr"
) -> torch.Tensor:
    """One Riemannian GD step ``retract(W, -lr * stiefel_project(W, egrad))``."""
    return retract(W, -lr * stiefel_project(W, egrad), retraction)


def riemannian_gd(
    C: torch.Tensor,
    W0: torch.Tensor,
    lr: float,
    steps: int,
    retraction: str = "qr",
    record_every: int = 1,
) -> torch.Tensor:
    """Discrete Riemannian GD on ``L(W) = -tr(W^T C W)`` over the Stiefel manifold.

    Step ``k`` approximates the flow ``dW/dt = 2 (I - W W^T) C W`` at time ``t = k * lr``; the
    error against ``grassmann_flow`` at fixed ``t`` is ``O(lr)``.

    Args:
        C: ``(d, d)`` symmetric.
        W0: ``(d, h)`` orthonormal columns.
        lr: step size (units of time, i.e. 1 / eigenvalue of C).
        steps: number of steps.
        retraction: ``"qr"`` or ``"polar"``.
        record_every: keep every k-th iterate (the first is always kept) to bound memory.

    Returns:
        ``(steps // record_every + 1, d, h)``: ``W`` at times ``0, k lr, 2 k lr, ...``.
    """
    check_symmetric(C)
    check_frame(W0, C.shape[0], orthonormal=True)
    if lr <= 0 or steps < 0 or record_every < 1:
        raise InputError(
            f"need lr > 0, steps >= 0, record_every >= 1; got {lr}, {steps}, {record_every}"
        )
    if retraction not in RETRACTIONS:
        raise InputError(f"unknown retraction {retraction!r}; choose one of {RETRACTIONS}")
    W = W0.to(C.dtype)
    trajectory = [W]
    for k in range(1, steps + 1):
        W = riemannian_step(W, -2 * C @ W, lr, retraction)
        if k % record_every == 0:
            trajectory.append(W)
    return torch.stack(trajectory)
