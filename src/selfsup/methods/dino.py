"""DINO (Caron et al., ICCV 2021): self-distillation with no labels. The student sees two global
and several local crops, the EMA teacher only the global ones; the student's distribution over
``out_dim`` prototypes matches the teacher's centred and sharpened one on every other crop.

The paper's sizes are for ImageNet (1.28M images of 224 px): 65,536 prototypes and 8 local
crops of 96 px beside 2 global ones. By default (``"auto"``) they are sized to the data:

- ``out_dim``: one prototype per 16 training images, rounded to a power of two, between 1,024
  and 65,536: ImageNet 65,536 (the paper's), MNIST / CIFAR 4,096, the 1,437 digits 1,024.
- ``local_crop_size``: the paper's ratio, ``round(96 / 224 * side)`` of the global side, if
  that keeps at least 8 pixels and the backbone takes that size (probed once; an MLP takes one
  size only); otherwise the global side. ImageNet 96, CIFAR 14, MNIST 12, digits 8 (global).
- ``local_crops``: as many as spend the paper's pixels on local crops, ``8 * (96/224)^2`` =
  1.47 global crops' worth, rounded up, at most 8: 8 at the paper's ratio (ImageNet, CIFAR,
  MNIST), 2 where local crops keep the global size (digits, or an MLP backbone).

Any of them set to a number is used as given (``out_dim: 65536``, ``local_crops: 8``,
``local_crop_size: 96`` are the paper's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.data.views import with_local_crops
from selfsup.errors import SelfsupError
from selfsup.losses import DINOLoss
from selfsup.methods.base import (
    encode_views,
    in_loss_precision,
    loss_precision,
    rename_state_on_load,
    sized_to_data,
)
from selfsup.methods.momentum import MomentumMethod
from selfsup.registry import register_method

#: the paper's (ImageNet) sizes: prototypes, local crops, local / global crop side (96 / 224)
PAPER_PROTOTYPES, PAPER_LOCAL_CROPS, PAPER_LOCAL_RATIO = 65536, 8, 96 / 224
MIN_PROTOTYPES, IMAGES_PER_PROTOTYPE = 1024, 16
#: a local crop smaller than this holds too few pixels to be a view of anything
MIN_LOCAL_SIDE = 8


def auto_prototypes(train_size: int | None) -> int:
    """``2^round(log2(train_size / 16))`` within [1024, 65536] (``None``: 65,536)."""
    if train_size is None:
        return PAPER_PROTOTYPES
    k = 2 ** round(math.log2(max(1, train_size) / IMAGES_PER_PROTOTYPE))
    return min(PAPER_PROTOTYPES, max(MIN_PROTOTYPES, k))


def auto_local_crop_size(global_side: int, accepts: Callable[[int], bool]) -> int:
    """The paper's local side ``round(96 / 224 * global_side)`` where it keeps at least
    ``MIN_LOCAL_SIDE`` pixels and ``accepts(side)``; else ``global_side``."""
    side = round(global_side * PAPER_LOCAL_RATIO)
    return side if side >= MIN_LOCAL_SIDE and accepts(side) else global_side


def auto_local_crops(global_side: int, local_side: int) -> int:
    """Local crops that together hold the paper's ``8 * (96/224)^2`` global crops of pixels,
    rounded up, at most 8."""
    budget = PAPER_LOCAL_CROPS * PAPER_LOCAL_RATIO**2
    n = math.ceil(budget / (local_side / global_side) ** 2 - 1e-9)  # 8.0000001 is 8
    return max(1, min(PAPER_LOCAL_CROPS, n))


def takes_size(backbone: nn.Module, channels: int) -> Callable[[int], bool]:
    """Whether ``backbone`` runs on ``side``-pixel images (one probe on 2 blank images, in
    eval mode so that no BatchNorm statistic moves)."""

    def probe(side: int) -> bool:
        was_training = backbone.training
        backbone.eval()
        try:
            with torch.no_grad():
                backbone(torch.zeros(2, channels, side, side))
            return True
        except (RuntimeError, AssertionError, ValueError):  # what a fixed-size network raises
            return False
        finally:
            backbone.train(was_training)

    return probe


class Prototypes(nn.Module):
    """DINO's last layer: cosine scores of the L2-normalised bottleneck against ``out_dim``
    prototype directions (a weight-normalised linear layer with its norm fixed to 1)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(h, dim=-1), F.normalize(self.weight, dim=-1))


