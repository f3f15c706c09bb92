"""The lens's shared decomposition: Gram-matrix spectra and axes against SVDs, and the
Ledoit-Wolf entropy from the spectrum against sklearn's covariance and a numpy log-determinant.

Hard inputs throughout: one dominant dimension, a large common offset, float32, exact low rank,
more samples than dimensions.
"""

import math

import numpy as np
import pytest
import torch
from sklearn.covariance import ledoit_wolf

from selfsup.info import gaussian_entropy_from_samples, gram_eigenvalues, ledoit_wolf_entropy
from selfsup.info.spectral import gram_spectra, principal_components


def _hard(name: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    if name == "gauss":
        return torch.randn(120, 300, generator=g, dtype=torch.float64)
    if name == "dominant":  # one dimension 1e4 times the others, float32
        scale = torch.ones(48)
        scale[0] = 1e4
        return torch.randn(200, 48, generator=g) * scale
    if name == "offset":  # every sample shifted by 1e4: the spread is 1e-4 of the norm
        return torch.randn(90, 160, generator=g, dtype=torch.float64) + 1e4
    if name == "rank3":
        a = torch.randn(80, 3, generator=g, dtype=torch.float64)
        return a @ torch.randn(3, 200, generator=g, dtype=torch.float64)
    if name == "tall":  # n > d, a spectrum over three decades
        z = torch.randn(600, 40, generator=g, dtype=torch.float64)
        return z * torch.logspace(0, -3, 40, dtype=torch.float64)
    raise ValueError(name)


HARD = ["gauss", "dominant", "offset", "rank3", "tall"]


@pytest.mark.parametrize("name", HARD)
@pytest.mark.parametrize("centred", [False, True])
def test_gram_eigenvalues_are_the_squared_singular_values(name, centred):
    z = _hard(name)
    z64 = z.double()
    s = torch.linalg.svdvals(z64 - z64.mean(0) if centred else z64)
    lam = gram_eigenvalues(z, centred=centred)
    assert lam.dtype == torch.float64 and lam.shape == s.shape
    assert bool((lam[:-1] >= lam[1:]).all()) and bool((lam >= 0).all())
    err = (lam - s * s).abs().max() / (s[0] * s[0])
    assert err < 1e-12, err


def test_gram_eigenvalues_of_an_exactly_low_rank_matrix_have_exact_zeros():
    lam = gram_eigenvalues(_hard("rank3"))
    assert int((lam > 0).sum()) == 3  # rounding-level eigenvalues are not reported as spread
    centred = gram_eigenvalues(_hard("gauss"), centred=True)
    assert centred[-1] == 0.0  # centring removes one dimension: n - 1 = 119 non-zero


@pytest.mark.parametrize("name", ["gauss", "dominant", "offset", "tall"])
def test_principal_components_are_the_svds_right_singular_vectors(name):
    z = _hard(name).double()
    zc = z - z.mean(0)
    _, _, Vh = torch.linalg.svd(zc, full_matrices=False)
    lam, V = principal_components(z, 5)
    assert V.shape == (z.shape[1], 5)
    assert torch.allclose(V.T @ V, torch.eye(5, dtype=torch.float64), atol=1e-9)
    # the same axes up to sign: |<v_k, v'_k>| = 1
    cosines = (V * Vh[:5].T).sum(0).abs()
    assert torch.allclose(cosines, torch.ones(5, dtype=torch.float64), atol=1e-9), cosines
    same = gram_eigenvalues(z, centred=True)  # eigvalsh and eigh: equal to rounding
    assert (lam - same).abs().max() <= 1e-13 * same[0]


def test_principal_components_of_a_constant_matrix_are_none():
    lam, V = principal_components(torch.full((10, 4), 3.0), 3)
    assert V.shape == (4, 0) and bool((lam == 0).all())


def _ledoit_wolf_entropy_sklearn(z: torch.Tensor) -> float:
    cov, _ = ledoit_wolf(z.double().numpy())
    sign, logdet = np.linalg.slogdet(cov)
    assert sign > 0
    return 0.5 * (z.shape[1] * math.log(2 * math.pi * math.e) + logdet)


@pytest.mark.parametrize("name", HARD)
@pytest.mark.filterwarnings("ignore::selfsup.info.EstimatorRegimeWarning")
def test_ledoit_wolf_entropy_from_the_spectrum_equals_the_covariance_route(name):
    z = _hard(name)
    expected = _ledoit_wolf_entropy_sklearn(z)
    assert float(ledoit_wolf_entropy(z)) == pytest.approx(expected, rel=1e-9, abs=1e-7)
    # and the library's covariance route (what the lens used before)
    old = float(gaussian_entropy_from_samples(z.double(), shrinkage="ledoit_wolf"))
    shared = float(ledoit_wolf_entropy(z, gram_eigenvalues(z, centred=True)))
    assert shared == pytest.approx(old, rel=1e-9, abs=1e-7)


@pytest.mark.filterwarnings("ignore::selfsup.info.EstimatorRegimeWarning")
def test_ledoit_wolf_entropy_warns_and_refuses_like_the_covariance_route():
    from selfsup.info import EstimatorRegimeWarning

    z = torch.randn(50, 20, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with pytest.warns(EstimatorRegimeWarning, match="n=50, d=20"):
        ledoit_wolf_entropy(z)
    with pytest.raises(ValueError, match="singular"):
        ledoit_wolf_entropy(torch.ones(30, 4, dtype=torch.float64))
    with pytest.raises(ValueError):
        ledoit_wolf_entropy(torch.tensor([[math.nan, 1.0], [2.0, 3.0]]))


@pytest.mark.parametrize("name", ["dominant", "offset", "tall"])
def test_gram_spectra_are_the_three_separate_results(name):
    z = _hard(name)
    both = gram_spectra(z, 4)
    lam, axes = principal_components(z, 4)
    raw = gram_eigenvalues(z)
    assert (both.raw - raw).abs().max() <= 1e-13 * raw[0]
    assert (both.centred - lam).abs().max() <= 1e-13 * lam[0]
    assert torch.allclose((both.axes * axes).sum(0).abs(), torch.ones(4, dtype=torch.float64))
