"""Input validation for every public loss and estimator: one clear error, in one place.

Each check raises :class:`InputError` (a ``ValueError``, and a ``SelfsupError`` so the CLI
prints it on one line) whose message starts with the function's name, names the argument and
says what is allowed, e.g.::

    info_nce_loss: temperature must be a positive finite number, got 0.0

Non-finite values raise :class:`NonFiniteInputError` (a subclass), so a training loop can turn a
diverged network into its own "the loss became NaN" stop (``selfsup.methods`` does).

Cost: the finiteness test is one sum per tensor (finite iff every entry is; an overflowing
sum is re-checked entry by entry) and **one** host-device synchronisation per call however
many tensors are checked (their flags are stacked and read together).
``finite_checks(False)`` turns it off, e.g. for a GPU loop that must never sync; shape, dtype
and hyper-parameter checks need no synchronisation and always run.

Usage (a new loss)::

    from selfsup.validation import check_finite, check_positive, check_samples

    def my_loss(z, temperature=0.1):
        check_samples(z, "z", "my_loss", min_n=2)
        check_positive(temperature, "temperature", "my_loss")
        check_finite("my_loss", z=z)
        ...
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from numbers import Real

import torch

# defined in selfsup.errors with the rest of the hierarchy; importable from here too
from selfsup.errors import InputError, NonFiniteInputError

_state = {"finite": True}


def finite_checks_enabled() -> bool:
    """Whether :func:`check_finite` runs (default True)."""
    return _state["finite"]


def set_finite_checks(enabled: bool) -> bool:
    """Turn the finiteness checks on or off globally; returns the previous setting."""
    previous = _state["finite"]
    _state["finite"] = bool(enabled)
    return previous


@contextlib.contextmanager
def finite_checks(enabled: bool) -> Iterator[None]:
    """``with finite_checks(False): ...`` skips the finiteness tests (and their sync) inside."""
    previous = set_finite_checks(enabled)
    try:
        yield
    finally:
        set_finite_checks(previous)


def check_tensor(x: object, name: str, fn: str) -> None:
    """``x`` must be a floating-point ``torch.Tensor`` (integer or bool data are refused)."""
    if not isinstance(x, torch.Tensor):
        raise InputError(f"{fn}: {name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise InputError(
            f"{fn}: {name} must be a floating-point tensor, got {x.dtype}; "
            f"cast it first, e.g. {name}.float()"
        )


def check_samples(z: object, name: str, fn: str, min_n: int = 1, batched: bool = False) -> None:
    """``z`` must be ``(n, d)`` (or ``(..., n, d)`` when ``batched``) floats, ``n >= min_n``,
    ``d >= 1``."""
    check_tensor(z, name, fn)
    shape = tuple(z.shape)
    if (z.ndim < 2) if batched else (z.ndim != 2):
        want = "(..., n, d)" if batched else "(n, d)"
        raise InputError(f"{fn}: {name} must have shape {want}, got {shape}")
    if z.shape[-1] < 1:
        raise InputError(f"{fn}: {name} has no feature dimension (shape {shape}); need d >= 1")
    if z.shape[-2] < min_n:
        raise InputError(f"{fn}: {name} needs at least {min_n} sample(s), got shape {shape}")


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str], fn: str) -> None:
    """Two tensors that pair up element by element must have equal shapes."""
    if a.shape != b.shape:
        raise InputError(
            f"{fn}: {names[0]} and {names[1]} must have the same shape, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}"
        )


def _number(value: object, name: str, fn: str) -> float | None:
    """``value`` as a float if it is a real number or a 0-d tensor we may read, else None
    (a tensor on an accelerator is checked later, on the device, by :func:`check_finite`)."""
    if isinstance(value, bool):
        raise InputError(f"{fn}: {name} must be a number, got a bool")
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise InputError(f"{fn}: {name} must be a scalar, got shape {tuple(value.shape)}")
        if not value.is_floating_point():
            raise InputError(f"{fn}: {name} must be a floating-point number, got {value.dtype}")
        return float(value.detach()) if value.device.type == "cpu" else None
    raise InputError(f"{fn}: {name} must be a number, got {type(value).__name__}")


def check_positive(value: object, name: str, fn: str, hint: str = "") -> None:
    """A finite number ``> 0`` (temperatures, variances, scales, eps)."""
    v = _number(value, name, fn)
    if v is not None and not (math.isfinite(v) and v > 0):
        raise InputError(f"{fn}: {name} must be a positive finite number, got {v}{hint}")


def check_nonnegative(value: object, name: str, fn: str, hint: str = "") -> None:
    """A finite number ``>= 0`` (loss weights)."""
    v = _number(value, name, fn)
    if v is not None and not (math.isfinite(v) and v >= 0):
        raise InputError(f"{fn}: {name} must be a finite number >= 0, got {v}{hint}")


def check_in_range(value: object, name: str, fn: str, low: float, high: float) -> None:
    """A finite number in ``[low, high]``."""
    v = _number(value, name, fn)
    if v is not None and not (math.isfinite(v) and low <= v <= high):
        raise InputError(f"{fn}: {name} must be in [{low}, {high}], got {v}")


def check_int(value: object, name: str, fn: str, low: int, high: int | None = None) -> None:
    """An integer in ``[low, high]`` (``high`` None: no upper limit)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{fn}: {name} must be an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InputError(f"{fn}: {name} must be {allowed}, got {value}")


