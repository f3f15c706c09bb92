"""Spectral measures of a representation: effective rank, RankMe, alpha-ReQ and LiDAR.

One implementation each, with the published definitions, computed in float64 and returned
as float64 tensors like every estimator of ``selfsup.info``: 0-d for one value, ``(...)`` for a
batch of matrices (``float(rankme(z))`` is the Python number):

* :func:`effective_rank` (Roy & Vetterli 2007, "The effective rank: a measure of effective
  dimensionality"): ``exp(H(p))`` with ``p_k = s_k / sum_j s_j`` the normalised singular values
  ``s`` of the matrix *as given* (not squared, not centred, no epsilon). In [1, min(a, b)];
  scale invariant. This is the one "effective rank" of selfsup: the dynamics experiments apply
  it to weight matrices ``W``, the lens and ``selfsup analyze`` to *centred* embeddings
  ``Z - mean(Z)`` (so a constant offset is not counted as a dimension).
* :func:`rankme` (Garrido, Balestriero, Najman & LeCun 2023, "RankMe: assessing the downstream
  performance of pretrained self-supervised representations by their rank", eq. 1): the same
  entropy of the singular values of the *uncentred* embeddings ``Z``, with
  ``p_k = s_k / ||s||_1 + eps`` and the paper's ``eps = 1e-7``.
* :func:`alpha_req` (Agrawal, Mondal, Ghosh & Richards 2022, "alpha-ReQ: assessing
  representation quality in self-supervised learning by measuring eigenspectrum decay"): the
  exponent ``alpha`` of ``lambda_i ~ c i^(-alpha)`` fitted to the eigenvalues of the covariance
  of ``Z``, by least squares of ``log lambda_i`` on ``log i`` weighted by ``1 / i`` over the
  ranks ``i`` in ``fit_range`` (the authors' code fits ranks 6..100 this way, after Stringer et
  al. 2019).
* :func:`lidar` (Thilak et al. 2024, "LiDAR: sensing linear probing performance in joint
  embedding SSL architectures"): each sample is a class, its ``q`` views its members; with the
  between-class covariance ``S_b`` of the class means and the mean within-class covariance
  ``S_w + delta I``, LiDAR is the RankMe-style smooth rank (``p_i = lambda_i / ||lambda||_1 +
  eps``) of the eigenvalues of ``S_w^(-1/2) S_b S_w^(-1/2)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from selfsup.validation import InputError, check_finite, check_positive, check_tensor

RANKME_EPS = 1e-7  # Garrido et al. 2023
LIDAR_DELTA = 1e-4  # Thilak et al. 2024: a small ridge that makes S_w invertible
ALPHA_FIT_RANGE = (6, 100)  # ranks (1-based, inclusive) fitted by the alpha-ReQ authors' code


def spectral_entropy_rank(s: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """``exp(-sum_k p_k log p_k)`` with ``p_k = s_k / sum_j s_j + eps`` (``0 log 0 = 0``).

    Args:
        s: ``(..., k)`` non-negative values (singular values or eigenvalues).
        eps: added to every normalised value (RankMe and LiDAR use ``1e-7``; 0: Roy & Vetterli).

    Returns:
        ``(...)``; 1 where all of ``s`` is zero (nothing to spread over) and ``eps = 0``.
    """
    s = s.to(torch.float64).clamp_min(0.0)
    total = s.sum(-1, keepdim=True)
    p = torch.where(total > 0, s / total.clamp_min(torch.finfo(s.dtype).tiny), 0.0) + eps
    terms = torch.where(p > 0, p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny)), 0.0)
    rank = torch.exp(-terms.sum(-1))
    return torch.where(total.squeeze(-1) > 0, rank, torch.ones_like(rank))


def _check_matrix(M: torch.Tensor, name: str, fn: str) -> None:
    check_tensor(M, name, fn)
    if M.ndim < 2 or min(M.shape[-2:]) < 1:
        raise InputError(f"{fn}: {name} must have shape (..., a, b), got {tuple(M.shape)}")
    check_finite(fn, **{name: M})


def effective_rank(M: torch.Tensor) -> torch.Tensor:
    """Roy & Vetterli's effective rank of ``M``: ``exp`` of the entropy of its normalised
    singular values, in [1, min(a, b)] (1 for rank one, ``min(a, b)`` for equal singular values).

    Pass centred embeddings ``Z - Z.mean(0)`` to measure the spread of a representation.

    Args:
        M: ``(..., a, b)``.

    Returns:
        ``(...)`` float64.
    """
    _check_matrix(M, "M", "effective_rank")
    return spectral_entropy_rank(torch.linalg.svdvals(M.to(torch.float64)))


def rankme(Z: torch.Tensor, eps: float = RANKME_EPS) -> torch.Tensor:
    """RankMe of the embeddings ``Z (n, d)`` (uncentred, as in Garrido et al. 2023), a 0-d
    float64 tensor.

    Values lie in about [1, min(n, d)]; the paper uses ``n`` = 25 600 embeddings, and RankMe
    grows with ``n`` up to ``d`` on a full-rank representation, so compare at equal ``n``.
    """
    _check_matrix(Z, "Z", "rankme")
    if Z.ndim != 2:
        raise InputError(f"rankme: Z must have shape (n, d), got {tuple(Z.shape)}")
    return spectral_entropy_rank(torch.linalg.svdvals(Z.to(torch.float64)), eps)


def covariance_spectrum(Z: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of the sample covariance of ``Z (n, d)``, descending, ``min(n - 1, d)`` of
    them (from the singular values of the centred data: no ``d x d`` matrix is formed)."""
    Z = Z.to(torch.float64)
    s = torch.linalg.svdvals(Z - Z.mean(0))
    return (s * s / max(1, Z.shape[0] - 1))[: max(1, min(Z.shape[0] - 1, Z.shape[1]))]


