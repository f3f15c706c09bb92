"""View recipes by name: each preset is a short declaration of its ``ViewSpec`` recipes.

A view is drawn for a whole batch at once on the batch's device, with every random parameter
drawn per sample (``selfsup.data.pipeline.View``). Inputs are float images in [0, 1],
``(batch, C, H, W)``; normalisation happens afterwards (``Normalise``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import torch
from torch import nn

from selfsup import registry
from selfsup.data.pipeline import View, ViewSpec, unit_float_images
from selfsup.data.workers import run_tasks
from selfsup.errors import SelfsupError
from selfsup.registry import Registered, register_views

# --- the recipes -------------------------------------------------------------------------
# the BYOL / VICReg ImageNet recipe; blur and solarisation are asymmetric across the views
_BYOL = ViewSpec(jitter=(0.4, 0.4, 0.2, 0.1), grey_p=0.2, blur_p=1.0)
_SIMCLR = ViewSpec(jitter=(0.8, 0.8, 0.8, 0.2), grey_p=0.2, blur_p=0.5)
# DINO: global crops (area 0.4-1) as BYOL's; local crops (area 0.05-0.4) at 96/224 the size
_DINO = replace(_BYOL, scale=(0.4, 1.0))
_DINO_LOCAL = replace(_DINO, scale=(0.05, 0.4), blur_p=0.5, relative_size=96 / 224)
# solo-learn's CIFAR recipe for VICReg / BYOL: crop area 0.2-1, no blur at 32 px
_CIFAR = ViewSpec(scale=(0.2, 1.0), jitter=(0.4, 0.4, 0.2, 0.1), grey_p=0.2, solarise_p=0.1)
# digits must stay digits: no flips, crops that keep most of the stroke
_MNIST = ViewSpec(scale=(0.3, 1.0), ratio=(0.75, 1.33), flip_p=0.0, degrees=10.0)
# 8x8 digits: a crop of more than a pixel or two destroys them; pixel noise instead
_DIGITS = ViewSpec(
    scale=(0.6, 1.0), ratio=(0.8, 1.25), flip_p=0.0, degrees=10.0, noise_std=0.1, noise_p=0.5
)
# the SimVAE paper's crops (area 0.4-1 grey, 0.6-1 colour, aspect 0.75-1.3)
_SIMVAE_GREY = ViewSpec(scale=(0.4, 1.0), ratio=(0.75, 1.3), flip_p=0.0)
_SIMVAE_COLOUR = ViewSpec(scale=(0.6, 1.0), ratio=(0.75, 1.3), jitter=(0.8, 0.8, 0.8, 0.2))
# the style factors of the shapes set: position and scale (crop), rotation, colour
_SHAPES = ViewSpec(
    scale=(0.6, 1.0),
    ratio=(0.75, 1.3),
    flip_p=0.0,
    degrees=20.0,
    rotate_p=0.8,
    padding="border",  # a rotated crop near the edge repeats the uniform background
    jitter=(0.4, 0.4, 0.4, 0.25),
)
# nuisance_digits: its nuisances are position, size and colours, so the views vary exactly
# those: crops that keep most of the digit, strong colour jitter with a full hue turn, grey
_NUISANCE_DIGITS = ViewSpec(
    scale=(0.5, 1.0), ratio=(0.75, 1.33), flip_p=0.0, jitter=(0.4, 0.4, 0.4, 0.5), grey_p=0.2
)
_NONE = ViewSpec(crop=False, flip_p=0.0)

# --- the presets: (first view, second view, recipe of any further view) ------------------
VICREG = register_views("vicreg", aliases=("byol",))(
    (_BYOL, replace(_BYOL, blur_p=0.1, solarise_p=0.2), _BYOL)
)
SIMCLR = register_views("simclr")((_SIMCLR, _SIMCLR, _SIMCLR))
DINO = register_views("dino")((_DINO, replace(_DINO, blur_p=0.1, solarise_p=0.2), _DINO_LOCAL))
CIFAR = register_views("cifar")((_CIFAR, _CIFAR, _CIFAR))
MNIST = register_views("mnist")((_MNIST, _MNIST, _MNIST))
DIGITS = register_views("digits")((_DIGITS, _DIGITS, _DIGITS))
SIMVAE_GREY = register_views("simvae_grey", aliases=("simvae_grey_fast",))(
    (_SIMVAE_GREY, _SIMVAE_GREY, _SIMVAE_GREY)
)
SIMVAE_COLOUR = register_views("simvae_colour")((_SIMVAE_COLOUR, _SIMVAE_COLOUR, _SIMVAE_COLOUR))
SHAPES = register_views("shapes")((_SHAPES, _SHAPES, _SHAPES))
NUISANCE_DIGITS = register_views("nuisance_digits")(
    (_NUISANCE_DIGITS, _NUISANCE_DIGITS, _NUISANCE_DIGITS)
)
NONE = register_views("none")((_NONE, _NONE, _NONE))


def recipes(preset: Sequence[ViewSpec] | Callable[[], Sequence[ViewSpec]]) -> tuple:
    """A registered preset as ``(first, second, further)`` recipes: a preset of one recipe
    uses it for every view, of two the second for every view after the first."""
    value = preset() if callable(preset) else preset
    specs = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    if not 1 <= len(specs) <= 3 or not all(isinstance(s, ViewSpec) for s in specs):
        raise SelfsupError(
            "a view preset must be one to three ViewSpec recipes (first view, second, further)"
        )
    return (*specs, *[specs[-1]] * (3 - len(specs)))


#: every registered view preset by name (``register_views``), plug-ins' included
PRESETS: Mapping[str, tuple[ViewSpec, ViewSpec, ViewSpec]] = Registered("views", recipes)


class MultiView(nn.Module):
    """Makes ``len(views)`` random views of a float batch, each with its own recipe.

    ``views`` are ``View``s; any other module that maps a batch to a batch of views works
    too, and is then called in turn with the others (no concurrent rendering)."""

    def __init__(self, views: list[nn.Module]) -> None:
        super().__init__()
        self.views = nn.ModuleList(views)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """``images``: ``(batch, C, H, W)`` floats in [0, 1] or uint8 -> list of views in
        [0, 1]."""
        images = unit_float_images(images)
        if not all(isinstance(view, View) for view in self.views):
            return [view(images).clamp_(0.0, 1.0) for view in self.views]
        # every view's random parameters first, in order, on this thread; then the views are
        # rendered, on CPU one per worker thread (each single-threaded inside) when they
        # share the threads out evenly: with a view per thread nothing waits at the barriers
        # between a view's stages (the same views bit for bit as one view after another)
        draws = [view.draw(images) for view in self.views]
        out: list[torch.Tensor | None] = [None] * len(draws)

        def render(i: int) -> None:
            out[i] = self.views[i].render(images, draws[i]).clamp_(0.0, 1.0)

        per_thread = images.device.type == "cpu" and len(draws) % torch.get_num_threads() == 0
        run_tasks(render, range(len(draws)), parallel=per_thread)
        return out


def make_views(preset: str, image_size: int, n_views: int = 2) -> MultiView:
    """The named augmentation recipe for square images of ``image_size`` pixels.

    Views beyond the second follow the preset's third recipe (DINO: local crops).
    """
    first, second, more = recipes(registry.get("views", preset))
    specs = [first, second, *[more] * (n_views - 2)][:n_views]
    return MultiView([View(s, max(1, round(image_size * s.relative_size))) for s in specs])


def with_local_crops(
    views: MultiView, n: int, size: int | None = None, scale: tuple[float, float] = (0.05, 0.4)
) -> MultiView:
    """Multi-crop (DINO): the given (global) views plus ``n`` local ones. A local view follows
    the last view's recipe with its crop area drawn from ``scale`` (as DINO's local
    RandomResizedCrop), resampled to ``size`` pixels (``None``: the last view's size, for
    backbones that need one image size)."""
    last = views.views[-1]
    spec = replace(last.spec, crop=True, scale=scale)
    return MultiView([*views.views, *[View(spec, size or last.size) for _ in range(n)]])


class Normalise(nn.Module):
    """uint8 or [0, 1] images -> standardised floats with per-channel mean and std."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1), persistent=False)
        # (x - mean) / std as one pass, x * (1 / std) - mean / std (equal to within an ulp)
        self.register_buffer("scale", 1.0 / self.std, persistent=False)
        self.register_buffer("shift", -self.mean / self.std, persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images, self.scale)


def normaliser(dataset: str, channels: int) -> Normalise:
    """Channel normalisation for a dataset by name (the ``stats`` it was registered with);
    ImageNet-free 0.5 / 0.25 when it has none."""
    known = registry.find("dataset", dataset)
    stats = known.meta.get("stats") if known is not None else None
    mean, std = stats if stats else ((0.5,) * channels, (0.25,) * channels)
    return Normalise(mean, std)


def to_unit_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, C, H, W)`` -> float32 in [0, 1] (floats are passed through)."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images
