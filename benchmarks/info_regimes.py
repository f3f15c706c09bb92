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

from selfsup.info import (
    EstimatorRegimeWarning,
    gaussian_entropy,
    gaussian_entropy_from_samples,
    knn_entropy,
    ksg_mutual_information,
    logdet_entropy,
)

NS = [250, 1000, 4000]


def _cov(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 + seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.logspace(-1, 1, d, dtype=torch.float64)) @ q.T


def _row(name: str, d: int, n: int, errs: list[float]) -> None:
    t = torch.tensor(errs, dtype=torch.float64)
    std = t.std().item() if len(errs) > 1 else 0.0
    print(f"{name:24s} d={d:4d} N={n:6d}  bias={t.mean().item():+.4f}  std={std:.4f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore", EstimatorRegimeWarning)  # we are measuring the regimes
    start = time.perf_counter()
    for d in [1, 2, 5, 10, 20, 50, 100]:
        for n in NS:
            errs: dict[str, list[float]] = {"plugin": [], "ledoit_wolf": [], "logdet": []}
            errs["knn k=3"] = []
            for seed in range(args.seeds):
                g = torch.Generator().manual_seed(seed)
                cov = _cov(d, seed)
                z = torch.randn(n, d, generator=g, dtype=torch.float64)
                z = z @ torch.linalg.cholesky(cov).T
                truth = gaussian_entropy(cov).item()
                if n > d:
                    errs["plugin"].append(gaussian_entropy_from_samples(z).item() - truth)
                lw = gaussian_entropy_from_samples(z, "ledoit_wolf").item()
                errs["ledoit_wolf"].append(lw - truth)
                eye = torch.eye(d, dtype=torch.float64)
                ld_truth = 0.5 * torch.linalg.slogdet(eye + cov)[1].item()
                errs["logdet"].append(logdet_entropy(z).item() - ld_truth)
                if d <= 50:
                    errs["knn k=3"].append(knn_entropy(z.float()).item() - truth)
            for name, e in errs.items():
                if e:
                    _row(name, d, n, e)
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
