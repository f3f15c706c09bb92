"""A backbone plug-in: a small ConvNet whose width and depth a config sets
(``backbone.name=tiny_cnn backbone.params.width=32``)."""

from collections.abc import Sequence
from typing import Literal

from torch import nn

import selfsup


@selfsup.register_backbone("tiny_cnn")
class TinyCNN(nn.Module):
    """``depth`` blocks of conv3x3-BatchNorm-ReLU, then global average pooling."""

    def __init__(self, in_shape: Sequence[int], width: int = 16, depth: Literal[1, 2, 3] = 2):
        super().__init__()
        layers, channels = [], in_shape[0]
        for _ in range(depth):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_dim = width  # every backbone says how wide its representation is

    def forward(self, images):
        return self.net(images)
