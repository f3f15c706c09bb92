"""Linear and MLP probes on frozen features, with a scikit-learn-like fit / predict / score."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from selfsup.errors import InputError


class _Standardiser:
    def fit(self, x: torch.Tensor) -> _Standardiser:
        self.mean_ = x.mean(0)
        self.std_ = x.std(0).clamp_min(1e-6)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean_) / self.std_


def _check(features: torch.Tensor, labels: torch.Tensor | None = None) -> None:
    if features.ndim != 2:
        raise InputError(f"features must be (n, dim), got {tuple(features.shape)}")
    if labels is not None and labels.shape != (features.shape[0],):
        raise InputError(f"labels must be ({features.shape[0]},), got {tuple(labels.shape)}")


class LinearProbe:
    """Multinomial logistic regression on standardised features, solved to convergence.

    Full-batch L-BFGS with strong-Wolfe line search on the L2-regularised cross-entropy:
    a convex problem, so this reaches the same optimum as scikit-learn's
    ``LogisticRegression(C=1 / (n * weight_decay))`` in a fraction of the time on large sets.

    Args:
        weight_decay: L2 penalty ``weight_decay / 2 * ||W||^2`` added to the mean loss.
        max_iter: L-BFGS iterations.
    """

    def __init__(
        self,
        weight_decay: float = 1e-4,
        max_iter: int = 500,
        device: str | torch.device | None = None,
    ) -> None:
        self.weight_decay, self.max_iter, self.device = weight_decay, max_iter, device

    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> LinearProbe:
        _check(features, labels)
        device = torch.device(self.device) if self.device else features.device
        x = features.to(device, torch.float32)
        y = labels.to(device)
        self.scaler_ = _Standardiser().fit(x)
        x = self.scaler_(x)
        self.num_classes_ = int(y.max()) + 1
        self.linear_ = nn.Linear(x.shape[1], self.num_classes_).to(device)
        nn.init.zeros_(self.linear_.weight)
        nn.init.zeros_(self.linear_.bias)
        optimiser = torch.optim.LBFGS(
            self.linear_.parameters(),
            lr=1,
            max_iter=self.max_iter,
            history_size=20,
            tolerance_grad=1e-6,
            tolerance_change=1e-9,
            line_search_fn="strong_wolfe",
        )

        def closure():
            optimiser.zero_grad()
            loss = F.cross_entropy(self.linear_(x), y)
            loss = loss + self.weight_decay / 2 * self.linear_.weight.pow(2).sum()
            loss.backward()
            return loss

        optimiser.step(closure)
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        _check(features)
        x = features.to(self.linear_.weight.device, torch.float32)
        return self.linear_(self.scaler_(x))

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        return self.decision_function(features).argmax(1).cpu()

    def score(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        return (self.predict(features) == labels.cpu()).float().mean().item()


class MLPProbe(LinearProbe):
    """One hidden layer (ReLU) on standardised features, trained with Adam on mini-batches."""

    def __init__(
        self,
        hidden: int = 512,
        epochs: int = 50,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        batch_size: int = 512,
        seed: int = 0,
        device: str | torch.device | None = None,
    ) -> None:
        self.hidden, self.epochs, self.lr = hidden, epochs, lr
        self.weight_decay, self.batch_size, self.seed, self.device = (
            weight_decay,
            batch_size,
            seed,
            device,
        )

    def fit(self, features: torch.Tensor, labels: torch.Tensor) -> MLPProbe:
        _check(features, labels)
        device = torch.device(self.device) if self.device else features.device
        g = torch.Generator().manual_seed(self.seed)
        x = features.to(device, torch.float32)
        y = labels.to(device)
        self.scaler_ = _Standardiser().fit(x)
        x = self.scaler_(x)
        self.num_classes_ = int(y.max()) + 1
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            net = nn.Sequential(
                nn.Linear(x.shape[1], self.hidden),
                nn.ReLU(),
                nn.Linear(self.hidden, self.num_classes_),
            ).to(device)
        optimiser = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        steps = self.epochs * max(1, x.shape[0] // self.batch_size)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
        for _ in range(self.epochs):
            order = torch.randperm(x.shape[0], generator=g).to(device)
            for start in range(0, x.shape[0] - self.batch_size + 1 or 1, self.batch_size):
                idx = order[start : start + self.batch_size]
                optimiser.zero_grad()
                F.cross_entropy(net(x[idx]), y[idx]).backward()
                optimiser.step()
                schedule.step()
        self.linear_ = net.eval()
        return self

    @torch.no_grad()
    def decision_function(self, features: torch.Tensor) -> torch.Tensor:
        _check(features)
        x = features.to(next(self.linear_.parameters()).device, torch.float32)
        return self.linear_(self.scaler_(x))
