"""The evaluation protocols papers report, which train on images rather than cached features:

* linear evaluation: a linear classifier on the frozen encoder, trained with SGD (momentum
  0.9), random-resized-crop augmentation and a cosine learning-rate schedule;
* fine-tuning: the same, with the whole encoder trained too (a smaller learning rate for it).

The encoder is deep-copied, so the model being evaluated is never changed. Linear evaluation
keeps the encoder in eval mode (BatchNorm uses its running statistics) and, as MoCo v3 / MAE
do, puts a BatchNorm without affine parameters before the linear layer: it standardises the
features for SGD and is a fixed linear map at test time, so the classifier stays linear.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.data.datasets import BatchDataset
from selfsup.data.loading import batch_loader
from selfsup.data.views import to_unit_float
from selfsup.errors import InputError
from selfsup.evaluate.features import extract_features


def _cosine(step: int, total: int) -> float:
    """Multiplier of the base learning rate: cosine from 1 at step 0 to 0 at ``total``."""
    return 0.5 * (1 + math.cos(math.pi * min(step, total) / max(1, total)))


class SupervisedEval:
    """Train a classifier on an encoder's features from images, then score it on a split.

    Args:
        finetune: train the encoder too (fine-tuning) instead of freezing it (linear eval).
        epochs: passes over the training split (papers: 100 linear, 30-60 fine-tuning on
            ImageNet; the CLI default is smaller).
        lr: the classifier's SGD learning rate at batch size 256 (scaled linearly with it).
        encoder_lr_scale: the encoder's learning rate relative to ``lr`` when fine-tuning.
        weight_decay: SGD weight decay (0 for the linear layer, as MoCo; VICReg uses 1e-6).
        batch_size: images per step.
        augment: random views of a [0, 1] float batch (e.g. a ``selfsup.data.pipeline.View``);
            ``None`` trains on the images as they are.
        seed: seeds the classifier's initialisation, the batch order and the views.
        device: where to train; the encoder's device by default.
    """

    def __init__(
        self,
        finetune: bool = False,
        epochs: int = 30,
        lr: float = 0.1,
        encoder_lr_scale: float = 0.1,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        if epochs < 1 or batch_size < 1 or lr <= 0:
            raise InputError(
                f"SupervisedEval needs epochs, batch_size >= 1 and lr > 0, got {epochs}, "
                f"{batch_size}, {lr}"
            )
        self.finetune, self.epochs, self.lr = finetune, epochs, lr
        self.encoder_lr_scale, self.weight_decay = encoder_lr_scale, weight_decay
        self.batch_size, self.augment, self.seed, self.device = batch_size, augment, seed, device

    def fit(
        self,
        encoder: nn.Module,
        dataset: BatchDataset,
        preprocess: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> SupervisedEval:
        """Train on ``dataset`` (uint8 images, labels); ``preprocess`` maps [0, 1] floats to the
        encoder's input (its normalisation)."""
        device = torch.device(self.device) if self.device else _device_of(encoder)
        self.preprocess_ = preprocess or (lambda x: x)
        with torch.random.fork_rng(devices=[]):  # the caller's random stream is left alone
            torch.manual_seed(self.seed)
            optimiser = self._build(encoder, dataset, device)
            loader = batch_loader(
                dataset,
                self.batch_size,
                shuffle=True,
                drop_last=len(dataset) >= self.batch_size,
                seed=self.seed,
            )
            schedule = torch.optim.lr_scheduler.LambdaLR(
                optimiser, lambda step: _cosine(step, self.epochs * len(loader))
            )
            for epoch in range(self.epochs):
                loader.sampler.set_epoch(epoch)
                self.encoder_.train(self.finetune)
                self.head_.train()
                for images, labels in loader:
                    self.loss_ = self._step(images.to(device), labels.to(device), optimiser)
                    schedule.step()
        self.encoder_.eval(), self.head_.eval()
        return self

    def _build(self, encoder: nn.Module, dataset: BatchDataset, device) -> torch.optim.SGD:
        self.encoder_ = copy.deepcopy(encoder).to(device)
        self.encoder_.requires_grad_(self.finetune)
        dim = self._feature_dim(dataset, device)
        self.head_ = nn.Sequential(
            nn.BatchNorm1d(dim, affine=False), nn.Linear(dim, dataset.num_classes)
        ).to(device)
        nn.init.zeros_(self.head_[1].weight)
        nn.init.zeros_(self.head_[1].bias)
        lr = self.lr * self.batch_size / 256
        groups = [dict(params=list(self.head_.parameters()), lr=lr)]
        if self.finetune:
            encoder_lr = lr * self.encoder_lr_scale
            groups.append(dict(params=list(self.encoder_.parameters()), lr=encoder_lr))
        return torch.optim.SGD(groups, momentum=0.9, weight_decay=self.weight_decay)

    def _step(self, images: torch.Tensor, labels: torch.Tensor, optimiser) -> float:
        x = to_unit_float(images)
        if self.augment is not None:
            x = self.augment(x).clamp(0, 1)
        with torch.set_grad_enabled(self.finetune):
            features = self.encoder_(self.preprocess_(x)).flatten(1)
        loss = F.cross_entropy(self.head_(features), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return loss.item()

    @torch.no_grad()
    def _feature_dim(self, dataset: BatchDataset, device: torch.device) -> int:
        self.encoder_.eval()
        images = dataset.get_batch(torch.arange(min(2, len(dataset))))[0]
        return self.encoder_(self.preprocess_(to_unit_float(images.to(device)))).flatten(1).shape[1]

    @torch.no_grad()
    def predict(self, dataset: BatchDataset) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted classes and true labels, both ``(N,)``, for every image of ``dataset``."""
        model = nn.Sequential(self.encoder_, nn.Flatten(1), self.head_)
        logits, labels = extract_features(model, dataset, self.preprocess_)
        return logits.argmax(1), labels

    def score(self, dataset: BatchDataset) -> float:
        """Top-1 accuracy on ``dataset``."""
        predicted, labels = self.predict(dataset)
        return (predicted == labels).float().mean().item()


def _device_of(module: nn.Module) -> torch.device:
    return next(iter(module.parameters()), torch.empty(0)).device
