"""A small ConvNet for 28x28 (and other small) images."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from selfsup.registry import register_backbone


@register_backbone("convnet")
class ConvNet(nn.Module):
    """Blocks of conv3x3-BN-ReLU-maxpool2, then global average pooling.

    Each block runs max-pool before ReLU: the two commute exactly (ReLU is monotone, and
    both take their gradient at the same element), and ReLU and its backward then touch a
    quarter of the values.

    With ``channels=(32, 64, 128)`` and 28x28 inputs: 28 -> 14 -> 7 -> 3, representation 128-d.
    """

    def __init__(self, in_shape: Sequence[int], channels: Sequence[int] = (32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = in_shape[0]
        for c_out in channels:
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.MaxPool2d(2),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_dim = c_in

    def forward(self, x):
        return self.net(x)
