"""Input handling shared by the pair and prediction losses: validate, gather, check the global
batch."""

from __future__ import annotations

import torch

from selfsup.losses.distributed import gather_batch
from selfsup.validation import InputError, check_finite, check_same_shape, check_samples


def pair_inputs(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    fn: str,
    gather: bool = False,
    min_batch: int = 2,
    names: tuple[str, str] = ("z_a", "z_b"),
    positive: dict[str, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check two ``(batch, dim)`` views, gather them across processes if asked, and return them.

    Shapes and dtypes are checked on each process before the gather (a mismatch there is a
    programming error); the batch size and finiteness after it, on the global batch, so every
    process sees the same data and raises the same error instead of leaving the others
    waiting in a collective.
    """
    check_samples(z_a, names[0], fn)
    check_samples(z_b, names[1], fn)
    check_same_shape(z_a, z_b, names, fn)
    if gather:
        z_a, z_b = gather_batch(z_a), gather_batch(z_b)
    if z_a.shape[0] < min_batch:
        where = "global batch" if gather else "batch"
        raise InputError(
            f"{fn}: needs a {where} of at least {min_batch} samples, got {names[0]} of shape "
            f"{tuple(z_a.shape)}"
        )
    check_finite(fn, positive=positive, **{names[0]: z_a, names[1]: z_b})
    return z_a, z_b


def check_pair(
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    loss: str,
    min_batch: int = 2,
    names: tuple[str, str] = ("z_a", "z_b"),
) -> None:
    """:func:`pair_inputs` without the gather, for callers that only check (the name losses
    written before ``selfsup.validation`` import). A loss that gathers should call
    ``pair_inputs`` instead, so the batch size is checked on the global batch."""
    pair_inputs(z_a, z_b, loss, gather=False, min_batch=min_batch, names=names)


def prediction_inputs(
    p_a: torch.Tensor,
    p_b: torch.Tensor,
    t_a: torch.Tensor,
    t_b: torch.Tensor,
    fn: str,
    target_names: tuple[str, str] = ("t_a", "t_b"),
) -> None:
    """Predictions and targets: four ``(batch, dim)`` float tensors of one shape, all finite
    (one finiteness sync for the four)."""
    names = ("p_a", "p_b", *target_names)
    tensors = (p_a, p_b, t_a, t_b)
    for t, name in zip(tensors, names, strict=True):
        check_samples(t, name, fn)
    for t, name in zip(tensors[1:], names[1:], strict=True):
        check_same_shape(p_a, t, ("p_a", name), fn)
    check_finite(fn, **dict(zip(names, tensors, strict=True)))
