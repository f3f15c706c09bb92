"""Backbones by name from the libraries users already have: timm (any model, ViTs included) and
torchvision. The classifier is removed, the representation size ``out_dim`` is found by one
forward pass of a dummy batch, and ResNets get the usual stem for small images.

Weights are random by default (``pretrained: false``): these machines have no internet. timm
can read local weights with ``pretrained: true`` and
``pretrained_cfg_overlay: {file: /path/to/weights.safetensors}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from selfsup.errors import SelfsupError
from selfsup.registry import register_backbone


def small_image_stem(net: nn.Module, in_channels: int) -> None:
    """The CIFAR variant of a ResNet stem, in place: a 3x3 stride-1 first convolution and no
    max-pool, so 32 px images keep their resolution into the first stage."""
    conv = getattr(net, "conv1", None)
    if not isinstance(conv, nn.Conv2d) or not hasattr(net, "maxpool"):
        raise SelfsupError(
            f"small_images needs a ResNet-style stem (conv1 + maxpool); "
            f"{type(net).__name__} has none: set backbone.params.small_images=false"
        )
    net.conv1 = nn.Conv2d(in_channels, conv.out_channels, 3, stride=1, padding=1, bias=False)
    net.maxpool = nn.Identity()


def _replace_first_conv(net: nn.Module, in_channels: int) -> None:
    """Rebuild the first Conv2d for ``in_channels`` inputs (e.g. grey images)."""
    for name, module in net.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels == in_channels:
                return
            new = nn.Conv2d(
                in_channels,
                module.out_channels,
                module.kernel_size,
                module.stride,
                module.padding,
                module.dilation,
                bias=module.bias is not None,
            )
            parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
            setattr(parent, name.rpartition(".")[2], new)
            return


def _drop_classifier(net: nn.Module) -> None:
    """Replace the last ``nn.Linear`` (torchvision's classifier layer) by the identity."""
    last = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not last:
        return
    name = last[-1]
    parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
    setattr(parent, name.rpartition(".")[2], nn.Identity())


@torch.no_grad()
def probe_out_dim(net: nn.Module, in_shape: Sequence[int]) -> int:
    """Size of the flattened output for one ``(C, H, W)`` input (eval mode, two dummy images)."""
    was_training = net.training
    net.eval()
    try:
        out = net(torch.zeros(2, *in_shape))
    except Exception as err:  # a shape the model cannot take: say which and why
        raise SelfsupError(
            f"the backbone cannot take images of shape {tuple(in_shape)}: {err}".splitlines()[0]
        ) from None
    finally:
        net.train(was_training)
    return out.flatten(1).shape[1]


def _small(small_images: bool | None, in_shape: Sequence[int], net: nn.Module) -> bool:
    if small_images is None:  # by default only where the ResNet stem change applies
        return in_shape[1] <= 64 and isinstance(getattr(net, "conv1", None), nn.Conv2d)
    return small_images


class _Wrapped(nn.Module):
    def __init__(self, net: nn.Module, in_shape: Sequence[int]) -> None:
        super().__init__()
        self.net = net
        self.out_dim = probe_out_dim(net, in_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


@register_backbone("timm")
class TimmBackbone(_Wrapped):
    """Any ``timm`` model without its classifier (``num_classes=0``: pooled features).

    Args:
        in_shape: ``(C, H, W)``.
        model: a timm model name (``resnet18``, ``vit_tiny_patch16_224``, ``convnext_atto``...).
        pretrained: load timm's weights (needs internet or a local file, see the module).
        small_images: CIFAR stem for ResNets; by default used when ``H <= 64`` and the model
            has a ResNet stem.
        **model_args: passed to ``timm.create_model`` (e.g. ``patch_size: 4``,
            ``drop_path_rate: 0.1``). ViTs get ``img_size=H`` unless given.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        model: str = "resnet18",
        pretrained: bool = False,
        small_images: bool | None = None,
        **model_args,
    ) -> None:
        try:
            import timm
        except ImportError:
            raise SelfsupError(
                "backbone 'timm' needs the timm package: pip install 'selfsup[timm]'"
            ) from None
        if not timm.is_model(model):
            close = timm.list_models(f"*{model.split('_')[0]}*")[:8]
            raise SelfsupError(
                f"unknown timm model '{model}'"
                + (f"; similar: {', '.join(close)}" if close else "")
            )
        args = dict(pretrained=pretrained, num_classes=0, in_chans=in_shape[0], **model_args)
        try:
            try:
                net = timm.create_model(model, **{"img_size": in_shape[1], **args})
            except TypeError:  # the model has no img_size (CNNs): build it without
                net = timm.create_model(model, **args)
        except (TypeError, ValueError, RuntimeError, OSError) as err:
            raise SelfsupError(f"timm could not build '{model}': {err}".splitlines()[0]) from None
        if _small(small_images, in_shape, net):
            small_image_stem(net, in_shape[0])
        super().__init__(net, in_shape)


@register_backbone("torchvision")
class TorchvisionBackbone(_Wrapped):
    """A ``torchvision.models`` model by name, its last linear (classifier) layer removed.

    Args:
        in_shape: ``(C, H, W)``.
        model: a torchvision model name (``resnet18``, ``resnet50``, ``convnext_tiny``,
            ``vit_b_16``, ``efficientnet_b0``...).
        small_images: CIFAR stem for ResNets (default: ``H <= 64`` and a ResNet stem).
        **model_args: passed to ``torchvision.models.get_model`` (weights are always ``None``).
            ViTs get ``image_size=H`` unless given.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        model: str = "resnet18",
        small_images: bool | None = None,
        **model_args,
    ) -> None:
        import torchvision

        names = torchvision.models.list_models(module=torchvision.models)  # classifiers only
        if model not in names:
            close = [n for n in names if n.startswith(model[:3])][:8] or names[:8]
            raise SelfsupError(f"unknown torchvision model '{model}'; e.g. {', '.join(close)}")
        try:
            try:
                net = torchvision.models.get_model(
                    model, weights=None, **{"image_size": in_shape[1], **model_args}
                )
            except TypeError:
                net = torchvision.models.get_model(model, weights=None, **model_args)
        except (TypeError, ValueError, KeyError) as err:
            raise SelfsupError(f"torchvision could not build '{model}': {err!r}") from None
        _drop_classifier(net)
        if _small(small_images, in_shape, net):
            small_image_stem(net, in_shape[0])
        else:
            _replace_first_conv(net, in_shape[0])
        super().__init__(net, in_shape)
