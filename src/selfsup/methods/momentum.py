"""The momentum teacher shared by MoCo, BYOL and DINO: an exponential moving average (EMA) of the
student's parameters that never receives gradients.

Before every training step the teacher moves towards the student,
``teacher <- tau * teacher + (1 - tau) * student``, with BYOL's cosine schedule
``tau_k = 1 - (1 - tau_base) * (cos(pi k / K) + 1) / 2`` from ``tau_base`` at step 0 to 1 at the
last step ``K`` (``final_momentum=tau_base`` gives MoCo's constant momentum). The teacher is a
sub-module, so its parameters and buffers are in every checkpoint and a resumed run continues
it exactly; its parameters have ``requires_grad=False``, so no optimiser holds them.
Normalisation buffers (BatchNorm running statistics) are the teacher's own, from its own
forward passes, as in the official MoCo / BYOL / DINO code.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

from selfsup.errors import InputError, SelfsupError
from selfsup.methods.base import JointEmbedding


def cosine_momentum(step: int, total_steps: int, base: float = 0.996, final: float = 1.0) -> float:
    """``final - (final - base) * (cos(pi * step / total_steps) + 1) / 2``, clipped at the end."""
    if not 0.0 <= base <= 1.0 or not 0.0 <= final <= 1.0:
        raise InputError(f"momentum must lie in [0, 1], got base={base}, final={final}")
    progress = min(1.0, step / max(1, total_steps))
    return final - (final - base) * (math.cos(math.pi * progress) + 1) / 2


@torch.no_grad()
def ema_update_(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``teacher <- momentum * teacher + (1 - momentum) * student`` for every parameter, in place.

    Written as a lerp, so a teacher equal to its student stays bit-equal and ``momentum=1``
    leaves it untouched. Buffers are not averaged.
    """
    t_params, s_params = list(teacher.parameters()), list(student.parameters())
    if len(t_params) != len(s_params):
        raise InputError("teacher and student must have the same parameters")
    torch._foreach_lerp_(t_params, s_params, 1.0 - momentum)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose parameters never require gradients."""
    twin = copy.deepcopy(module)
    twin.requires_grad_(False)
    return twin


class MomentumMethod(JointEmbedding):
    """A student (backbone + projector, and what a subclass adds) and its EMA teacher.

    Subclasses call ``self.make_teacher("backbone", "projector", ...)`` once all student
    modules exist, and use ``self.teacher[name]`` without gradients in ``compute_loss``.

    Args:
        base_momentum: EMA rate ``tau`` at the first step.
        final_momentum: ``tau`` at the last step (cosine schedule between the two).
        **common: ``JointEmbedding`` arguments.
    """

    def __init__(
        self, *, base_momentum: float = 0.996, final_momentum: float = 1.0, **common: Any
    ) -> None:
        super().__init__(**common)
        if not (0.0 <= base_momentum <= 1.0 and 0.0 <= final_momentum <= 1.0):
            raise SelfsupError(
                f"method.params base_momentum and final_momentum must lie in [0, 1], got "
                f"{base_momentum} and {final_momentum}"
            )
        self.base_momentum, self.final_momentum = base_momentum, final_momentum
        self.total_steps = 1
        self.teacher = nn.ModuleDict()

    def make_teacher(self, *names: str) -> None:
        for name in names:
            self.teacher[name] = frozen_copy(getattr(self, name))

    def momentum_at(self, step: int) -> float:
        return cosine_momentum(step, self.total_steps, self.base_momentum, self.final_momentum)

    def update_teacher(self, momentum: float) -> None:
        for name, twin in self.teacher.items():
            ema_update_(twin, getattr(self, name), momentum)

    def on_train_start(self) -> None:
        # the schedule's length; the same number on a resumed run, so tau_k replays exactly
        self.total_steps = max(1, int(self.trainer.estimated_stepping_batches))

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        super().on_train_batch_start(batch, batch_idx)
        momentum = self.momentum_at(self.global_step)
        self.update_teacher(momentum)
        self.log("train/momentum", momentum, on_step=True, on_epoch=False)
