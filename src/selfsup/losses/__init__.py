"""Self-supervised objectives as pure functions on tensors.

Each ``*_terms`` function returns a NamedTuple with the total and the named terms, for
logging; its ``*_loss`` companion, with the same arguments and defaults, the scalar. The pair
losses accept ``gather_distributed=True`` to compute the loss on the global batch across
processes (see ``selfsup.losses.distributed``).

Thin ``nn.Module`` s hold the settings (and the state, where a method keeps some) for a
training loop of one's own: ``VICRegLoss``, ``NTXentLoss`` (alias ``InfoNCELoss``),
``BarlowTwinsLoss``, ``BYOLLoss``, ``SimSiamLoss``, ``MoCoLoss`` (its queue of negatives as a
buffer) and ``DINOLoss`` (its teacher centre as a buffer, updated on every call).
"""

from selfsup.losses.barlow_twins import (
    BarlowTwinsLoss,
    BarlowTwinsTerms,
    barlow_twins_loss,
    barlow_twins_terms,
)
from selfsup.losses.byol import BYOLLoss, PredictionTerms, byol_loss, byol_terms
from selfsup.losses.clip import CLIPTerms, clip_loss, clip_terms
from selfsup.losses.dino import DINOLoss, DINOTerms, dino_center, dino_loss, dino_terms
from selfsup.losses.info_nce import (
    InfoNCELoss,
    InfoNCETerms,
    NTXentLoss,
    info_nce_loss,
    info_nce_terms,
)
from selfsup.losses.info_vicreg import (
    InfoVICRegTerms,
    vicreg_logdet_loss,
    vicreg_logdet_terms,
    vicreg_pairdist_loss,
    vicreg_pairdist_terms,
)
from selfsup.losses.moco import MoCoLoss, MoCoTerms, enqueue, moco_loss, moco_terms
from selfsup.losses.radial_vicreg import (
    RadialVICRegTerms,
    chi_log_density,
    m_spacing_entropy,
    radial_kl,
    radial_vicreg_loss,
    radial_vicreg_terms,
    radial_w1,
)
from selfsup.losses.simsiam import SimSiamLoss, simsiam_loss, simsiam_terms
from selfsup.losses.simvae import SimVAETerms, simvae_elbo, simvae_loss
from selfsup.losses.vae import (
    CRVAETerms,
    VAETerms,
    cr_vae_elbo,
    gaussian_kl,
    reconstruction_nll,
    vae_elbo,
)
from selfsup.losses.vicreg import VICRegLoss, VICRegTerms, vicreg_loss, vicreg_terms

__all__ = [
    "BYOLLoss",
    "BarlowTwinsLoss",
    "BarlowTwinsTerms",
    "CLIPTerms",
    "CRVAETerms",
    "DINOLoss",
    "DINOTerms",
    "InfoNCELoss",
    "InfoNCETerms",
    "InfoVICRegTerms",
    "MoCoLoss",
    "MoCoTerms",
    "NTXentLoss",
    "PredictionTerms",
    "RadialVICRegTerms",
    "SimSiamLoss",
    "SimVAETerms",
    "VAETerms",
    "VICRegLoss",
    "VICRegTerms",
    "barlow_twins_loss",
    "barlow_twins_terms",
    "byol_loss",
    "byol_terms",
    "chi_log_density",
    "clip_loss",
    "clip_terms",
    "cr_vae_elbo",
    "dino_center",
    "dino_loss",
    "dino_terms",
    "enqueue",
    "gaussian_kl",
    "info_nce_loss",
    "info_nce_terms",
    "m_spacing_entropy",
    "moco_loss",
    "moco_terms",
    "radial_kl",
    "radial_vicreg_loss",
    "radial_vicreg_terms",
    "radial_w1",
    "reconstruction_nll",
    "simsiam_loss",
    "simsiam_terms",
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
