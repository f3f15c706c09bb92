"""Gaussian entropy, LogDet entropy and Gaussian MI against closed forms and sklearn / scipy."""

import contextlib
import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.covariance import ledoit_wolf

from selfsup.info import (
    EstimatorRegimeWarning,
    gaussian_entropy,
    gaussian_entropy_from_samples,
    gaussian_mutual_information,
    ledoit_wolf_covariance,
    logdet_entropy,
)


def _random_cov(d: int, cond: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    evals = torch.logspace(0, math.log10(cond), d, dtype=torch.float64)
    return q @ torch.diag(evals) @ q.T


@pytest.mark.parametrize("d,cond", [(1, 1.0), (3, 10.0), (10, 1e4), (50, 1e6)])
def test_gaussian_entropy_matches_scipy(d, cond):
    cov = _random_cov(d, cond, seed=d)
    expected = stats.multivariate_normal(mean=np.zeros(d), cov=cov.numpy()).entropy()
    assert gaussian_entropy(cov).item() == pytest.approx(expected, abs=1e-8)


def test_gaussian_entropy_batched_diagonal_and_float32():
    var = torch.tensor([[1.0, 2.0, 3.0], [0.5, 0.5, 8.0]])
    expected = 0.5 * torch.log(2 * math.pi * math.e * var.double()).sum(-1)
    out = gaussian_entropy(torch.diag_embed(var))
    assert out.dtype == torch.float32 and out.shape == (2,)
    torch.testing.assert_close(out.double(), expected, atol=1e-6, rtol=0)


def test_gaussian_entropy_rejects_singular():
    with pytest.raises(ValueError, match="positive definite"):
        gaussian_entropy(torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"\(\.\.\., d, d\)"):
        gaussian_entropy(torch.ones(3, 2))


@pytest.mark.parametrize("cond", [1.0, 1e2, 1e4])
def test_plugin_entropy_within_002_nats_per_dim(cond):
    d, n = 10, 10000
    cov = _random_cov(d, cond, seed=int(cond))
    g = torch.Generator().manual_seed(7)
    z = torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    truth = gaussian_entropy(cov).item()
    est = gaussian_entropy_from_samples(z).item()
    assert abs(est - truth) / d < 0.02, (est, truth)
    # Ledoit-Wolf pulls small eigenvalues up towards the mean one: biased high when the
    # spectrum is wide (+0.038 nats/dim at cond 1e4 here, see docs/info.md).
    est_lw = gaussian_entropy_from_samples(z, shrinkage="ledoit_wolf").item()
    assert est_lw >= est - 0.5 * d / (n - 1)  # LW uses S / n, the plain estimate S / (n - 1)
    if cond <= 1e2:
        assert abs(est_lw - truth) / d < 0.02, (est_lw, truth)


def test_full_shrinkage_is_scaled_identity():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(40, 5, generator=g, dtype=torch.float64) * torch.arange(1, 6)
    var_mean = z.var(0).mean().item()  # tr(S) / d with the unbiased S
    expected = 0.5 * 5 * math.log(2 * math.pi * math.e * var_mean)
    assert gaussian_entropy_from_samples(z, 1.0).item() == pytest.approx(expected, abs=1e-10)
    with pytest.raises(ValueError, match="shrinkage"):
        gaussian_entropy_from_samples(z, 1.5)
    with pytest.raises(ValueError, match="ledoit_wolf"):
        gaussian_entropy_from_samples(z, "oas")


@pytest.mark.parametrize("n,d", [(30, 5), (20, 40)])
def test_ledoit_wolf_matches_sklearn(n, d):
    g = torch.Generator().manual_seed(n + d)
    z = torch.randn(n, d, generator=g, dtype=torch.float64) @ _random_cov(d, 50.0, seed=1)
    cov, alpha = ledoit_wolf_covariance(z)
    ref_cov, ref_alpha = ledoit_wolf(z.numpy())
    assert alpha.item() == pytest.approx(ref_alpha, abs=1e-12)
    np.testing.assert_allclose(cov.numpy(), ref_cov, atol=1e-12)
    # Shrinkage makes the n < d case well defined, where the plain estimate is not.
    assert torch.isfinite(gaussian_entropy_from_samples(z, "ledoit_wolf"))


@pytest.mark.parametrize("n,d", [(500, 8), (16, 64)])
@pytest.mark.parametrize("beta", [None, 0.3, 25.0])
def test_logdet_entropy_matches_eigenvalue_formula(n, d, beta):
    g = torch.Generator().manual_seed(d)
    z = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.linspace(0.1, 3, d)
    lam = np.linalg.eigvalsh(np.cov(z.numpy(), rowvar=False))
    b = 1.0 if beta is None else beta
    expected = 0.5 * np.log1p(b * np.clip(lam, 0, None)).sum()
    assert logdet_entropy(z, beta).item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_logdet_entropy_is_gaussian_channel_information():
    # For a large sample of N(0, S), 1/2 log det(I + beta S) is I(Z; Z + N(0, I / beta)).
    cov = _random_cov(4, 20.0, seed=3)
    g = torch.Generator().manual_seed(1)
    z = torch.randn(200000, 4, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    beta = 2.0
    joint = torch.cat(
        [torch.cat([cov, cov], 1), torch.cat([cov, cov + torch.eye(4, dtype=cov.dtype) / beta], 1)]
    )
    expected = gaussian_mutual_information(joint, 4).item()
    assert logdet_entropy(z, beta).item() == pytest.approx(expected, abs=0.01)


def test_logdet_entropy_batched_and_grad():
    z = torch.randn(3, 32, 6, requires_grad=True)
    out = logdet_entropy(z)
    assert out.shape == (3,) and out.dtype == torch.float32
    out.sum().backward()
    assert torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match="beta"):
        logdet_entropy(z, beta=0.0)


@pytest.mark.parametrize("rhos", [[0.5], [0.9], [0.3, 0.6, 0.95]])
def test_gaussian_mi_of_correlated_pairs(rhos):
    k = len(rhos)
    r = torch.diag(torch.tensor(rhos, dtype=torch.float64))
    eye = torch.eye(k, dtype=torch.float64)
    cov = torch.cat([torch.cat([eye, r], 1), torch.cat([r, eye], 1)])
    expected = -0.5 * sum(math.log(1 - rho**2) for rho in rhos)
    assert gaussian_mutual_information(cov, k).item() == pytest.approx(expected, abs=1e-12)
    with pytest.raises(ValueError, match="dim_x"):
        gaussian_mutual_information(cov, 0)


@pytest.mark.parametrize("n,d", [(50, 1), (200, 6), (31, 30)])
def test_entropy_from_samples_is_exactly_half_log_det_of_2_pi_e_cov(n, d):
    g = torch.Generator().manual_seed(n)
    z = torch.randn(n, d, generator=g, dtype=torch.float64) @ _random_cov(d, 30.0, seed=d)
    cov = np.cov(z.numpy(), rowvar=False).reshape(d, d)  # unbiased, as documented
    sign, logdet = np.linalg.slogdet(2 * np.pi * np.e * cov)
    assert sign > 0
    with pytest.warns(EstimatorRegimeWarning) if n < 250 else contextlib.nullcontext():
        got = gaussian_entropy_from_samples(z).item()
    assert got == pytest.approx(0.5 * logdet, abs=1e-10)
    # and the batched form gives each batch's own value
    batched = gaussian_entropy_from_samples(torch.stack([z, 2 * z]))
    assert batched[1].item() - batched[0].item() == pytest.approx(d * math.log(2), abs=1e-10)


def test_regime_warnings_fire_outside_the_measured_regime_only():
    g = torch.Generator().manual_seed(0)
    inside = torch.randn(400, 3, generator=g, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EstimatorRegimeWarning)
        gaussian_entropy_from_samples(inside)
        logdet_entropy(inside)
    with pytest.warns(EstimatorRegimeWarning, match=r"n=400, d=30 .*d <= 100, n >= 250, n >= 1"):
        gaussian_entropy_from_samples(torch.randn(400, 30, generator=g, dtype=torch.float64))
    with pytest.warns(EstimatorRegimeWarning, match="Ledoit-Wolf|biased high"):
        gaussian_entropy_from_samples(inside[:100], "ledoit_wolf")
    with pytest.warns(EstimatorRegimeWarning, match="fixed shrinkage"):
        gaussian_entropy_from_samples(inside, 0.3)