@register_method("dino")
class DINO(MomentumMethod):
    """Args:
    out_dim: number of prototypes K (65,536 in the paper); ``"auto"``: see the module.
    local_crops: number of local crops per image (the paper: 8 beside the 2 global ones);
        ``"auto"``: see the module.
    local_crop_size: their side in pixels (``None``: the global size, needed by MLP
        backbones); the paper uses 96 beside 224; ``"auto"``: see the module.
    local_crop_scale: area fraction of a local crop within a view of the preset.
    student_temperature: 0.1.
    teacher_temperature: after warm-up (0.04; the paper raises it to 0.07 for long runs).
    warmup_teacher_temperature, warmup_teacher_temperature_epochs: linear warm-up from this
        value over these epochs (0.04 over 0 by default, i.e. none).
    center_momentum: EMA rate of the teacher centre (0.9).
    freeze_prototypes_epochs: the prototypes receive no update in the first epochs (1).
    base_momentum, final_momentum: the teacher's EMA rate, cosine from 0.996 to 1.
    """

    def __init__(
        self,
        *,
        out_dim: int | Literal["auto"] = "auto",
        local_crops: int | Literal["auto"] = "auto",
        local_crop_size: int | Literal["auto"] | None = "auto",
        local_crop_scale: tuple[float, float] = (0.05, 0.4),
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.04,
        warmup_teacher_temperature: float = 0.04,
        warmup_teacher_temperature_epochs: int = 0,
        center_momentum: float = 0.9,
        freeze_prototypes_epochs: int = 1,
        base_momentum: float = 0.996,
        final_momentum: float = 1.0,
        **common,
    ) -> None:
        super().__init__(base_momentum=base_momentum, final_momentum=final_momentum, **common)
        if len(self.views.views) < 2:
            raise SelfsupError("DINO needs two global views: set data.n_views=2")
        out_dim = sized_to_data("out_dim", out_dim, lambda: auto_prototypes(self.train_size))
        side = self.views.views[-1].size
        if local_crop_size == "auto":
            channels = self.normalise.mean.shape[1]
            local_crop_size = auto_local_crop_size(side, takes_size(self.backbone, channels))
        elif local_crop_size is not None:
            local_crop_size = sized_to_data("local_crop_size", local_crop_size, lambda: side)
        if local_crops == "auto":
            local_crops = auto_local_crops(side, local_crop_size or side)
        elif isinstance(local_crops, bool) or not isinstance(local_crops, int) or local_crops < 0:
            raise SelfsupError(
                f"method.params.local_crops must be an integer >= 0 or 'auto', got {local_crops!r}"
            )
        self.n_global = len(self.views.views)
        self.views = with_local_crops(
            self.views, local_crops, local_crop_size, tuple(local_crop_scale)
        )
        self.prototypes = Prototypes(self.projector[-1].out_features, out_dim)
        self.make_teacher("backbone", "projector", "prototypes")
        # the centre and the temperature schedule (a buffer, so checkpoints resume it exactly)
        self.criterion = DINOLoss(
            out_dim,
            student_temperature=student_temperature,
            teacher_temperature=teacher_temperature,
            warmup_teacher_temperature=warmup_teacher_temperature,
            warmup_teacher_temperature_epochs=warmup_teacher_temperature_epochs,
            center_momentum=center_momentum,
            gather_distributed=self.gather_distributed,
        )
        # checkpoints written before the centre moved into the loss module
        rename_state_on_load(self, {"center": "criterion.center"})
        self.freeze_prototypes_epochs = freeze_prototypes_epochs

    def _student(self, views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prototype scores ``(crops, B, K)`` and backbone features of the first crop; one
        backbone pass per crop size (global crops together, local crops together)."""
        scores, first = [], None
        groups: list[list[torch.Tensor]] = []
        for v in views:
            if groups and groups[-1][0].shape == v.shape:
                groups[-1].append(v)
            else:
                groups.append([v])
        for group in groups:
            features = encode_views(self.backbone, group, self.channels_last)
            if first is None:
                first = features[: group[0].shape[0]]
            scores.append(self.prototypes(self.projector(features)))
        batch = views[0].shape[0]
        return torch.cat(scores).view(len(views), batch, -1), first

    def compute_loss(self, views):
        student, features = self._student(views)
        globals_ = views[: self.n_global]
        with torch.no_grad():
            t = encode_views(self.teacher["backbone"], globals_, self.channels_last)
            t = self.teacher["prototypes"](self.teacher["projector"](t))
            teacher = t.view(len(globals_), views[0].shape[0], -1)
        epoch = self.current_epoch
        terms = in_loss_precision(self.criterion.terms, student, teacher, epoch=epoch)
        with torch.autocast(teacher.device.type, enabled=False):
            self.criterion.update_center(loss_precision(teacher))
        return terms, features

    def on_after_backward(self) -> None:
        # DINO keeps the last layer fixed at first: it stabilises the start of training
        if self.current_epoch < self.freeze_prototypes_epochs:
            self.prototypes.weight.grad = None
