"""BYOL's normalised MSE (Grill et al., NeurIPS 2020): a prediction of one view regresses the
momentum network's projection of the other."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from selfsup.losses._checks import prediction_inputs
from selfsup.losses._wrappers import LossModule, scalar_loss


class PredictionTerms(NamedTuple):
    """The symmetrised loss and its mean cosine similarity between predictions and targets."""

    loss: torch.Tensor
    cosine: torch.Tensor


def cross_view_cosine(
    p_a: torch.Tensor, p_b: torch.Tensor, t_a: torch.Tensor, t_b: torch.Tensor
) -> torch.Tensor:
    """Mean of ``cos(p_a, t_b)`` and ``cos(p_b, t_a)`` over the batch, targets detached
    (each prediction regresses the *other* view's target). All four are ``(batch, dim)``."""
    cos_ab = F.cosine_similarity(p_a, t_b.detach(), dim=1)
    cos_ba = F.cosine_similarity(p_b, t_a.detach(), dim=1)
    return (cos_ab.mean() + cos_ba.mean()) / 2


def byol_terms(
    p_a: torch.Tensor, p_b: torch.Tensor, t_a: torch.Tensor, t_b: torch.Tensor
) -> PredictionTerms:
    """BYOL loss, symmetrised over the two views.

    ``loss = (||p̄_a - t̄_b||^2 + ||p̄_b - t̄_a||^2) / 2`` averaged over the batch, with
    ``x̄ = x / ||x||``; each squared distance equals ``2 - 2 cos``. The paper sums the two
    directions (``L + L~``); we average them, so the scale is that of one direction.

    Args:
        p_a: ``(batch, dim)`` predictor output of the online network for view a.
        p_b: ``(batch, dim)`` predictor output of the online network for view b.
        t_a: ``(batch, dim)`` projection of view a by the target (momentum) network; detached.
        t_b: ``(batch, dim)`` projection of view b by the target network; detached.
    """
    prediction_inputs(p_a, p_b, t_a, t_b, "byol_loss")
    cosine = cross_view_cosine(p_a, p_b, t_a, t_b)
    return PredictionTerms(2 - 2 * cosine, cosine)


byol_loss = scalar_loss(byol_terms)


class BYOLLoss(LossModule, terms=byol_terms):
    """BYOL's normalised MSE as a module (Grill et al., "Bootstrap Your Own Latent: A New
    Approach to Self-Supervised Learning", NeurIPS 2020).

    No settings. ``loss(p_a, p_b, t_a, t_b)``, all ``(batch, dim)``: online predictions of
    views a and b, target (momentum) projections of views a and b (detached here); returns
    the mean of ``2 - 2 cos(p_a, t_b)`` and ``2 - 2 cos(p_b, t_a)``, the scale of one
    direction of the paper's symmetrised sum. ``loss.terms(...)`` adds the mean cosine.
    """
