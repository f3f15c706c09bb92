"""The MoCo, BYOL, SimSiam, DINO and Radial-VICReg losses against their papers' formulas written
plainly (Python loops over float64 numbers, scipy for the Chi distribution), and in float32 on
hard inputs (one dominant dimension, a large offset, a batch of two)."""

import math
from collections import deque

import numpy as np
import pytest
import scipy.stats
import torch
from scipy import integrate

from selfsup.losses import (
    byol_terms,
    chi_log_density,
    dino_center,
    dino_terms,
    enqueue,
    m_spacing_entropy,
    moco_terms,
    radial_kl,
    radial_vicreg_terms,
    radial_w1,
    simsiam_terms,
    vicreg_terms,
)


def _rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def _dot(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True))


def _hard(batch, dim, seed=0):
    """float32 embeddings with one dominant dimension and a large common offset."""
    z = _rand(batch, dim, seed=seed)
    z[:, 0] *= 1e3
    return (z + 1e4).float(), (z + 1e4)


# --- MoCo ------------------------------------------------------------------------------------
def _reference_moco(q, k, queue, t):
    total = 0.0
    for qi, ki in zip(q.tolist(), k.tolist(), strict=True):
        qi, ki = _unit(qi), _unit(ki)
        logits = [_dot(qi, ki) / t] + [_dot(qi, n) / t for n in queue.tolist()]
        top = max(logits)
        total += -logits[0] + top + math.log(sum(math.exp(x - top) for x in logits))
    return total / len(q)


def test_moco_matches_the_formula():
    q, k = _rand(6, 5, seed=1), _rand(6, 5, seed=2)
    queue = torch.nn.functional.normalize(_rand(11, 5, seed=3), dim=1)
    terms = moco_terms(q, k, queue, temperature=0.2)
    assert terms.loss.item() == pytest.approx(_reference_moco(q, k, queue, 0.2), rel=1e-12)
    assert terms.loss.item() == pytest.approx((terms.alignment + terms.uniformity).item())


def test_moco_float32_hard_inputs_and_key_gets_no_gradient():
    q32, q64 = _hard(2, 8, seed=4)
    k32, k64 = _hard(2, 8, seed=5)
    queue = torch.nn.functional.normalize(_rand(7, 8, seed=6), dim=1)
    q32.requires_grad_(True)
    k32.requires_grad_(True)
    loss = moco_terms(q32, k32, queue.float(), 0.2).loss
    loss.backward()
    assert loss.item() == pytest.approx(_reference_moco(q64, k64, queue, 0.2), rel=1e-5)
    assert k32.grad is None and torch.isfinite(q32.grad).all()


def test_moco_bad_input_is_named():
    with pytest.raises(ValueError, match="queue"):
        moco_terms(_rand(4, 5), _rand(4, 5), _rand(8, 6))
    with pytest.raises(ValueError, match="temperature"):
        moco_terms(_rand(4, 5), _rand(4, 5), _rand(8, 5), temperature=0.0)
    with pytest.raises(ValueError, match="same"):
        moco_terms(_rand(4, 5), _rand(3, 5), _rand(8, 5))


@pytest.mark.parametrize("sizes", [[3, 3, 3], [4, 4, 4, 4], [9], [2, 7, 1], [13, 2]])
def test_enqueue_is_a_fifo_of_the_newest_keys(sizes):
    size, dim = 8, 3
    queue = torch.full((size, dim), -1.0, dtype=torch.float64)
    reference = deque([None] * size, maxlen=size)  # oldest on the left
    pointer, counter = 0, 0
    for n in sizes:
        keys = torch.arange(counter, counter + n, dtype=torch.float64)[:, None].repeat(1, dim)
        counter += n
        queue, pointer = enqueue(queue, pointer, keys)
        reference.extend(keys[:, 0].tolist())
    assert pointer == counter % size
    # the row at `pointer` holds the oldest key; reading on from it gives the FIFO order
    order = [(pointer + i) % size for i in range(size)]
    expected = [-1.0 if v is None else v for v in reference]
    assert queue[order, 0].tolist() == expected


# --- BYOL and SimSiam --------------------------------------------------------------------------
def _reference_cosine(p_a, p_b, t_a, t_b):
    def mean_cos(p, t):
        return sum(_dot(_unit(x), _unit(y)) for x, y in zip(p.tolist(), t.tolist(), strict=True))

    return (mean_cos(p_a, t_b) + mean_cos(p_b, t_a)) / (2 * len(p_a))


