"""One pinned value per public loss function: a silent change of any objective fails here.

``test_pinned_objectives.py`` pins each *method* (network, projector and loss together); this
module pins each loss *function* on its own, including the ones no method uses (``clip_loss``,
the Gaussian likelihood, the uniform hyperprior, the KL bound of the pair-distance entropy).
Seeded float64 inputs; the loss and the norm of its gradient over every input tensor are
pinned. The numbers were produced by this module's ``__main__`` at the commit that added it;
a deliberate change of an objective re-pins them with

    python -m tests.core.test_pinned_losses

and says why in its commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from selfsup import losses
from tests.core.pinning import assert_matches_pin, print_pins


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(19)
    a = torch.randn(8, 6, generator=g, dtype=torch.float64)
    a[:, 2] *= 5.0  # one more spread feature, so the covariance terms are not symmetric in j
    b = 0.7 * a + 0.4 * torch.randn(8, 6, generator=g, dtype=torch.float64) + 0.3
    return a, b


def _views(B: int = 3, J: int = 2, L: int = 4) -> tuple[torch.Tensor, ...]:
    """x in [0, 1], logits, mu, logvar, z for ``J`` views of ``B`` samples of 1x3x3 images."""
    g = torch.Generator().manual_seed(7)
    x = torch.rand(B, J, 1, 3, 3, generator=g, dtype=torch.float64)
    logits = torch.randn(B, J, 1, 3, 3, generator=g, dtype=torch.float64)
    mu = torch.randn(B, J, L, generator=g, dtype=torch.float64)
    logvar = 0.3 * torch.randn(B, J, L, generator=g, dtype=torch.float64)
    z = mu + torch.randn(B, J, L, generator=g, dtype=torch.float64) * (0.5 * logvar).exp()
    return x, logits, mu, logvar, z


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(0, 1)  # (B, J, ...) -> (B * J, ...) for the single-view VAE


# name: (inputs, loss of the inputs)
CASES: dict[str, tuple[Callable[[], tuple[torch.Tensor, ...]], Callable[..., torch.Tensor]]] = {
    "vicreg_loss": (_pair, losses.vicreg_loss),
    "vicreg_loss_weights": (_pair, lambda a, b: losses.vicreg_loss(a, b, 10.0, 5.0, 2.0, 1e-3)),
    "info_nce_loss": (_pair, losses.info_nce_loss),
    "info_nce_loss_t0.5": (_pair, lambda a, b: losses.info_nce_loss(a, b, temperature=0.5)),
    "barlow_twins_loss": (_pair, losses.barlow_twins_loss),
    "clip_loss": (_pair, lambda a, b: losses.clip_loss(a, b, 1 / 0.07)),
    "vicreg_logdet_loss": (_pair, losses.vicreg_logdet_loss),
    "vicreg_logdet_loss_beta": (_pair, lambda a, b: losses.vicreg_logdet_loss(a, b, beta=0.5)),
    "vicreg_pairdist_loss": (_pair, losses.vicreg_pairdist_loss),
    "vicreg_pairdist_loss_kl": (
        _pair,
        lambda a, b: losses.vicreg_pairdist_loss(a, b, sigma=1.5, bound="kl"),
    ),
    "vae_elbo": (
        _views,
        lambda x, lg, mu, lv, z: losses.vae_elbo(_flat(x), _flat(lg), _flat(mu), _flat(lv)).loss,
    ),
    "vae_elbo_gaussian_beta": (
        _views,
        lambda x, lg, mu, lv, z: (
            losses.vae_elbo(_flat(x), _flat(lg), _flat(mu), _flat(lv), 4.0, "gaussian", -2.0).loss
        ),
    ),
    "cr_vae_elbo": (_views, lambda x, lg, mu, lv, z: losses.cr_vae_elbo(x, lg, mu, lv).loss),
    "cr_vae_elbo_gaussian": (
        _views,
        lambda x, lg, mu, lv, z: losses.cr_vae_elbo(x, lg, mu, lv, 2.0, 0.5, "gaussian").loss,
    ),
    "simvae_loss": (_views, lambda x, lg, mu, lv, z: losses.simvae_loss(x, lg, mu, lv, z)),
    "simvae_elbo_uniform_gaussian": (
        _views,
        lambda x, lg, mu, lv, z: (
            losses.simvae_elbo(x, lg, mu, lv, z, 0.3, "gaussian", -1.0, "uniform").loss
        ),
    ),
    "gaussian_kl": (_views, lambda x, lg, mu, lv, z: losses.gaussian_kl(mu, lv).sum()),
    "gaussian_kl_to_posterior": (
        _views,
        lambda x, lg, mu, lv, z: losses.gaussian_kl(mu[:, 0], lv[:, 0], mu[:, 1], lv[:, 1]).sum(),
    ),
    "reconstruction_nll": (_views, lambda x, lg, mu, lv, z: losses.reconstruction_nll(x, lg).sum()),
}

# name: (loss, gradient norm over all inputs), float64
PINNED = {
    "vicreg_loss": (29.48417411752228, 11.316628680812782),
    "vicreg_loss_weights": (23.571504383392366, 11.240228913524458),
    "info_nce_loss": (0.9971151602652168, 0.1397729960422154),
    "info_nce_loss_t0.5": (1.7906039505053017, 0.12361111185841467),
    "barlow_twins_loss": (0.07923610058023767, 0.12383127914041203),
    "clip_loss": (0.5647052719433283, 0.13111513064701613),
    "vicreg_logdet_loss": (17.65090138840106, 9.18832180423504),
    "vicreg_logdet_loss_beta": (18.478144838695716, 9.188514299184485),
    "vicreg_pairdist_loss": (10.341433742260474, 9.19124474241721),
    "vicreg_pairdist_loss_kl": (7.631533307410368, 9.192761227710195),
    "vae_elbo": (9.649297476844767, 1.65439140052487),
    "vae_elbo_gaussian_beta": (13.669610112256011, 4.965546949059167),
    "cr_vae_elbo": (14.5669356544611, 4.545781159495505),
    "cr_vae_elbo_gaussian": (80.88998900638032, 50.70730684301505),
    "simvae_loss": (39.68968659148099, 10.3150874733599),
    "simvae_elbo_uniform_gaussian": (14.935216981779917, 5.695855493601939),
    "gaussian_kl": (12.220188273162568, 4.866507591871787),
    "gaussian_kl_to_posterior": (11.032239038160897, 8.067700708040979),
    "reconstruction_nll": (45.67559658790603, 8.651560349379606),
}


def one_value(name: str) -> tuple[float, float]:
    """The loss ``name`` and the norm of its gradient over every input, in float64."""
    make, fn = CASES[name]
    inputs = [t.clone().requires_grad_(True) for t in make()]
    loss = fn(*inputs)
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    norm = math.sqrt(sum(float(g.pow(2).sum()) for g in grads if g is not None))
    return loss.item(), norm


def test_every_case_is_pinned_and_every_loss_function_has_a_case():
    assert set(PINNED) == set(CASES)
    public = {n for n in losses.__all__ if n[0].islower() and not n.endswith("_terms")}
    covered = {n for n in public if any(c == n or c.startswith(n + "_") for c in CASES)}
    assert covered == public, f"no pinned case for {sorted(public - covered)}"


@pytest.mark.parametrize("name", sorted(PINNED))
def test_loss_matches_the_pinned_value(name):
    assert_matches_pin(name, one_value(name), PINNED[name])


if __name__ == "__main__":
    print_pins(CASES, one_value)
