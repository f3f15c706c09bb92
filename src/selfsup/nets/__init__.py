"""Backbones (representation networks) and heads, built by name from a config."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence

from torch import nn

from selfsup import registry
from selfsup.errors import SelfsupError
from selfsup.nets.convnet import ConvNet
from selfsup.nets.external import TimmBackbone, TorchvisionBackbone
from selfsup.nets.mlp import MLPBackbone, mlp, projector
from selfsup.nets.resnet import ResNet
from selfsup.nets.vae import ConvDecoder, ConvVAEEncoder, MLPDecoder, MLPVAEEncoder
from selfsup.registry import Registered

#: every registered backbone by name (``@register_backbone``), plug-ins' included
BACKBONES: Mapping[str, type[nn.Module]] = Registered("backbone")


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
    cls = registry.get("backbone", name)
    check_params("backbone", name, cls, params)
    return cls(in_shape, **params)


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
