"""ResNets from torchvision, with the usual stem change for small images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torchvision
from torch import nn

from selfsup.errors import InputError
from selfsup.registry import register_backbone


@register_backbone("resnet")
class ResNet(nn.Module):
    """torchvision ResNet without its classifier; ``out_dim`` is the pooled feature size.

    Args:
        in_shape: ``(C, H, W)``.
        depth: 18, 34 or 50.
        small_images: CIFAR variant (3x3 stride-1 stem, no max-pool); by default used when
            ``H <= 64``.
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        depth: Literal[18, 34, 50] = 18,
        small_images: bool | None = None,
    ) -> None:
        super().__init__()
        builders = {
            18: torchvision.models.resnet18,
            34: torchvision.models.resnet34,
            50: torchvision.models.resnet50,
        }
        if depth not in builders:
            raise InputError(f"ResNet depth must be one of {sorted(builders)}, got {depth}")
        net = builders[depth](weights=None)
        if small_images is None:
            small_images = in_shape[1] <= 64
        if small_images:
            net.conv1 = nn.Conv2d(in_shape[0], 64, 3, stride=1, padding=1, bias=False)
            net.maxpool = nn.Identity()
        elif in_shape[0] != 3:
            net.conv1 = nn.Conv2d(in_shape[0], 64, 7, stride=2, padding=3, bias=False)
        self.out_dim = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x):
        return self.net(x)
