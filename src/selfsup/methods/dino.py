"""DINO (Caron et al., ICCV 2021): self-distillation with no labels. The student sees two global
and several local crops, the EMA teacher only the global ones; the student's distribution over
``out_dim`` prototypes matches the teacher's centred and sharpened one on every other crop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.data.views import with_local_crops
from selfsup.errors import SelfsupError
from selfsup.losses import dino_center, dino_terms
from selfsup.methods.momentum import MomentumMethod, encode_views


class Prototypes(nn.Module):
    """DINO's last layer: cosine scores of the L2-normalised bottleneck against ``out_dim``
    prototype directions (a weight-normalised linear layer with its norm fixed to 1)."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(h, dim=-1), F.normalize(self.weight, dim=-1))


class DINO(MomentumMethod):
    """Args:
    out_dim: number of prototypes K (65,536 in the paper).
    local_crops: number of local crops per image (the paper: 8 beside the 2 global ones).
    local_crop_size: their side in pixels (``None``: the global size, needed by MLP
        backbones); the paper uses 96 beside 224.
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
        out_dim: int = 65536,
        local_crops: int = 8,
        local_crop_size: int | None = None,
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
        if local_crops < 0 or out_dim < 1:
            raise SelfsupError(
                f"DINO needs local_crops >= 0 and out_dim >= 1, got {local_crops}, {out_dim}"
            )
        self.n_global = len(self.views.views)
        self.views = with_local_crops(
            self.views, local_crops, local_crop_size, tuple(local_crop_scale)
        )
        self.prototypes = Prototypes(self.projector[-1].out_features, out_dim)
        self.make_teacher("backbone", "projector", "prototypes")
        self.register_buffer("center", torch.zeros(out_dim))
        self.student_temperature = student_temperature
        self.teacher_temperature = teacher_temperature
        self.warmup_teacher_temperature = warmup_teacher_temperature
        self.warmup_epochs = warmup_teacher_temperature_epochs
        self.center_momentum = center_momentum
        self.freeze_prototypes_epochs = freeze_prototypes_epochs

    def teacher_temperature_at(self, epoch: int) -> float:
        """Linear from the warm-up value to the final one over the warm-up epochs."""
        if epoch >= self.warmup_epochs:
            return self.teacher_temperature
        step = (self.teacher_temperature - self.warmup_teacher_temperature) / max(
            1, self.warmup_epochs - 1
        )
        return self.warmup_teacher_temperature + step * epoch

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
        temperature = self.teacher_temperature_at(self.current_epoch)
        terms = dino_terms(student, teacher, self.center, self.student_temperature, temperature)
        self.center = dino_center(
            self.center, teacher, self.center_momentum, self.gather_distributed
        )
        return terms, features

    def on_after_backward(self) -> None:
        # DINO keeps the last layer fixed at first: it stabilises the start of training
        if self.current_epoch < self.freeze_prototypes_epochs:
            self.prototypes.weight.grad = None
