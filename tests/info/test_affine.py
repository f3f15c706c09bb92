"""Local affine maps and linear-region stability of piecewise-affine networks."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from selfsup.info import conditional_covariance, local_affine, region_stability


def _mlp(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    layers = [nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 3)]
    return nn.Sequential(*layers)


class FunctionalMLP(nn.Module):
    """Same maths as ``_mlp`` but with F.relu calls instead of nn.ReLU modules."""

    def __init__(self, seq: nn.Sequential) -> None:
        super().__init__()
        self.l1, self.l2, self.l3 = seq[0], seq[2], seq[4]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l3(self.l2(F.relu(self.l1(x))).relu())


def _jacobian_by_hand(seq: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    # W3 diag(m2) W2 diag(m1) W1 with m the ReLU on/off masks at x.
    h1 = seq[0](x)
    h2 = seq[2](h1.relu())
    w1, w2, w3 = seq[0].weight, seq[2].weight, seq[4].weight
    return w3 @ torch.diag((h2 > 0).to(x.dtype)) @ w2 @ torch.diag((h1 > 0).to(x.dtype)) @ w1


def test_local_affine_reproduces_relu_mlp():
    model = _mlp()
    x = torch.randn(64, 6)
    A, b = local_affine(model, x)
    assert A.shape == (64, 3, 6) and b.shape == (64, 3)
    with torch.no_grad():
        recon = torch.einsum("boi,bi->bo", A, x) + b
        assert (recon - model(x)).abs().max() < 1e-5
        for i in range(4):
            torch.testing.assert_close(A[i], _jacobian_by_hand(model, x[i]), atol=1e-6, rtol=0)
        # Inside the region the same (A, b) predicts the output at a nearby point.
        x2 = x + 1e-5 * torch.randn_like(x)
        same = region_stability(model, x, x2[:, None]) == 1.0
        pred = torch.einsum("boi,bi->bo", A, x2) + b
        assert same.sum() > 50
        assert (pred[same] - model(x2)[same]).abs().max() < 1e-5


def test_local_affine_conv_maxpool_batchnorm_images():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 4, 3, padding=1),
        nn.LeakyReLU(0.1),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 5),
    )
    net.train()
    net(torch.randn(16, 3, 8, 8))  # give batch-norm non-trivial running statistics
    x = torch.randn(3, 3, 8, 8)
    A, b = local_affine(net, x)
    assert net.training  # restored
    assert A.shape == (3, 5, 3 * 8 * 8)
    net.eval()
    with torch.no_grad():
        recon = torch.einsum("boi,bi->bo", A, x.reshape(3, -1)) + b
        assert (recon - net(x)).abs().max() < 1e-5
        # Row-major flattening: pixel (c, h, w) is column c * 64 + h * 8 + w of A.
        c, h, w = 1, 2, 5
        bump = torch.zeros_like(x)
        bump[:, c, h, w] = 1e-3
        delta = (net(x + bump) - net(x)) / 1e-3
        torch.testing.assert_close(delta, A[:, :, c * 64 + h * 8 + w], atol=2e-3, rtol=0)


def test_region_stability_tiny_noise_is_one_and_falls_with_noise():
    model = _mlp()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 6, generator=g)
    stab = []
    for s in (1e-6, 1e-2, 1e-1, 1.0):
        views = x[:, None] + s * torch.randn(32, 50, 6, generator=g)
        stab.append(region_stability(model, x, views).mean().item())
    assert stab[0] == 1.0
    assert stab[0] > stab[1] > stab[2] > stab[3]
    assert stab[3] < 0.1


def test_region_stability_functional_relu_matches_jacobian_equality():
    seq = _mlp(1)
    fmodel = FunctionalMLP(seq)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 6, generator=g)
    views = x[:, None] + 0.1 * torch.randn(8, 20, 6, generator=g)
    ours_f = region_stability(fmodel, x, views)
    ours_m = region_stability(seq, x, views)
    # Reference: a view is in x's region iff its local Jacobian equals x's (generic weights).
    A_x, _ = local_affine(seq, x)
    A_v, _ = local_affine(seq, views.reshape(-1, 6))
    equal = (A_v.reshape(8, 20, 3, 6) - A_x[:, None]).abs().amax((-1, -2)) < 1e-7
    ref = equal.float().mean(1)
    torch.testing.assert_close(ours_f, ref)
    torch.testing.assert_close(ours_m, ref)
    assert 0.0 < ref.mean() < 1.0  # the check is not trivial


def test_region_stability_errors():
    model = _mlp()
    with pytest.raises(ValueError, match="n_views"):
        region_stability(model, torch.randn(4, 6), torch.randn(4, 6))
    with pytest.raises(ValueError, match="no ReLU"):
        region_stability(nn.Linear(6, 2), torch.randn(4, 6), torch.randn(4, 3, 6))


def test_conditional_covariance_linear_and_relu():
    torch.manual_seed(0)
    lin = nn.Linear(5, 3).double()
    x = torch.randn(2, 5, dtype=torch.float64)
    sigma = torch.diag(torch.arange(1.0, 6.0, dtype=torch.float64))
    expected = lin.weight @ sigma @ lin.weight.T
    out = conditional_covariance(lin, x, sigma)
    assert out.shape == (2, 3, 3)
    torch.testing.assert_close(out[1], expected.detach())
    # ReLU net, noise small enough to stay in the region: the outputs' covariance is A S A^T.
    model = _mlp().double()
    x = torch.randn(1, 6, dtype=torch.float64)
    s = 1e-4
    views = x + s * torch.randn(20000, 6, dtype=torch.float64)
    assert region_stability(model, x, views[None]).item() == 1.0
    with torch.no_grad():
        emp = torch.cov(model(views).T)
    pred = conditional_covariance(model, x, s**2 * torch.eye(6, dtype=torch.float64))[0]
    assert torch.linalg.norm(emp - pred) / torch.linalg.norm(pred) < 0.05
    with pytest.raises(ValueError, match="input_cov"):
        conditional_covariance(model, x, torch.eye(5))
