"""Gaussian entropies and mutual information, closed form and from samples.

All entropies are differential entropies in **nats** (divide by ``log 2`` for bits). The
log-determinants go through a Cholesky factor in float64, because a float32 log-determinant of a
poorly conditioned covariance loses several digits; results are cast back to the input dtype so
the functions stay usable (and differentiable) inside float32 training code.
"""

from __future__ import annotations

import math

import torch

from selfsup.info.regimes import (
    LEDOIT_WOLF_ENTROPY,
    LOGDET_ENTROPY,
    PLUGIN_ENTROPY,
    SHRUNK_ENTROPY,
    warn_outside,
)
from selfsup.validation import (
    InputError,
    check_finite,
    check_in_range,
    check_int,
    check_positive,
    check_samples,
    check_tensor,
)

_LOG_2PI_E = math.log(2.0 * math.pi * math.e)


def _check_square(cov: torch.Tensor, name: str, fn: str) -> None:
    check_tensor(cov, name, fn)
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2] or cov.shape[-1] < 1:
        raise InputError(
            f"{fn}: {name} must have shape (..., d, d), d >= 1, got {tuple(cov.shape)}"
        )
    check_finite(fn, **{name: cov})


def _check_z(z: torch.Tensor, fn: str, min_n: int = 2) -> None:
    check_samples(z, "z", fn, min_n=min_n, batched=True)
    check_finite(fn, z=z)


def _logdet_psd(mat: torch.Tensor, fn: str) -> torch.Tensor:
    chol, info = torch.linalg.cholesky_ex(mat.to(torch.float64))
    if bool((info > 0).any()):
        raise InputError(
            f"{fn}: matrix is not positive definite (Cholesky failed); the covariance is "
            "singular or has fewer samples than dimensions: use shrinkage, add a small ridge, "
            "or more samples"
        )
    return 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)


def logdet_psd(mat: torch.Tensor) -> torch.Tensor:
    """``log det`` of symmetric positive-definite matrices via Cholesky, in float64.

    Args:
        mat: ``(..., d, d)`` symmetric positive definite.

    Returns:
        ``(...)`` float64 log-determinants.

    Raises:
        ValueError: if a matrix is not numerically positive definite (the message says how to
            regularise it), not square, not floating point or not finite.
    """
    _check_square(mat, "mat", "logdet_psd")
    return _logdet_psd(mat, "logdet_psd")


def _entropy_of_cov(cov: torch.Tensor, fn: str) -> torch.Tensor:
    d = cov.shape[-1]
    return (0.5 * (d * _LOG_2PI_E + _logdet_psd(cov, fn))).to(cov.dtype)


def gaussian_entropy(cov: torch.Tensor) -> torch.Tensor:
    """Differential entropy of ``N(mu, cov)``: ``1/2 log det(2 pi e cov)`` nats (exact).

    Args:
        cov: ``(..., d, d)`` positive-definite covariances (any leading batch shape).

    Returns:
        ``(...)`` entropies in nats, in the dtype of ``cov`` (computed in float64).
    """
    _check_square(cov, "cov", "gaussian_entropy")
    return _entropy_of_cov(cov, "gaussian_entropy")


def _sample_covariance(z: torch.Tensor) -> torch.Tensor:
    zc = z - z.mean(dim=-2, keepdim=True)
    return zc.transpose(-1, -2) @ zc / (z.shape[-2] - 1)


def sample_covariance(z: torch.Tensor) -> torch.Tensor:
    """Unbiased sample covariance ``(z - mean)^T (z - mean) / (n - 1)``.

    Args:
        z: ``(..., n, d)`` samples along dim -2, ``n >= 2``.

    Returns:
        ``(..., d, d)`` in the dtype of ``z``.
    """
    _check_z(z, "sample_covariance")
    return _sample_covariance(z)


