"""DINO's self-distillation loss (Caron et al., ICCV 2021): the student's distribution over K
prototypes on every crop matches the centred, sharpened teacher distribution on every *other*
global crop. The centre is an EMA of the teacher's outputs (``dino_center``); ``DINOLoss``
holds it as a buffer and updates it after each call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.losses._wrappers import scalar_loss, setting_default
from selfsup.losses.distributed import is_distributed
from selfsup.validation import (
    InputError,
    check_finite,
    check_positive,
    check_samples,
    check_tensor,
)


class DINOTerms(NamedTuple):
    """``loss`` (cross-entropy, nats) and the teacher distribution's mean entropy (nats): near
    0 means every crop is sent to one prototype (collapse by sharpening), near log K means
    uniform outputs (collapse by centring)."""

    loss: torch.Tensor
    teacher_entropy: torch.Tensor


def _check_dino(
    student: torch.Tensor, teacher: torch.Tensor, center: torch.Tensor, t_s: float, t_t: float
) -> None:
    fn = "dino_loss"
    check_samples(student, "student", fn, batched=True)
    check_samples(teacher, "teacher", fn, batched=True)
    check_tensor(center, "center", fn)
    if student.ndim != 3 or teacher.ndim != 3:
        raise InputError(
            f"{fn}: student and teacher must be (crops, batch, K), got "
            f"{tuple(student.shape)} and {tuple(teacher.shape)}"
        )
    if student.shape[1:] != teacher.shape[1:]:
        raise InputError(
            f"{fn}: student {tuple(student.shape)} and teacher {tuple(teacher.shape)} "
            f"must agree in batch and K"
        )
    if teacher.shape[0] > student.shape[0]:
        raise InputError(f"{fn}: the student must see at least the teacher's (global) crops")
    if center.shape != (teacher.shape[2],):
        raise InputError(f"{fn}: center must be ({teacher.shape[2]},), got {tuple(center.shape)}")
    check_positive(t_s, "student_temperature", fn)
    check_positive(t_t, "teacher_temperature", fn)
    check_finite(fn, student=student, teacher=teacher, center=center)


def dino_terms(
    student: torch.Tensor,
    teacher: torch.Tensor,
    center: torch.Tensor,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.04,
) -> DINOTerms:
    """Mean over pairs ``(teacher crop i, student crop j != i)`` of
    ``H(softmax((t_i - c) / tau_t), softmax(s_j / tau_s))`` averaged over the batch.

    Args:
        student: ``(S, batch, K)`` prototype scores of the student; crops ``0..T-1`` are the
            same global crops the teacher saw, the rest local crops.
        teacher: ``(T, batch, K)`` prototype scores of the teacher (detached here).
        center: ``(K,)`` running mean of the teacher's scores.
        student_temperature: softmax temperature of the student (the paper's 0.1).
        teacher_temperature: softmax temperature of the teacher (the paper's 0.04, after warm-up).
    """
    _check_dino(student, teacher, center, student_temperature, teacher_temperature)
    targets = F.softmax((teacher.detach() - center) / teacher_temperature, dim=-1)
    log_predictions = F.log_softmax(student / student_temperature, dim=-1)
    # (T, S) matrix of mean cross-entropies; a crop is never its own target
    cross = -torch.einsum("tbk,sbk->ts", targets, log_predictions) / student.shape[1]
    n_t, n_s = teacher.shape[0], student.shape[0]
    off_diagonal = torch.ones(n_t, n_s, dtype=torch.bool, device=student.device)
    off_diagonal[:, :n_t].fill_diagonal_(False)
    loss = cross[off_diagonal].mean()
    entropy = -(targets * torch.log(targets.clamp_min(1e-30))).sum(-1).mean()
    return DINOTerms(loss, entropy.detach())


dino_loss = scalar_loss(dino_terms)


@torch.no_grad()
def dino_center(
    center: torch.Tensor,
    teacher: torch.Tensor,
    momentum: float = 0.9,
    gather_distributed: bool = False,
) -> torch.Tensor:
    """The next centre ``m * c + (1 - m) * mean(teacher scores)``, the mean over every crop and
    sample of the (global, with ``gather_distributed``) batch.

    Args:
        center: ``(K,)``.
        teacher: ``(T, batch, K)`` teacher scores of this process.
    """
    if not 0 <= momentum <= 1:
        raise InputError(f"dino_center: momentum must be in [0, 1], got {momentum}")
    total = teacher.detach().sum(dim=(0, 1))
    count = torch.tensor(float(teacher.shape[0] * teacher.shape[1]), device=total.device)
    if gather_distributed and is_distributed():
        import torch.distributed as dist

        dist.all_reduce(total)
        dist.all_reduce(count)
    return center * momentum + (total / count).to(center.dtype) * (1 - momentum)


def _stacked(scores: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """``(crops, batch, K)`` from a tensor of that shape or a sequence of ``(batch, K)``."""
    return scores if isinstance(scores, torch.Tensor) else torch.stack(list(scores))


class DINOLoss(nn.Module):
    """DINO's self-distillation loss with its centre held as a buffer (Caron, Touvron, Misra,
    Jégou, Mairal, Bojanowski & Joulin, "Emerging Properties in Self-Supervised Vision
    Transformers", ICCV 2021).

    ``loss(student, teacher, epoch=None)`` returns :func:`dino_terms`'s loss with the centre
    as it was, then moves the centre towards the teacher scores' batch mean (an EMA, as DINO
    does after each step). ``student``: ``(S, batch, K)`` prototype scores of every crop (the
    first ``T`` the teacher's global crops), or a list of ``S`` tensors ``(batch, K)``;
    ``teacher``: ``(T, batch, K)`` or a list. ``epoch`` selects the teacher temperature of the
    warm-up (None: the final one). ``loss.terms(...)`` returns the :class:`DINOTerms` without
    touching the centre; ``loss.update_center(teacher)`` moves it.

    Args:
        out_dim: number of prototypes ``K`` (the paper's 65,536).
        student_temperature: softmax temperature of the student (the paper's 0.1).
        teacher_temperature: softmax temperature of the teacher (the paper's 0.04, after warm-up).
        warmup_teacher_temperature: the teacher temperature rises linearly from this value to
            ``teacher_temperature`` over the warm-up (the official code's default: 0.04; it
            uses 0.04 to 0.07 over 30 epochs for long runs).
        warmup_teacher_temperature_epochs: the warm-up's length in epochs (the official
            default: 0, no warm-up).
        center_momentum: :func:`dino_center`'s default, the paper's 0.9.
        gather_distributed: the centre's batch mean over every process's batch.

    Buffer (saved in the ``state_dict``): ``center`` ``(K,)``, zeros at first. Note the
    argument order: ``(student, teacher)`` as in :func:`dino_terms`; lightly's ``DINOLoss``
    takes ``(teacher_out, student_out)``.
    """

    def __init__(
        self,
        out_dim: int,
        student_temperature: float = setting_default(dino_terms, "student_temperature"),
        teacher_temperature: float = setting_default(dino_terms, "teacher_temperature"),
        warmup_teacher_temperature: float = setting_default(dino_terms, "teacher_temperature"),
        warmup_teacher_temperature_epochs: int = 0,
        center_momentum: float = setting_default(dino_center, "momentum"),
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(out_dim, bool) or not isinstance(out_dim, int) or out_dim < 1:
            raise InputError(f"DINOLoss: out_dim must be an integer >= 1, got {out_dim!r}")
        epochs = warmup_teacher_temperature_epochs
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
            raise InputError(
                f"DINOLoss: warmup_teacher_temperature_epochs must be an integer >= 0, "
                f"got {epochs!r}"
            )
        for name, value in (
            ("student_temperature", student_temperature),
            ("teacher_temperature", teacher_temperature),
            ("warmup_teacher_temperature", warmup_teacher_temperature),
        ):
            check_positive(value, name, "DINOLoss")
        if not 0 <= center_momentum <= 1:
            raise InputError(f"DINOLoss: center_momentum must be in [0, 1], got {center_momentum}")
        self.student_temperature = student_temperature
        self.teacher_temperature = teacher_temperature
        self.warmup_teacher_temperature = warmup_teacher_temperature
        self.warmup_teacher_temperature_epochs = epochs
        self.center_momentum = center_momentum
        self.gather_distributed = gather_distributed
        self.register_buffer("center", torch.zeros(out_dim))

    def teacher_temperature_at(self, epoch: int | None) -> float:
        """Linear from the warm-up value (epoch 0) to the final one (the last warm-up epoch
        and after); ``None``: the final one."""
        warmup = self.warmup_teacher_temperature_epochs
        if epoch is None or epoch >= warmup:
            return self.teacher_temperature
        start, end = self.warmup_teacher_temperature, self.teacher_temperature
        return start + (end - start) / max(1, warmup - 1) * epoch

    def terms(
        self,
        student: torch.Tensor | Sequence[torch.Tensor],
        teacher: torch.Tensor | Sequence[torch.Tensor],
        epoch: int | None = None,
    ) -> DINOTerms:
        """The loss and the teacher's entropy with the current centre; the centre is not
        changed."""
        return dino_terms(
            _stacked(student),
            _stacked(teacher),
            self.center,
            student_temperature=self.student_temperature,
            teacher_temperature=self.teacher_temperature_at(epoch),
        )

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor | Sequence[torch.Tensor]) -> None:
        """``center <- m * center + (1 - m) * mean of the teacher scores`` over crops and
        batch (the global batch with ``gather_distributed``)."""
        self.center = dino_center(
            self.center, _stacked(teacher), self.center_momentum, self.gather_distributed
        )

    def forward(
        self,
        student: torch.Tensor | Sequence[torch.Tensor],
        teacher: torch.Tensor | Sequence[torch.Tensor],
        epoch: int | None = None,
    ) -> torch.Tensor:
        teacher = _stacked(teacher)
        loss = self.terms(student, teacher, epoch).loss
        self.update_center(teacher)
        return loss

    def extra_repr(self) -> str:
        return (
            f"out_dim={self.center.shape[0]}, student_temperature={self.student_temperature}, "
            f"teacher_temperature={self.teacher_temperature}, "
            f"center_momentum={self.center_momentum}"
        )
