"""One random view of a whole batch, on the batch's device, from a ``ViewSpec`` declaration.

Every random parameter (crop box, flip, angle, jitter factors and their order, grey, blur
sigma, solarisation) is drawn per sample from torch's global generator, all at once and in a
fixed order, so a view depends only on the seed and the batch. The geometry is one
``grid_sample`` (``selfsup.data.geometric``); the colour operations are
``selfsup.data.colour``'s, which follow torchvision's definitions.

torchvision's ColorJitter applies its four operations in a random order per image. In a
large batch of views (above ``_BY_POSITION_MAX_BYTES``, or on a GPU) the samples are sorted by
their order before the resampling reads them (the resampling writes a new tensor anyway),
each run of samples sharing an order is rendered from the crop to the jitter as one slice,
and a scatter restores the batch order. A smaller batch on the CPU is resampled as a whole
and jittered one position of the order at a time (``View._jitter_by_position``): the same
views bit for bit in fewer, larger calls. The operations after the jitter (grey, blur,
solarisation, noise) then run on the samples that drew them, gathered from the whole batch.

That is the torch operations' path (GPU, dtypes other than float32, or without numba). On the
CPU, float32 views take the compiled path instead (``View._render_compiled``): runs of
consecutive samples are resampled, then each image goes through its own jitter order and grey
scale in one numba-compiled call (``selfsup.data.colour_compiled``) that writes it to its row:
no sorting by order, no gather or scatter. Blur, solarisation and noise follow as above.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import os
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from selfsup.data import colour
from selfsup.data.geometric import box_limits, box_matrices, crop_boxes, resample
from selfsup.data.workers import run_tasks
from selfsup.errors import InputError


@dataclass(frozen=True)
class ViewSpec:
    """The recipe of one view; every probability is drawn per sample.

    Args:
        crop: random resized crop (else the image keeps its geometry, resized if needed).
        scale: crop area as a fraction of the image (torchvision's RandomResizedCrop).
        ratio: crop aspect ratio (width / height), log-uniform.
        flip_p: horizontal flip.
        degrees: rotation ``~ U(-degrees, degrees)`` applied with probability ``rotate_p``.
        padding: ``"zeros"`` or ``"border"`` where a rotated crop leaves the image.
        jitter: ColorJitter strengths ``(brightness, contrast, saturation, hue)``: factors
            ``U(max(0, 1 - s), 1 + s)``, hue shift ``U(-h, h)`` turns; random order.
        jitter_p: probability of the jitter (torchvision's ``RandomApply``).
        grey_p: probability of grey scale (RGB images).
        blur_p, blur_sigma: Gaussian blur, ``sigma ~ U(blur_sigma)`` pixels.
        solarise_p: probability of solarisation at 0.5.
        noise_std, noise_p: additive Gaussian pixel noise.
        relative_size: output side as a fraction of the image size (DINO's local crops).
    """

    crop: bool = True
    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    degrees: float = 0.0
    rotate_p: float = 1.0
    padding: str = "zeros"
    jitter: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    jitter_p: float = 0.8
    grey_p: float = 0.0
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)
    solarise_p: float = 0.0
    noise_std: float = 0.0
    noise_p: float = 0.0
    relative_size: float = 1.0

    def __post_init__(self) -> None:
        for name in ("flip_p", "rotate_p", "jitter_p", "grey_p", "blur_p", "solarise_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"{name} must be a probability, got {getattr(self, name)}")
        if not 0 < self.scale[0] <= self.scale[1] <= 1 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise InputError(f"bad crop scale {self.scale} or ratio {self.ratio}")
        if min(self.jitter) < 0 or self.jitter[3] > 0.5:
            raise InputError(f"jitter strengths must be >= 0 with hue <= 0.5, got {self.jitter}")
        if not 0 < self.blur_sigma[0] <= self.blur_sigma[1]:
            raise InputError(f"blur_sigma must be 0 < low <= high, got {self.blur_sigma}")
        if self.padding not in ("zeros", "border"):
            raise InputError(f"padding must be 'zeros' or 'border', got {self.padding!r}")


def unit_float_images(images: torch.Tensor) -> torch.Tensor:
    """A batch the views can render: uint8 pixels become float32 in [0, 1], floating-point
    images pass through; any other dtype is refused in one line."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    if not images.is_floating_point():
        raise InputError(
            f"views take float images in [0, 1] or uint8 pixels, got "
            f"{str(images.dtype).removeprefix('torch.')}"
        )
    return images


class View(nn.Module):
    """Draws one view per sample of a ``(B, C, H, W)`` float batch in [0, 1].

    Args:
        spec: the recipe.
        size: output side in pixels (square); ``None`` keeps the input size.
    """

    def __init__(self, spec: ViewSpec, size: int | None = None) -> None:
        super().__init__()
        self.spec, self.size = spec, size
        # only the enabled jitter operations take part in the random order
        self.ops = tuple(i for i, s in enumerate(spec.jitter) if s > 0)
        self.orders = list(itertools.permutations(self.ops))

    def extra_repr(self) -> str:
        return f"size={self.size}, {self.spec}"

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` floats in [0, 1] or uint8 -> ``(B, C, size, size)`` in [0, 1]."""
        images = unit_float_images(images)
        return self.render(images, self.draw(images))

    def draw(self, images: torch.Tensor) -> _Draws:
        """Every random parameter of one view of ``images (B, C, H, W)``: the only part of a
        view that uses the random generator (``render`` then needs none, so views drawn in
        order can be rendered in any order, or at the same time)."""
        n, c, h, w = images.shape
        return self._draw(n, c, h, w, self.size or h, images.device)

    @torch.no_grad()
    def render(self, images: torch.Tensor, draws: _Draws) -> torch.Tensor:
        """The view of ``images`` that ``draws`` (from ``draw``) describes."""
        # in the images' dtype even inside a mixed-precision training step: autocast is
        # per thread, so the worker threads never see it, and the calling thread must not
        # either (a bfloat16 blur or contrast mean there gave other views, or a dtype error
        # on writing them into the float32 batch)
        with torch.autocast(images.device.type, enabled=False):
            return self._views(images, draws, self.size or images.shape[2])

    @torch.no_grad()
    def forward_with_params(self, images: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The same views as ``forward`` (same random draws) and each sample's parameters:
        ``{name: (B,) float tensor}`` from :func:`view_parameters`."""
        images = unit_float_images(images)
        p = self.draw(images)
        h, w = images.shape[2:]
        return self.render(images, p), view_parameters(p, h, w, len(self.orders))

    def _views(self, images: torch.Tensor, p: _Draws, size: int) -> torch.Tensor:
        n, c = images.shape[:2]
        out = images.new_empty(n, c, size, size)
        cpu = images.device.type == "cpu"
        chunk = n  # the samples of one task (one jitter order, or the whole batch), on CPU cut
        if cpu:
            chunk = max(1, _CHUNK_BYTES // (c * size * size * images.element_size()))
        kernels = None
        if cpu and images.dtype == torch.float32 and (p.group is not None or p.grey is not None):
            kernels = compiled_colour()  # (imported only where there is colour work for it)
        if kernels is not None:
            self._render_compiled(images, p, out, chunk, kernels)
        else:
            self._render_eager(images, p, out, chunk)
        # the operations after the jitter, each on the samples that drew it, gathered from
        # the whole batch: one order's share of a batch is a few images, and a blur of a few
        # images costs 2-4 times as much per image as one of a few dozen (oneDNN's depthwise
        # convolution has a large fixed cost per call)
        threads = torch.get_num_threads() if cpu else 1
        for mask, op in self._after_jitter(p, with_grey=kernels is None):
            idx = torch.arange(n, device=images.device) if mask is None else mask.nonzero()[:, 0]
            if idx.numel():
                part = min(chunk, -(-idx.numel() // threads))
                run_tasks(functools.partial(_apply, out, op), idx.split(part), cpu)
        return out

    def _render_compiled(
        self, images: torch.Tensor, p: _Draws, out: torch.Tensor, chunk: int, kernels
    ) -> None:
        """Geometry, jitter and grey of every sample into ``out``, in runs of ``chunk``
        consecutive samples: the resampling in torch, then each image through its own jitter
        order and grey scale in one compiled call (``colour_compiled``) that writes it to its
        place in ``out``. Each image's result depends on its own draws only, so the views do
        not depend on the chunks or the threads."""
        n = images.shape[0]
        size = out.shape[2]
        ops = torch.empty(n, 0, dtype=torch.long)  # each sample's operations in order, -1: none
        if p.group is not None:
            table = torch.tensor([*self.orders, (-1,) * len(self.ops)])
            ops = table.index_select(0, p.group)
        factors = p.factors if p.factors is not None else torch.zeros(n, 4)
        grey = p.grey if p.grey is not None else torch.zeros(n, dtype=torch.bool)
        # at least one run per thread (a small batch is otherwise one run on one thread)
        chunk = min(chunk, -(-n // torch.get_num_threads()))

        def render(a: int) -> None:
            b = min(a + chunk, n)
            x = images[a:b]
            if p.theta is not None:
                limits = None if p.limits is None else p.limits[a:b]
                x = resample(x, p.theta[a:b], (size, size), self.spec.padding, limits)
            kernels.jitter_into(x.contiguous(), factors[a:b], ops[a:b], grey[a:b], out, a)

        run_tasks(render, range(0, n, chunk))

    def _render_eager(self, images: torch.Tensor, p: _Draws, out: torch.Tensor, chunk: int):
        """Geometry and jitter of every sample into ``out`` with torch operations (GPU, other
        dtypes, or without numba): grouped by jitter order, or position by position."""
        n = images.shape[0]
        size = out.shape[2]
        cpu = images.device.type == "cpu"
        tasks = []
        by_position = (  # the crossover above is a CPU cache effect; GPUs go order by order
            cpu
            and p.group is not None
            and out.numel() * out.element_size() <= _BY_POSITION_MAX_BYTES
        )
        if p.group is None or by_position:
            batch = torch.arange(n, device=images.device)
            tasks = [(batch[a : a + chunk], None) for a in range(0, n, chunk)]
        else:
            order = torch.argsort(p.group, stable=True)
            counts = torch.bincount(p.group, minlength=len(self.orders) + 1).tolist()
            start = 0
            for g, count in enumerate(counts):
                jitter = self.orders[g] if g < len(self.orders) else None
                for a in range(start, start + count, chunk):
                    tasks.append((order[a : min(a + chunk, start + count)], jitter))
                start += count

        def render(task: tuple[torch.Tensor, tuple[int, ...] | None]) -> None:
            idx, jitter = task
            out.index_copy_(0, idx, self._render(images, p, idx, jitter, size))

        run_tasks(render, tasks, parallel=cpu)
        if by_position:
            self._jitter_by_position(out, p, chunk)

    def _jitter_by_position(self, out: torch.Tensor, p: _Draws, chunk: int) -> None:
        """The jitter of ``out`` one position of the order at a time: at position ``k``, the
        samples whose order puts operation ``o`` there get ``o``. The same result as
        rendering each order's samples together, in one call per operation and position
        instead of one per order: with a few samples per order (small batches) the fixed cost
        of each call is most of the jitter's time."""
        table = torch.tensor([*self.orders, (-1,) * len(self.ops)], device=out.device)
        at = table.index_select(0, p.group)  # (B, k): each sample's operation at position k
        # saturation and hue leave one-channel images as they are (as torchvision does)
        ops = self.ops if out.shape[1] == 3 else [o for o in self.ops if o < colour.SATURATION]
        with_factor = {
            o: lambda x, i, o=o: colour.JITTER_OPS[o](x, p.factors.index_select(0, i)[:, o])
            for o in ops
        }
        for k in range(len(self.ops)):
            tasks = []
            for o in ops:
                idx = (at[:, k] == o).nonzero()[:, 0]
                tasks += [(with_factor[o], part) for part in idx.split(chunk) if part.numel()]
            run_tasks(lambda task: _apply(out, *task), tasks)

    def _after_jitter(self, p: _Draws, with_grey: bool = True) -> list:
        """``(mask or None for every sample, op(x, batch_index))`` in the recipe's order
        (``with_grey=False``: without the grey scale, which the compiled path has done)."""
        ops = []
        if p.grey is not None and with_grey:  # (the grey plane broadcast: copied 3 times)
            ops.append((p.grey, lambda x, i: colour.grey(x).expand_as(x)))
        if p.blur is not None:
            # one kernel width for the whole recipe, so a view does not depend on its chunk
            radius = colour.blur_radius(self.spec.blur_sigma[1])
            ops.append((p.blur, lambda x, i: colour.gaussian_blur(x, p.sigma[i], radius)))
        if p.solar is not None:
            ops.append((p.solar, lambda x, i: colour.solarise(x)))
        if p.noise is not None:
            ops.append((None, lambda x, i: (x + p.noise.index_select(0, i)).clamp_(0.0, 1.0)))
        return ops

    def _draw(self, n: int, c: int, h: int, w: int, size: int, dev: torch.device) -> _Draws:
        """Every random draw for the whole batch, in a fixed order (so a view depends only on
        the generator's state, not on how the batch is cut into chunks)."""
        s = self.spec
        rand = lambda: torch.rand(n, device=dev)  # noqa: E731
        boxes = crop_boxes(n, h, w, s.scale, s.ratio, dev) if s.crop else None
        flip = rand() < s.flip_p if s.flip_p > 0 else None
        angle = None
        if s.degrees > 0:
            angle = (rand() * 2 - 1) * math.radians(s.degrees) * (rand() < s.rotate_p)
        factors = group = None
        if self.ops and c in (1, 3):
            apply = rand() < s.jitter_p
            factors = self._jitter_factors(n, dev)
            which = torch.randint(len(self.orders), (n,), device=dev)
            group = torch.where(apply, which, len(self.orders))  # the last group: no jitter
        grey = rand() < s.grey_p if s.grey_p > 0 and c == 3 else None
        blur = rand() < s.blur_p if s.blur_p > 0 else None
        sigma = torch.empty(n, device=dev).uniform_(*s.blur_sigma) if blur is not None else None
        solar = rand() < s.solarise_p if s.solarise_p > 0 else None
        noise = None
        if s.noise_std > 0:
            noise = torch.randn(n, c, size, size, device=dev)
            noise *= (s.noise_std * (rand() < s.noise_p)).view(-1, 1, 1, 1)
        theta = limits = None
        if s.crop or flip is not None or angle is not None or size != h or size != w:
            if boxes is None:
                boxes = torch.tensor([[0, 0, h, w]], device=dev).expand(n, 4)
            theta = box_matrices(boxes, h, w, angle, flip).float()
            # unrotated: read only inside the box, as torchvision's crop-then-resize does
            limits = box_limits(boxes, h, w).float() if angle is None else None
        drawn = (boxes if s.crop else None, flip, angle)
        return _Draws(theta, limits, factors, group, grey, blur, sigma, solar, noise, *drawn)

    def _render(
        self,
        images: torch.Tensor,
        p: _Draws,
        idx: torch.Tensor,
        jitter: tuple[int, ...] | None,
        size: int,
    ) -> torch.Tensor:
        """Geometry and jitter of the samples ``idx`` (batch positions) that share one jitter
        order (the later operations run on the whole batch: ``_after_jitter``)."""
        if p.theta is None:
            x = images.index_select(0, idx)
        else:
            limits = None if p.limits is None else p.limits[idx]
            # index_select: a row copy, ~0.6 times the time of advanced indexing here
            picked = images.index_select(0, idx)
            x = resample(picked, p.theta[idx], (size, size), self.spec.padding, limits)
        if jitter is not None:
            x = colour.jitter(x, p.factors[idx], jitter)
        return x

    def _jitter_factors(self, n: int, device: torch.device) -> torch.Tensor:
        b, c, s, h = self.spec.jitter
        low = torch.tensor([max(0.0, 1 - b), max(0.0, 1 - c), max(0.0, 1 - s), -h], device=device)
        high = torch.tensor([1 + b, 1 + c, 1 + s, h], device=device)
        return low + (high - low) * torch.rand(n, 4, device=device)


class _Draws(NamedTuple):
    """A batch's random parameters, each ``(B, ...)`` in batch order (``None``: op off)."""

    theta: torch.Tensor | None  # (B, 2, 3) output -> input coordinates
    limits: torch.Tensor | None  # (B, 2, 2) box limits for the sampling points
    factors: torch.Tensor | None  # (B, 4) jitter factors
    group: torch.Tensor | None  # (B,) index of the jitter order; len(orders) = no jitter
    grey: torch.Tensor | None  # (B,) bool
    blur: torch.Tensor | None  # (B,) bool
    sigma: torch.Tensor | None  # (B,) blur standard deviation in pixels
    solar: torch.Tensor | None  # (B,) bool
    noise: torch.Tensor | None  # (B, C, size, size) additive noise (0 where off)
    boxes: torch.Tensor | None = None  # (B, 4) crop (top, left, height, width) in pixels
    flip: torch.Tensor | None = None  # (B,) bool
    angle: torch.Tensor | None = None  # (B,) radians


def view_parameters(p: _Draws, height: int, width: int, n_orders: int) -> dict:
    """Each sample's drawn parameters as ``{name: (B,) float tensor}``, for the enabled
    operations only: crop box (``crop_top``, ``crop_left``, ``crop_height``, ``crop_width`` as
    fractions of the image, ``crop_scale`` = area fraction, ``crop_log_ratio`` = log aspect),
    ``flip`` (0/1), ``angle`` (degrees), the jitter factors (``brightness``, ``contrast``,
    ``saturation``, ``hue``; the identity 1, 1, 1, 0 where the jitter was not applied),
    ``grey``, ``blur_sigma`` (0 where not blurred), ``solarise``, ``noise_std``."""
    out: dict[str, torch.Tensor] = {}
    if p.boxes is not None:
        box = p.boxes.double()
        out["crop_top"], out["crop_left"] = box[:, 0] / height, box[:, 1] / width
        out["crop_height"], out["crop_width"] = box[:, 2] / height, box[:, 3] / width
        out["crop_scale"] = out["crop_height"] * out["crop_width"]
        out["crop_log_ratio"] = torch.log(box[:, 3] / box[:, 2])
    if p.flip is not None:
        out["flip"] = p.flip.double()
    if p.angle is not None:
        out["angle"] = torch.rad2deg(p.angle.double())
    if p.factors is not None:
        applied = (p.group < n_orders).double()[:, None]
        identity = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64, device=applied.device)
        f = applied * p.factors.double() + (1 - applied) * identity
        for i, name in enumerate(("brightness", "contrast", "saturation", "hue")):
            if f[:, i].std() > 0:  # an operation with strength 0 never varies
                out[name] = f[:, i]
    for name, flag in (("grey", p.grey), ("solarise", p.solar)):
        if flag is not None:
            out[name] = flag.double()
    if p.blur is not None:
        out["blur_sigma"] = p.sigma.double() * p.blur.double()
    if p.noise is not None:
        out["noise_std"] = p.noise.flatten(1).std(1).double()
    return {k: v.cpu() for k, v in out.items()}


#: upper bound on one chunk's float tensor (a 96 px RGB image is 110 kB): chunks let the
#: worker threads share the work; much smaller chunks pay each op's fixed cost too often at
#: 96 px, larger ones gain nothing
_CHUNK_BYTES = 4 << 20


#: a batch of views on the CPU up to this size is jittered position by position
#: (``View._jitter_by_position``), a larger one order by order, each order's chunks rendered
#: from the crop to the jitter while they are in cache. Position by position makes at most 16
#: calls whatever the batch, which wins while each order has only a few samples; order by
#: order wins once the batch no longer fits in cache (``benchmarks/jitter_grouping.py``
#: measures where the two cross)
_BY_POSITION_MAX_BYTES = 8 << 20


def compiled_colour():
    """The compiled colour module (``colour_compiled``), or ``None`` (the torch operations)
    where ``SELFSUP_COMPILED_VIEWS=0`` asks for them, where numba's compilation is switched
    off (``NUMBA_DISABLE_JIT``), or where the module cannot be loaded (numba missing or
    broken, no place for its cache: a warning, once)."""
    if os.environ.get("SELFSUP_COMPILED_VIEWS", "1") == "0":
        return None
    return _load_compiled()


@functools.cache
def _load_compiled():
    try:
        module = importlib.import_module("selfsup.data.colour_compiled")
    except Exception as err:  # noqa: BLE001 - any failure of numba leaves the torch path
        warnings.warn(
            f"the compiled colour operations are unavailable ({type(err).__name__}: {err}); "
            "views use torch's colour operations (their jitter several times slower on CPU)",
            stacklevel=3,
        )
        return None
    if module.jit_disabled():  # NUMBA_DISABLE_JIT: the kernels would be Python loops
        return None
    return module


def _apply(out: torch.Tensor, op, idx: torch.Tensor) -> None:
    """``out[idx] = op(out[idx], idx)`` (the samples ``idx (k,)`` of the batch)."""
    out.index_copy_(0, idx, op(out.index_select(0, idx), idx))
