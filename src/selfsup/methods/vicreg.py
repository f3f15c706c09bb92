"""VICReg (Bardes, Ponce & LeCun, 2022): invariance + variance hinge + covariance penalty."""

from selfsup.losses import vicreg_terms
from selfsup.methods.base import JointEmbedding
from selfsup.registry import register_method


@register_method("vicreg")
class VICReg(JointEmbedding):
    def __init__(
        self,
        *,
        sim_coeff: float = 25.0,
        std_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        eps: float = 1e-4,
        **common,
    ) -> None:
        super().__init__(**common)
        self.loss_args = dict(
            sim_coeff=sim_coeff, std_coeff=std_coeff, cov_coeff=cov_coeff, eps=eps
        )

    def objective(self, z_a, z_b):
        return vicreg_terms(z_a, z_b, **self.loss_args, gather_distributed=self.gather_distributed)