def _ledoit_wolf(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n, d = z.shape[-2], z.shape[-1]
    zc = z - z.mean(dim=-2, keepdim=True)
    s = zc.transpose(-1, -2) @ zc / n
    mu = torch.diagonal(s, dim1=-2, dim2=-1).sum(-1) / d
    eye = torch.eye(d, dtype=z.dtype, device=z.device)
    delta2 = ((s - mu[..., None, None] * eye) ** 2).sum((-1, -2)) / d
    # sum_k ||x_k x_k^T||_F^2 = sum_k ||x_k||^4; the cross term with S collapses to n ||S||_F^2,
    # which avoids materialising n outer products.
    sq_norms = (zc**2).sum(-1)
    beta2 = ((sq_norms**2).sum(-1) / n - (s**2).sum((-1, -2))) / (n * d)
    beta2 = torch.minimum(beta2, delta2)
    alpha = torch.where(delta2 > 0, beta2 / delta2.clamp_min(torch.finfo(z.dtype).tiny), 0.0)
    cov = (1.0 - alpha)[..., None, None] * s + (alpha * mu)[..., None, None] * eye
    return cov, alpha


def ledoit_wolf_covariance(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ledoit-Wolf shrunk covariance, our own batched torch version.

    Same estimator as ``sklearn.covariance.ledoit_wolf`` (Ledoit & Wolf 2004): the maximum
    likelihood covariance ``S`` (divided by ``n``) is shrunk towards ``mu I``, ``mu = tr(S) / d``,
    with the weight ``alpha = min(b^2, d^2) / d^2`` where ``d^2 = ||S - mu I||_F^2 / d`` and
    ``b^2 = sum_k ||x_k x_k^T - S||_F^2 / (n^2 d)``. Written in torch so it runs batched, on GPU
    and under autograd; the tests check it against sklearn.

    Args:
        z: ``(..., n, d)`` samples, ``n >= 2``.

    Returns:
        ``(cov, alpha)``: ``(..., d, d)`` shrunk covariance and ``(...)`` shrinkage weights.
    """
    _check_z(z, "ledoit_wolf_covariance")
    return _ledoit_wolf(z)


def gaussian_entropy_from_samples(
    z: torch.Tensor, shrinkage: float | str | None = None
) -> torch.Tensor:
    """Gaussian upper bound on the entropy of the distribution that produced ``z``.

    ``H(Z) <= 1/2 log det(2 pi e Sigma_Z)`` for any distribution with covariance ``Sigma_Z``
    (equality iff Gaussian); ``Sigma_Z`` is estimated from the samples.

    Reliability (``benchmarks/info_regimes.py``, docs/info.md; Gaussian data, condition
    number 100): the plain estimate is biased low by about ``d^2 / (4 n)`` nats, within 0.25
    nats for ``d <= 100, n >= max(250, d^2)``; Ledoit-Wolf is biased high, within 0.28 nats
    for ``d <= 100, n >= max(250, 10 d^2)``; a fixed shrinkage weight was not measured. Calls
    outside these regimes warn (:class:`selfsup.info.EstimatorRegimeWarning`).

    Args:
        z: ``(..., n, d)`` samples along dim -2.
        shrinkage: ``None``: unbiased sample covariance (needs ``n > d``). A float ``a`` in
            ``[0, 1]``: ``(1 - a) S + a (tr(S) / d) I``. ``"ledoit_wolf"``: the Ledoit-Wolf
            weight, computed by :func:`ledoit_wolf_covariance` (torch, not sklearn).

    Returns:
        ``(...)`` entropies in nats, in the dtype of ``z``.
    """
    fn = "gaussian_entropy_from_samples"
    _check_z(z, fn)
    regime = PLUGIN_ENTROPY
    if shrinkage is None:
        cov = _sample_covariance(z)
    elif isinstance(shrinkage, str):
        if shrinkage != "ledoit_wolf":
            raise InputError(
                f"{fn}: shrinkage must be None, a float in [0, 1] or 'ledoit_wolf', "
                f"got {shrinkage!r}"
            )
        cov, _ = _ledoit_wolf(z)
        regime = LEDOIT_WOLF_ENTROPY
    else:
        check_in_range(shrinkage, "shrinkage", fn, 0.0, 1.0)
        a = float(shrinkage)
        s = _sample_covariance(z)
        d = z.shape[-1]
        mu = torch.diagonal(s, dim1=-2, dim2=-1).sum(-1) / d
        eye = torch.eye(d, dtype=z.dtype, device=z.device)
        cov = (1.0 - a) * s + a * mu[..., None, None] * eye
        regime = PLUGIN_ENTROPY if a == 0 else SHRUNK_ENTROPY
    warn_outside(regime, fn, n=z.shape[-2], d=z.shape[-1])
    return _entropy_of_cov(cov, fn)


def ledoit_wolf_entropy(z: torch.Tensor, eigenvalues: torch.Tensor | None = None) -> torch.Tensor:
    """``gaussian_entropy_from_samples(z, "ledoit_wolf")`` of one sample ``z (n, d)``, from the
    spectrum of the centred data instead of a ``d x d`` covariance and its Cholesky factor.

    The Ledoit-Wolf covariance ``(1 - a) S + a mu I`` has the eigenvalues ``(1 - a) l_k + a mu``
    of the maximum likelihood covariance ``S``; ``mu``, ``||S - mu I||_F`` and ``||S||_F`` are
    sums over the ``l_k`` (``d - min(n, d)`` of them are 0), and the last term of the weight
    needs only the squared row norms. Same value to ``1e-9`` relative, same regime warning.

    Args:
        z: ``(n, d)`` samples, ``n >= 2``.
        eigenvalues: :func:`selfsup.info.spectral.gram_eigenvalues` ``(z, centred=True)``, if
            already computed (the lens shares one decomposition between its measures).

    Returns:
        The entropy in nats, a 0-d float64 tensor.

    Raises:
        ValueError: as ``gaussian_entropy_from_samples``: bad input, or a singular shrunk
            covariance (every sample equal).
    """
    fn = "gaussian_entropy_from_samples"
    _check_z(z, fn)
    if z.ndim != 2:
        raise InputError(f"ledoit_wolf_entropy: z must have shape (n, d), got {tuple(z.shape)}")
    from selfsup.info.spectral import gram_eigenvalues

    warn_outside(LEDOIT_WOLF_ENTROPY, fn, n=z.shape[0], d=z.shape[1])
    z64 = z.to(torch.float64)
    n, d = z64.shape
    if eigenvalues is None:
        eigenvalues = gram_eigenvalues(z64, centred=True)
    lam = torch.zeros(d, dtype=torch.float64, device=z.device)  # the d eigenvalues of S (ML)
    lam[: eigenvalues.numel()] = eigenvalues.to(torch.float64) / n
    mu = lam.sum() / d
    delta2 = ((lam - mu) ** 2).sum() / d  # ||S - mu I||_F^2 / d, no cancellation
    sq_norms = (z64 - z64.mean(0)).pow(2).sum(1)
    beta2 = ((sq_norms**2).sum() / n - (lam**2).sum()) / (n * d)
    beta2 = torch.minimum(beta2, delta2)
    alpha = beta2 / delta2 if delta2 > 0 else torch.zeros_like(delta2)
    shrunk = (1.0 - alpha) * lam + alpha * mu
    if not bool((shrunk > 0).all()):
        raise InputError(
            f"{fn}: the shrunk covariance is singular (every sample equal?); no entropy"
        )
    return 0.5 * (d * _LOG_2PI_E + torch.log(shrunk).sum())


def _logdet_entropy(z: torch.Tensor, beta: float) -> torch.Tensor:
    n, d = z.shape[-2], z.shape[-1]
    out_dtype = z.dtype if z.dtype in (torch.float32, torch.float64) else torch.float32
    z64 = z.to(torch.float64)  # centre in float64: no rounding from large means
    zc = (z64 - z64.mean(dim=-2, keepdim=True)) * math.sqrt(beta / (n - 1))
    gram = zc.transpose(-1, -2) @ zc if d <= n else zc @ zc.transpose(-1, -2)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    return (0.5 * _logdet_psd(eye + gram, "logdet_entropy")).to(out_dtype)


def logdet_entropy(z: torch.Tensor, beta: float | None = None) -> torch.Tensor:
    """LogDet entropy ``1/2 log det(I + beta Sigma_Z)`` in nats (Zhouyin & Liu 2021).

    For Gaussian ``Z`` this is exactly the mutual information ``I(Z; Z + N)`` with noise
    ``N ~ N(0, I / beta)``: ``1 / sqrt(beta)`` is the resolution below which spread does not
    count, which keeps the value finite and the gradient bounded when ``Sigma_Z`` is low rank
    (``n <= d``), unlike ``log det Sigma_Z``.

    ``Sigma_Z`` is the unbiased sample covariance. The determinant is taken on the smaller of the
    ``d x d`` covariance and the ``n x n`` centred Gram matrix (Sylvester's identity
    ``det(I_d + A^T A) = det(I_n + A A^T)``), so a batch of 256 in 1024 dimensions costs a
    256 x 256 Cholesky, in float64.

    Reliability: as an estimate of the population value it is biased low (``log det`` is
    concave): within 0.25 nats for ``d <= 100, n >= max(250, 0.4 d^2)`` (beta = 1, Gaussian
    data, ``benchmarks/info_regimes.py``); calls outside warn
    (:class:`selfsup.info.EstimatorRegimeWarning`). As a loss term it is an exact function of
    the batch and needs no such caveat (the losses call it without the warning).

    Args:
        z: ``(..., n, d)`` samples along dim -2.
        beta: precision of the reference noise, in 1 / (units of z)^2. Default ``1.0``: noise
            of unit variance per dimension, the scale VICReg's variance hinge targets (std 1).

    Returns:
        ``(...)`` nats, in the dtype of ``z`` (float32 for half inputs).
    """
    fn = "logdet_entropy"
    beta = 1.0 if beta is None else beta
    check_positive(beta, "beta", fn)
    _check_z(z, fn)
    warn_outside(LOGDET_ENTROPY, fn, n=z.shape[-2], d=z.shape[-1])
    return _logdet_entropy(z, float(beta))


def gaussian_mutual_information(cov: torch.Tensor, dim_x: int) -> torch.Tensor:
    """``I(X; Y)`` of jointly Gaussian ``(X, Y)`` from their joint covariance, in nats (exact).

    ``I = 1/2 [log det Sigma_XX + log det Sigma_YY - log det Sigma]``; for ``k`` independent pairs
    with correlations ``rho_i`` it equals ``-1/2 sum_i log(1 - rho_i^2)``.

    Args:
        cov: ``(..., dx + dy, dx + dy)`` joint covariance, X first.
        dim_x: ``dx``, the number of leading coordinates that form X (``0 < dx < dx + dy``).

    Returns:
        ``(...)`` nats, in the dtype of ``cov``.
    """
    fn = "gaussian_mutual_information"
    _check_square(cov, "cov", fn)
    d = cov.shape[-1]
    check_int(dim_x, "dim_x", fn, 1, d - 1)
    mi = 0.5 * (
        _logdet_psd(cov[..., :dim_x, :dim_x], fn)
        + _logdet_psd(cov[..., dim_x:, dim_x:], fn)
        - _logdet_psd(cov, fn)
    )
    return mi.to(cov.dtype)
