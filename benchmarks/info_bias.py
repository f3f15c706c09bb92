"""Bias of the selfsup.info estimators against closed forms, by sample size and dimension.

Run: python benchmarks/info_bias.py [--seeds 3] [--out runs/info_bias.png]
Prints one table row per (estimator, distribution, d, N): mean and std of (estimate - truth)
over seeds, in nats; writes a three-panel plot.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from selfsup.info import (  # noqa: E402
    gaussian_entropy,
    gaussian_entropy_from_samples,
    knn_entropy,
    ksg_mutual_information,
    mixture_entropy_bounds,
    mixture_entropy_mc,
)

NS = [250, 1000, 4000, 16000]
DIMS = [1, 2, 5, 10, 20]


RUNS = Path(__file__).resolve().parents[1] / "runs"  # outputs stay out of tracked files


def _cov(d: int, seed: int) -> torch.Tensor:
    """Random covariance with eigenvalues log-spaced over [0.1, 10] (condition number 100)."""
    g = torch.Generator().manual_seed(1000 + seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.logspace(-1, 1, d, dtype=torch.float64)) @ q.T


def _stats(errors: list[float]) -> tuple[float, float]:
    t = torch.tensor(errors, dtype=torch.float64)
    return t.mean().item(), (t.std().item() if len(errors) > 1 else 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument(
        "--out",
        default=str(RUNS / "info_bias.png"),
        help="PNG to write (default: under runs/; copy it to docs/img/ to refresh the docs)",
    )
    args = ap.parse_args()
    t_start = time.perf_counter()
    rows: list[tuple[str, str, int, int, float, float]] = []

    def record(est: str, dist: str, d: int, n: int, errs: list[float]) -> None:
        m, s = _stats(errs)
        rows.append((est, dist, d, n, m, s))
        print(f"{est:22s} {dist:22s} d={d:3d} N={n:6d}  bias={m:+.4f}  std={s:.4f}", flush=True)

    for d in DIMS:
        for n in NS:
            errs = {"plugin": [], "ledoit_wolf": [], "knn_gauss": [], "knn_box": []}
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
                errs["knn_gauss"].append(knn_entropy(z.float()).item() - truth)
                sides = torch.linspace(0.5, 2.0, d, dtype=torch.float64)
                box = torch.rand(n, d, generator=g, dtype=torch.float64) * sides
                errs["knn_box"].append(knn_entropy(box.float()).item() - sides.log().sum().item())
            if errs["plugin"]:
                record("gaussian_plugin", "gauss cond100", d, n, errs["plugin"])
            record("gaussian_ledoit_wolf", "gauss cond100", d, n, errs["ledoit_wolf"])
            record("knn_entropy k=3", "gauss cond100", d, n, errs["knn_gauss"])
            record("knn_entropy k=3", "uniform box", d, n, errs["knn_box"])

    for rho in (0.5, 0.9):
        for n in NS[:3] + [8000]:
            errs = []
            for seed in range(args.seeds):
                g = torch.Generator().manual_seed(seed)
                x = torch.randn(n, generator=g, dtype=torch.float64)
                y = rho * x + math.sqrt(1 - rho**2) * torch.randn(
                    n, generator=g, dtype=torch.float64
                )
                errs.append(ksg_mutual_information(x, y).item() + 0.5 * math.log(1 - rho**2))
            record("ksg k=3", f"gauss pair rho={rho}", 2, n, errs)

    # Mixture bounds: gap to Monte Carlo as the components go from overlapping to separated.
    mix = []
    for spread in (0.25, 0.5, 1.0, 2.0, 4.0, 8.0):
        g = torch.Generator().manual_seed(0)
        means = torch.randn(100, 5, generator=g, dtype=torch.float64) * spread
        a = torch.randn(100, 5, 5, generator=g, dtype=torch.float64) / math.sqrt(5)
        covs = a @ a.transpose(1, 2) + 0.2 * torch.eye(5, dtype=torch.float64)
        lo, up = mixture_entropy_bounds(means, covs)
        mc, se = mixture_entropy_mc(means, covs, n_samples=40000, generator=g, return_stderr=True)
        mix.append((spread, lo.item() - mc.item(), up.item() - mc.item(), se.item()))
        print(
            f"mixture N=100 d=5 spread={spread:4.2f}  lower-MC={lo.item() - mc.item():+.4f}  "
            f"upper-MC={up.item() - mc.item():+.4f}  MC stderr={se.item():.4f}",
            flush=True,
        )

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for est, dist, ax, style in (
        ("gaussian_plugin", "gauss cond100", axes[0], "-o"),
        ("gaussian_ledoit_wolf", "gauss cond100", axes[0], "--s"),
        ("knn_entropy k=3", "gauss cond100", axes[1], "-o"),
        ("knn_entropy k=3", "uniform box", axes[1], "--s"),
    ):
        for i, d in enumerate(DIMS):
            pts = [(r[3], r[4]) for r in rows if r[0] == est and r[1] == dist and r[2] == d]
            if pts:
                label = f"{est.split()[0].replace('gaussian_', '')} {dist.split()[0]} d={d}"
                ax.plot(*zip(*pts, strict=True), style, color=f"C{i}", label=label, ms=4)
    for rho in (0.5, 0.9):
        pts = [(r[3], r[4]) for r in rows if r[1] == f"gauss pair rho={rho}"]
        axes[2].plot(*zip(*pts, strict=True), "-o", label=f"KSG rho={rho}", ms=4)
    ax2 = axes[2].twiny()
    ax2.plot([m[0] for m in mix], [m[1] for m in mix], "--^", color="C3", label="KT lower - MC")
    ax2.plot([m[0] for m in mix], [m[2] for m in mix], "--v", color="C4", label="KT upper - MC")
    ax2.set_xscale("log")
    ax2.set_xlabel("mixture spread (N=100, d=5), top axis")
    ax2.legend(loc="lower right", fontsize=7)
    titles = (
        "Gaussian plug-in (solid) / Ledoit-Wolf (dashed)",
        "kNN (KL) k=3: Gaussian (solid) / uniform box (dashed)",
        "KSG MI (bottom axis) and mixture bounds",
    )
    for ax, title in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_xlabel("N (samples)")
        ax.set_ylabel("estimate - truth (nats)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6, ncol=2, loc="upper right" if ax is not axes[2] else "upper left")
    axes[0].set_yscale("symlog", linthresh=0.01)
    axes[1].set_yscale("symlog", linthresh=0.05)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}; {time.perf_counter() - t_start:.0f} s, seeds={args.seeds}")


if __name__ == "__main__":
    main()
