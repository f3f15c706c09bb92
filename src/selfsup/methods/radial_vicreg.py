"""Radial-VICReg (Kuang et al., 2026): VICReg plus a term that matches the law of the embedding
norms to the Chi distribution of a standard Gaussian (KL or Wasserstein-1 form)."""

from selfsup.errors import SelfsupError
from selfsup.losses import radial_vicreg_terms
from selfsup.methods.base import JointEmbedding


class RadialVICReg(JointEmbedding):
    """Args: ``radial`` (``"kl"`` or ``"w1"``), ``radial_coeff`` and VICReg's coefficients; see
    :func:`selfsup.losses.radial_vicreg_terms`."""

    def __init__(
        self,
        *,
        radial: str = "kl",
        radial_coeff: float = 1.0,
        sim_coeff: float = 25.0,
        std_coeff: float = 25.0,
        cov_coeff: float = 1.0,
        eps: float = 1e-4,
        **common,
    ) -> None:
        super().__init__(**common)
        if radial not in ("kl", "w1"):
            raise SelfsupError(f"method.params.radial must be 'kl' or 'w1', got '{radial}'")
        self.loss_args = dict(
            radial=radial,
            radial_coeff=radial_coeff,
            sim_coeff=sim_coeff,
            std_coeff=std_coeff,
            cov_coeff=cov_coeff,
            eps=eps,
        )

    def objective(self, z_a, z_b):
        return radial_vicreg_terms(
            z_a, z_b, **self.loss_args, gather_distributed=self.gather_distributed
        )
