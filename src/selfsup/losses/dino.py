"""DINO's self-distillation loss (Caron et al., ICCV 2021): the student's distribution over K
prototypes on every crop matches the centred, sharpened teacher distribution on every *other*
global crop. The centre is an EMA of the teacher's outputs (``dino_center``)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

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
        student_temperature, teacher_temperature: the paper's 0.1 and 0.04 (after warm-up).
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


def dino_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    center: torch.Tensor,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.04,
) -> torch.Tensor:
    """DINO loss, a scalar; see ``dino_terms``."""
    return dino_terms(student, teacher, center, student_temperature, teacher_temperature).loss


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