def check_choice(value: object, name: str, fn: str, choices: Iterable[str]) -> None:
    """One of a fixed set of strings."""
    choices = tuple(choices)
    if value not in choices:
        raise InputError(f"{fn}: unknown {name} {value!r}; valid: {', '.join(choices)}")


def _sum(t: torch.Tensor) -> torch.Tensor:
    # half precision overflows at 65504: sum in float32
    return t.sum(dtype=torch.float32) if t.element_size() < 4 else t.sum()


def check_finite(
    fn: str,
    positive: dict[str, torch.Tensor] | None = None,
    conditions: dict[str, torch.Tensor] | None = None,
    **tensors,
) -> None:
    """Every tensor in ``tensors`` is finite, every 0-d tensor in ``positive`` finite and
    ``> 0``, every 0-d bool tensor in ``conditions`` (keyed by the message to raise) true;
    one host-device sync for all of them. Skipped under ``finite_checks(False)``.

    Raises:
        NonFiniteInputError: naming the first offending tensor and how many values are bad.
        InputError: for a non-positive entry of ``positive`` or a false condition.
    """
    if not _state["finite"]:
        return
    named = [(n, t) for n, t in tensors.items() if t is not None]
    pos = [(n, t) for n, t in (positive or {}).items() if isinstance(t, torch.Tensor)]
    conds = list((conditions or {}).items())
    if not named and not pos and not conds:
        return
    # a sum is finite iff every term is (NaN and inf propagate), and one reduction is far
    # cheaper than isfinite(t).all(), which writes a boolean tensor; a sum that overflows is
    # re-checked exactly
    flags = [torch.isfinite(_sum(t)) for _, t in named]
    flags += [(torch.isfinite(t) & (t > 0)).all() for _, t in pos]
    flags += [c.all() for _, c in conds]
    device = flags[0].device
    ok = torch.stack([f.to(device) for f in flags]).tolist()  # the one sync
    for (name, t), good in zip(named, ok, strict=False):
        if not good and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise NonFiniteInputError(
                f"{fn}: {name} has {bad} non-finite value(s) (NaN or inf) among {t.numel()} "
                f"(shape {tuple(t.shape)}); only finite values are allowed"
            )
    for (name, t), good in zip(pos, ok[len(named) :], strict=False):
        if not good:
            raise InputError(
                f"{fn}: {name} must be a positive finite number, got {float(t.detach())}"
            )
    for (message, _), good in zip(conds, ok[len(named) + len(pos) :], strict=True):
        if not good:
            raise InputError(f"{fn}: {message}")
