"""The two training sides of ``vs_lightly.py``: lightly's documented VICReg recipe and ours.

Both train the same ConvNet 32-64-128 backbone and 128-512-512-512 projector with the same
optimiser (AdamW lr 2e-3 wd 1e-4, no decay on biases / norms, 50 warm-up steps); ``step()``
trains one batch of 256. ``vs_lightly.py``'s docstring describes the recipes.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

BATCH = 256
WARMUP = 50


def _optimiser(modules: list[nn.Module]) -> tuple[torch.optim.Optimizer, object]:
    from selfsup.optim import build_optimizer, parameter_groups

    opt = build_optimizer(parameter_groups(modules, 1e-4), "adamw", 2e-3, 1e-4)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / WARMUP))
    return opt, sched


def _autocast(precision: str, device: str = "cpu"):
    if precision == "bf16-mixed":
        return torch.autocast(device, dtype=torch.bfloat16)
    if precision == "16-mixed":
        return torch.autocast(device, dtype=torch.float16)
    return contextlib.nullcontext()


class _Stepper:
    """backward + optimiser step, through a gradient scaler under ``16-mixed``."""

    def __init__(self, opt, sched, precision: str, device: str) -> None:
        self.opt, self.sched = opt, sched
        self.scaler = torch.amp.GradScaler(device) if precision == "16-mixed" else None

    def __call__(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad()
        if self.scaler is None:
            loss.backward()
            self.opt.step()
        else:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.opt)
            self.scaler.update()
        self.sched.step()


def lightly_views(recipe: str, stats):
    """lightly's per-image transform for the recipe: PIL image -> [view a, view b]."""
    mean, std = stats
    if recipe == "cifar":
        from lightly.transforms import VICRegTransform

        return VICRegTransform(
            input_size=32,
            min_scale=0.2,
            gaussian_blur=0.0,
            solarize_prob=0.1,
            normalize={"mean": list(mean), "std": list(std)},
        )
    import torchvision.transforms as T
    from lightly.transforms.multi_view_transform import MultiViewTransform

    view = T.Compose(
        [
            T.RandomResizedCrop(28, scale=(0.3, 1.0), ratio=(0.75, 1.33)),
            T.RandomRotation(10),
            T.ToTensor(),
            T.Normalize(mean, std),
        ]
    )
    return MultiViewTransform([view, view])


class Lightly:
    """lightly's documented VICReg recipe on a per-image torchvision pipeline."""

    def __init__(
        self,
        data,
        recipe: str,
        precision: str,
        channels_last: bool,
        device: str = "cpu",
        workers: int = 2,
    ) -> None:
        from lightly.loss import VICRegLoss
        from lightly.models.modules.heads import VICRegProjectionHead

        from selfsup.data.views import normaliser
        from selfsup.nets.convnet import ConvNet

        torch.manual_seed(0)
        norm = normaliser(data.name, data.image_shape[0])
        self.normalise = norm.to(device)
        stats = (tuple(norm.mean.flatten().tolist()), tuple(norm.std.flatten().tolist()))
        self.dataset = _PILDataset(data.ssl_train, lightly_views(recipe, stats))
        self.loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=BATCH,
            shuffle=True,
            drop_last=True,
            num_workers=workers,
            persistent_workers=True,
            pin_memory=device == "cuda",
        )
        self.device = device
        self.backbone = ConvNet(data.image_shape).to(device)
        self.channels_last = channels_last
        if channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.head = VICRegProjectionHead(128, 512, 512, num_layers=3).to(device)
        self.criterion = VICRegLoss()
        self.precision = precision
        self.opt, self.sched = _optimiser([self.backbone, self.head])
        self.update = _Stepper(self.opt, self.sched, precision, device)
        self.it = iter(self.loader)
        self.steps = 0

    def step(self) -> None:
        try:
            (x0, x1), _ = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            (x0, x1), _ = next(self.it)
        x0 = x0.to(self.device, non_blocking=True)
        x1 = x1.to(self.device, non_blocking=True)
        if self.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
            x1 = x1.contiguous(memory_format=torch.channels_last)
        with _autocast(self.precision, self.device):
            z0 = self.head(self.backbone(x0))
            z1 = self.head(self.backbone(x1))
        self.update(self.criterion(z0.float(), z1.float()))
        self.steps += 1

    def encoder(self) -> tuple[nn.Module, nn.Module]:
        return self.backbone, self.normalise


class _PILDataset(torch.utils.data.Dataset):
    def __init__(self, images, transform) -> None:
        self.images, self.labels, self.transform = images.images, images.labels, transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        from PIL import Image

        image = self.images[i].numpy()
        image = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        return self.transform(Image.fromarray(image)), int(self.labels[i])


class Ours:
    """The ``vicreg`` method's training step, as ``SSLMethod.training_step`` runs it."""

    def __init__(self, data, recipe: str, precision: str, device: str = "cpu") -> None:
        from selfsup.config import load_config
        from selfsup.data import batch_loader
        from selfsup.methods import build_method

        torch.manual_seed(0)
        overrides = ["data.name=shapes", "data.views=cifar"] if recipe == "cifar" else []
        method = build_method(load_config("vicreg_mnist", overrides), data)
        self.method = method.to(device).train()
        self.device = device
        self.loader = batch_loader(data.ssl_train, BATCH, shuffle=True, drop_last=True, seed=0)
        self.opt, self.sched = _optimiser([self.method.backbone, self.method.projector])
        self.update = _Stepper(self.opt, self.sched, precision, device)
        self.precision = precision
        self.epoch, self.steps = 0, 0
        self.it = iter(self.loader)

    def step(self) -> None:
        from selfsup.data.views import to_unit_float

        try:
            images, _ = next(self.it)
        except StopIteration:
            self.epoch += 1
            self.loader.sampler.set_epoch(self.epoch)
            self.it = iter(self.loader)
            images, _ = next(self.it)
        images = images.to(self.device, non_blocking=True)
        m = self.method
        torch.manual_seed(m.seed * 1_000_003 + self.steps)  # as on_train_batch_start
        views = [m.normalise(v) for v in m.views(to_unit_float(images))]
        with _autocast(self.precision, self.device):
            terms, _ = m.compute_loss(views)
        self.update(terms.loss)
        self.steps += 1

    def encoder(self) -> tuple[nn.Module, nn.Module]:
        return self.method.backbone, self.method.normalise
