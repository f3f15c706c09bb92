"""Non-parametric estimators: Kozachenko-Leonenko entropy and KSG mutual information.

Neighbour search is exact and brute force: squared distances by matrix product on row chunks
followed by ``topk`` (``torch.cdist`` with the max-norm for KSG), so the same code runs on CPU and
GPU and memory stays at ``chunk_size * N`` distances.
All results are in nats.
"""

from __future__ import annotations

import math

import torch

from selfsup.info.gaussian import _check_samples

# A few extra candidates from the fast (matmul-based, float32) search are re-ranked with exact
# float64 distances, so near ties mis-ordered by rounding cannot change the k-th distance.
_EXTRA_CANDIDATES = 4


def _auto_chunk(n: int, budget: int = 2**25) -> int:
    """Rows per chunk so that one ``chunk x n`` distance block holds about ``budget`` entries."""
    return max(1, min(n, budget // max(n, 1)))


def knn_distances(z: torch.Tensor, k: int, chunk_size: int | None = None) -> torch.Tensor:
    """Euclidean distance from each point to its k-th nearest other point (exact).

    Args:
        z: ``(N, d)`` points.
        k: neighbour order, ``1 <= k < N``.
        chunk_size: rows per ``cdist`` block (default: about 32M distances per block).

    Returns:
        ``(N,)`` float64 distances.
    """
    _check_samples(z)
    if z.ndim != 2:
        raise ValueError(f"z must have shape (N, d), got {tuple(z.shape)}")
    n = z.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, N - 1] = [1, {n - 1}], got {k}")
    chunk_size = chunk_size or _auto_chunk(n)
    search = z.detach()
    if search.dtype not in (torch.float32, torch.float64):
        search = search.float()
    # Centring shrinks the norms in the ||a||^2 + ||b||^2 - 2ab expansion cdist uses.
    search = search - search.mean(0, keepdim=True)
    exact = search.to(torch.float64)
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


def _log_unit_ball_volume(d: int) -> float:
    """``log`` of the volume of the unit Euclidean ball in ``d`` dimensions."""
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)


def knn_entropy(z: torch.Tensor, k: int = 3, chunk_size: int | None = None) -> torch.Tensor:
    """Kozachenko-Leonenko k-nearest-neighbour entropy estimate, in nats.

    ``H = psi(N) - psi(k) + log V_d + (d / N) sum_i log eps_i``, with ``eps_i`` the Euclidean
    distance from ``z_i`` to its k-th nearest neighbour and ``V_d`` the unit-ball volume.
    Assumes a continuous density (no repeated points); consistent for fixed ``k`` as
    ``N -> inf`` but biased at finite ``N``, increasingly with ``d`` (see docs/info.md).

    Args:
        z: ``(N, d)`` samples.
        k: neighbour order (3 is the usual bias / variance compromise).
        chunk_size: rows per distance block (see :func:`knn_distances`).

    Returns:
        0-d float64 tensor (nats).

    Raises:
        ValueError: on repeated points (zero neighbour distance makes the estimate ``-inf``);
            add tiny noise first if the data are discretised.
    """
    eps = knn_distances(z, k, chunk_size)
    if bool((eps <= 0).any()):
        raise ValueError(
            f"{int((eps <= 0).sum())} points have k={k} or more exact duplicates; the kNN "
            "entropy is -inf for discrete data. Add small noise (e.g. 1e-6 * std) first."
        )
    n, d = z.shape
    psi = torch.special.digamma
    nt = torch.tensor([float(n), float(k)], dtype=torch.float64, device=eps.device)
    const = psi(nt[0]) - psi(nt[1]) + _log_unit_ball_volume(d)
    return const + d * torch.log(eps).mean()


def ksg_mutual_information(
    x: torch.Tensor, y: torch.Tensor, k: int = 3, chunk_size: int | None = None
) -> torch.Tensor:
    """Kraskov-Stoegbauer-Grassberger mutual information estimator 1, in nats.

    ``I = psi(k) + psi(N) - < psi(n_x + 1) + psi(n_y + 1) >``: ``eps_i`` is the max-norm
    distance to the k-th neighbour in the joint space (max over the x and y max-norm distances),
    ``n_x(i)`` the number of other points with x-distance strictly below ``eps_i``, likewise
    ``n_y``. Computed in float64, exact, chunked. Small positive or negative values around zero
    are the estimator's noise for independent variables; it underestimates strong dependence
    (large I) at finite ``N``.

    Args:
        x: ``(N, dx)`` (or ``(N,)``) samples of X.
        y: ``(N, dy)`` (or ``(N,)``) paired samples of Y.
        k: neighbour order.
        chunk_size: rows per distance block.

    Returns:
        0-d float64 tensor (nats).
    """
    x = x[:, None] if x.ndim == 1 else x
    y = y[:, None] if y.ndim == 1 else y
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must be (N, dx) and (N, dy) with the same N, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, N - 1] = [1, {n - 1}], got {k}")
    x = x.detach().to(torch.float64)
    y = y.detach().to(torch.float64)
    chunk_size = chunk_size or _auto_chunk(n, budget=2**23)
    nx = torch.empty(n, dtype=torch.float64, device=x.device)
    ny = torch.empty_like(nx)
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        dx = torch.cdist(x[start:stop], x, p=math.inf)
        dy = torch.cdist(y[start:stop], y, p=math.inf)
        joint = torch.maximum(dx, dy)
        rows = torch.arange(stop - start, device=x.device)
        joint[rows, rows + start] = math.inf
        # topk is several times faster than kthvalue on CPU for small k.
        eps = joint.topk(k, dim=1, largest=False).values[:, k - 1 : k]
        # Each point's own distance is 0 < eps, so subtract it from the counts.
        nx[start:stop] = (dx < eps).sum(1) - 1
        ny[start:stop] = (dy < eps).sum(1) - 1
    psi = torch.special.digamma
    nk = torch.tensor([float(k), float(n)], dtype=torch.float64, device=x.device)
    return psi(nk[0]) + psi(nk[1]) - (psi(nx + 1) + psi(ny + 1)).mean()
