"""Spectral measures against closed forms: known spectra, exact power laws, planted classes.

References are the papers' formulas written out plainly in float64 Python (loops over the
values, ``math.log``), not the library's vectorised code.
"""

import math

import pytest
import torch

from selfsup.info import alpha_req, effective_rank, lidar, rankme
from selfsup.info.spectral import covariance_spectrum, power_law_exponent
from selfsup.validation import InputError


def _orthonormal(n: int, k: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(n, k, generator=g, dtype=torch.float64)).Q


def _with_singular_values(s: list[float], n: int = 50, d: int | None = None, seed: int = 0):
    """An ``(n, d)`` matrix whose singular values are exactly ``s``."""
    d = d or len(s)
    U, V = _orthonormal(n, len(s), seed), _orthonormal(d, len(s), seed + 1)
    return U @ torch.diag(torch.tensor(s, dtype=torch.float64)) @ V.T


def _entropy_rank_plain(values: list[float], eps: float) -> float:
    total = sum(values)
    h = 0.0
    for v in values:
        p = v / total + eps
        if p > 0:
            h -= p * math.log(p)
    return math.exp(h)


def test_flat_spectrum_is_full_rank_and_one_spike_is_rank_one():
    flat = _with_singular_values([2.0] * 16)
    assert effective_rank(flat).item() == pytest.approx(16.0, rel=1e-12)
    # RankMe's eps lowers the flat value a little: exactly the plain formula's
    assert float(rankme(flat)) == pytest.approx(_entropy_rank_plain([2.0] * 16, 1e-7), rel=1e-12)
    assert float(rankme(flat)) == pytest.approx(16.0, rel=1e-4)
    spike = _with_singular_values([5.0] + [0.0] * 15)
    assert effective_rank(spike).item() == pytest.approx(1.0, abs=1e-6)
    assert float(rankme(spike)) == pytest.approx(1.0, abs=1e-4)


def test_rank_of_a_known_uneven_spectrum_matches_the_plain_formula():
    s = [9.0, 4.0, 2.0, 1.0, 0.5, 0.25]
    M = _with_singular_values(s, n=40, d=12)
    assert effective_rank(M).item() == pytest.approx(_entropy_rank_plain(s, 0.0), rel=1e-10)
    # the sum runs over all min(n, d) = 12 singular values: the 6 zeros add eps each
    assert float(rankme(M)) == pytest.approx(_entropy_rank_plain(s + [0.0] * 6, 1e-7), rel=1e-10)
    # scale invariant, and batched
    assert effective_rank(1e-3 * M).item() == pytest.approx(effective_rank(M).item(), rel=1e-10)
    both = effective_rank(torch.stack([M, 7 * M]))
    assert both.shape == (2,) and torch.allclose(both, both[0].expand(2), rtol=1e-10)


def test_float32_with_one_dominant_dimension_and_a_large_offset():
    g = torch.Generator().manual_seed(3)
    z = torch.randn(400, 8, generator=g) * torch.tensor([100.0] + [1.0] * 7)
    # a large offset: the centred effective rank does not see it, RankMe (uncentred) does
    shifted = z + 1e4
    centred64 = z.double() - z.double().mean(0)
    ref = effective_rank(centred64).item()
    assert effective_rank(shifted - shifted.mean(0)).item() == pytest.approx(ref, rel=1e-3)
    assert float(rankme(shifted)) == pytest.approx(float(rankme(z.double() + 1e4)), rel=1e-4)
    assert float(rankme(shifted)) < 1.05  # one huge common direction
    assert 1.0 < ref < 2.0


def test_alpha_req_recovers_exact_power_laws():
    for alpha in (0.5, 1.0, 2.0):
        lam = torch.arange(1, 201, dtype=torch.float64) ** -alpha
        assert power_law_exponent(lam) == pytest.approx(alpha, abs=1e-10)
        # the same spectrum planted as a covariance: Z = U diag(sqrt(lam (n-1))) V^T, centred
        n, d = 400, 200
        g = torch.Generator().manual_seed(5)
        X = torch.randn(n, d, generator=g, dtype=torch.float64)
        U = torch.linalg.qr(X - X.mean(0)).Q  # orthonormal columns of mean zero
        Z = U @ torch.diag((lam * (n - 1)).sqrt()) @ _orthonormal(d, d, 6).T
        spectrum = covariance_spectrum(Z)
        assert torch.allclose(spectrum[:100], lam[:100], rtol=1e-6)
        assert float(alpha_req(Z)) == pytest.approx(alpha, abs=1e-4)


def test_alpha_req_on_a_small_representation_fits_all_ranks():
    lam = torch.arange(1, 9, dtype=torch.float64) ** -1.5  # d = 8: fewer than 3 ranks in 6..100
    assert power_law_exponent(lam) == pytest.approx(1.5, abs=1e-10)
    assert math.isnan(power_law_exponent(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)))


