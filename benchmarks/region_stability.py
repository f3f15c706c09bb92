"""Linear-region stability and affine error vs input-noise level, for two random-init networks.

Run: python benchmarks/region_stability.py [--out runs/region_stability.png]
For each noise std s: views x + s * N(0, I) of 64 inputs (64 views each); prints the mean
fraction of views in the input's linear region (``region_stability``) and the relative error of
the local affine prediction ``||f(x) + A (x' - x) - f(x')|| / ||f(x') - f(x)||``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from selfsup.info import local_affine, region_stability  # noqa: E402

NOISE = [1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]


RUNS = Path(__file__).resolve().parents[1] / "runs"  # outputs stay out of tracked files


def make_models() -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    torch.manual_seed(0)
    mlp = nn.Sequential(
        nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 64)
    )
    cnn = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 64),
    )
    cnn.train()
    with torch.no_grad():
        cnn(torch.randn(256, 3, 16, 16))  # running statistics for eval-mode batch norm
    # float64 so that the affine error at tiny noise is not float32 round-off.
    mlp, cnn = mlp.double(), cnn.double()
    return {
        "MLP 32-256-256-64 (ReLU)": (mlp, (32,)),
        "CNN 3x16x16 (BN, ReLU, max-pool)": (cnn, (3, 16, 16)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--out",
        default=str(RUNS / "region_stability.png"),
        help="PNG to write (default: under runs/; copy it to docs/img/ to refresh the docs)",
    )
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--views", type=int, default=64)
    args = ap.parse_args()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for name, (model, shape) in make_models().items():
        model.eval()
        g = torch.Generator().manual_seed(1)
        x = torch.randn(args.n, *shape, generator=g, dtype=torch.float64)
        A, b = local_affine(model, x)
        stab, err = [], []
        for s in NOISE:
            noise = s * torch.randn(args.n, args.views, *shape, generator=g, dtype=torch.float64)
            views = x[:, None] + noise
            stab.append(region_stability(model, x, views).mean().item())
            with torch.no_grad():
                fx = model(x).reshape(args.n, 1, -1)
                fv = model(views.reshape(-1, *shape)).reshape(args.n, args.views, -1)
            pred = fx + torch.einsum("boi,bvi->bvo", A, noise.reshape(args.n, args.views, -1))
            rel = (pred - fv).norm(dim=-1) / (fv - fx).norm(dim=-1).clamp_min(1e-30)
            err.append(rel.median().item())
            print(
                f"{name:34s} noise_std={s:8.1e}  stability={stab[-1]:.4f}  "
                f"median_rel_affine_err={err[-1]:.2e}",
                flush=True,
            )
        axes[0].plot(NOISE, stab, "-o", label=name, ms=4)
        axes[1].plot(NOISE, err, "-o", label=name, ms=4)
    axes[0].set_ylabel("fraction of views in the input's linear region")
    axes[1].set_ylabel("median ||f(x)+A(x'-x)-f(x')|| / ||f(x')-f(x)||")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("noise std per input coordinate (inputs ~ N(0, I))")
        ax.legend(fontsize=8)
    fig.suptitle(
        f"random-init networks, {args.n} inputs x {args.views} Gaussian views", fontsize=10
    )
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