def test_byol_and_simsiam_match_the_formulas():
    p_a, p_b, t_a, t_b = (_rand(7, 4, seed=s) for s in range(4))
    cos = _reference_cosine(p_a, p_b, t_a, t_b)
    # BYOL: ||p/|p| - t/|t|||^2 = 2 - 2 cos, averaged over both directions
    sq = 0.0
    for p, t in ((p_a, t_b), (p_b, t_a)):
        for x, y in zip(p.tolist(), t.tolist(), strict=True):
            sq += sum((u - v) ** 2 for u, v in zip(_unit(x), _unit(y), strict=True))
    assert byol_terms(p_a, p_b, t_a, t_b).loss.item() == pytest.approx(sq / 14, rel=1e-12)
    assert byol_terms(p_a, p_b, t_a, t_b).loss.item() == pytest.approx(2 - 2 * cos, rel=1e-12)
    assert simsiam_terms(p_a, p_b, t_a, t_b).loss.item() == pytest.approx(-cos, rel=1e-12)


@pytest.mark.parametrize("loss", [byol_terms, simsiam_terms])
def test_targets_are_stopped_and_float32_is_accurate(loss):
    (p_a, p_a64), (p_b, p_b64) = _hard(2, 6, seed=1), _hard(2, 6, seed=2)
    (t_a, t_a64), (t_b, t_b64) = _hard(2, 6, seed=3), _hard(2, 6, seed=4)
    for x in (p_a, p_b, t_a, t_b):
        x.requires_grad_(True)
    value = loss(p_a, p_b, t_a, t_b).loss
    value.backward()
    assert t_a.grad is None and t_b.grad is None and p_a.grad is not None
    assert value.item() == pytest.approx(loss(p_a64, p_b64, t_a64, t_b64).loss.item(), abs=1e-6)


def test_prediction_losses_name_bad_shapes():
    with pytest.raises(ValueError, match="byol_loss"):
        byol_terms(_rand(4, 5), _rand(4, 5), _rand(4, 6), _rand(4, 6))
    with pytest.raises(ValueError, match="simsiam_loss"):
        simsiam_terms(_rand(4, 5), _rand(4), _rand(4, 5), _rand(4, 5))


# --- DINO --------------------------------------------------------------------------------------
def _reference_dino(student, teacher, center, ts, tt):
    n_t, n_s, batch, k = teacher.shape[0], student.shape[0], student.shape[1], student.shape[2]
    pairs, total = 0, 0.0
    for i in range(n_t):
        for j in range(n_s):
            if i == j:
                continue
            pairs += 1
            for b in range(batch):
                t = [(teacher[i, b, c].item() - center[c].item()) / tt for c in range(k)]
                s = [student[j, b, c].item() / ts for c in range(k)]
                zt = sum(math.exp(x - max(t)) for x in t)
                log_zs = max(s) + math.log(sum(math.exp(x - max(s)) for x in s))
                pairs_k = zip(t, s, strict=True)
                total -= sum(math.exp(x - max(t)) / zt * (y - log_zs) for x, y in pairs_k)
    return total / (pairs * batch)


def test_dino_matches_the_formula():
    student, teacher, center = _rand(5, 3, 7, seed=1), _rand(2, 3, 7, seed=2), _rand(7, seed=3)
    terms = dino_terms(student, teacher, center, 0.1, 0.04)
    expected = _reference_dino(student, teacher, center, 0.1, 0.04)
    assert terms.loss.item() == pytest.approx(expected, rel=1e-12)


def test_dino_float32_hard_inputs():
    student = _rand(4, 2, 16, seed=4)
    teacher = _rand(2, 2, 16, seed=5)
    student[..., 0] += 50.0  # one dominant prototype, scores far from zero
    teacher += 1e3
    center = teacher.mean((0, 1))
    expected = _reference_dino(student, teacher, center, 0.1, 0.07)
    value = dino_terms(student.float(), teacher.float(), center.float(), 0.1, 0.07).loss
    assert value.item() == pytest.approx(expected, rel=1e-4)


def test_dino_center_and_bad_input():
    center, teacher = _rand(5, seed=1), _rand(2, 3, 5, seed=2)
    new = dino_center(center, teacher, 0.9)
    mean = [sum(teacher[i, b, c].item() for i in range(2) for b in range(3)) / 6 for c in range(5)]
    expected = [0.9 * c + 0.1 * m for c, m in zip(center.tolist(), mean, strict=True)]
    assert new.tolist() == pytest.approx(expected)
    with pytest.raises(ValueError, match="center"):
        dino_terms(_rand(3, 2, 5), _rand(2, 2, 5), _rand(4))
    with pytest.raises(ValueError, match="temperature"):
        dino_terms(_rand(3, 2, 5), _rand(2, 2, 5), _rand(5), teacher_temperature=0)
    with pytest.raises(ValueError, match="crops"):
        dino_terms(_rand(2, 5), _rand(2, 2, 5), _rand(5))


