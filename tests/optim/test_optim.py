import dataclasses
import math
from types import SimpleNamespace

import pytest
import torch

from selfsup.errors import InputError
from selfsup.optim import LARS, OptimSettings, build_optimizer, parameter_groups, warmup_cosine


def test_lars_step_matches_the_trust_ratio_formula():
    layer = torch.nn.Linear(4, 3)
    w0, b0 = layer.weight.detach().clone(), layer.bias.detach().clone()
    layer.weight.grad = torch.full_like(w0, 0.5)
    layer.bias.grad = torch.full_like(b0, 0.2)
    opt = LARS(parameter_groups([layer], weight_decay=0.1), lr=0.3, momentum=0.9, eta=0.02)
    opt.step()
    g = layer.weight.grad + 0.1 * w0
    trust = 0.02 * w0.norm() / g.norm()
    assert torch.allclose(layer.weight, w0 - 0.3 * trust * g, atol=1e-7)
    # biases: no decay, no trust ratio, plain momentum SGD
    assert torch.allclose(layer.bias, b0 - 0.3 * 0.2, atol=1e-7)


def test_warmup_then_cosine():
    f = warmup_cosine(warmup_steps=10, total_steps=110, min_ratio=0.1)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert f(110) == pytest.approx(0.1) and f(500) == pytest.approx(0.1)


def test_unknown_optimiser_is_named():
    from selfsup.errors import SelfsupError

    with pytest.raises(SelfsupError, match="unknown optimiser 'adagradx'"):
        build_optimizer(parameter_groups([torch.nn.Linear(2, 2)], 0.0), "adagradx", 0.1, 0.0)


def test_optim_settings_hold_the_config_section_typed_and_refuse_unknown_keys():
    from selfsup.config import load_config, to_dict

    section = to_dict(load_config(overrides=["optim.betas=[0.8,0.95]", "optim.lr=0.02"]).optim)
    settings = OptimSettings.from_mapping(section)
    assert {f: getattr(settings, f) for f in section if f != "betas"} == {
        f: v for f, v in section.items() if f != "betas"
    }
    assert settings.betas == (0.8, 0.95) and settings.lr == 0.02
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0
    with pytest.raises(InputError, match="unknown optim setting.*warmup_steps"):
        OptimSettings.from_mapping({**section, "warmup_steps": 3})


@pytest.mark.parametrize("scale, world", [(False, 1), (True, 1), (True, 2)])
def test_the_method_scales_lr_by_its_global_batch_without_reaching_into_the_data(scale, world):
    from selfsup.config import load_config
    from selfsup.data import load_dataset
    from selfsup.methods import build_method

    overrides = ["optim.lr=0.01", "data.batch_size=64", f"optim.scale_lr_with_batch={scale}"]
    config = load_config("vicreg_digits", ["method.projector=[64,64]", *overrides])
    method = build_method(config, load_dataset("digits"))
    # a trainer with no datamodule: the method gets its batch size from build_method alone
    method._trainer = SimpleNamespace(world_size=world, estimated_stepping_batches=10, max_epochs=2)
    optimiser = method.configure_optimizers()["optimizer"]
    want = 0.01 * (64 * world / 256 if scale else 1.0)  # the VICReg paper's lr x batch / 256
    assert optimiser.param_groups[0]["initial_lr"] == pytest.approx(want, rel=1e-12)


def test_scaling_lr_without_a_batch_size_is_refused():
    settings = OptimSettings(scale_lr_with_batch=True)
    assert settings.peak_lr(512) == pytest.approx(2e-3)
    with pytest.raises(InputError, match="batch_size"):
        settings.peak_lr(None)
