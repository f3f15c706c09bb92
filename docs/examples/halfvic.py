"""A method plug-in: VICReg with a covariance weight of its own (``method.name=halfvic``)."""

import selfsup
from selfsup.losses import vicreg_terms
from selfsup.methods import JointEmbedding


@selfsup.register_method("halfvic")
class HalfVICReg(JointEmbedding):
    def __init__(self, *, cov_weight: float = 0.5, **common):
        super().__init__(**common)
        self.cov_weight = cov_weight

    def objective(self, z_a, z_b):
        return vicreg_terms(z_a, z_b, cov_coeff=self.cov_weight)
