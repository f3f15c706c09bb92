"""Every public loss and estimator refuses bad input with a ValueError naming the argument."""

from __future__ import annotations

import math

import pytest
import torch

from selfsup import info, losses
from selfsup.errors import SelfsupError
from selfsup.validation import (
    InputError,
    NonFiniteInputError,
    check_finite,
    finite_checks,
    finite_checks_enabled,
)


def _pair(batch=8, dim=4, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    return torch.randn(batch, dim, generator=g, dtype=dtype), torch.randn(
        batch, dim, generator=g, dtype=dtype
    )


PAIR_LOSSES = {
    "vicreg_loss": (losses.vicreg_loss, ("z_a", "z_b")),
    "barlow_twins_loss": (losses.barlow_twins_loss, ("z_a", "z_b")),
    "info_nce_loss": (losses.info_nce_loss, ("z_a", "z_b")),
    "clip_loss": (lambda a, b: losses.clip_loss(a, b, 10.0), ("a", "b")),
    "vicreg_logdet_loss": (losses.vicreg_logdet_loss, ("z_a", "z_b")),
    "vicreg_pairdist_loss": (losses.vicreg_pairdist_loss, ("z_a", "z_b")),
    "radial_vicreg_loss": (losses.radial_vicreg_loss, ("z_a", "z_b")),
    # the prediction losses, each with its two predictions given the same targets
    "byol_loss": (lambda a, b: losses.byol_loss(a, b, a.detach(), a.detach()), ("p_a", "p_b")),
    "simsiam_loss": (
        lambda a, b: losses.simsiam_loss(a, b, a.detach(), a.detach()),
        ("p_a", "p_b"),
    ),
    "moco_loss": (
        lambda q, k: losses.moco_loss(q, k, torch.ones(5, q.shape[-1])),
        ("query", "key"),
    ),
}


@pytest.mark.parametrize("name", list(PAIR_LOSSES))
def test_pair_losses_refuse_bad_embeddings(name):
    fn, (first, second) = PAIR_LOSSES[name]
    a, b = _pair()
    # empty batch, no feature, integer data
    with pytest.raises(ValueError, match=rf"{name}.*{first} needs at least"):
        fn(a[:0], b[:0])
    with pytest.raises(ValueError, match=rf"{name}: {first} has no feature dimension"):
        fn(a[:, :0], b[:, :0])
    with pytest.raises(ValueError, match=rf"{name}: {first} must be a floating-point"):
        fn(a.long(), b.long())
    # non-finite values, named with their count
    bad = b.clone()
    bad[3, 1] = math.nan
    with pytest.raises(NonFiniteInputError, match=rf"{name}: {second} has 1 non-finite"):
        fn(a, bad)
    bad = a.clone()
    bad[0] = math.inf
    with pytest.raises(ValueError, match=rf"{name}: {first} has 4 non-finite"):
        fn(bad, b)
    with pytest.raises(ValueError, match=r"same shape.*\(8, 4\) and \(6, 4\)"):
        fn(a, b[:6])


def test_contrastive_temperatures_and_scales_must_be_positive():
    a, b = _pair()
    for t in (0.0, -0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="info_nce_loss: temperature must be a positive"):
            losses.info_nce_loss(a, b, temperature=t)
    with pytest.raises(ValueError, match="info_nce_loss: temperature must be a number"):
        losses.info_nce_loss(a, b, temperature="0.1")
    for s in (0.0, -1.0, torch.tensor(-2.0), torch.tensor(math.nan)):
        with pytest.raises(ValueError, match="clip_loss: logit_scale must be a positive"):
            losses.clip_loss(a, b, s)
    learnable = torch.tensor(2.0, requires_grad=True)
    losses.clip_loss(a, b, learnable.exp()).backward()
    assert learnable.grad is not None


def test_loss_hyperparameters_name_what_is_allowed():
    a, b = _pair()
    cases = [
        (lambda: losses.vicreg_loss(a, b, eps=0.0), "vicreg_loss: eps must be a positive"),
        (lambda: losses.vicreg_loss(a, b, sim_coeff=-1), "vicreg_loss: sim_coeff must be .* >= 0"),
        (lambda: losses.vicreg_loss(a, b, cov_coeff=math.nan), "cov_coeff must be a finite"),
        (lambda: losses.barlow_twins_loss(a, b, lambd=-1e-3), "barlow_twins_loss: lambd"),
        (lambda: losses.barlow_twins_loss(a, b, eps=-1.0), "barlow_twins_loss: eps"),
        (lambda: losses.vicreg_logdet_loss(a, b, beta=0.0), "vicreg_logdet_loss: beta"),
        (lambda: losses.vicreg_logdet_loss(a, b, eps=0.0), "vicreg_logdet_loss: eps"),
        (lambda: losses.vicreg_pairdist_loss(a, b, sigma=0.0), "vicreg_pairdist_loss: sigma"),
        (lambda: losses.vicreg_pairdist_loss(a, b, bound="x"), "unknown bound 'x'; valid"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_momentum_losses_refuse_bad_queues_crops_and_temperatures():
    q, k = _pair()
    cases = [
        (lambda: losses.moco_loss(q, k, torch.ones(5, 3)), "moco_loss: queue must be"),
        (lambda: losses.moco_loss(q, k, torch.ones(5, 4) * math.nan), "queue has 20 non-finite"),
        (lambda: losses.moco_loss(q, k, torch.ones(5, 4), 0.0), "temperature must be a positive"),
        (lambda: losses.byol_loss(q, k, q[:6], k), r"same shape.*\(8, 4\) and \(6, 4\)"),
    ]
    g = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(4, 3, 5, generator=g), torch.randn(2, 3, 5, generator=g)
    center = torch.zeros(5)
    bad = teacher.clone()
    bad[1, 2, 3] = math.inf
    cases += [
        (lambda: losses.dino_loss(student, bad, center), "dino_loss: teacher has 1 non-finite"),
        (lambda: losses.dino_loss(student[:1], teacher, center), "at least the teacher's"),
        (lambda: losses.dino_loss(student, teacher, center[:4]), r"center must be \(5,\)"),
        (lambda: losses.dino_loss(student, teacher, center, 0.0), "student_temperature must"),
        (lambda: losses.dino_loss(student, teacher.long(), center), "teacher must be a floating"),
        (lambda: losses.dino_center(center, teacher, momentum=1.5), "momentum must be in"),
        (lambda: losses.radial_vicreg_loss(q, k, radial="l2"), "unknown radial 'l2'; valid"),
        (lambda: losses.radial_vicreg_loss(q, k, radial_coeff=-1.0), "radial_coeff must be"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


def test_batches_too_small_for_the_statistic():
    a, b = _pair(batch=1)
    names = ("vicreg_loss", "barlow_twins_loss", "info_nce_loss", "vicreg_logdet_loss")
    for name in (*names, "radial_vicreg_loss"):
        with pytest.raises(ValueError, match="at least 2 samples"):
            PAIR_LOSSES[name][0](a, b)
    assert losses.clip_loss(a, b, 10.0).item() == pytest.approx(0.0)  # one pair: defined


def _elbo_inputs(B=3, J=2, L=4):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(B, J, 1, 3, 3, generator=g)
    logits = torch.randn(B, J, 1, 3, 3, generator=g)
    mu, logvar = torch.randn(B, J, L, generator=g), 0.1 * torch.randn(B, J, L, generator=g)
    return x, logits, mu, logvar, mu + torch.randn(B, J, L, generator=g)


def test_elbos_refuse_bad_input():
    x, lg, mu, lv, z = _elbo_inputs()
    bad = lv.clone()
    bad[0, 0, 0] = math.inf
    cases = [
        (lambda: losses.simvae_elbo(x, lg, mu, bad, z), "simvae_elbo: logvar has 1 non-finite"),
        (lambda: losses.simvae_elbo(x, lg, mu, lv, z * math.nan), "simvae_elbo: z has 24"),
        (lambda: losses.simvae_elbo(x, lg, mu.long(), lv, z), "mu must be a floating-point"),
        (lambda: losses.simvae_elbo(x, lg, mu, lv, z, sigma2=0.0), "sigma2 must be a positive"),
        (lambda: losses.simvae_elbo(x, lg, mu, lv, z, hyperprior="x"), "unknown hyperprior"),
        (lambda: losses.simvae_elbo(x, lg, mu, lv, z, likelihood="x"), "unknown likelihood"),
        (lambda: losses.simvae_elbo(x * 2 - 1, lg, mu, lv, z), r"x must lie in \[0, 1\]"),
        (lambda: losses.simvae_elbo(x, lg, mu, lv, z[..., :3]), "mu and z must have the same"),
        (
            lambda: losses.simvae_elbo(x, lg, mu, lv, z, log_sigma_x2=math.nan),
            "log_sigma_x2 must be a finite",
        ),
        (lambda: losses.vae_elbo(x[:, 0], lg[:, 0], mu[:, 0], lv[:, 0], beta=-1), "beta"),
        (lambda: losses.vae_elbo(x[:0, 0], lg[:0, 0], mu[:0, 0], lv[:0, 0]), "non-empty"),
        (lambda: losses.cr_vae_elbo(x, lg, mu, lv, gamma=-1), "cr_vae_elbo: gamma"),
        (lambda: losses.cr_vae_elbo(x, lg * math.nan, mu, lv), "cr_vae_elbo: x_logits has 54"),
        (lambda: losses.gaussian_kl(mu, lv, mu_p=mu), "pass both mu_p and logvar_p"),
        (lambda: losses.gaussian_kl(mu[..., :0], lv[..., :0]), "latent dimension L >= 1"),
        (lambda: losses.reconstruction_nll(x.long(), lg), "x must be a floating-point"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    # the Gaussian likelihood takes targets outside [0, 1] (e.g. normalised colour images)
    terms = losses.simvae_elbo(x * 2 - 1, lg, mu, lv, z, likelihood="gaussian")
    assert torch.isfinite(terms.loss)


def test_estimators_refuse_nan_empty_int_and_bad_k():
    z = torch.randn(300, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    bad = z.clone()
    bad[7, 2] = math.nan
    estimators = {
        "knn_entropy": lambda t: info.knn_entropy(t),
        "knn_distances": lambda t: info.knn_distances(t, 3),
        "gaussian_entropy_from_samples": lambda t: info.gaussian_entropy_from_samples(t),
        "logdet_entropy": lambda t: info.logdet_entropy(t),
        "sample_covariance": lambda t: info.sample_covariance(t),
        "ledoit_wolf_covariance": lambda t: info.ledoit_wolf_covariance(t),
        "pairwise_distance_entropy": lambda t: info.pairwise_distance_entropy(t),
        "ksg_mutual_information": lambda t: info.ksg_mutual_information(t, z),
    }
    name_of = {"ksg_mutual_information": "x"}
    for name, fn in estimators.items():
        arg = name_of.get(name, "z")
        with pytest.raises(NonFiniteInputError, match=rf"{name}: {arg} has 1 non-finite"):
            fn(bad)
        with pytest.raises(ValueError, match=rf"{name}: {arg} must be a floating-point"):
            fn(z.long())
        with pytest.raises(ValueError, match=rf"{name}: {arg} (needs at least|has no feature)"):
            fn(z[:0] if name != "ksg_mutual_information" else z[:, :0])
    with pytest.raises(ValueError, match="ksg_mutual_information: y has 1 non-finite"):
        info.ksg_mutual_information(z, bad)  # was a finite number before
    for k in (0, 300, 2.5):
        with pytest.raises(ValueError, match="knn_entropy: k must be"):
            info.knn_entropy(z, k=k)
    with pytest.raises(ValueError, match="logdet_entropy: beta must be a positive"):
        info.logdet_entropy(z, beta=-1.0)
    with pytest.raises(ValueError, match="gaussian_entropy: cov has 1 non-finite"):
        info.gaussian_entropy(torch.diag(torch.tensor([1.0, math.nan])))


def test_mixture_inputs_are_checked():
    means, cov = torch.zeros(3, 2), torch.eye(2)
    with pytest.raises(ValueError, match="mixture_entropy_bounds: weights must be non-negative"):
        info.mixture_entropy_bounds(means, cov, torch.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="mixture_entropy_bounds: weights must be non-negative"):
        info.mixture_entropy_bounds(means, cov, torch.zeros(3))
    with pytest.raises(ValueError, match="mixture_entropy_bounds: means has 1 non-finite"):
        info.mixture_entropy_bounds(torch.tensor([[0.0, math.nan], [1, 1], [2, 2]]), cov)
    with pytest.raises(ValueError, match="mixture_log_density: x has 1 non-finite"):
        info.mixture_log_density(torch.tensor([[math.inf, 0.0]]), means, cov)
    with pytest.raises(ValueError, match="mixture_entropy_mc: n_samples must be"):
        info.mixture_entropy_mc(means, cov, n_samples=1)
    # non-positive variances: named, not torch's LinAlgError from inside the Cholesky
    covs = torch.eye(2).repeat(3, 1, 1)
    covs[1, 1, 1] = 0.0
    with pytest.raises(ValueError, match="mixture_entropy_bounds: covs must be .* component 1"):
        info.mixture_entropy_bounds(means, covs)
    with pytest.raises(ValueError, match="mixture_entropy_mc: covs .* the shared covariance"):
        info.mixture_entropy_mc(means, -cov)
    with pytest.raises(ValueError, match="mixture_log_density: covs must be symmetric positive"):
        info.mixture_log_density(means, means, covs)


def test_mardia_test_refuses_nan_and_bad_shapes():
    x = torch.randn(50, 3, generator=torch.Generator().manual_seed(0)).numpy()
    x[4, 1] = math.nan
    with pytest.raises(NonFiniteInputError, match="mardia_test: x has 1 non-finite"):
        info.mardia_test(x)  # was a result of NaNs
    with pytest.raises(ValueError, match=r"mardia_test: x must be a real \(n, p\) array"):
        info.mardia_test(x[:, 0])
    with pytest.raises(ValueError, match="mardia_test: needs more observations"):
        info.mardia_test(x[:3])


def test_repeated_points_raise_or_are_jittered_never_inf():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(100, 2, generator=g, dtype=torch.float64)
    twice = torch.cat([z, z])
    with pytest.raises(ValueError, match=r"200 point\(s\).*k=1.*jitter="):
        info.knn_entropy(twice, k=1)
    with pytest.raises(ValueError, match=r"ksg_mutual_information: .* \(repeated points\)"):
        info.ksg_mutual_information(twice[:, :1], twice[:, 1:], k=1)  # was +inf
    jittered = info.knn_entropy(twice, k=1, jitter=1e-8)
    assert torch.isfinite(jittered)
    # the jitter is seeded: the same call gives the same value
    assert info.knn_entropy(twice, k=1, jitter=1e-8).item() == jittered.item()
    mi = info.ksg_mutual_information(twice[:, :1], twice[:, 1:], k=1, jitter=1e-8)
    assert torch.isfinite(mi)
    with pytest.raises(ValueError, match="knn_entropy: jitter must be"):
        info.knn_entropy(z, jitter=-1.0)


def test_errors_are_value_and_selfsup_errors_and_checks_can_be_switched_off():
    assert issubclass(InputError, ValueError) and issubclass(InputError, SelfsupError)
    assert issubclass(NonFiniteInputError, InputError)
    a, b = _pair()
    b[0, 0] = math.nan
    assert finite_checks_enabled()
    with finite_checks(False):
        assert not finite_checks_enabled()
        assert torch.isnan(losses.vicreg_loss(a, b))  # unchecked: NaN flows through
        check_finite("f", x=b)  # a no-op
    assert finite_checks_enabled()
    with pytest.raises(NonFiniteInputError):
        losses.vicreg_loss(a, b)


def test_gather_checks_the_global_batch(monkeypatch):
    # a rank whose own batch is 1 is fine when the gathered (global) batch is larger
    import selfsup.losses._checks as pair_checks

    monkeypatch.setattr(pair_checks, "gather_batch", lambda z: torch.cat([z, z + 1.0]))
    a, b = _pair(batch=1)
    assert torch.isfinite(losses.info_nce_loss(a, b, gather_distributed=True))
    monkeypatch.setattr(pair_checks, "gather_batch", lambda z: torch.cat([z, z * math.nan]))
    with pytest.raises(NonFiniteInputError, match="z_a has 16 non-finite"):
        losses.vicreg_loss(*_pair(batch=4), gather_distributed=True)


def test_finite_check_is_not_fooled_by_an_overflowing_sum():
    big = torch.full((4, 3), 3e38)  # finite entries whose sum overflows float32
    check_finite("f", z=big)
    half = torch.full((8, 2), 6e4, dtype=torch.float16)  # summed in float32, no overflow
    check_finite("f", z=half)
    big[1, 2] = -math.inf
    with pytest.raises(NonFiniteInputError, match="f: z has 1 non-finite"):
        check_finite("f", z=big)


def test_check_pair_is_pair_inputs_without_the_gather():
    from selfsup.losses._checks import check_pair

    a, b = _pair()
    check_pair(a, b, "my_loss", min_batch=1)
    with pytest.raises(ValueError, match=r"my_loss: needs a batch of at least 9 samples"):
        check_pair(a, b, "my_loss", min_batch=9)
    b[2] = math.inf
    with pytest.raises(NonFiniteInputError, match="my_loss: q has 4 non-finite"):
        check_pair(a, b, "my_loss", names=("p", "q"))
    with pytest.raises(ValueError, match="my_loss: p must be a floating-point"):
        check_pair(a.int(), b, "my_loss", names=("p", "q"))
