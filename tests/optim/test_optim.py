import math

import pytest
import torch

from selfsup.optim import LARS, build_optimizer, parameter_groups, warmup_cosine


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
