"""Two-layer networks ``f(x) = W2^T sigma(W1^T x / sqrt(d))`` and one training step each for
supervised MSE and orthogonality-constrained SSL.

Parametrisation (NTK-style, so widths are comparable): parameters ``W1`` ``(d, m)`` with
``N(0, 1)`` entries and ``A`` ``(m, h)`` with ``f = A^T sigma(W1^T x / sqrt(d)) / sqrt(m)``, i.e.
``W2 = A / sqrt(m)``. Supervised: ``A ~ N(0, 1)``. SSL: ``W2`` has orthonormal columns
(``A^T A = m I``), which is exactly the NTK scale of a last layer, so both objectives train the
same function family at the same scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from selfsup.dynamics.riemannian import riemannian_step
from selfsup.errors import InputError

ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    # name: (sigma, sigma') -- the derivative is needed by the closed-form NTK
    "relu": (torch.relu, lambda z: (z > 0).to(z.dtype)),
    "tanh": (torch.tanh, lambda z: 1 - torch.tanh(z) ** 2),
    "identity": (lambda z: z, torch.ones_like),
}


class TwoLayerNet(nn.Module):
    """``f(x) = A^T sigma(W1^T x / sqrt(d)) / sqrt(m)``, width ``m``, output dimension ``h``.

    Args:
        d: input dimension.
        m: width (hidden units).
        h: output (representation) dimension.
        activation: ``"relu"``, ``"tanh"`` or ``"identity"``.
        orthonormal_output: initialise ``W2 = A / sqrt(m)`` with orthonormal columns (SSL);
            otherwise ``A`` has i.i.d. ``N(0, 1)`` entries (supervised).
        generator: random generator of the initialisation.
        dtype: dtype of the weights.
    """

    def __init__(
        self,
        d: int,
        m: int,
        h: int,
        activation: str = "relu",
        orthonormal_output: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise InputError(f"unknown activation {activation!r}; choose from {list(ACTIVATIONS)}")
        if orthonormal_output and m < h:
            raise InputError(f"orthonormal output needs width m >= h, got m={m}, h={h}")
        self.d, self.m, self.h, self.activation = d, m, h, activation
        self.W1 = nn.Parameter(torch.randn(d, m, generator=generator, dtype=dtype))
        A = torch.randn(m, h, generator=generator, dtype=dtype)
        if orthonormal_output:
            A = math.sqrt(m) * torch.linalg.qr(A).Q
        self.A = nn.Parameter(A)

    @property
    def W2(self) -> torch.Tensor:  # noqa: N802 -- the paper's name
        """``(m, h)`` output weights ``A / sqrt(m)`` (orthonormal columns for SSL)."""
        return self.A / math.sqrt(self.m)

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d) -> (n, m)``: ``x W1 / sqrt(d)``."""
        return x @ self.W1 / math.sqrt(self.d)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d) -> (n, m)`` hidden features ``sigma(W1^T x / sqrt(d))``."""
        return ACTIVATIONS[self.activation][0](self.preactivations(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, d) -> (n, h)``."""
        return self.features(x) @ self.W2


def ssl_loss(net: TwoLayerNet, x: torch.Tensor, x_pos: torch.Tensor) -> torch.Tensor:
    """Non-contrastive inner-product loss ``-(1/n) sum_i f(x_i)^T f(x_i^+)``."""
    return -(net(x) * net(x_pos)).sum(1).mean()


def mse_loss(net: TwoLayerNet, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(1/2n) sum_i ||f(x_i) - y_i||^2``."""
    return 0.5 * (net(x) - y).pow(2).sum(1).mean()


def supervised_step(net: TwoLayerNet, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
    """One full-batch GD step on ``mse_loss``, both layers, in place; returns the loss before."""
    loss = mse_loss(net, x, y)
    g1, gA = torch.autograd.grad(loss, (net.W1, net.A))
    with torch.no_grad():
        net.W1 -= lr * g1
        net.A -= lr * gA
    return loss.item()


def ssl_step(
    net: TwoLayerNet,
    x: torch.Tensor,
    x_pos: torch.Tensor,
    lr: float,
    lr_hidden: float | None = None,
    retraction: str = "qr",
) -> float:
    """One step on ``ssl_loss``: Euclidean GD for ``W1``, Riemannian GD for ``W2`` on the Stiefel
    manifold (in place); returns the loss before the step.

    The ``W2`` step uses step size ``lr / m``: that is Euclidean GD on ``A`` with step ``lr``
    projected to the manifold, the same step the supervised net takes. With ``W1`` frozen
    (``lr_hidden=0``) it is ``riemannian_gd`` on ``C = sym(Phi^T Phi+ / n) / m`` with step ``lr``.

    Args:
        net: built with ``orthonormal_output=True``.
        x: ``(n, d)`` first views.
        x_pos: ``(n, d)`` second views (positives) of the same samples.
        lr: step size (units of time for the scaled C above).
        lr_hidden: step size for ``W1``; defaults to ``lr``.
        retraction: ``"qr"`` or ``"polar"``.
    """
    loss = ssl_loss(net, x, x_pos)
    g1, gA = torch.autograd.grad(loss, (net.W1, net.A))
    lr_hidden = lr if lr_hidden is None else lr_hidden
    with torch.no_grad():
        net.W1 -= lr_hidden * g1
        scale = math.sqrt(net.m)
        # dL/dW2 = sqrt(m) dL/dA; step lr/m on W2 is step lr on A
        W2 = riemannian_step(net.A / scale, gA * scale, lr / net.m, retraction)
        net.A.copy_(W2 * scale)
    return loss.item()
