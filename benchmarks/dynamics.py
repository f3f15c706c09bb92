"""Closed-form Grassmannian trajectory vs Riemannian GD at matched accuracy, in one run.

    python benchmarks/dynamics.py [--d 1000] [--h 50] [--points 100] [--target 1e-6]

1. Times ``grassmann_flow`` for the whole trajectory (``--points`` times in [0, 1], one
   ``eigh`` included), median of ``--repeats`` after one warm-up (``harness.py``).
2. Runs ``riemannian_gd`` (QR retraction) to t = 1 at several step sizes, measures its error
   against the closed form at t = 1 (Frobenius norm of the projector difference) and the time
   per step, fits the error's log-log slope in the step size, and extrapolates linearly from the
   smallest measured step to the step size that reaches ``--target``; the GD time is that many
   steps times the measured time per step (running 10^5..10^6 steps is not needed to time them).

The last line is ``name=value`` pairs for scripts.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np
import torch
from harness import closing_line, interleaved, machine, median, spread

from selfsup.dynamics import grassmann_flow, loss_matrix, riemannian_gd


def projector_error(A: torch.Tensor, B: torch.Tensor) -> float:
    """``||A A^T - B B^T||_F`` for orthonormal frames, via sines (accurate at 1e-12)."""
    cross = A.T @ B
    return math.sqrt(2.0) * torch.linalg.matrix_norm(B - A @ cross).item()


def build_problem(d: int, h: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """C of the non-contrastive loss on noise views of data with a decaying spectrum, ||C|| = 1."""
    gen = torch.Generator().manual_seed(seed)
    n = 2 * d
    scales = torch.linspace(1.0, 0.05, d, dtype=torch.float64)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * scales
    x_pos = x + 0.1 * torch.randn(n, d, generator=gen, dtype=torch.float64)
    C = loss_matrix(x, x_pos)
    C = C / torch.linalg.eigvalsh(C).abs().max()
    W0 = torch.linalg.qr(torch.randn(d, h, generator=gen, dtype=torch.float64)).Q
    return C, W0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--d", type=int, default=1000)
    p.add_argument("--h", type=int, default=50)
    p.add_argument("--points", type=int, default=100)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--target", type=float, default=1e-6)
    p.add_argument("--lrs", type=float, nargs="+", default=[0.04, 0.02, 0.01, 0.005])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    C, W0 = build_problem(args.d, args.h, args.seed)
    times = torch.linspace(0.0, 1.0, args.points, dtype=torch.float64)
    print(f"d={args.d} h={args.h} points={args.points} torch={torch.__version__} {machine()}")
    seconds, last = interleaved({"closed": lambda: grassmann_flow(C, W0, times)}, args.repeats)
    closed_s = median(seconds["closed"])
    print(f"closed form, {args.points} points: {spread(seconds['closed'])}")
    trajectory = last["closed"]
    reference = trajectory[-1]  # t = 1

    errors, per_step = [], []
    for lr in args.lrs:
        steps = round(1.0 / lr)
        start = time.perf_counter()
        W = riemannian_gd(C, W0, lr, steps, record_every=steps)[-1]
        elapsed = time.perf_counter() - start
        per_step.append(elapsed / steps)
        errors.append(projector_error(W, reference))
        print(
            f"GD lr={lr:g}: {steps} steps in {elapsed:.2f} s "
            f"({1e3 * elapsed / steps:.2f} ms/step), ||P_gd - P_cf||_F at t=1: {errors[-1]:.3e}"
        )
    slope = float(np.polyfit(np.log(args.lrs), np.log(errors), 1)[0])
    # linear extrapolation from the smallest measured step (the slope above checks linearity)
    i_min = int(np.argmin(args.lrs))
    lr_needed = args.lrs[i_min] * args.target / errors[i_min]
    steps_needed = math.ceil(1.0 / lr_needed)
    step_s = statistics.median(per_step)
    gd_s = steps_needed * step_s
    speedup = gd_s / closed_s
    print(
        f"error vs lr log-log slope {slope:.3f}; to reach {args.target:g} GD needs lr "
        f"{lr_needed:.3e} = {steps_needed} steps x {1e3 * step_s:.2f} ms = {gd_s:.1f} s (estimated)"
    )
    print(f"closed form under 1 s: {closed_s < 1.0}; speedup vs GD: {speedup:.0f}x")
    pairs = {
        "closed_form_s": closed_s,
        "gd_step_s": step_s,
        "gd_steps_needed": steps_needed,
        "gd_est_s": gd_s,
        "error_slope": slope,
        "speedup_vs_gd": speedup,
    }
    print(closing_line(pairs))


if __name__ == "__main__":
    main()
