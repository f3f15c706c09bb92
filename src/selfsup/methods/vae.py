"""Generative baselines: VAE, beta-VAE and CR-VAE, trained on augmented views.

All share ``GenerativeMethod``: the backbone is a VAE encoder (``mlp_vae`` / ``conv_vae``)
whose ``forward`` is the posterior mean, the representation every evaluation uses; the
decoder mirrors it. Images reach the encoder un-normalised in [0, 1] (the likelihood is on
pixel values), so the dataset's channel normalisation is replaced by the identity.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import torch

from selfsup.data.views import Normalise
from selfsup.errors import SelfsupError
from selfsup.losses import cr_vae_elbo, vae_elbo
from selfsup.losses.vae import LIKELIHOODS, WEIGHTINGS
from selfsup.methods.base import SSLMethod
from selfsup.registry import register_method


class GenerativeMethod(SSLMethod):
    """Encoder + mirrored decoder; shared encoding of J views and picture helpers.

    Args:
        likelihood: ``"bernoulli"`` (MNIST-like) or ``"gaussian"`` (colour images).
        log_sigma_x2: log variance of the Gaussian likelihood (official -4.6).
        binarise_targets: threshold the *reconstruction targets* at this value (the official
            code binarises MNIST at 0.5); inputs stay grey so that evaluation on plain images
            sees what training saw. ``None``: targets are the grey values.
        weighting: ``"elbo"`` (the paper's objective) or ``"official"`` (the official code's
            weighting of its terms; see ``selfsup.losses.simvae_elbo`` and docs/simvae.md).
        **common: ``SSLMethod`` arguments.
    """

    def __init__(
        self,
        *,
        likelihood: Literal["bernoulli", "gaussian"] = "bernoulli",
        log_sigma_x2: float = -4.6,
        binarise_targets: float | None = None,
        weighting: Literal["elbo", "official"] = "elbo",
        **common: Any,
    ) -> None:
        super().__init__(**common)
        if not hasattr(self.backbone, "posterior") or not hasattr(self.backbone, "make_decoder"):
            raise SelfsupError(
                f"{type(self).__name__} needs a VAE encoder backbone (mlp_vae or conv_vae), "
                f"got {type(self.backbone).__name__}"
            )
        if likelihood not in LIKELIHOODS:
            raise SelfsupError(
                f"unknown likelihood '{likelihood}'; valid: {', '.join(LIKELIHOODS)}"
            )
        if weighting not in WEIGHTINGS:
            raise SelfsupError(f"unknown weighting '{weighting}'; valid: {', '.join(WEIGHTINGS)}")
        self.likelihood, self.log_sigma_x2 = likelihood, log_sigma_x2
        self.weighting = weighting
        self.binarise_targets = binarise_targets
        self.decoder = self.backbone.make_decoder()
        channels = self.backbone.in_shape[0]
        self.normalise = Normalise((0.0,) * channels, (1.0,) * channels)

    def encode_views(self, views: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """J views ``(B, C, H, W)`` -> ``x`` targets ``(B, J, C, H, W)``, decoder ``logits``
        (same shape), ``mu``, ``logvar``, ``z`` ``(B, J, L)``; one pass over all views."""
        batch, n_views = views[0].shape[0], len(views)
        x = torch.stack(views, dim=1)
        mu, logvar = self.backbone.posterior(x.flatten(0, 1))
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = self.decoder(z)
        if self.binarise_targets is not None:
            x = (x > self.binarise_targets).to(x.dtype)

        def per_sample(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, n_views, *t.shape[1:])

        return dict(
            x=x,
            logits=per_sample(logits),
            mu=per_sample(mu),
            logvar=per_sample(logvar),
            z=per_sample(z),
        )

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        """[0, 1] images ``(B, C, H, W)`` -> mean reconstructions ``sigmoid(g(mu))``, same shape."""
        return torch.sigmoid(self.decoder(self.encode(images)))

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latents ``(B, L)`` -> images in [0, 1] ``(B, C, H, W)``."""
        return torch.sigmoid(self.decoder(z))


@register_method("vae")
class VAE(GenerativeMethod):
    """VAE with a standard-normal prior on every view independently (beta-VAE if beta != 1)."""

    def __init__(self, *, beta: float = 1.0, **common: Any) -> None:
        super().__init__(**common)
        self.beta = beta

    def compute_loss(self, views: list[torch.Tensor]) -> tuple[NamedTuple, torch.Tensor]:
        v = self.encode_views(views)
        terms = vae_elbo(
            v["x"].flatten(0, 1),
            v["logits"].flatten(0, 1),
            v["mu"].flatten(0, 1),
            v["logvar"].flatten(0, 1),
            self.beta,
            self.likelihood,
            self.log_sigma_x2,
            self.weighting,
            v["z"].flatten(0, 1),
        )
        return terms, v["mu"][:, 0]


@register_method("beta_vae")
class BetaVAE(VAE):
    """beta-VAE (Higgins et al., 2017): the VAE with the KL weighted by beta (default 4)."""

    def __init__(self, *, beta: float = 4.0, **common: Any) -> None:
        super().__init__(beta=beta, **common)


@register_method("cr_vae")
class CRVAE(GenerativeMethod):
    """Consistency-regularised VAE (Sinha & Dieng, 2021) on two views; see ``cr_vae_elbo``."""

    def __init__(self, *, beta: float = 1.0, gamma: float = 1.0, **common: Any) -> None:
        super().__init__(**common)
        if len(self.views.views) != 2:
            raise SelfsupError(
                f"CR-VAE uses exactly 2 views, got data.n_views={len(self.views.views)}"
            )
        if self.weighting != "elbo":
            # the official SimVAE code has no CR-VAE, so there is no official weighting to copy
            raise SelfsupError("CR-VAE has only weighting 'elbo' (the official code has no CR-VAE)")
        self.beta, self.gamma = beta, gamma

    def compute_loss(self, views: list[torch.Tensor]) -> tuple[NamedTuple, torch.Tensor]:
        v = self.encode_views(views)
        terms = cr_vae_elbo(
            v["x"],
            v["logits"],
            v["mu"],
            v["logvar"],
            self.beta,
            self.gamma,
            self.likelihood,
            self.log_sigma_x2,
        )
        return terms, v["mu"][:, 0]
