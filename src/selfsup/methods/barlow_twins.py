"""Barlow Twins (Zbontar et al., 2021): cross-correlation of the two views towards identity."""

from selfsup.losses import barlow_twins_terms
from selfsup.methods.base import JointEmbedding
from selfsup.registry import register_method


@register_method("barlow_twins")
class BarlowTwins(JointEmbedding):
    def __init__(self, *, lambd: float = 5.1e-3, **common) -> None:
        super().__init__(**common)
        self.lambd = lambd

    def objective(self, z_a, z_b):
        return barlow_twins_terms(z_a, z_b, self.lambd, gather_distributed=self.gather_distributed)
