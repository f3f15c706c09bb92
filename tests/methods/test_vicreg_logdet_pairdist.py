"""VICReg-LogDet / VICReg-PairDist methods: registered, keyword-only, loss = the written formula."""

import math

import pytest
import torch
import torch.nn.functional as F

from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.data.views import to_unit_float
from selfsup.methods import METHODS, VICRegLogDet, VICRegPairDist, build_method
from tests.conftest import TINY


def _reference(name: str, z_a: torch.Tensor, z_b: torch.Tensor) -> torch.Tensor:
    """The loss written out from the paper's formulas, independently of selfsup.info."""
    z_a, z_b = z_a.double(), z_b.double()
    n, d = z_a.shape
    inv = ((z_a - z_b) ** 2).mean()

    def logdet(z):  # 1/2 log det(I + S), S the unbiased covariance
        s = torch.cov(z.T)
        return 0.5 * torch.linalg.slogdet(torch.eye(d, dtype=z.dtype) + s)[1]

    def pairdist(z):  # Bhattacharyya KT bound for (1/n) sum N(z_i, I)
        d2 = torch.cdist(z, z) ** 2
        lse = torch.logsumexp(-d2 / 8.0, dim=1) - math.log(n)
        return 0.5 * d * math.log(2 * math.pi * math.e) - lse.mean()

    h = logdet if name == "vicreg_logdet" else pairdist
    return 25.0 * inv - 0.5 * (h(z_a) + h(z_b))


@pytest.mark.parametrize("name", ["vicreg_logdet", "vicreg_pairdist"])
def test_method_loss_matches_formula_and_trains_a_step(name):
    config = load_config(None, [*TINY, f"method.name={name}"])
    data = load_dataset("digits")
    method = build_method(config, data)
    images, _ = data.train.get_batch(torch.arange(64))
    torch.manual_seed(0)
    views = [method.normalise(v) for v in method.views(to_unit_float(images))]
    terms, features = method.compute_loss(views)
    assert features.shape == (64, 32)
    with torch.no_grad():
        z = method.projector(method.backbone(torch.cat(views)))
    z_a, z_b = z.chunk(2)
    expected = _reference(name, z_a, z_b)
    assert torch.isclose(terms.loss.double(), expected, rtol=1e-4, atol=1e-4)
    assert torch.isclose(terms.invariance.double(), F.mse_loss(z_a, z_b).double(), rtol=1e-5)
    before = [p.detach().clone() for p in method.projector.parameters()]
    optimiser = torch.optim.SGD(method.parameters(), lr=0.1)
    optimiser.zero_grad()
    terms.loss.backward()
    optimiser.step()
    after = list(method.projector.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_registered_keyword_only_and_configs_load():
    assert METHODS["vicreg_logdet"] is VICRegLogDet
    assert METHODS["vicreg_pairdist"] is VICRegPairDist
    for name in ("vicreg_logdet", "vicreg_pairdist"):
        config = load_config(f"{name}_mnist")
        assert config.method.name == name and config.data.name == "mnist"
    with pytest.raises(TypeError):
        VICRegLogDet(25.0)  # loss parameters are keyword-only
    config = load_config(None, [*TINY, "method.name=vicreg_pairdist", "method.params.sigma=0.5"])
    method = build_method(config, load_dataset("digits"))
    assert method.loss_args["sigma"] == 0.5
