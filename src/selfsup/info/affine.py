"""Piecewise-affine analysis of ReLU-type networks: local affine maps and region stability.

A network built from linear / convolution / eval-mode batch-norm layers and ReLU, leaky-ReLU and
max-pool nonlinearities is continuous piecewise affine: ``f(x) = A x + b`` on the region of
input space where every unit keeps its on/off state and every pooling window keeps its argmax.

Flattening convention: an input sample of shape ``in_shape`` (e.g. ``(C, H, W)``) is flattened
row-major, ``x.reshape(-1)`` (index ``c * H * W + h * W + w``), the same order as
``torch.flatten``; outputs are flattened the same way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import jacrev, vmap
from torch.overrides import TorchFunctionMode

from selfsup.errors import InputError


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode (batch-norm uses running stats) and restore its flag after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def local_affine(
    model: nn.Module, x: torch.Tensor, chunk_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Affine map ``model(x) = A x + b`` valid on the linear region containing each sample.

    ``A`` is the Jacobian at ``x`` (``torch.func.jacrev`` vmapped over the batch) and
    ``b = model(x) - A x``, with the model in eval mode. On a region boundary the Jacobian is one
    of the adjacent pieces (autograd's convention, e.g. ReLU'(0) = 0).

    Args:
        model: a network whose forward takes a batch ``(n, *in_shape)``; run in eval mode.
        x: ``(batch, *in_shape)`` inputs.
        chunk_size: samples per vmapped Jacobian (limits memory: ``chunk * out * in`` floats).

    Returns:
        ``A``: ``(batch, out, in)``, ``in = prod(in_shape)``, ``out = prod(out_shape)``;
        ``b``: ``(batch, out)``. Flattening is row-major (see the module docstring).
    """
    if x.ndim < 2:
        raise InputError(f"x must have shape (batch, *in_shape), got {tuple(x.shape)}")
    in_shape = x.shape[1:]

    def flat_model(v: torch.Tensor) -> torch.Tensor:
        return model(v.reshape(1, *in_shape)).reshape(-1)

    with eval_mode(model):
        flat_x = x.reshape(x.shape[0], -1)
        jac = vmap(jacrev(flat_model), chunk_size=chunk_size)(flat_x)
        with torch.no_grad():
            out = model(x).reshape(x.shape[0], -1)
    b = out - torch.einsum("boi,bi->bo", jac, flat_x)
    return jac, b


def conditional_covariance(
    model: nn.Module, x: torch.Tensor, input_cov: torch.Tensor
) -> torch.Tensor:
    """Output covariance ``A Sigma A^T`` of ``model`` under Gaussian input noise around ``x``.

    Exact while the noise keeps the input inside ``x``'s linear region (paper's data model:
    views ``~ N(x_n, Sigma_x)`` give outputs ``~ N(f(x_n), A_n Sigma_x A_n^T)``).

    Args:
        model: as in :func:`local_affine`.
        x: ``(batch, *in_shape)`` centres.
        input_cov: ``(in, in)`` shared or ``(batch, in, in)`` per-sample covariance of the
            flattened inputs.

    Returns:
        ``(batch, out, out)``.
    """
    A, _ = local_affine(model, x)
    n_in = A.shape[-1]
    if input_cov.shape[-2:] != (n_in, n_in) or input_cov.ndim not in (2, 3):
        raise InputError(
            f"input_cov must be ({n_in}, {n_in}) or (batch, {n_in}, {n_in}) for inputs of "
            f"shape {tuple(x.shape[1:])}, got {tuple(input_cov.shape)}"
        )
    return A @ input_cov.to(A.dtype) @ A.transpose(-1, -2)


_RELU_LIKE = {"relu", "relu_", "leaky_relu", "leaky_relu_", "relu6", "hardtanh", "hardtanh_"}
_POOLS = {
    "max_pool1d": F.max_pool1d,
    "max_pool2d": F.max_pool2d,
    "max_pool3d": F.max_pool3d,
}


