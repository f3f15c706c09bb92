"""The losses as their papers write them, forming the D x D matrices: slow references.

``vicreg_loss``, ``barlow_twins_loss`` and ``info_nce_loss`` compute the same values by
cheaper routes (B x B Grams, a one-product backward). These are what they are checked
against (tests/perf/test_fast_paths.py) and timed against (benchmarks/losses.py).
Default coefficients are those of the fast losses. Shapes: ``a``, ``b`` are ``(B, D)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def textbook_vicreg(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    def cov(z):
        n, d = z.shape
        z = z - z.mean(0)
        c = z.T @ z / (n - 1)
        return (c.pow(2).sum() - torch.diagonal(c).pow(2).sum()) / d

    def std(z):
        return F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean()

    return 25 * F.mse_loss(a, b) + 25 * (std(a) + std(b)) / 2 + cov(a) + cov(b)


def textbook_barlow_twins(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    def standardise(z):
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)

    c = standardise(a).T @ standardise(b) / a.shape[0]
    d = torch.diagonal(c)
    return (d - 1).pow(2).sum() + 5.1e-3 * (c.pow(2).sum() - d.pow(2).sum())


def textbook_info_nce(a: torch.Tensor, b: torch.Tensor, t: float = 0.1) -> torch.Tensor:
    z = F.normalize(torch.cat([a, b]), dim=1)
    logits = (z @ z.T / t).masked_fill(torch.eye(len(z), dtype=torch.bool), float("-inf"))
    target = torch.arange(len(z)).roll(len(a))
    return F.cross_entropy(logits, target)
