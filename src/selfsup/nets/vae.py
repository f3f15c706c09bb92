"""VAE encoders (images -> diagonal Gaussian posterior) and their mirror decoders.

An encoder's ``forward`` returns the posterior mean ``mu`` (the representation evaluation
uses, ``out_dim = latent_dim``); ``posterior`` returns ``(mu, logvar)``; ``make_decoder``
builds the mirrored decoder, whose output is *before* the final sigmoid (logits), so the
Bernoulli likelihood can be computed stably; ``torch.sigmoid`` of it is the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn

from selfsup.errors import InputError
from selfsup.registry import register_backbone


def _dense(dims: Sequence[int]) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
        layers += [nn.Linear(d_in, d_out), nn.ReLU(inplace=True)]
    return layers


@register_backbone("mlp_vae")
class MLPVAEEncoder(nn.Module):
    """The official SimVAE MLP encoder for small images: ``D-2000-500-500-2L`` with ReLU.

    Args:
        in_shape: ``(C, H, W)``; the image is flattened.
        latent_dim: L (10 for MNIST-like data).
        hidden: hidden widths (the official ``(2000, 500, 500)``).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        latent_dim: int = 10,
        hidden: Sequence[int] = (2000, 500, 500),
    ) -> None:
        super().__init__()
        self.in_shape = tuple(in_shape)
        self.hidden = tuple(hidden)
        self.latent_dim = self.out_dim = latent_dim
        dims = [prod(in_shape), *hidden]
        self.trunk = nn.Sequential(nn.Flatten(), *_dense(dims))
        self.head = nn.Linear(dims[-1], 2 * latent_dim)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W)`` -> ``mu, logvar``, each ``(B, L)``."""
        return self.head(self.trunk(x)).chunk(2, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def make_decoder(self) -> MLPDecoder:
        return MLPDecoder(self.in_shape, self.latent_dim, tuple(reversed(self.hidden)))


class MLPDecoder(nn.Module):
    """Mirror of ``MLPVAEEncoder``: ``L-500-500-2000-D`` (ReLU), reshaped to the image."""

    def __init__(
        self, out_shape: Sequence[int], latent_dim: int, hidden: Sequence[int] = (500, 500, 2000)
    ) -> None:
        super().__init__()
        self.out_shape = tuple(out_shape)
        dims = [latent_dim, *hidden]
        self.net = nn.Sequential(*_dense(dims), nn.Linear(dims[-1], prod(out_shape)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` -> logits ``(B, C, H, W)``."""
        return self.net(z).view(-1, *self.out_shape)


class _Residual(nn.Module):
    """``x + conv3x3(relu(conv3x3(relu(x))))`` at constant width (BatchNorm-free: the VAE
    evaluates single images and its posterior variance should not depend on the batch)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


@register_backbone("conv_vae")
class ConvVAEEncoder(nn.Module):
    """ResNet-style conv encoder for 32-64 px colour images.

    Each stage halves the resolution with a 4x4 stride-2 conv and (``residual=True``) adds a
    residual block; widths ``(32, 64, 128, 256)`` as in the official code's encoder. The
    feature map is flattened into a linear layer giving ``2L`` outputs.

    Args:
        in_shape: ``(C, H, W)``, H = W divisible by ``2 ** len(widths)``.
        latent_dim: L (64 for colour data).
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        latent_dim: int = 64,
        widths: Sequence[int] = (32, 64, 128, 256),
        residual: bool = True,
    ) -> None:
        super().__init__()
        c, h, w = in_shape
        factor = 2 ** len(widths)
        if h != w or h % factor:
            raise InputError(
                f"ConvVAEEncoder needs square images with size divisible by {factor} "
                f"(one halving per width in {list(widths)}), got {tuple(in_shape)}"
            )
        self.in_shape, self.widths, self.residual = tuple(in_shape), tuple(widths), residual
        self.latent_dim = self.out_dim = latent_dim
        layers: list[nn.Module] = []
        for width in widths:
            layers.append(nn.Conv2d(c, width, 4, stride=2, padding=1))
            if residual:
                layers.append(_Residual(width))
            layers.append(nn.ReLU())
            c = width
        self.trunk = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c * (h // factor) ** 2, 2 * latent_dim)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W)`` -> ``mu, logvar``, each ``(B, L)``."""
        return self.head(self.trunk(x)).chunk(2, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.posterior(x)[0]

    def make_decoder(self) -> ConvDecoder:
        return ConvDecoder(self.in_shape, self.latent_dim, self.widths, self.residual)


class ConvDecoder(nn.Module):
    """Mirror of ``ConvVAEEncoder``: linear to the smallest map, then stride-2 transposed
    convs (with residual blocks) back to the image; logits out."""

    def __init__(
        self,
        out_shape: Sequence[int],
        latent_dim: int,
        widths: Sequence[int] = (32, 64, 128, 256),
        residual: bool = True,
    ) -> None:
        super().__init__()
        c, h, _ = out_shape
        self.start = (widths[-1], h // 2 ** len(widths), h // 2 ** len(widths))
        self.fc = nn.Linear(latent_dim, prod(self.start))
        layers: list[nn.Module] = []
        rev = list(reversed(widths))
        for width, nxt in zip(rev, [*rev[1:], None], strict=True):
            if residual:
                layers.append(_Residual(width))
            layers.append(nn.ReLU())
            layers.append(nn.ConvTranspose2d(width, nxt or c, 4, stride=2, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` -> logits ``(B, C, H, W)``."""
        return self.net(self.fc(z).view(-1, *self.start))
