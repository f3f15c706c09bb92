"""SimVAE (Bizeul, Schölkopf & Allen, TMLR 2024): a VAE whose J views of a sample share a
Gaussian cluster in latent space; trained with ELBO_SSL (``selfsup.losses.simvae_elbo``)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import torch

from selfsup.losses import simvae_elbo
from selfsup.methods.vae import GenerativeMethod
from selfsup.registry import register_method


@register_method("simvae")
class SimVAE(GenerativeMethod):
    """Args: sigma2 (variance of ``p(z|y)``, official 0.15), hyperprior (``"normal"``, the
    official default, or ``"uniform"``), and ``GenerativeMethod``'s likelihood options."""

    def __init__(
        self, *, sigma2: float = 0.15, hyperprior: Literal["normal", "uniform"] = "normal", **common
    ) -> None:
        super().__init__(**common)
        self.sigma2, self.hyperprior = sigma2, hyperprior

    def compute_loss(self, views: list[torch.Tensor]) -> tuple[NamedTuple, torch.Tensor]:
        v = self.encode_views(views)
        terms = simvae_elbo(
            v["x"],
            v["logits"],
            v["mu"],
            v["logvar"],
            v["z"],
            self.sigma2,
            self.likelihood,
            self.log_sigma_x2,
            self.hyperprior,
            self.weighting,
        )
        return terms, v["mu"][:, 0]