def test_alpha_req_weighting_is_one_over_rank():
    # a spectrum that is not a power law: the fit must be the 1/i-weighted least squares
    lam = torch.tensor([5.0, 3.0, 2.5, 1.0, 0.9, 0.3, 0.2], dtype=torch.float64)
    xs = [-math.log(i) for i in range(1, 8)]
    ys = [math.log(v) for v in lam.tolist()]
    ws = [1.0 / i for i in range(1, 8)]
    sw = sum(ws)
    mx = sum(w * x for w, x in zip(ws, xs, strict=True)) / sw
    my = sum(w * y for w, y in zip(ws, ys, strict=True)) / sw
    num = sum(w * (x - mx) * (y - my) for w, x, y in zip(ws, xs, ys, strict=True))
    den = sum(w * (x - mx) ** 2 for w, x in zip(ws, xs, strict=True))
    assert power_law_exponent(lam, (1, 7)) == pytest.approx(num / den, rel=1e-10)


def _lidar_plain(views: torch.Tensor, delta: float, eps: float) -> float:
    """LiDAR written out: scatter matrices by loops, whitening by an eigendecomposition."""
    v = views.double()
    n, q, d = v.shape
    mu_i = [v[i].mean(0) for i in range(n)]
    mu = sum(mu_i) / n
    S_b = sum(torch.outer(m - mu, m - mu) for m in mu_i) / n
    S_w = torch.zeros(d, d, dtype=torch.float64)
    for i in range(n):
        for j in range(q):
            S_w += torch.outer(v[i, j] - mu_i[i], v[i, j] - mu_i[i]) / (q - 1)
    S_w = S_w / n + delta * torch.eye(d, dtype=torch.float64)
    lam, U = torch.linalg.eigh(S_w)
    W = U @ torch.diag(lam**-0.5) @ U.T
    eig = torch.linalg.eigvalsh(W @ S_b @ W).clamp_min(0).tolist()
    return _entropy_rank_plain(eig, eps)


def test_lidar_on_planted_class_structure():
    g = torch.Generator().manual_seed(0)
    n, q, d, k = 300, 10, 12, 3
    # class means spread equally over k orthogonal directions, isotropic view noise: S_w = s^2 I
    # and S_b has k equal eigenvalues, so LiDAR = k (up to eps and finite-n noise)
    basis = _orthonormal(d, k, 2)
    means = torch.randn(n, k, generator=g, dtype=torch.float64) @ basis.T * 5.0
    views = means[:, None] + 0.1 * torch.randn(n, q, d, generator=g, dtype=torch.float64)
    value = float(lidar(views))
    assert value == pytest.approx(_lidar_plain(views, 1e-4, 1e-7), rel=1e-8)
    assert value == pytest.approx(k, rel=0.05)
    # noise only along the discriminative directions hides them: the rank falls
    noisy = views.clone()
    noisy += 20.0 * (torch.randn(n, q, 2, generator=g, dtype=torch.float64) @ basis[:, :2].T)
    assert float(lidar(noisy)) < 1.5
    # RankMe cannot tell: it sees the large variance along those directions
    assert float(rankme(noisy.reshape(-1, d))) > 2.5


def test_lidar_closed_form_of_a_whitened_spectrum():
    # exact construction: class means with S_b = diag(4, 1, 0, ...), views +-1 along each axis
    d = 4
    means = torch.tensor([[2.0, 1.0, 0, 0], [-2.0, -1.0, 0, 0]], dtype=torch.float64)
    # 2 classes: S_b = 1/2 sum (mu_i - mu)(mu_i - mu)^T = diag-free rank one (4, 2; 2, 1)
    offsets = torch.cat([torch.eye(d), -torch.eye(d)]).double()  # 2d views, mean zero
    views = means[:, None] + offsets[None]  # within scatter: 2 I / (q - 1) per class
    q = 2 * d
    s_w = 2.0 / (q - 1) + 1e-4
    # rank-one S_b: LiDAR is exactly (1 + eps) ... with the other d - 1 eigenvalues zero
    lam = 5.0 / s_w
    expected = _entropy_rank_plain([lam, 0.0, 0.0, 0.0], 1e-7)
    assert float(lidar(views)) == pytest.approx(expected, rel=1e-10)
    assert float(lidar(views)) == pytest.approx(1.0, abs=1e-4)


def test_bad_inputs_raise_one_clear_error():
    with pytest.raises(InputError, match="lidar: views must have shape"):
        lidar(torch.randn(5, 8))
    with pytest.raises(InputError, match="rankme: Z must have shape"):
        rankme(torch.randn(2, 3, 4))
    with pytest.raises(InputError, match="alpha_req"):
        alpha_req(torch.randn(2, 4))
    with pytest.raises(ValueError, match="effective_rank"):
        effective_rank(torch.tensor([[1.0, float("nan")]]))


def test_lda_spectrum_without_the_matrix_equals_the_matrix_eigenvalues():
    from selfsup.info.spectral import lda_matrix, lda_spectrum

    g = torch.Generator().manual_seed(4)
    for n, q, d in ((10, 3, 20), (40, 5, 12)):  # fewer classes than dims, and more
        views = torch.randn(n, q, d, generator=g, dtype=torch.float64)
        views += 3 * torch.randn(n, 1, d, generator=g, dtype=torch.float64)
        full = torch.linalg.eigvalsh(lda_matrix(views))
        fast = lda_spectrum(views)
        assert fast.shape == (d,)
        assert torch.allclose(fast, full, atol=1e-9 * float(full.max()))
