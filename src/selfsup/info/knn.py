"""Non-parametric estimators: Kozachenko-Leonenko entropy and KSG mutual information.

Neighbour search is exact and brute force: squared distances by matrix product on row chunks
followed by ``topk`` (``torch.cdist`` with the max-norm for KSG), so the same code runs on CPU and
GPU and memory stays at ``chunk_size * N`` distances.
All results are in nats.

Repeated points: both estimators take logs of (or count within) nearest-neighbour distances,
which are 0 between copies of a point, so the estimate would be infinite. They raise a
``ValueError`` saying how many points are affected, unless ``jitter > 0``: then Gaussian noise
of ``jitter`` times each dimension's standard deviation (fixed seed, float64) is added first,
the usual remedy for discretised data (e.g. ``jitter=1e-8``).
"""

from __future__ import annotations

import math

import torch

from selfsup.info.regimes import KNN_ENTROPY, KSG_MUTUAL_INFORMATION, warn_outside
from selfsup.validation import InputError, check_finite, check_int, check_nonnegative, check_samples

# A few extra candidates from the fast (matmul-based, float32) search are re-ranked with exact
# float64 distances, so near ties mis-ordered by rounding cannot change the k-th distance.
_EXTRA_CANDIDATES = 4


def _auto_chunk(n: int, budget: int = 2**25) -> int:
    """Rows per chunk so that one ``chunk x n`` distance block holds about ``budget`` entries."""
    return max(1, min(n, budget // max(n, 1)))


def _check_common(fn: str, k: int, n: int, chunk_size: int | None, jitter: float) -> None:
    check_int(k, "k", fn, 1, n - 1)
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", fn, 1)
    check_nonnegative(jitter, "jitter", fn)


def _jittered(z: torch.Tensor, jitter: float) -> torch.Tensor:
    """``z`` in float64 plus ``jitter * std_j`` Gaussian noise per dimension (seed 0)."""
    z = z.detach().to(torch.float64)
    if jitter == 0:
        return z
    g = torch.Generator(device=z.device).manual_seed(0)
    std = z.std(0) if z.shape[0] > 1 else torch.ones(z.shape[1], dtype=z.dtype, device=z.device)
    scale = jitter * torch.where(std > 0, std, std.max().clamp_min(1.0))
    return z + scale * torch.randn(z.shape, generator=g, dtype=z.dtype, device=z.device)


def _knn_distances(z: torch.Tensor, k: int, chunk_size: int | None) -> torch.Tensor:
    n = z.shape[0]
    chunk_size = chunk_size or _auto_chunk(n)
    search = z.detach()
    if search.dtype not in (torch.float32, torch.float64):
        search = search.float()
    # Centring shrinks the norms in the ||a||^2 + ||b||^2 - 2ab expansion the search uses.
    search = search - search.mean(0, keepdim=True)
    exact = z.detach().to(torch.float64)  # differences of the data itself, no rounding added
    m = min(k + _EXTRA_CANDIDATES, n - 1)
    out = torch.empty(n, dtype=torch.float64, device=z.device)
    sq_norms = (search**2).sum(1)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        # ||y||^2 - 2 <x, y> ranks the candidates y of row x like ||x - y||^2 (the ||x||^2 term
        # is constant along a row), in one fused matmul and without cdist's square roots.
        score = torch.addmm(sq_norms[None, :], search[start:stop], search.T, alpha=-2.0)
        rows = torch.arange(stop - start, device=z.device)
        score[rows, rows + start] = math.inf  # a point is not its own neighbour
        idx = score.topk(m, dim=1, largest=False).indices
        refined = (exact[start:stop, None, :] - exact[idx]).norm(dim=-1)
        out[start:stop] = refined.kthvalue(k, dim=1).values
    return out


def knn_distances(z: torch.Tensor, k: int, chunk_size: int | None = None) -> torch.Tensor:
    """Euclidean distance from each point to its k-th nearest other point (exact).

    Args:
        z: ``(N, d)`` finite points.
        k: neighbour order, ``1 <= k < N``.
        chunk_size: rows per distance block (default: about 32M distances per block).

    Returns:
        ``(N,)`` float64 distances (0 where a point has ``k`` or more exact copies).
    """
    fn = "knn_distances"
    check_samples(z, "z", fn, min_n=2)
    _check_common(fn, k, z.shape[0], chunk_size, 0.0)
    check_finite(fn, z=z)
    return _knn_distances(z, k, chunk_size)


def _log_unit_ball_volume(d: int) -> float:
    """``log`` of the volume of the unit Euclidean ball in ``d`` dimensions."""
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def _refuse_repeats(fn: str, repeated: int, k: int, what: str) -> None:
    raise InputError(
        f"{fn}: {repeated} point(s) have their k={k}-th neighbour at distance 0 in {what} "
        "(repeated points), where the estimate is infinite; pass jitter=1e-8 (noise of 1e-8 "
        "times each dimension's std, fixed seed) or remove the duplicates"
    )


def knn_entropy(
    z: torch.Tensor, k: int = 3, chunk_size: int | None = None, jitter: float = 0.0
) -> torch.Tensor:
    """Kozachenko-Leonenko k-nearest-neighbour entropy estimate, in nats.

    ``H = psi(N) - psi(k) + log V_d + (d / N) sum_i log eps_i``, with ``eps_i`` the Euclidean
    distance from ``z_i`` to its k-th nearest neighbour and ``V_d`` the unit-ball volume.
    Assumes a continuous density; consistent for fixed ``k`` as ``N -> inf`` but biased at
    finite ``N``, increasingly with ``d``.

    Reliability (``benchmarks/info_bias.py``, ``benchmarks/info_regimes.py``, docs/info.md):
    within 0.3 nats for Gaussian data with ``d <= 5`` and ``N >= 250``; biased high by
    +0.5 to +1.8 nats at d = 10, +3 to +6 at d = 20 and +17 to +22 at d = 50 (N = 16000 to
    250). Calls outside ``d <= 5, N >= 250`` warn (:class:`selfsup.info.EstimatorRegimeWarning`).

    Args:
        z: ``(N, d)`` finite samples.
        k: neighbour order (3 is the usual bias / variance compromise).
        chunk_size: rows per distance block (see :func:`knn_distances`).
        jitter: 0 (default): repeated points raise. ``> 0``: add that much noise first (see
            the module docstring).

    Returns:
        0-d float64 tensor (nats).
    """
    fn = "knn_entropy"
    check_samples(z, "z", fn, min_n=2)
    _check_common(fn, k, z.shape[0], chunk_size, jitter)
    check_finite(fn, z=z)
    n, d = z.shape
    warn_outside(KNN_ENTROPY, fn, n=n, d=d)
    eps = _knn_distances(_jittered(z, jitter) if jitter > 0 else z, k, chunk_size)
    repeated = int((eps <= 0).sum())
    if repeated:
        _refuse_repeats(fn, repeated, k, "z")
    psi = torch.special.digamma
    nt = torch.tensor([float(n), float(k)], dtype=torch.float64, device=eps.device)
    const = psi(nt[0]) - psi(nt[1]) + _log_unit_ball_volume(d)
    return const + d * torch.log(eps).mean()


def ksg_mutual_information(
    x: torch.Tensor,
    y: torch.Tensor,
    k: int = 3,
    chunk_size: int | None = None,
    jitter: float = 0.0,
) -> torch.Tensor:
    """Kraskov-Stoegbauer-Grassberger mutual information estimator 1, in nats.

    ``I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >``: ``eps_i`` is the max-norm
    distance to the k-th neighbour in the joint space (max over the x and y max-norm distances),
    ``n_x(i)`` the number of other points with x-distance strictly below ``eps_i``, likewise
    ``n_y``. Computed in float64, exact, chunked. Small positive or negative values around zero
    are the estimator's noise for independent variables; it underestimates strong dependence
    (large I) at finite ``N``.

    Reliability (``benchmarks/info_regimes.py``, docs/info.md): within 0.15 nats for
    correlated Gaussian pairs with ``dx = dy <= 2`` and ``N >= 250``; biased low by 0.15 - 2.1
    nats at ``dx = dy = 5`` and 0.7 - 6.2 at 10. Calls with ``max(dx, dy) > 2`` or ``N < 250``
    warn (:class:`selfsup.info.EstimatorRegimeWarning`).

    Args:
        x: ``(N, dx)`` (or ``(N,)``) finite samples of X.
        y: ``(N, dy)`` (or ``(N,)``) paired samples of Y.
        k: neighbour order.
        chunk_size: rows per distance block.
        jitter: 0 (default): points repeated in the joint space raise. ``> 0``: add that much
            noise to x and y first (see the module docstring).

    Returns:
        0-d float64 tensor (nats).
    """
    fn = "ksg_mutual_information"
    x = x[:, None] if isinstance(x, torch.Tensor) and x.ndim == 1 else x
    y = y[:, None] if isinstance(y, torch.Tensor) and y.ndim == 1 else y
    check_samples(x, "x", fn, min_n=2)
    check_samples(y, "y", fn, min_n=2)
    if x.shape[0] != y.shape[0]:
        raise InputError(
            f"{fn}: x and y must be (N, dx) and (N, dy) with the same N, got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    n = x.shape[0]
    _check_common(fn, k, n, chunk_size, jitter)
    check_finite(fn, x=x, y=y)
    warn_outside(KSG_MUTUAL_INFORMATION, fn, n=n, d=max(x.shape[1], y.shape[1]))
    x, y = _jittered(x, jitter), _jittered(y, jitter)
    chunk_size = chunk_size or _auto_chunk(n, budget=2**23)
    nx = torch.empty(n, dtype=torch.float64, device=x.device)
    ny = torch.empty_like(nx)
    repeated = 0
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        dx = torch.cdist(x[start:stop], x, p=math.inf)
        dy = torch.cdist(y[start:stop], y, p=math.inf)
        joint = torch.maximum(dx, dy)
        rows = torch.arange(stop - start, device=x.device)
        joint[rows, rows + start] = math.inf
        # topk is several times faster than kthvalue on CPU for small k.
        eps = joint.topk(k, dim=1, largest=False).values[:, k - 1 : k]
        repeated += int((eps <= 0).sum())
        # Each point's own distance is 0 < eps, so subtract it from the counts.
        nx[start:stop] = (dx < eps).sum(1) - 1
        ny[start:stop] = (dy < eps).sum(1) - 1
    if repeated:
        _refuse_repeats(fn, repeated, k, "the joint (x, y) space")
    psi = torch.special.digamma
    nk = torch.tensor([float(k), float(n)], dtype=torch.float64, device=x.device)
    return psi(nk[0]) + psi(nk[1]) - (psi(nx + 1) + psi(ny + 1)).mean()
