"""Self-supervised objectives as pure functions on tensors.

Each ``*_loss`` returns a scalar; its ``*_terms`` companion returns a NamedTuple with the total
and the named terms, for logging. All accept ``gather_distributed=True`` to compute the loss on
the global batch across processes (see ``selfsup.losses.distributed``).
"""

from selfsup.losses.barlow_twins import BarlowTwinsTerms, barlow_twins_loss, barlow_twins_terms
from selfsup.losses.clip import CLIPTerms, clip_loss, clip_terms
from selfsup.losses.info_nce import InfoNCETerms, info_nce_loss, info_nce_terms
from selfsup.losses.vicreg import VICRegTerms, vicreg_loss, vicreg_terms

__all__ = [
    "BarlowTwinsTerms",
    "CLIPTerms",
    "InfoNCETerms",
    "VICRegTerms",
    "barlow_twins_loss",
    "barlow_twins_terms",
    "clip_loss",
    "clip_terms",
    "info_nce_loss",
    "info_nce_terms",
    "vicreg_loss",
    "vicreg_terms",
]
