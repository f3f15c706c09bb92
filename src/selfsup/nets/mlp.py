"""Fully connected backbones and the projector head."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from selfsup.errors import InputError
from selfsup.registry import register_backbone


def mlp(
    dims: Sequence[int], batch_norm: bool = True, last_activation: bool = False
) -> nn.Sequential:
    """Linear layers through ``dims`` with BatchNorm + ReLU between them.

    ``mlp([784, 512, 128])`` is Linear(784, 512) - BN - ReLU - Linear(512, 128). The last layer
    is a plain linear map unless ``last_activation``.
    """
    if len(dims) < 2:
        raise InputError(f"an MLP needs at least input and output sizes, got dims={list(dims)}")
    layers: list[nn.Module] = []
    for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
        last = i == len(dims) - 2
        layers.append(nn.Linear(d_in, d_out, bias=not (batch_norm and not last)))
        if not last or last_activation:
            if batch_norm:
                layers.append(nn.BatchNorm1d(d_out))
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


@register_backbone("mlp")
class MLPBackbone(nn.Module):
    """Flattens images and applies an MLP whose output (after a ReLU) is the representation.

    Args:
        in_shape: ``(C, H, W)`` of the input images.
        hidden: hidden widths; the last one is the representation size ``out_dim``.
        batch_norm: BatchNorm between layers.
    """

    def __init__(
        self, in_shape: Sequence[int], hidden: Sequence[int] = (512, 512), batch_norm: bool = True
    ) -> None:
        super().__init__()
        in_dim = 1
        for s in in_shape:
            in_dim *= s
        self.net = nn.Sequential(
            nn.Flatten(), mlp([in_dim, *hidden], batch_norm, last_activation=True)
        )
        self.out_dim = hidden[-1]

    def forward(self, x):
        return self.net(x)


def projector(in_dim: int, dims: Sequence[int] = (2048, 2048, 2048)) -> nn.Sequential:
    """The SSL projector head: ``in_dim -> dims[0] -> ... -> dims[-1]``, BN + ReLU between."""
    return mlp([in_dim, *dims], batch_norm=True)
