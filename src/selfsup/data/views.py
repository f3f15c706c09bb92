"""Random views of a whole batch at once, on the batch's device (kornia.augmentation).

Every random parameter (crop box, jitter strength, flip, ...) is drawn per sample, as a
per-image pipeline would, but in one batched call. Inputs are float images in [0, 1],
``(batch, C, H, W)``; outputs have the same shape. Normalisation happens afterwards.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import kornia.augmentation as K
import torch
from torch import nn

from selfsup.data.geometric import RandomResizedCropAffine
from selfsup.errors import SelfsupError


def _vicreg_view(size: int, blur_p: float, solarize_p: float) -> nn.Module:
    # the VICReg / BYOL image recipe; blur and solarisation are asymmetric across the two views
    return nn.Sequential(
        RandomResizedCropAffine(size, scale=(0.08, 1.0), flip_p=0.5),
        K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur(_odd(size // 10), (0.1, 2.0), p=blur_p),
        K.RandomSolarize(thresholds=0.0, additions=0.0, p=solarize_p),
    )


def _simclr_view(size: int) -> nn.Module:
    return nn.Sequential(
        RandomResizedCropAffine(size, scale=(0.08, 1.0), flip_p=0.5),
        K.ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8),
        K.RandomGrayscale(p=0.2),
        K.RandomGaussianBlur(_odd(size // 10), (0.1, 2.0), p=0.5),
    )


def _cifar_view(size: int) -> nn.Module:
    # solo-learn's CIFAR recipe: no blur at 32 px, mild solarisation
    return nn.Sequential(
        RandomResizedCropAffine(size, scale=(0.08, 1.0), flip_p=0.5),
        K.ColorJitter(0.4, 0.4, 0.2, 0.1, p=0.8),
        K.RandomGrayscale(p=0.2),
    )


def _mnist_view(size: int) -> nn.Module:
    # digits must stay digits: no flips, crops that keep most of the stroke
    return nn.Sequential(
        RandomResizedCropAffine(size, scale=(0.3, 1.0), ratio=(0.75, 1.33), degrees=10.0),
    )


def _digits_view(size: int) -> nn.Module:
    # 8x8 digits: a crop of more than a pixel or two destroys them; jitter and noise instead
    return nn.Sequential(
        RandomResizedCropAffine(size, scale=(0.6, 1.0), ratio=(0.8, 1.25), degrees=10.0),
        K.RandomGaussianNoise(std=0.1, p=0.5),
    )


def _simvae_view(size: int, scale_min: float, colour: bool) -> nn.Module:
    crop = RandomResizedCropAffine(
        size, scale=(scale_min, 1.0), ratio=(0.75, 1.3), flip_p=0.5 if colour else 0.0
    )
    layers: list[nn.Module] = [crop]
    if colour:
        layers.append(K.ColorJitter(0.8, 0.8, 0.8, 0.2, p=0.8))
    return nn.Sequential(*layers)


def _shapes_view(size: int) -> nn.Module:
    # vary the style factors of the shapes set: position and scale (crop), rotation, colour;
    # one grid_sample + linear colour maps, ~100x faster than kornia's pipeline on a CPU
    from selfsup.data.affine_views import AffineStyleView

    return AffineStyleView(
        size, (0.6, 1.0), degrees=20.0, rotate_p=0.8, jitter=(0.4, 0.4, 0.4, 0.25)
    )


def _simvae_grey_fast(size: int) -> nn.Module:
    # simvae_grey's crop (area 0.4-1, ratio 0.75-1.3) as one affine_grid + grid_sample
    from selfsup.data.affine_views import AffineStyleView

    return AffineStyleView(size, (0.4, 1.0), (0.75, 1.3))


def _odd(n: int) -> int:
    n = max(n, 3)
    return n if n % 2 else n + 1


#: preset name -> (image size -> [view a, view b])
PRESETS: dict[str, Callable[[int], list[nn.Module]]] = {
    "vicreg": lambda s: [_vicreg_view(s, 1.0, 0.0), _vicreg_view(s, 0.1, 0.2)],
    "simclr": lambda s: [_simclr_view(s), _simclr_view(s)],
    "cifar": lambda s: [_cifar_view(s), _cifar_view(s)],
    "mnist": lambda s: [_mnist_view(s), _mnist_view(s)],
    "digits": lambda s: [_digits_view(s), _digits_view(s)],
    "simvae_grey": lambda s: [_simvae_view(s, 0.4, False), _simvae_view(s, 0.4, False)],
    "simvae_colour": lambda s: [_simvae_view(s, 0.6, True), _simvae_view(s, 0.6, True)],
    "shapes": lambda s: [_shapes_view(s), _shapes_view(s)],
    "simvae_grey_fast": lambda s: [_simvae_grey_fast(s), _simvae_grey_fast(s)],
    "none": lambda s: [nn.Identity(), nn.Identity()],
}


class MultiView(nn.Module):
    """Makes ``len(views)`` random views of a float batch, each with its own pipeline."""

    def __init__(self, views: list[nn.Module]) -> None:
        super().__init__()
        self.views = nn.ModuleList(views)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``images``: ``(batch, C, H, W)`` floats in [0, 1] -> list of views, same shape."""
        return [view(images).clamp_(0.0, 1.0) for view in self.views]


def make_views(preset: str, image_size: int, n_views: int = 2) -> MultiView:
    """The named augmentation recipe for square images of ``image_size`` pixels."""
    if preset not in PRESETS:
        raise SelfsupError(f"unknown view preset '{preset}'; valid: {', '.join(sorted(PRESETS))}")
    views = PRESETS[preset](image_size)
    while len(views) < n_views:  # extra views (J > 2) reuse the recipe of the second
        views.append(PRESETS[preset](image_size)[1])
    return MultiView(views[:n_views])


def with_local_crops(
    views: MultiView, n: int, size: int | None = None, scale: tuple[float, float] = (0.05, 0.4)
) -> MultiView:
    """Multi-crop (DINO): the given (global) views plus ``n`` local ones. A local view is a view
    of the last recipe, then a random crop of ``scale`` of its area resampled to ``size``
    pixels (``None``: the input size, for backbones that need one image size)."""
    local = [
        nn.Sequential(copy.deepcopy(views.views[-1]), RandomResizedCropAffine(size, scale=scale))
        for _ in range(n)
    ]
    return MultiView([*views.views, *local])


class Normalise(nn.Module):
    """uint8 or [0, 1] images -> standardised floats with per-channel mean and std."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std


#: per-dataset channel statistics of [0, 1] images (computed on the training split)
STATS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "digits": ((0.3,), (0.4,)),
    "mnist": ((0.1307,), (0.3081,)),
    "fashion_mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
    "stl10": ((0.4467, 0.4398, 0.4066), (0.2603, 0.2566, 0.2713)),
    "celeba": ((0.5063, 0.4258, 0.3832), (0.3107, 0.2904, 0.2897)),
    "shapes": ((0.33, 0.31, 0.32), (0.25, 0.25, 0.26)),
}


def normaliser(dataset: str, channels: int) -> Normalise:
    """Channel normalisation for a dataset by name; ImageNet-free 0.5 / 0.25 when unknown."""
    mean, std = STATS.get(dataset, ((0.5,) * channels, (0.25,) * channels))
    return Normalise(mean, std)


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, C, H, W)`` -> float32 in [0, 1] (floats are passed through)."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images
