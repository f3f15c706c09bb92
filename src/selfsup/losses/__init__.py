"""Self-supervised objectives as pure functions on tensors.

Each ``*_loss`` returns a scalar; its ``*_terms`` companion returns a NamedTuple with the total
and the named terms, for logging. All accept ``gather_distributed=True`` to compute the loss on
the global batch across processes (see ``selfsup.losses.distributed``).
"""

from selfsup.losses.barlow_twins import BarlowTwinsTerms, barlow_twins_loss, barlow_twins_terms
from selfsup.losses.clip import CLIPTerms, clip_loss, clip_terms
from selfsup.losses.info_nce import InfoNCETerms, info_nce_loss, info_nce_terms
from selfsup.losses.info_vicreg import (
    InfoVICRegTerms,
    vicreg_logdet_loss,
    vicreg_logdet_terms,
    vicreg_pairdist_loss,
    vicreg_pairdist_terms,
)
from selfsup.losses.simvae import SimVAETerms, simvae_elbo, simvae_loss
from selfsup.losses.vae import (
    CRVAETerms,
    VAETerms,
    cr_vae_elbo,
    gaussian_kl,
    reconstruction_nll,
    vae_elbo,
)
from selfsup.losses.vicreg import VICRegTerms, vicreg_loss, vicreg_terms

__all__ = [
    "BarlowTwinsTerms",
    "CRVAETerms",
    "CLIPTerms",
    "InfoNCETerms",
    "InfoVICRegTerms",
    "SimVAETerms",
    "VAETerms",
    "VICRegTerms",
    "barlow_twins_loss",
    "barlow_twins_terms",
    "clip_loss",
    "clip_terms",
    "cr_vae_elbo",
    "gaussian_kl",
    "info_nce_loss",
    "info_nce_terms",
    "reconstruction_nll",
    "simvae_elbo",
    "simvae_loss",
    "vae_elbo",
    "vicreg_logdet_loss",
    "vicreg_logdet_terms",
    "vicreg_loss",
    "vicreg_pairdist_loss",
    "vicreg_pairdist_terms",
    "vicreg_terms",
]