# --- Radial-VICReg -----------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [1, 2, 16, 512])
def test_chi_log_density_is_scipys(dim):
    r = torch.linspace(0.05, 3 * math.sqrt(dim) + 3, 50, dtype=torch.float64)
    expected = scipy.stats.chi.logpdf(r.numpy(), dim)
    assert np.allclose(chi_log_density(r, dim).numpy(), expected, rtol=1e-10, atol=1e-10)


def test_m_spacing_entropy_matches_its_formula_and_the_truth():
    x = _rand(30, seed=7)
    n, m = 30, round(math.sqrt(30))
    s = sorted(x.tolist())
    expected = sum(math.log((n + 1) / m * (s[i + m] - s[i]) + 1e-6) for i in range(n - m)) / (n - m)
    assert m_spacing_entropy(x).item() == pytest.approx(expected, rel=1e-12)
    # consistent, with the estimator's known negative bias shrinking as n grows (measured:
    # -0.074 at n = 1k, -0.018 at 100k against the closed-form entropy of Chi_8)
    truth = scipy.stats.chi(8).entropy()
    errors = [
        m_spacing_entropy(torch.linalg.vector_norm(_rand(n, 8, seed=8), dim=1)).item() - truth
        for n in (1000, 200_000)
    ]
    assert -0.12 < errors[0] < 0 and abs(errors[1]) < 0.02


def _kl_scaled_chi(scale, dim):
    """KL(law of scale * R || Chi_D) for R ~ Chi_D, by numerical integration."""
    p = scipy.stats.chi(dim, scale=scale)
    q = scipy.stats.chi(dim)

    def integrand(r):
        return p.pdf(r) * (p.logpdf(r) - q.logpdf(r))

    lo, hi = p.ppf(1e-12), p.ppf(1 - 1e-12)
    return integrate.quad(integrand, lo, hi, limit=200)[0]


@pytest.mark.parametrize("scale", [1.0, 1.3, 0.7])
def test_radial_kl_estimates_the_divergence(scale):
    dim = 16
    z = scale * _rand(65536, dim, seed=9)
    expected = _kl_scaled_chi(scale, dim)
    # sampling noise of the cross-entropy mean plus the m-spacing entropy's negative bias
    # (measured: +0.004 to +0.037 here, +0.03 to +0.06 at n = 8192)
    assert radial_kl(z).item() == pytest.approx(expected, abs=0.05)
    if scale != 1.0:
        assert expected > 0.3  # the test can tell a wrong scale from the right one


def test_radial_w1_is_the_wasserstein_distance_to_chi_quantiles():
    dim, n = 32, 257
    z = 1.2 * _rand(n, dim, seed=10)
    r = torch.linalg.vector_norm(z, dim=1).numpy()
    quantiles = scipy.stats.chi.ppf((np.arange(n) + 0.5) / n, dim)
    expected = scipy.stats.wasserstein_distance(r, quantiles)
    assert radial_w1(z, normalise_radius=False).item() == pytest.approx(expected, rel=1e-10)
    assert radial_w1(z).item() == pytest.approx(expected / math.sqrt(dim - 1), rel=1e-10)
    # ... and it is near 0 for Gaussian samples, far from 0 for scaled ones
    gauss = radial_w1(_rand(4096, dim, seed=11), normalise_radius=False).item()
    assert gauss < 0.05 and expected > 1.0


@pytest.mark.parametrize("radial", ["kl", "w1"])
def test_radial_vicreg_is_vicreg_plus_the_radial_term(radial):
    z_a, z_b = _rand(64, 12, seed=1), 0.5 * _rand(64, 12, seed=2)
    terms = radial_vicreg_terms(z_a, z_b, radial=radial, radial_coeff=3.0)
    term = radial_kl if radial == "kl" else radial_w1
    expected_radial = (term(z_a) + term(z_b)) / 2
    assert terms.radial.item() == pytest.approx(expected_radial.item(), rel=1e-12)
    assert terms.loss.item() == pytest.approx(
        vicreg_terms(z_a, z_b).loss.item() + 3.0 * expected_radial.item(), rel=1e-12
    )


@pytest.mark.parametrize("radial", ["kl", "w1"])
def test_radial_float32_hard_inputs(radial):
    z32, z64 = _hard(2, 10, seed=3)
    w32, w64 = _hard(2, 10, seed=4)
    z32.requires_grad_(True)
    value = radial_vicreg_terms(z32, w32, radial=radial).radial
    value.backward()
    reference = radial_vicreg_terms(z64, w64, radial=radial).radial.item()
    assert value.item() == pytest.approx(reference, rel=1e-4)
    assert torch.isfinite(z32.grad).all()


def test_radial_vicreg_names_bad_input():
    with pytest.raises(ValueError, match="radial"):
        radial_vicreg_terms(_rand(8, 4), _rand(8, 4), radial="kde")
    with pytest.raises(ValueError, match="at least 2"):
        radial_vicreg_terms(_rand(1, 4), _rand(1, 4))
