"""SimCLR (Chen et al., 2020): NT-Xent over the 2B views of a batch."""

from selfsup.losses import info_nce_terms
from selfsup.methods.base import JointEmbedding
from selfsup.registry import register_method


@register_method("simclr")
class SimCLR(JointEmbedding):
    def __init__(self, *, temperature: float = 0.1, **common) -> None:
        super().__init__(**common)
        self.temperature = temperature

    def objective(self, z_a, z_b):
        return info_nce_terms(
            z_a, z_b, self.temperature, gather_distributed=self.gather_distributed
        )
