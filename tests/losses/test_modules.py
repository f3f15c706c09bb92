"""The loss modules and the scalar losses: one source of settings and defaults (the
``*_terms`` function), state kept in buffers that a ``state_dict`` carries exactly."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as F

from selfsup import losses
from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.methods import build_method
from selfsup.validation import InputError

PAIRS = {
    "vicreg": (losses.vicreg_terms, losses.vicreg_loss, losses.VICRegLoss),
    "info_nce": (losses.info_nce_terms, losses.info_nce_loss, losses.NTXentLoss),
    "barlow_twins": (losses.barlow_twins_terms, losses.barlow_twins_loss, losses.BarlowTwinsLoss),
    "byol": (losses.byol_terms, losses.byol_loss, losses.BYOLLoss),
    "simsiam": (losses.simsiam_terms, losses.simsiam_loss, losses.SimSiamLoss),
}
SCALARS = {
    "clip": (losses.clip_terms, losses.clip_loss),
    "vicreg_logdet": (losses.vicreg_logdet_terms, losses.vicreg_logdet_loss),
    "vicreg_pairdist": (losses.vicreg_pairdist_terms, losses.vicreg_pairdist_loss),
    "radial_vicreg": (losses.radial_vicreg_terms, losses.radial_vicreg_loss),
    "moco": (losses.moco_terms, losses.moco_loss),
    "dino": (losses.dino_terms, losses.dino_loss),
    "simvae": (losses.simvae_elbo, losses.simvae_loss),
    **{name: fns[:2] for name, fns in PAIRS.items()},
}


def _inputs(name: str, batch: int = 8, dim: int = 6) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    count = 4 if name in ("byol", "simsiam") else 2
    return tuple(torch.randn(batch, dim, generator=g, dtype=torch.float64) for _ in range(count))


@pytest.mark.parametrize("name", sorted(SCALARS))
def test_each_scalar_loss_has_its_terms_signature(name):
    terms, loss = SCALARS[name]
    expected = inspect.signature(terms).replace(return_annotation=torch.Tensor)
    assert inspect.signature(loss) == expected
    assert loss.__name__ == f"{name}_loss" and terms.__name__ in loss.__doc__


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_module_settings_are_the_functions_and_the_values_match(name):
    terms, loss, module = PAIRS[name]
    defaults = {
        p.name: p.default
        for p in inspect.signature(terms).parameters.values()
        if p.default is not inspect.Parameter.empty
    }
    assert module().settings() == defaults
    params = inspect.signature(module).parameters
    assert {k: p.default for k, p in params.items()} == defaults
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values())
    inputs = _inputs(name)
    assert torch.equal(module()(*inputs), loss(*inputs))
    assert torch.equal(module().terms(*inputs).loss, terms(*inputs).loss)


def test_module_settings_away_from_the_defaults_and_changed_later():
    z_a, z_b = _inputs("vicreg")
    module = losses.VICRegLoss(sim_coeff=3.0, cov_coeff=0.5)
    expected = losses.vicreg_loss(z_a, z_b, sim_coeff=3.0, cov_coeff=0.5)
    assert torch.equal(module(z_a, z_b), expected)
    module.std_coeff = 1.0  # a changed setting is used by the next call
    expected = losses.vicreg_loss(z_a, z_b, sim_coeff=3.0, std_coeff=1.0, cov_coeff=0.5)
    assert torch.equal(module(z_a, z_b), expected)
    assert "std_coeff=1.0" in repr(module)


def test_unknown_or_bad_settings_are_input_errors():
    with pytest.raises(InputError, match="unknown setting 'temp'.*temperature"):
        losses.NTXentLoss(temp=0.5)
    with pytest.raises(InputError, match="no settings|none"):
        losses.BYOLLoss(eps=1.0)
    with pytest.raises(InputError, match="temperature"):
        losses.NTXentLoss(temperature=-1.0)(*_inputs("info_nce"))
    with pytest.raises(InputError, match="queue_size must be an integer >= 1"):
        losses.MoCoLoss(8, queue_size=0)
    with pytest.raises(InputError, match="temperature"):
        losses.MoCoLoss(8, temperature=0.0)
    with pytest.raises(InputError, match="center_momentum"):
        losses.DINOLoss(8, center_momentum=1.5)
    with pytest.raises(InputError, match="warmup_teacher_temperature_epochs"):
        losses.DINOLoss(8, warmup_teacher_temperature_epochs=-1)


def test_moco_loss_queue_is_a_fifo_buffer_that_a_state_dict_restores():
    torch.manual_seed(0)
    loss = losses.MoCoLoss(4, queue_size=5, temperature=0.3)
    assert set(loss.state_dict()) == {"queue", "queue_pointer"}
    before = loss.queue.clone()
    query, key = torch.randn(3, 4), torch.randn(3, 4)
    terms = loss.terms(query, key)
    assert torch.equal(loss.queue, before)  # terms leave the queue alone
    expected = losses.moco_loss(query, key, before, temperature=0.3)
    assert torch.equal(loss(query, key), expected)
    assert torch.equal(terms.loss, expected)
    assert torch.equal(loss.queue[:3], F.normalize(key, dim=1)) and int(loss.queue_pointer) == 3
    assert torch.equal(loss.queue[3:], before[3:])
    loss(query, 2 * key)  # wraps around: rows 3, 4, 0
    assert torch.equal(loss.queue[[3, 4, 0]], F.normalize(key, dim=1))
    assert int(loss.queue_pointer) == 1
    restored = losses.MoCoLoss(4, queue_size=5, temperature=0.3)
    restored.load_state_dict(loss.state_dict())
    assert torch.equal(restored.queue, loss.queue)
    assert int(restored.queue_pointer) == 1


def test_dino_loss_warmup_schedule_and_state():
    loss = losses.DINOLoss(5, teacher_temperature=0.07, warmup_teacher_temperature=0.04,
                           warmup_teacher_temperature_epochs=4)  # fmt: skip
    schedule = [loss.teacher_temperature_at(e) for e in range(6)]
    assert schedule == pytest.approx([0.04, 0.05, 0.06, 0.07, 0.07, 0.07], abs=1e-15)
    assert loss.teacher_temperature_at(None) == 0.07
    student, teacher = torch.randn(4, 3, 5), torch.randn(2, 3, 5)
    expected = losses.dino_loss(student, teacher, torch.zeros(5), 0.1, 0.05)
    assert torch.equal(loss(student, teacher, epoch=1), expected)
    restored = losses.DINOLoss(5)
    restored.load_state_dict(loss.state_dict())
    assert torch.equal(restored.center, loss.center) and loss.center.abs().sum() > 0


def _method(name: str, *overrides: str):
    config = load_config(
        "vicreg_digits",
        [
            f"method.name={name}",
            "backbone.params.hidden=[32,16]",
            "data.views=none",
            *overrides,
        ],
    )
    torch.manual_seed(0)
    return build_method(config, load_dataset("digits"))


@pytest.mark.parametrize(
    "name, overrides, old_keys",
    [
        ("moco", ["method.params.queue_size=16"], {"queue", "queue_pointer"}),
        ("dino", ["method.params.out_dim=32", "data.n_views=2"], {"center"}),
    ],
)
def test_methods_keep_their_state_in_the_loss_module_and_load_old_keys(name, overrides, old_keys):
    model = _method(name, *overrides)
    state = model.state_dict()
    for key in old_keys:
        assert f"criterion.{key}" in state and key not in state
        state[f"criterion.{key}"] = state[f"criterion.{key}"] + 1  # something to carry over
    old = {k.removeprefix("criterion."): v for k, v in state.items()}  # the earlier layout
    fresh = _method(name, *overrides)
    fresh.load_state_dict(old)  # strict: every key found under its new name
    for key in old_keys:
        assert torch.equal(fresh.state_dict()[f"criterion.{key}"], state[f"criterion.{key}"])
