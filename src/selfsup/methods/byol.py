"""BYOL (Grill et al., NeurIPS 2020): the online network's prediction of one view regresses the
momentum (target) network's projection of the other; momentum 0.996 -> 1 on a cosine."""

from __future__ import annotations

import torch

from selfsup.losses import byol_terms
from selfsup.methods.base import encode_views, in_loss_precision
from selfsup.methods.momentum import MomentumMethod
from selfsup.nets.mlp import mlp
from selfsup.registry import register_method


@register_method("byol")
class BYOL(MomentumMethod):
    """Args:
    predictor_hidden: width of the predictor MLP ``dim -> hidden -> dim`` (4096 in the paper).
    base_momentum, final_momentum: the target's EMA rate, cosine from 0.996 to 1.
    """

    def __init__(
        self,
        *,
        predictor_hidden: int = 4096,
        base_momentum: float = 0.996,
        final_momentum: float = 1.0,
        **common,
    ) -> None:
        super().__init__(base_momentum=base_momentum, final_momentum=final_momentum, **common)
        dim = self.projector[-1].out_features
        self.predictor = mlp([dim, predictor_hidden, dim])
        self.make_teacher("backbone", "projector")

    def compute_loss(self, views):
        x_a, x_b = views[0], views[1]
        features = encode_views(self.backbone, [x_a, x_b], self.channels_last)
        p_a, p_b = self.predictor(self.projector(features)).chunk(2)
        with torch.no_grad():
            target = encode_views(self.teacher["backbone"], [x_a, x_b], self.channels_last)
            t_a, t_b = self.teacher["projector"](target).chunk(2)
        terms = in_loss_precision(byol_terms, p_a, p_b, t_a, t_b)
        return terms, features[: x_a.shape[0]]
