"""Loss matrices C of quadratic SSL objectives for the linear model f(x) = W^T x.

Every objective here is written as ``L(W) = -tr(W^T C W) + const`` with ``C`` symmetric, so the
gradient flow is ``dW/dt = 2 C W`` and the orthogonality-constrained flow only depends on ``C``.
"""

from __future__ import annotations

import torch

from selfsup.errors import InputError

FORMS = ("inner", "distance", "distance_variance")


def _sym(A: torch.Tensor) -> torch.Tensor:
    return (A + A.T) / 2


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(1/n) sum_i a_i b_i^T`` for ``(n, d)`` inputs, or averaged over k for ``(n, k, d)``."""
    if b.ndim == 3:
        # k negatives per sample: average the cross-moment over them
        return torch.einsum("nd,nke->de", a, b) / (b.shape[0] * b.shape[1])
    return a.T @ b / a.shape[0]


def _second_moment_of_difference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(1/n) sum_i (a_i - b_i)(a_i - b_i)^T``; for ``(n, k, d)`` b, also averaged over k."""
    diff = a.unsqueeze(1) - b if b.ndim == 3 else a - b
    diff = diff.reshape(-1, a.shape[1])
    return diff.T @ diff / diff.shape[0]


def _covariance(x: torch.Tensor) -> torch.Tensor:
    centred = x - x.mean(dim=0)
    return centred.T @ centred / x.shape[0]


def loss_matrix(
    x: torch.Tensor,
    x_pos: torch.Tensor,
    x_neg: torch.Tensor | None = None,
    *,
    form: str = "inner",
    variance_weight: float = 1.0,
) -> torch.Tensor:
    """Symmetric ``C`` with ``L(W) = -tr(W^T C W)`` for an SSL loss of ``f(x) = W^T x``.

    Forms (``n`` samples, ``f = W^T x``, ``||.||`` Euclidean):

    - ``"inner"`` (the paper's): non-contrastive ``L = -(1/n) sum f(x)^T f(x+)`` when ``x_neg`` is
      None, ``C = sym(X^T X+ / n)``; contrastive ``L = -(1/n) sum [f(x)^T f(x+) - f(x)^T f(x-)]``,
      ``C = sym(X^T X+ / n) - sym(X^T X- / n)``.
    - ``"distance"``: ``L = (1/n) sum ||f(x) - f(x+)||^2`` (VICReg's invariance term, summed
      over output dimensions instead of averaged) and, with negatives,
      ``- (1/n) sum ||f(x) - f(x-)||^2``; ``C = D- - D+`` with
      ``D+- = (1/n) sum (x - x+-)(x - x+-)^T`` (``D-`` omitted without negatives).
    - ``"distance_variance"``: invariance minus ``variance_weight`` times the total variance of
      the features (the quadratic surrogate of VICReg's variance hinge, averaged over the two
      views, biased 1/n covariance): ``C = variance_weight * (Cov(x) + Cov(x+)) / 2 - D+``.

    Args:
        x: ``(n, d)`` samples.
        x_pos: ``(n, d)`` positive views, row i a view of ``x[i]``.
        x_neg: ``None``, ``(n, d)`` or ``(n, k, d)`` negatives of ``x[i]``.
        form: one of ``"inner"``, ``"distance"``, ``"distance_variance"``.
        variance_weight: weight of the variance reward (``"distance_variance"`` only).

    Returns:
        ``(d, d)`` symmetric matrix in the input's dtype (units: squared input units).
    """
    if x.ndim != 2 or x_pos.shape != x.shape:
        raise InputError(
            f"x and x_pos must both be (n, d); got {tuple(x.shape)} and {tuple(x_pos.shape)}"
        )
    if x_neg is not None and not (
        (x_neg.ndim == 2 and x_neg.shape == x.shape)
        or (x_neg.ndim == 3 and x_neg.shape[0] == x.shape[0] and x_neg.shape[2] == x.shape[1])
    ):
        raise InputError(f"x_neg must be (n, d) or (n, k, d) with x (n, d) = {tuple(x.shape)}")
    if form == "inner":
        C = _sym(_cross(x, x_pos))
        if x_neg is not None:
            C = C - _sym(_cross(x, x_neg))
        return C
    if form == "distance":
        C = -_second_moment_of_difference(x, x_pos)
        if x_neg is not None:
            C = C + _second_moment_of_difference(x, x_neg)
        return C
    if form == "distance_variance":
        if x_neg is not None:
            raise InputError("form='distance_variance' is non-contrastive; pass x_neg=None")
        variance = (_covariance(x) + _covariance(x_pos)) / 2
        return variance_weight * variance - _second_moment_of_difference(x, x_pos)
    raise InputError(f"unknown form {form!r}; choose one of {', '.join(FORMS)}")


def quadratic_loss(C: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """``-tr(W^T C W)``: ``W`` ``(d, h)`` -> ``()``, or a trajectory ``(T, d, h)`` -> ``(T,)``."""
    return -torch.einsum("...ia,ij,...ja->...", W, C, W)
