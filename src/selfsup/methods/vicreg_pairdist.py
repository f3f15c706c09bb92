"""VICReg-PairDist (Shwartz-Ziv et al., 2023): invariance + pairwise-distance entropy."""

from typing import Literal

from selfsup.losses import vicreg_pairdist_terms
from selfsup.methods.base import JointEmbedding
from selfsup.registry import register_method


@register_method("vicreg_pairdist")
class VICRegPairDist(JointEmbedding):
    """``sim_coeff * mse(z_a, z_b) - entropy_coeff * (H_D(z_a) + H_D(z_b)) / 2``.

    ``H_D`` is the Kolchinsky-Tracey entropy of the batch as a mixture of ``N(z_i, sigma^2 I)``
    (see :func:`selfsup.losses.vicreg_pairdist_terms`); ``bound``: ``"bhattacharyya"`` or ``"kl"``.
    """

    def __init__(
        self,
        *,
        sim_coeff: float = 25.0,
        entropy_coeff: float = 1.0,
        sigma: float = 1.0,
        bound: Literal["bhattacharyya", "kl"] = "bhattacharyya",
        **common,
    ) -> None:
        super().__init__(**common)
        self.loss_args = dict(
            sim_coeff=sim_coeff, entropy_coeff=entropy_coeff, sigma=sigma, bound=bound
        )

    def objective(self, z_a, z_b):
        return vicreg_pairdist_terms(
            z_a, z_b, **self.loss_args, gather_distributed=self.gather_distributed
        )
