"""Each loss against a plain reference written from its paper's pseudo-code (loops, float64)."""

import math

import pytest
import torch

from selfsup.losses import (
    barlow_twins_terms,
    clip_loss,
    info_nce_loss,
    info_nce_terms,
    vicreg_loss,
    vicreg_terms,
)


def _pair(batch=16, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    z_a = torch.randn(batch, dim, generator=g, dtype=torch.float64)
    z_b = z_a + 0.3 * torch.randn(batch, dim, generator=g, dtype=torch.float64)
    return z_a * 0.7, z_b * 1.3


def _reference_vicreg(z_a, z_b, sim=25.0, std=25.0, cov=1.0, eps=1e-4):
    B, D = z_a.shape
    inv = sum((z_a[i, j] - z_b[i, j]) ** 2 for i in range(B) for j in range(D)) / (B * D)

    def var_cov(z):
        mean = [sum(z[i, j] for i in range(B)) / B for j in range(D)]
        c = [
            [
                sum((z[i, j] - mean[j]) * (z[i, k] - mean[k]) for i in range(B)) / (B - 1)
                for k in range(D)
            ]
            for j in range(D)
        ]
        v = sum(max(0.0, 1 - math.sqrt(c[j][j] + eps)) for j in range(D)) / D
        off = sum(c[j][k] ** 2 for j in range(D) for k in range(D) if j != k) / D
        return v, off

    va, ca = var_cov(z_a)
    vb, cb = var_cov(z_b)
    return sim * inv + std * (va + vb) / 2 + cov * (ca + cb), inv, (va + vb) / 2, ca + cb


def test_vicreg_matches_reference():
    z_a, z_b = _pair()
    loss, inv, var, cov = _reference_vicreg(z_a, z_b)
    terms = vicreg_terms(z_a, z_b)
    assert terms.loss.item() == pytest.approx(float(loss), rel=1e-10)
    assert terms.invariance.item() == pytest.approx(float(inv), rel=1e-10)
    assert terms.variance.item() == pytest.approx(float(var), rel=1e-10)
    assert terms.covariance.item() == pytest.approx(float(cov), rel=1e-10)
    assert terms.variance.item() > 0  # the hinge is active for the shrunk branch


def test_vicreg_custom_coefficients():
    z_a, z_b = _pair(seed=3)
    loss, *_ = _reference_vicreg(z_a, z_b, sim=1.0, std=2.0, cov=3.0, eps=1e-2)
    got = vicreg_loss(z_a, z_b, sim_coeff=1.0, std_coeff=2.0, cov_coeff=3.0, eps=1e-2)
    assert got.item() == pytest.approx(float(loss), rel=1e-10)


def _reference_nt_xent(z_a, z_b, t):
    B = z_a.shape[0]
    z = torch.cat([z_a, z_b]).tolist()
    norm = [math.sqrt(sum(v * v for v in row)) for row in z]
    z = [[v / n for v in row] for row, n in zip(z, norm, strict=True)]
    total = 0.0
    for i in range(2 * B):
        pos = (i + B) % (2 * B)
        sims = {
            j: sum(a * b for a, b in zip(z[i], z[j], strict=True)) / t
            for j in range(2 * B)
            if j != i
        }
        total += -sims[pos] + math.log(sum(math.exp(s) for s in sims.values()))
    return total / (2 * B)


@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_info_nce_matches_reference(temperature):
    z_a, z_b = _pair(batch=10, dim=5, seed=1)
    expected = _reference_nt_xent(z_a, z_b, temperature)
    terms = info_nce_terms(z_a, z_b, temperature)
    assert terms.loss.item() == pytest.approx(expected, rel=1e-10)
    assert (terms.alignment + terms.uniformity).item() == pytest.approx(expected, rel=1e-10)


def test_info_nce_agrees_with_cross_entropy_formulation():
    # independent formulation: F.cross_entropy over the 2B x 2B logits with the diagonal removed
    z_a, z_b = _pair(batch=12, dim=6, seed=2)
    z = torch.nn.functional.normalize(torch.cat([z_a, z_b]), dim=1)
    logits = z @ z.T / 0.2
    logits.fill_diagonal_(-1e9)
    target = torch.cat([torch.arange(12, 24), torch.arange(0, 12)])
    expected = torch.nn.functional.cross_entropy(logits, target)
    assert info_nce_loss(z_a, z_b, 0.2).item() == pytest.approx(expected.item(), rel=1e-10)


def _reference_barlow(z_a, z_b, lambd, eps=1e-5):
    B, D = z_a.shape
    bn = torch.nn.BatchNorm1d(D, affine=False, eps=eps, dtype=torch.float64).train()
    a, b = bn(z_a).tolist(), bn(z_b).tolist()
    on = off = 0.0
    for i in range(D):
        for j in range(D):
            c = sum(a[n][i] * b[n][j] for n in range(B)) / B
            if i == j:
                on += (c - 1) ** 2
            else:
                off += c**2
    return on + lambd * off, on, off


def test_barlow_twins_matches_reference():
    z_a, z_b = _pair(batch=16, dim=6, seed=4)
    loss, on, off = _reference_barlow(z_a, z_b, 5.1e-3)
    terms = barlow_twins_terms(z_a, z_b)
    assert terms.loss.item() == pytest.approx(loss, rel=1e-9)
    assert terms.on_diagonal.item() == pytest.approx(on, rel=1e-9)
    assert terms.off_diagonal.item() == pytest.approx(off, rel=1e-9)


def test_clip_matches_reference():
    a, b = _pair(batch=7, dim=4, seed=5)
    scale = 10.0
    an = [r / r.norm() for r in a]
    bn = [r / r.norm() for r in b]
    s = [[scale * float(an[i] @ bn[j]) for j in range(7)] for i in range(7)]
    a2b = sum(-s[i][i] + math.log(sum(math.exp(v) for v in s[i])) for i in range(7)) / 7
    b2a = sum(-s[i][i] + math.log(sum(math.exp(s[j][i]) for j in range(7))) for i in range(7)) / 7
    assert clip_loss(a, b, scale).item() == pytest.approx((a2b + b2a) / 2, rel=1e-10)


@pytest.mark.parametrize("loss", [vicreg_loss, info_nce_loss, barlow_twins_terms])
def test_mismatched_shapes_name_them(loss):
    with pytest.raises(ValueError, match=r"\(8, 4\).*\(6, 4\)"):
        loss(torch.randn(8, 4), torch.randn(6, 4))
    with pytest.raises(ValueError, match=r"\(8, 4, 2\)"):
        loss(torch.randn(8, 4, 2), torch.randn(8, 4, 2))


def test_losses_backpropagate_in_float32():
    z_a = torch.randn(32, 16, requires_grad=True)
    z_b = torch.randn(32, 16, requires_grad=True)
    for fn in (vicreg_loss, info_nce_loss, lambda a, b: barlow_twins_terms(a, b).loss):
        z_a.grad = None
        fn(z_a, z_b).backward()
        assert torch.isfinite(z_a.grad).all() and z_a.grad.abs().sum() > 0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_compute_in_float32(dtype):
    # projections from an autocast forward: the losses run in float32 and say so
    g = torch.Generator().manual_seed(6)
    a = torch.randn(32, 16, generator=g)
    b = a + 0.3 * torch.randn(32, 16, generator=g)
    for fn in (vicreg_loss, info_nce_loss, lambda x, y: barlow_twins_terms(x, y).loss):
        half = fn(a.to(dtype), b.to(dtype))
        full = fn(a.to(dtype).float(), b.to(dtype).float())
        assert half.dtype == torch.float32
        torch.testing.assert_close(half, full, rtol=1e-5, atol=1e-5)


def test_vicreg_routes_agree_in_float32_on_a_dominant_feature():
    from selfsup.losses.vicreg import covariance_term

    g = torch.Generator().manual_seed(7)
    z = torch.randn(16, 200, generator=g)
    z[:, 3] *= 1e4
    truth = covariance_term(z.double()).item()
    err = {r: abs(covariance_term(z, route=r).item() - truth) / truth for r in ("gram", "dxd")}
    # the D x D route is the plain float32 formula; the float64 Gram route at least as good
    assert err["dxd"] < 1e-5 and err["gram"] <= max(err["dxd"], 2.4e-7), err
