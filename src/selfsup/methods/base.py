"""What every method shares: views on the device, the optimiser, logging, a finite-loss guard.

A method subclasses ``SSLMethod`` and implements ``compute_loss`` (or, for two-view joint
embeddings, subclasses ``JointEmbedding`` and implements ``objective``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import lightning as L
import torch
from torch import nn

from selfsup.data.views import MultiView, Normalise, to_unit_float
from selfsup.errors import NonFiniteLossError, SelfsupError
from selfsup.nets.mlp import projector
from selfsup.optim import OptimSettings, build_optimizer, parameter_groups, warmup_cosine
from selfsup.validation import NonFiniteInputError

T = TypeVar("T")


def loss_precision(z: torch.Tensor) -> torch.Tensor:
    """Half and bfloat16 embeddings up to float32 for the loss; float32 and float64 stay."""
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


def in_loss_precision(loss: Callable[..., T], *tensors: torch.Tensor, **options) -> T:
    """``loss(*tensors, **options)`` with autocast off and half / bfloat16 tensors in float32.

    Under ``trainer.precision=bf16-mixed`` / ``16-mixed`` the networks run in half precision,
    but a loss computed there loses what it measures: bfloat16's 8-bit mantissa cannot hold
    VICReg's covariances, a softmax over thousands of DINO prototypes or MoCo negatives, or
    the ``2 - 2 cos`` of BYOL once the cosine is near 1. Every joint-embedding method
    (``JointEmbedding.compute_loss``), MoCo, BYOL, SimSiam and DINO compute their loss
    through it; the generative methods (VAE, SimVAE) call their ELBOs directly.
    """
    with torch.autocast(tensors[0].device.type, enabled=False):
        return loss(*(loss_precision(t) for t in tensors), **options)


def rename_state_on_load(module: nn.Module, renames: dict[str, str]) -> None:
    """Let ``module.load_state_dict`` accept a state saved under older key names:
    ``renames`` maps an old key (relative to the module) to its new one."""

    def hook(_module, state_dict, prefix, *_) -> None:
        for old, new in renames.items():
            if prefix + old in state_dict and prefix + new not in state_dict:
                state_dict[prefix + new] = state_dict.pop(prefix + old)

    module.register_load_state_dict_pre_hook(hook)


def encode_views(
    backbone: nn.Module, views: Sequence[torch.Tensor], channels_last: bool
) -> torch.Tensor:
    """Backbone features of several same-sized views in one pass, ``(len(views) * B, dim)``:
    larger matrix products, and BatchNorm sees all views at once."""
    images = torch.cat(list(views))
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return backbone(images)


def sized_to_data(name: str, value: int | str | None, auto: Callable[[], int]) -> int:
    """``value``, or ``auto()`` where it is ``"auto"`` (a default sized to the data); a one-line
    error for anything but a positive integer or ``"auto"``."""
    if value == "auto":
        return auto()
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SelfsupError(f"method.params.{name} must be an integer >= 1 or 'auto', got {value!r}")
    return value


class SSLMethod(L.LightningModule):
    """Base of all methods.

    Args:
        backbone: maps normalised images to the representation; has ``out_dim``.
        views: makes the random views of a [0, 1] float batch.
        normalise: channel normalisation applied to every view and evaluation image.
        optim: the optimiser's settings (:class:`selfsup.optim.OptimSettings`; a dict of the
            config's ``optim`` section is converted).
        gather_distributed: compute the loss on the global batch across processes.
        seed: with the global step, seeds each step's random views, so a resumed run replays
            exactly the views an uninterrupted one would have drawn.
        train_size: number of images SSL trains on, for parameters whose ``"auto"`` default is
            sized to the data (MoCo's queue, DINO's prototypes); ``None`` (unknown): they take
            their papers' ImageNet values.
        batch_size: images per process per step, for ``optim.scale_lr_with_batch`` (the
            global batch is this times the number of processes); ``None``: unknown.
    """

    def __init__(
        self,
        backbone: nn.Module,
        views: MultiView,
        normalise: Normalise,
        optim: OptimSettings | Mapping[str, Any],
        gather_distributed: bool = True,
        seed: int = 0,
        train_size: int | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.views = views
        self.normalise = normalise
        self.optim = (
            optim if isinstance(optim, OptimSettings) else OptimSettings.from_mapping(optim)
        )
        self.gather_distributed = gather_distributed
        self.seed = seed
        self.train_size = train_size
        self.batch_size = batch_size
        self.run_config: dict | None = None  # stored in checkpoints so they are self-describing
        # channels-last convolutions are markedly faster on CPU (oneDNN) and on tensor cores
        self.channels_last = any(isinstance(m, nn.Conv2d) for m in backbone.modules())
        if self.channels_last:
            self.backbone.to(memory_format=torch.channels_last)

    # --- the part a method defines -------------------------------------------------------
    def compute_loss(self, views: list[torch.Tensor]) -> tuple[NamedTuple, torch.Tensor]:
        """Loss terms (a NamedTuple whose first field is ``loss``) and the backbone features
        of the first view ``(batch, out_dim)`` (used by the online probe)."""
        raise NotImplementedError

    # --- shared machinery ---------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Representation of normalised images ``(B, C, H, W)`` -> ``(B, out_dim)``."""
        return self.backbone(images)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Representation of [0, 1] float or uint8 images (normalisation applied here)."""
        return self.backbone(self.normalise(to_unit_float(images)))

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        # distinct per rank, or every rank would crop its i-th image the same way
        step = self.global_step * self.trainer.world_size + self.global_rank
        torch.manual_seed(self.seed * 1_000_003 + step)

    def _diverged(self, value: float) -> NonFiniteLossError:
        return NonFiniteLossError(self.global_step, self.current_epoch, value, self.optim.lr)

    def training_step(self, batch, batch_idx: int):
        images, labels = batch
        views = [self.normalise(v) for v in self.views(to_unit_float(images))]
        try:
            terms, features = self.compute_loss(views)
        except NonFiniteInputError as err:  # the network's outputs went NaN / inf
            raise self._diverged(math.nan) from err
        loss = terms[0]
        if not torch.isfinite(loss):
            raise self._diverged(loss.item())
        self.log_dict(
            {f"train/{k}": v.detach() for k, v in terms._asdict().items()},
            prog_bar=False,
            on_step=True,
            on_epoch=True,
            sync_dist=True,  # epoch means over every process's batches (no-op on one)
        )
        self.log("loss", loss.detach(), prog_bar=True, logger=False)
        return {"loss": loss, "features": features.detach(), "labels": labels}

    def validation_step(self, batch, batch_idx: int):
        images, labels = batch
        return {"features": self.encode(images), "labels": labels}

    def configure_optimizers(self):
        o = self.optim
        world = self.trainer.world_size if self._trainer else 1
        lr = o.peak_lr(None if self.batch_size is None else self.batch_size * world)
        modules = [m for name, m in self.named_children() if name not in ("views", "normalise")]
        optimiser = build_optimizer(
            parameter_groups(modules, o.weight_decay),
            o.name,
            lr,
            o.weight_decay,
            o.momentum,
            o.betas,
            o.eps,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches))
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        warmup = int(o.warmup_epochs * per_epoch)
        factor = warmup_cosine(warmup, total, o.min_lr_ratio, cosine=o.schedule == "cosine")
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
        return {"optimizer": optimiser, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["selfsup_config"] = self.run_config


class JointEmbedding(SSLMethod):
    """Two views through one backbone and projector, then a loss on the two embeddings.

    Args:
        projector_dims: widths of the projector MLP after the backbone.
        **common: ``SSLMethod`` arguments.
    """

    def __init__(self, projector_dims: list[int], **common: Any) -> None:
        super().__init__(**common)
        self.projector = projector(self.backbone.out_dim, projector_dims)

    def objective(self, z_a: torch.Tensor, z_b: torch.Tensor) -> NamedTuple:
        """The loss terms of the two views' embeddings ``(B, dim)`` (methods whose loss needs
        more than the two embeddings override ``compute_loss`` instead)."""
        raise NotImplementedError

    def compute_loss(self, views: list[torch.Tensor]) -> tuple[NamedTuple, torch.Tensor]:
        features = encode_views(self.backbone, views, self.channels_last)
        z_a, z_b = self.projector(features).chunk(2)
        # float32 even under autocast: variances and covariances in bfloat16's 8-bit mantissa
        # lose what keeps the embedding from collapsing
        terms = in_loss_precision(self.objective, z_a, z_b)
        return terms, features[: views[0].shape[0]]
