"""Bias of the selfsup.info estimators beyond benchmarks/info_bias.py's grid: the regimes their
warnings (``EstimatorRegimeWarning``) are drawn from.

Run: python benchmarks/info_regimes.py [--seeds 3]
Prints one row per (estimator, d, N): mean and std over seeds of (estimate - truth), nats.
Data: Gaussians with covariance eigenvalues log-spaced on [0.1, 10] (as info_bias.py);
KSG on ``y = rho x + sqrt(1 - rho^2) e`` coordinate-wise in ``dx = dy`` dimensions
(``I = -dx/2 log(1 - rho^2)``); LogDet against ``1/2 log det(I + Sigma)`` (beta = 1).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import torch
from info_bias import _cov  # noqa: E402  (the same covariances as info_bias.py)

from selfsup.info import (
    EstimatorRegimeWarning,
    gaussian_entropy,
    gaussian_entropy_from_samples,
    knn_entropy,
    ksg_mutual_information,
    logdet_entropy,
)

NS = [250, 1000, 4000]


def _row(name: str, d: int, n: int, errs: list[float]) -> None:
    t = torch.tensor(errs, dtype=torch.float64)
    std = t.std().item() if len(errs) > 1 else 0.0
    print(f"{name:24s} d={d:4d} N={n:6d}  bias={t.mean().item():+.4f}  std={std:.4f}", flush=True)


def gaussian_errors(d: int, n: int, seed: int) -> dict[str, float]:
    """Estimate - truth for each Gaussian-data estimator on one draw of n points in d dims."""
    cov = _cov(d, seed)
    chol = torch.linalg.cholesky(cov)
    z = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=cov.dtype)
    z = z @ chol.T
    h_true = gaussian_entropy(cov).item()
    ld_true = 0.5 * torch.linalg.slogdet(torch.eye(d, dtype=cov.dtype) + cov)[1].item()
    out = {
        "ledoit_wolf": gaussian_entropy_from_samples(z, "ledoit_wolf").item() - h_true,
        "logdet": logdet_entropy(z).item() - ld_true,
    }
    if n > d:
        out["plugin"] = gaussian_entropy_from_samples(z).item() - h_true
    if d <= 50:
        out["knn k=3"] = knn_entropy(z.float()).item() - h_true
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore", EstimatorRegimeWarning)  # we are measuring the regimes
    start = time.perf_counter()
    for d in [1, 2, 5, 10, 20, 50, 100]:
        for n in NS:
            errs: dict[str, list[float]] = {}
            for seed in range(args.seeds):
                for name, err in gaussian_errors(d, n, seed).items():
                    errs.setdefault(name, []).append(err)
            for name in ("plugin", "ledoit_wolf", "logdet", "knn k=3"):
                if name in errs:
                    _row(name, d, n, errs[name])
    for d in [1, 2, 5, 10]:
        for rho in (0.5, 0.9):
            truth = -0.5 * d * math.log(1 - rho**2)
            for n in NS:
                errs_ksg = []
                for seed in range(args.seeds):
                    g = torch.Generator().manual_seed(seed)
                    x = torch.randn(n, d, generator=g, dtype=torch.float64)
                    e = torch.randn(n, d, generator=g, dtype=torch.float64)
                    y = rho * x + math.sqrt(1 - rho**2) * e
                    errs_ksg.append(ksg_mutual_information(x, y).item() - truth)
                _row(f"ksg k=3 rho={rho} I={truth:.2f}", d, n, errs_ksg)
    print(f"wall_s={time.perf_counter() - start:.0f}")


if __name__ == "__main__":
    main()
