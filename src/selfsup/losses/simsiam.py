"""SimSiam's negative cosine with stop-gradient (Chen & He, CVPR 2021)."""

from __future__ import annotations

import torch

from selfsup.losses._checks import prediction_inputs
from selfsup.losses._wrappers import LossModule, scalar_loss
from selfsup.losses.byol import PredictionTerms, cross_view_cosine


def simsiam_terms(
    p_a: torch.Tensor, p_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor
) -> PredictionTerms:
    """SimSiam loss ``(D(p_a, z_b) + D(p_b, z_a)) / 2`` with ``D(p, z) = -cos(p, stopgrad(z))``.

    Args:
        p_a: ``(batch, dim)`` predictor output for view a.
        p_b: ``(batch, dim)`` predictor output for view b.
        z_a: ``(batch, dim)`` projector output for view a (stop-gradient here).
        z_b: ``(batch, dim)`` projector output for view b (stop-gradient here).

    Returns:
        ``loss`` in ``[-1, 1]`` (-1: predictions aligned with the targets) and ``cosine``.
    """
    prediction_inputs(p_a, p_b, z_a, z_b, "simsiam_loss", ("z_a", "z_b"))
    cosine = cross_view_cosine(p_a, p_b, z_a, z_b)
    return PredictionTerms(-cosine, cosine)


simsiam_loss = scalar_loss(simsiam_terms)


class SimSiamLoss(LossModule, terms=simsiam_terms):
    """SimSiam's negative cosine with stop-gradient as a module (Chen & He, "Exploring Simple
    Siamese Representation Learning", CVPR 2021).

    No settings. ``loss(p_a, p_b, z_a, z_b)``, all ``(batch, dim)``: predictor outputs of
    views a and b, projector outputs of views a and b (stop-gradient here); returns
    ``-(cos(p_a, z_b) + cos(p_b, z_a)) / 2`` in ``[-1, 1]``.
    """
