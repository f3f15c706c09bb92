"""One pinned value per public loss function: a silent change of any objective fails here.

``tests/methods/test_pinned_objectives.py`` pins each *method* (network, projector and loss
together); this module pins each loss *function* on its own, including the ones no method uses
(``clip_loss``, the Gaussian likelihood, the uniform hyperprior, the KL bound of the
pair-distance entropy). Seeded float64 inputs; the loss and the norm of its gradient over
every input tensor are pinned. The numbers were produced by this module's ``__main__`` at the
commit that added it; a deliberate change of an objective re-pins them with

    python -m tests.losses.test_pinned_losses

and says why in its commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from selfsup import losses
from tests.pinning import assert_matches_pin, print_pins


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


def _four() -> tuple[torch.Tensor, ...]:
    """Two predictions and two targets, ``(8, 6)`` each (BYOL, SimSiam)."""
    a, b = _pair()
    g = torch.Generator().manual_seed(23)
    return a, b, b + 0.5 * torch.randn(8, 6, generator=g, dtype=torch.float64), a.flip(0)


def _queue() -> tuple[torch.Tensor, ...]:
    """Query, key and a queue of 10 normalised keys (MoCo)."""
    a, b = _pair()
    g = torch.Generator().manual_seed(29)
    return a, b, torch.nn.functional.normalize(torch.randn(10, 6, generator=g, dtype=torch.float64))


def _crops() -> tuple[torch.Tensor, ...]:
    """DINO: student scores of 4 crops, teacher scores of the 2 global ones, a centre; K = 5."""
    g = torch.Generator().manual_seed(31)
    student = torch.randn(4, 3, 5, generator=g, dtype=torch.float64)
    teacher = student[:2] + 0.3 * torch.randn(2, 3, 5, generator=g, dtype=torch.float64)
    return student, teacher, 0.1 * torch.randn(5, generator=g, dtype=torch.float64)


def _no_grad_output(value: torch.Tensor, *inputs: torch.Tensor) -> torch.Tensor:
    """A bookkeeping function's output made a graph node (gradient 0), so it pins like a loss."""
    return value.sum() + 0 * sum(t.sum() for t in inputs)


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
    "simvae_elbo_official": (
        _views,
        lambda x, lg, mu, lv, z: losses.simvae_elbo(x, lg, mu, lv, z, weighting="official").loss,
    ),
    "vae_elbo_official": (
        _views,
        lambda x, lg, mu, lv, z: (
            losses.vae_elbo(
                _flat(x), _flat(lg), _flat(mu), _flat(lv), weighting="official", z=_flat(z)
            ).loss
        ),
    ),
    "gaussian_kl": (_views, lambda x, lg, mu, lv, z: losses.gaussian_kl(mu, lv).sum()),
    "gaussian_kl_to_posterior": (
        _views,
        lambda x, lg, mu, lv, z: losses.gaussian_kl(mu[:, 0], lv[:, 0], mu[:, 1], lv[:, 1]).sum(),
    ),
    "reconstruction_nll": (_views, lambda x, lg, mu, lv, z: losses.reconstruction_nll(x, lg).sum()),
    "byol_loss": (_four, losses.byol_loss),
    "simsiam_loss": (_four, losses.simsiam_loss),
    "moco_loss": (_queue, losses.moco_loss),
    "moco_loss_t0.07": (_queue, lambda q, k, n: losses.moco_loss(q, k, n, temperature=0.07)),
    "enqueue": (
        _queue,
        lambda q, k, n: _no_grad_output(losses.enqueue(n.detach().clone(), 7, k)[0], q, k, n),
    ),
    "dino_loss": (_crops, losses.dino_loss),
    "dino_loss_temperatures": (_crops, lambda s, t, c: losses.dino_loss(s, t, c, 0.2, 0.07)),
    "dino_center": (_crops, lambda s, t, c: _no_grad_output(losses.dino_center(c, t), s, t, c)),
    "radial_vicreg_loss": (_pair, losses.radial_vicreg_loss),
    "radial_vicreg_loss_w1": (
        _pair,
        lambda a, b: losses.radial_vicreg_loss(a, b, radial="w1", radial_coeff=2.0),
    ),
    "radial_kl": (_pair, lambda a, b: losses.radial_kl(a) + losses.radial_kl(b)),
    "radial_w1": (_pair, lambda a, b: losses.radial_w1(a) + losses.radial_w1(b)),
    "m_spacing_entropy": (_pair, lambda a, b: losses.m_spacing_entropy(a[:, 2], m=3)),
    "chi_log_density": (
        _pair,
        lambda a, b: losses.chi_log_density(a.norm(dim=1), 6).sum(),
    ),
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
    "simvae_elbo_official": (1539.2114383164578, 287.11375153986023),
    "vae_elbo_official": (761.7452659633365, 143.47709549312614),
    "gaussian_kl": (12.220188273162568, 4.866507591871787),
    "gaussian_kl_to_posterior": (11.032239038160897, 8.067700708040979),
    "reconstruction_nll": (45.67559658790603, 8.651560349379606),
    "byol_loss": (0.9300225217519322, 0.10691365727722152),
    "simsiam_loss": (-0.5349887391240339, 0.05345682863861076),
    "moco_loss": (0.28854243334746865, 0.06411292952772953),
    "moco_loss_t0.07": (0.03372379625581878, 0.05838647982678981),
    "enqueue": (-8.143057019881306, 0.0),
    "dino_loss": (13.39421310744085, 13.770937795608026),
    "dino_loss_temperatures": (6.8273692602206495, 4.248030236513391),
    "dino_center": (-0.08318552246865066, 0.0),
    "radial_vicreg_loss": (38.37820837365665, 11.708632514195946),
    "radial_vicreg_loss_w1": (32.06016650263622, 11.35365148062068),
    "radial_kl": (17.78806851226873, 2.4135115040613435),
    "radial_w1": (2.5759923851139455, 0.22360679774997896),
    "m_spacing_entropy": (2.645735247436279, 0.1396616510224382),
    "chi_log_density": (-123.4363038609826, 16.838973766561505),
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