class ActivationPatternRecorder(TorchFunctionMode):
    """Records the activation pattern of every piecewise-linear op in a forward pass.

    Works at the ``torch.nn.functional`` level through a ``TorchFunctionMode``, so it sees
    ``nn.ReLU`` / ``nn.LeakyReLU`` / ``nn.MaxPool*d`` modules and ``F.relu`` / ``torch.relu`` /
    ``Tensor.relu`` calls alike. The pattern of a ReLU-like op is its input's sign (``> 0``;
    for relu6 / hardtanh also whether it hit the upper kink), of a max-pool its argmax indices.
    Ops it does not know (e.g. ``torch.clamp``, ``torch.maximum``) are not recorded.
    """

    def __init__(self) -> None:
        super().__init__()
        self.patterns: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in _RELU_LIKE and args:
            inp = args[0].detach()
            if name.startswith("hardtanh"):
                lo = args[1] if len(args) > 1 else kwargs.get("min_val", -1.0)
                hi = args[2] if len(args) > 2 else kwargs.get("max_val", 1.0)
                pattern = torch.stack([inp > lo, inp < hi], dim=-1)
            elif name == "relu6":
                pattern = torch.stack([inp > 0, inp < 6.0], dim=-1)
            else:
                pattern = inp > 0
            self.patterns.append(pattern)
        elif name in _POOLS and args:
            pool_kwargs = {k: v for k, v in kwargs.items() if k != "return_indices"}
            _, idx = _POOLS[name](args[0].detach(), *args[1:], return_indices=True, **pool_kwargs)
            self.patterns.append(idx)
        return func(*args, **kwargs)


def activation_patterns(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Activation patterns of ``model`` on ``x`` (eval mode, no grad); entries ``(batch, ...)``."""
    with eval_mode(model), torch.no_grad(), ActivationPatternRecorder() as rec:
        model(x)
    return rec.patterns


def region_stability(
    model: nn.Module, x: torch.Tensor, views: torch.Tensor, chunk_size: int = 1024
) -> torch.Tensor:
    """Fraction of each sample's views that stay in the sample's linear region.

    Two inputs share a region iff every recorded ReLU-like unit has the same on/off state and
    every max-pool window the same argmax (see :class:`ActivationPatternRecorder`: works for
    ``nn.ReLU``-module and ``F.relu``-style networks). Same pattern implies the same local
    affine map, so ``model(view) = A x_view + b`` with ``x``'s ``(A, b)``.

    Args:
        model: network taking ``(n, *in_shape)``; evaluated in eval mode.
        x: ``(batch, *in_shape)`` reference inputs.
        views: ``(batch, n_views, *in_shape)``, ``views[i, v]`` a view of ``x[i]``.
        chunk_size: views per forward pass.

    Returns:
        ``(batch,)`` float in ``[0, 1]``.

    Raises:
        ValueError: on mismatched shapes, or when the model has no recognised piecewise-linear
            op (then every view would trivially count as stable).
    """
    if views.ndim != x.ndim + 1 or views.shape[0] != x.shape[0] or views.shape[2:] != x.shape[1:]:
        raise InputError(
            f"views must have shape (batch, n_views, *in_shape) = ({x.shape[0]}, n_views, "
            f"{', '.join(map(str, x.shape[1:]))}), got {tuple(views.shape)}"
        )
    ref = activation_patterns(model, x)
    if not ref:
        raise InputError(
            "no ReLU / leaky-ReLU / max-pool op was seen in the forward pass, so the linear "
            "region is undefined for this model"
        )
    batch, n_views = views.shape[:2]
    flat_views = views.reshape(batch * n_views, *views.shape[2:])
    owner = torch.arange(batch, device=x.device).repeat_interleave(n_views)
    same = torch.empty(batch * n_views, dtype=torch.bool, device=x.device)
    for start in range(0, batch * n_views, chunk_size):
        stop = min(start + chunk_size, batch * n_views)
        pats = activation_patterns(model, flat_views[start:stop])
        if len(pats) != len(ref):
            raise RuntimeError("the model ran a different number of nonlinear ops on the views")
        ok = torch.ones(stop - start, dtype=torch.bool, device=x.device)
        for p, r in zip(pats, ref, strict=True):
            p_b = p.reshape(stop - start, -1)
            r_b = r.reshape(batch, -1)[owner[start:stop]]
            ok &= (p_b == r_b).all(1)
        same[start:stop] = ok
    return same.reshape(batch, n_views).float().mean(1)
