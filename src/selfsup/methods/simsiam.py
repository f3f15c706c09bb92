"""SimSiam (Chen & He, CVPR 2021): BYOL without the momentum network; one encoder, a predictor,
and a stop-gradient on the target branch are enough to avoid collapse."""

from __future__ import annotations

from torch import nn

from selfsup.losses import simsiam_terms
from selfsup.methods.base import JointEmbedding, encode_views, in_loss_precision
from selfsup.nets.mlp import mlp
from selfsup.registry import register_method


@register_method("simsiam")
class SimSiam(JointEmbedding):
    """Args:
    predictor_hidden: bottleneck of the predictor ``dim -> hidden -> dim`` (paper: 512 for
        a 2048-d projection, i.e. a quarter of it).
    """

    def __init__(self, *, predictor_hidden: int = 512, **common) -> None:
        super().__init__(**common)
        dim = self.projector[-1].out_features
        # as the official code: the projection ends in a BatchNorm without affine parameters
        self.projector.append(nn.BatchNorm1d(dim, affine=False))
        self.predictor = mlp([dim, predictor_hidden, dim])

    def compute_loss(self, views):
        features = encode_views(self.backbone, views[:2], self.channels_last)
        z_a, z_b = self.projector(features).chunk(2)
        # the predictor is network (autocast applies); as the official code, it sees each
        # view's batch on its own (its BatchNorm statistics are per view)
        p_a, p_b = self.predictor(z_a), self.predictor(z_b)
        terms = in_loss_precision(simsiam_terms, p_a, p_b, z_a, z_b)
        return terms, features[: views[0].shape[0]]
