"""Backbones (representation networks) and heads, built by name from a config."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

from torch import nn

from selfsup.errors import SelfsupError
from selfsup.nets.convnet import ConvNet
from selfsup.nets.external import TimmBackbone, TorchvisionBackbone
from selfsup.nets.mlp import MLPBackbone, mlp, projector
from selfsup.nets.resnet import ResNet
from selfsup.nets.vae import ConvDecoder, ConvVAEEncoder, MLPDecoder, MLPVAEEncoder

BACKBONES: dict[str, type[nn.Module]] = {
    "mlp": MLPBackbone,
    "convnet": ConvNet,
    "resnet": ResNet,
    "mlp_vae": MLPVAEEncoder,
    "conv_vae": ConvVAEEncoder,
    "timm": TimmBackbone,
    "torchvision": TorchvisionBackbone,
}


def check_params(kind: str, name: str, fn, params: dict) -> None:
    """Raise a ``SelfsupError`` naming any key of ``params`` that ``fn`` does not accept
    (nothing to check when ``fn`` takes ``**kwargs``: it passes them on and reports itself)."""
    signature = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.values()):
        return
    accepted = [p for p in signature if p not in ("self", "in_shape")]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise SelfsupError(
            f"unknown {kind} parameter(s) {', '.join(unknown)} for '{name}'; "
            f"valid: {', '.join(accepted)}"
        )


def build_backbone(name: str, in_shape: Sequence[int], **params) -> nn.Module:
    """A backbone by name; it has an ``out_dim`` attribute (the representation size)."""
    if name not in BACKBONES:
        raise SelfsupError(f"unknown backbone '{name}'; valid: {', '.join(sorted(BACKBONES))}")
    check_params("backbone", name, BACKBONES[name], params)
    return BACKBONES[name](in_shape, **params)


__all__ = [
    "BACKBONES",
    "ConvDecoder",
    "ConvNet",
    "ConvVAEEncoder",
    "MLPDecoder",
    "MLPBackbone",
    "MLPVAEEncoder",
    "ResNet",
    "TimmBackbone",
    "TorchvisionBackbone",
    "build_backbone",
    "check_params",
    "mlp",
    "projector",
]
