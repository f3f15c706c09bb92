"""Radial-VICReg (Kuang et al., 2026): VICReg plus a term that matches the law of the embedding
norms to the Chi distribution of a standard Gaussian (KL or Wasserstein-1 form)."""

from typing import Literal

from selfsup.errors import SelfsupError
from selfsup.losses import radial_vicreg_terms
from selfsup.losses.radial_vicreg import RADIAL_FORMS
from selfsup.methods.vicreg import VICReg
from selfsup.registry import register_method


@register_method("radial_vicreg")
class RadialVICReg(VICReg):
    """Args: ``radial`` (``"kl"`` or ``"w1"``), ``radial_coeff``, and VICReg's coefficients;
    see :func:`selfsup.losses.radial_vicreg_terms`."""

    def __init__(
        self, *, radial: Literal["kl", "w1"] = "kl", radial_coeff: float = 1.0, **vicreg
    ) -> None:
        super().__init__(**vicreg)
        if radial not in RADIAL_FORMS:
            raise SelfsupError(f"method.params.radial must be 'kl' or 'w1', got '{radial}'")
        self.loss_args.update(radial=radial, radial_coeff=radial_coeff)

    def objective(self, z_a, z_b):
        return radial_vicreg_terms(
            z_a, z_b, **self.loss_args, gather_distributed=self.gather_distributed
        )
