"""VICReg-LogDet (Shwartz-Ziv et al., 2023): invariance + LogDet entropy of each branch."""

from selfsup.losses import vicreg_logdet_terms
from selfsup.methods.base import JointEmbedding
from selfsup.registry import register_method


@register_method("vicreg_logdet")
class VICRegLogDet(JointEmbedding):
    """``sim_coeff * mse(z_a, z_b) - logdet_coeff * (H_LD(z_a) + H_LD(z_b)) / 2``.

    ``H_LD(z) = 1/2 log det(I + S / eps^2)`` nats summed over the embedding dimensions (see
    :func:`selfsup.losses.vicreg_logdet_terms`); outputs settle at a larger scale than VICReg's.
    """

    def __init__(
        self,
        *,
        sim_coeff: float = 25.0,
        logdet_coeff: float = 1.0,
        eps: float = 1.0,
        **common,
    ) -> None:
        super().__init__(**common)
        self.loss_args = dict(sim_coeff=sim_coeff, logdet_coeff=logdet_coeff, eps=eps)

    def objective(self, z_a, z_b):
        return vicreg_logdet_terms(
            z_a, z_b, **self.loss_args, gather_distributed=self.gather_distributed
        )
