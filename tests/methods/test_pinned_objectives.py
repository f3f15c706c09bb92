"""One pinned step per method: a silent change of any objective fails here.

Every method built by ``selfsup.methods.build_method`` (tiny networks, seeded, float64) takes
two fixed, different views of a seeded batch; its loss and the norm of the gradient over all
parameters are pinned. The numbers were produced by this module's ``__main__`` at the commit
that added it; a deliberate change of an objective re-pins them with

    python -m tests.methods.test_pinned_objectives

and says why in its commit. Unlike the closed-form tests, this catches any change (a term's
weight, a normalisation, a detached tensor inside a method's wiring), not only wrong maths.
"""

from __future__ import annotations

import functools
import math

import pytest
import torch

from selfsup import registry
from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.methods import METHODS, build_method
from tests.pinning import assert_matches_pin, print_pins

GENERATIVE = ("simvae", "vae", "beta_vae", "cr_vae")

# name: (loss, gradient norm), float64
PINNED = {
    "vicreg": (22.630074856719272, 16.493398334214014),
    "simclr": (5.461144753222747, 25.503737007569004),
    "barlow_twins": (14.944276990303244, 98.22774605754618),
    "simvae": (99.51533164630007, 7.955760244633984),
    "vae": (45.02881242397905, 1.306300510686263),
    "beta_vae": (45.29960973312645, 2.532840887762551),
    "cr_vae": (45.042643743254665, 1.3068815752284753),
    "vicreg_logdet": (4.471318936300856, 22.341257989151114),
    "vicreg_pairdist": (-12.3088701069982, 22.898863149619885),
    "moco": (5.667843538708938, 9.719350660456081),
    "byol": (2.1619742771987367, 31.359347363861374),
    "dino": (6.744676207527188, 17.51322903196665),
    "simsiam": (-0.08650095895122771, 2.215997771068922),
    "radial_vicreg": (29.170169968359517, 22.758089396370995),
}


@functools.cache
def _digits():
    return load_dataset("digits")


def one_step(name: str) -> tuple[float, float]:
    """Loss and parameter-gradient norm of ``name`` on the fixed batch, in float64."""
    overrides = [f"method.name={name}", "data.views=none", "seed=0"]
    if name in GENERATIVE:
        overrides += ["backbone.name=mlp_vae", "backbone.params={latent_dim: 4, hidden: [16]}"]
    else:
        overrides += ["backbone.params.hidden=[16]", "method.projector=[16,12]"]
    torch.manual_seed(0)
    method = build_method(load_config("vicreg_digits", overrides), _digits()).double()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(16, 1, 8, 8, generator=g, dtype=torch.float64)
    other = 0.8 * x.flip(-1) + 0.2 * torch.rand(16, 1, 8, 8, generator=g, dtype=torch.float64)
    views = [method.normalise(v) for v in (x, other)]
    torch.manual_seed(2)  # the generative methods draw their latents
    terms, _ = method.compute_loss(views)
    params = [p for p in method.parameters() if p.requires_grad]
    grads = torch.autograd.grad(terms.loss, params, allow_unused=True)
    norm = math.sqrt(sum(float(gr.pow(2).sum()) for gr in grads if gr is not None))
    return terms.loss.item(), norm


BUILT_IN = [name for name, entry in registry.entries("method").items() if entry.plugin is None]


def test_every_pin_is_a_registered_method():
    assert set(PINNED) <= set(BUILT_IN)


@pytest.mark.parametrize("name", BUILT_IN)
def test_one_step_matches_the_pinned_value(name):
    assert name in PINNED, f"pin {name}: python -m tests.methods.test_pinned_objectives"
    assert_matches_pin(name, one_step(name), PINNED[name])


if __name__ == "__main__":
    print_pins(METHODS, one_step)
