"""Empirical neural tangent kernels: generic (autograd) and closed form for ``TwoLayerNet``."""

from __future__ import annotations

import torch
from torch import nn
from torch.func import functional_call, jacrev

from selfsup.dynamics.two_layer import ACTIVATIONS, TwoLayerNet


def empirical_ntk(model: nn.Module, x: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """``K[i, a, j, b] = sum_p  d f_a(x_i)/d theta_p * d f_b(x_j)/d theta_p`` over all parameters.

    Generic: works for any module mapping ``(n, ...)`` to ``(n, h)``; memory is
    ``chunk * h * n_params`` per chunk of samples. For ``TwoLayerNet`` prefer ``two_layer_ntk``.

    Args:
        model: the network (its parameters are the NTK's parameters, in its parametrisation).
        x: ``(n, ...)`` inputs.
        chunk: samples per Jacobian evaluation.

    Returns:
        ``(n, h, n, h)``.
    """
    params = {k: v.detach() for k, v in model.named_parameters()}

    def f(p: dict[str, torch.Tensor], xs: torch.Tensor) -> torch.Tensor:
        return functional_call(model, p, (xs,))

    jacobians = []
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk]
        jac = jacrev(f)(params, xs)  # name -> (c, h, *shape)
        jacobians.append(torch.cat([j.flatten(2) for j in jac.values()], dim=2))
    J = torch.cat(jacobians)  # (n, h, P)
    return torch.einsum("iap,jbp->iajb", J, J)


def two_layer_ntk(net: TwoLayerNet, x: torch.Tensor) -> torch.Tensor:
    """Closed-form NTK of ``TwoLayerNet`` w.r.t. ``(W1, A)``, shape ``(n, h, n, h)``.

    ``K = delta_ab phi(x).phi(x') / m  +  (x.x' / d) sum_j sigma'_j(x) sigma'_j(x') A_ja A_jb / m``;
    cost ``O(n^2 m h^2)`` instead of materialising the ``(n h, d m + m h)`` Jacobian.
    """
    with torch.no_grad():
        z = net.preactivations(x)
        sigma, dsigma = ACTIVATIONS[net.activation]
        phi, dphi = sigma(z), dsigma(z)
        n, h, m = x.shape[0], net.h, net.m
        outer = phi @ phi.T / m  # (n, n)
        eye = torch.eye(h, dtype=x.dtype, device=x.device)
        K = outer[:, None, :, None] * eye[None, :, None, :]
        E = (dphi[:, :, None] * net.A[None]).reshape(n, m, h)  # sigma'_j(x) A_ja
        hidden = torch.einsum("xja,yjb->xayb", E, E) / m
        return K + hidden * (x @ x.T / net.d)[:, None, :, None]


def ntk_relative_change(K0: torch.Tensor, K1: torch.Tensor) -> float:
    """``||K1 - K0||_F / ||K0||_F``: how far the kernel moved during training."""
    return (torch.linalg.vector_norm(K1 - K0) / torch.linalg.vector_norm(K0)).item()