class GramSpectra(NamedTuple):
    """What one centred Gram product of ``Z (n, d)`` gives (:func:`gram_spectra`)."""

    raw: torch.Tensor  # squared singular values of Z, descending, min(n, d)
    centred: torch.Tensor  # the same of Z - mean(Z)
    axes: torch.Tensor  # (d, k') top principal axes of Z, orthonormal columns


def _grams(Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(centred Gram, uncentred Gram, Zc)``: the smaller Gram matrices of ``Z (n, d)``, float64,
    from one product of the centred data (centred before any product, so a large common offset
    costs no precision; the offset's terms are added afterwards)."""
    Z = Z.to(torch.float64)
    n, d = Z.shape
    mean = Z.mean(0)
    Zc = Z - mean
    if n <= d:
        centred = Zc @ Zc.T
        proj = Zc @ mean  # (zc_i + m)(zc_j + m) = zc_i zc_j + zc_i m + zc_j m + m m
        raw = centred + proj[:, None] + proj[None, :] + mean @ mean
    else:
        centred = Zc.T @ Zc
        raw = centred + n * torch.outer(mean, mean)
    return centred, raw, Zc


def _resolved(lam: torch.Tensor, n: int, d: int) -> torch.Tensor:
    """``lam`` descending, with the eigenvalues a Gram matrix does not resolve set to 0."""
    lam = lam.flip(0)
    tol = lam[0].clamp_min(0.0) * max(n, d) * torch.finfo(torch.float64).eps
    return torch.where(lam > tol, lam, 0.0)


def _axes(Zc: torch.Tensor, lam: torch.Tensor, U: torch.Tensor, k: int) -> torch.Tensor:
    """Top ``k`` principal axes from the centred Gram's ``eigh`` (ascending ``U``)."""
    n, d = Zc.shape
    k = min(k, int((lam > 0).sum()))
    top = U.flip(1)[:, :k]
    if n > d:  # the Gram matrix is Zc^T Zc: its eigenvectors are the axes
        return top
    return Zc.T @ top / lam[:k].sqrt()  # Zc = U S V^T, so V = Zc^T U / s


def gram_eigenvalues(Z: torch.Tensor, centred: bool = False) -> torch.Tensor:
    """Squared singular values of ``Z (n, d)`` (of ``Z - mean(Z)`` if ``centred``), descending,
    ``min(n, d)`` of them, float64: the eigenvalues of the smaller Gram matrix, ``Z Z^T`` or
    ``Z^T Z``.

    A symmetric eigendecomposition of a ``min(n, d)``-square matrix instead of an SVD (about
    3x less work at n = 360, d = 1024), which serves RankMe, the effective rank, alpha-ReQ
    and the Ledoit-Wolf entropy alike. The Gram matrix squares the condition number:
    eigenvalues below ``max(n, d) * eps * lambda_max`` (singular values below about
    ``5e-7 s_max`` at ``d = 1024``) are not resolved and are returned as 0; the others agree
    with ``torch.linalg.svdvals(Z) ** 2`` to about ``1e-14`` relative to ``lambda_max``.
    """
    n, d = Z.shape
    gram = _grams(Z)[0 if centred else 1]
    return _resolved(torch.linalg.eigvalsh(gram), n, d)


def principal_components(Z: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(gram_eigenvalues(Z, centred=True), V)``: the spectrum of the centred ``Z (n, d)`` and
    its top ``k`` principal axes ``V (d, k')`` (orthonormal columns, float64), from one
    eigendecomposition of the smaller Gram matrix. ``k'`` is ``k`` or the number of resolved
    non-zero eigenvalues, if fewer (0 for a constant ``Z``)."""
    n, d = Z.shape
    centred, _, Zc = _grams(Z)
    lam, U = torch.linalg.eigh(centred)
    lam = _resolved(lam, n, d)
    return lam, _axes(Zc, lam, U, k)


def gram_spectra(Z: torch.Tensor, k: int) -> GramSpectra:
    """Both spectra of ``Z (n, d)`` and its top ``k`` axes from one Gram product:
    ``gram_eigenvalues(Z)``, ``principal_components(Z, k)``. The lens's shared decomposition."""
    n, d = Z.shape
    centred, raw, Zc = _grams(Z)
    lam, U = torch.linalg.eigh(centred)
    lam = _resolved(lam, n, d)
    return GramSpectra(_resolved(torch.linalg.eigvalsh(raw), n, d), lam, _axes(Zc, lam, U, k))


def power_law_exponent(
    eigenvalues: torch.Tensor, fit_range: tuple[int, int] = ALPHA_FIT_RANGE
) -> torch.Tensor:
    """``alpha`` of ``lambda_i = c i^(-alpha)`` fitted to descending ``eigenvalues`` (1-based
    ranks ``i``): weighted least squares of ``log lambda_i`` on ``(-log i, 1)`` with weights
    ``1 / i`` over ``fit_range = (first, last)`` inclusive, clipped to the positive eigenvalues.

    When fewer than 3 positive eigenvalues fall in the range (small ``d``), all ranks from 1 to
    the last positive eigenvalue are fitted instead. A 0-d float64 tensor; NaN with fewer than
    2 positive values.
    """
    lam = eigenvalues.to(torch.float64)
    tol = lam.max().clamp_min(0.0) * lam.numel() * torch.finfo(torch.float64).eps
    positive = int((lam > tol).sum())
    first, last = fit_range
    if first < 1 or last < first:
        raise InputError(
            f"power_law_exponent: fit_range must be 1 <= first <= last, got {fit_range}"
        )
    last = min(last, positive)
    if last - first + 1 < 3:
        first, last = 1, positive
    if last - first + 1 < 2:
        return torch.tensor(math.nan, dtype=torch.float64, device=lam.device)
    ranks = torch.arange(first, last + 1, dtype=torch.float64, device=lam.device)
    y = torch.log(lam[first - 1 : last])
    X = torch.stack([-torch.log(ranks), torch.ones_like(ranks)], 1)
    w = (1.0 / ranks)[:, None]
    coef = torch.linalg.solve(X.T @ (w * X), (w * X).T @ y[:, None])
    return coef[0, 0]


def alpha_req(Z: torch.Tensor, fit_range: tuple[int, int] = ALPHA_FIT_RANGE) -> torch.Tensor:
    """alpha-ReQ of the embeddings ``Z (n, d)``: the power-law decay exponent of the eigenvalues
    of their covariance (:func:`power_law_exponent`), a 0-d float64 tensor. Larger means faster
    decay (fewer dimensions in use); Agrawal et al. find the best linear probes near
    ``alpha = 1``."""
    _check_matrix(Z, "Z", "alpha_req")
    if Z.ndim != 2 or Z.shape[0] < 3:
        raise InputError(f"alpha_req: Z must have shape (n >= 3, d), got {tuple(Z.shape)}")
    return power_law_exponent(covariance_spectrum(Z), fit_range)


def _scatter(views: torch.Tensor, delta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, S_w)`` with ``S_b = B B^T``: ``B (d, n)`` the centred class means over ``sqrt(n)``,
    ``S_w`` the mean within-class covariance plus ``delta I``. Float64."""
    fn = "lidar"
    check_tensor(views, "views", fn)
    if views.ndim != 3 or views.shape[0] < 2 or views.shape[1] < 2:
        raise InputError(
            f"{fn}: views must have shape (n >= 2, q >= 2, d), got {tuple(views.shape)}"
        )
    check_finite(fn, views=views)
    check_positive(delta, "delta", fn)
    v = views.to(torch.float64)
    n, q, d = v.shape
    means = v.mean(1)  # (n, d)
    B = (means - means.mean(0)).T / math.sqrt(n)
    within = (v - means[:, None]).reshape(n * q, d)
    S_w = within.T @ within / (n * (q - 1)) + delta * torch.eye(
        d, dtype=torch.float64, device=v.device
    )
    return B, S_w


def lda_matrix(views: torch.Tensor, delta: float = LIDAR_DELTA) -> torch.Tensor:
    """``S_w^(-1/2) S_b S_w^(-1/2)`` of ``views (n, q, d)``: ``n`` samples (classes), ``q``
    views each.

    ``S_b = 1/n sum_i (mu_i - mu)(mu_i - mu)^T`` (class means ``mu_i``, grand mean ``mu``);
    ``S_w = 1/n sum_i 1/(q - 1) sum_j (z_ij - mu_i)(z_ij - mu_i)^T + delta I``. Float64.
    """
    B, S_w = _scatter(views, delta)
    lam, U = torch.linalg.eigh(S_w)
    inv_sqrt = (U / lam.sqrt()) @ U.T
    M = inv_sqrt @ (B @ B.T) @ inv_sqrt
    return (M + M.T) / 2


def lda_spectrum(views: torch.Tensor, delta: float = LIDAR_DELTA) -> torch.Tensor:
    """The ``d`` eigenvalues of :func:`lda_matrix`, ascending, without forming it.

    ``S_w^(-1/2) B B^T S_w^(-1/2)`` has the non-zero eigenvalues of the ``n x n`` matrix
    ``B^T S_w^(-1) B`` (one Cholesky solve instead of two ``d x d`` eigendecompositions: 20x
    faster at d = 1024); the other ``d - n`` eigenvalues are exactly 0.
    """
    B, S_w = _scatter(views, delta)
    L = torch.linalg.cholesky(S_w)
    X = torch.linalg.solve_triangular(L, B, upper=False)  # L^-1 B: B^T S_w^-1 B = X^T X
    small = torch.linalg.eigvalsh(X.T @ X)
    d = S_w.shape[0]
    zeros = torch.zeros(max(0, d - small.numel()), dtype=torch.float64, device=S_w.device)
    return torch.cat([zeros, small[-min(d, small.numel()) :]])


def lidar(views: torch.Tensor, delta: float = LIDAR_DELTA, eps: float = RANKME_EPS) -> torch.Tensor:
    """LiDAR of ``views (n, q, d)`` (``n`` samples, ``q >= 2`` augmented views of each), a 0-d
    float64 tensor.

    At most ``min(n - 1, d)`` (``S_b`` has that rank); 1 when all samples share one mean
    direction. Thilak et al. use ``n`` = 1000 samples and ``q`` = 50 views.
    """
    return spectral_entropy_rank(lda_spectrum(views, delta), eps)
