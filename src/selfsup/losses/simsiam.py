"""SimSiam's negative cosine with stop-gradient (Chen & He, CVPR 2021)."""

from __future__ import annotations

import torch

from selfsup.losses._checks import prediction_inputs
from selfsup.losses.byol import PredictionTerms, cross_view_cosine


def simsiam_terms(
    p_a: torch.Tensor, p_b: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor
) -> PredictionTerms:
    """SimSiam loss ``(D(p_a, z_b) + D(p_b, z_a)) / 2`` with ``D(p, z) = -cos(p, stopgrad(z))``.

    Args:
        p_a, p_b: ``(batch, dim)`` predictor outputs for views a, b.
        z_a, z_b: ``(batch, dim)`` projector outputs of the same network (stop-gradient here).

    Returns:
        ``loss`` in ``[-1, 1]`` (-1: predictions aligned with the targets) and ``cosine``.
    """
    prediction_inputs(p_a, p_b, z_a, z_b, "simsiam_loss", ("z_a", "z_b"))
    cosine = cross_view_cosine(p_a, p_b, z_a, z_b)
    return PredictionTerms(-cosine, cosine)


def simsiam_loss(p_a, p_b, z_a, z_b) -> torch.Tensor:
    """SimSiam loss, a scalar; see ``simsiam_terms``."""
    return simsiam_terms(p_a, p_b, z_a, z_b).loss
