"""Optimisers (torch's, plus LARS), their settings, and the warm-up + cosine learning-rate
schedule."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from selfsup.errors import InputError, SelfsupError


@dataclasses.dataclass(frozen=True)
class OptimSettings:
    """What a method's optimiser and schedule are built from (the config's ``optim`` section).

    ``scale_lr_with_batch`` multiplies ``lr`` by the global batch over 256 (the VICReg paper's
    rule); ``warmup_epochs`` may be fractional; ``min_lr_ratio`` is the cosine's floor as a
    fraction of the peak rate.
    """

    name: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    warmup_epochs: float = 1.0
    schedule: str = "cosine"
    min_lr_ratio: float = 0.0
    scale_lr_with_batch: bool = False

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> OptimSettings:
        """The settings from a dict such as ``to_dict(config.optim)``; unknown keys refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InputError(
                f"unknown optim setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}"
            )
        values = dict(values)
        if "betas" in values:
            values["betas"] = tuple(float(b) for b in values["betas"])
        return cls(**values)

    def peak_lr(self, global_batch: int | None) -> float:
        """``lr``, times ``global_batch / 256`` when ``scale_lr_with_batch`` is set."""
        if not self.scale_lr_with_batch:
            return self.lr
        if global_batch is None:
            raise InputError(
                "optim.scale_lr_with_batch needs the batch size: build the method with "
                "batch_size=... (build_method passes data.batch_size)"
            )
        return self.lr * global_batch / 256


class LARS(torch.optim.Optimizer):
    """SGD with momentum and layer-wise trust ratios (You et al., 2017), as used by VICReg.

    Parameters in groups with ``lars_exclude=True`` (biases, norm layers) get neither weight
    decay nor the trust ratio, following the official VICReg / BYOL code.
    """

    def __init__(
        self,
        params,
        lr: float,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        eta: float = 0.001,
    ) -> None:
        super().__init__(
            params,
            dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta, lars_exclude=False),
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if not group["lars_exclude"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                    param_norm, grad_norm = torch.norm(p), torch.norm(grad)
                    trust = torch.where(
                        (param_norm > 0) & (grad_norm > 0),
                        group["eta"] * param_norm / grad_norm,
                        torch.ones_like(param_norm),
                    )
                    grad = grad.mul(trust)
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.clone(grad).detach()
                else:
                    state["momentum_buffer"].mul_(group["momentum"]).add_(grad)
                p.add_(state["momentum_buffer"], alpha=-group["lr"])
        return loss


def parameter_groups(modules: Iterable[nn.Module], weight_decay: float) -> list[dict]:
    """Two groups: weights with decay; biases and norm parameters (ndim <= 1) without."""
    decay, no_decay = [], []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad:
                (no_decay if p.ndim <= 1 else decay).append(p)
    return [
        dict(params=decay, weight_decay=weight_decay),
        dict(params=no_decay, weight_decay=0.0, lars_exclude=True),
    ]


def build_optimizer(
    groups: list[dict],
    name: str,
    lr: float,
    weight_decay: float,
    momentum: float = 0.9,
    betas=(0.9, 0.999),
    eps: float = 1e-8,
) -> torch.optim.Optimizer:
    """An optimiser by name: ``sgd``, ``adam``, ``adamw`` or ``lars``."""
    if name == "lars":
        return LARS(groups, lr=lr, weight_decay=weight_decay, momentum=momentum)
    for g in groups:  # the flag only means something to LARS
        g.pop("lars_exclude", None)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=tuple(betas), eps=eps)
    if name == "adamw":
        return torch.optim.AdamW(
            groups, lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay
        )
    raise SelfsupError(f"unknown optimiser '{name}'; valid: sgd, adam, adamw, lars")


def warmup_cosine(warmup_steps: int, total_steps: int, min_ratio: float = 0.0, cosine: bool = True):
    """Multiplier of the base lr at a step: linear warm-up, then cosine decay to ``min_ratio``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        if not cosine:
            return 1.0
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor
