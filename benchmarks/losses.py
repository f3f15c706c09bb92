"""Time each loss's forward + backward against the matrix products the issue calls unavoidable.

Run: python benchmarks/losses.py [--batch 256] [--dim 8192] [--repeats 5]
Reference products (float32, measured in the same run, interleaved, median of N after a
warm-up round; ``harness.py``):
  VICReg: z^T z per branch (forward) and one (B x D)(D x D) product per branch (backward);
  InfoNCE: the (2B x D)(D x 2B) similarity and one (2B x 2B)(2B x D) product for its gradient;
  Barlow Twins: z_a^T z_b (forward) and its two gradient products (backward).
Our losses compute the D x D Frobenius norms through the B x B Grams (same value), so they
can run below 1x of these references. The textbook formulas (forming the D x D matrices)
are timed too, for comparison. Last line: name=value ratios.
"""

from __future__ import annotations

import argparse

import torch
from harness import closing_line, interleaved, machine, ratio, spread

from selfsup.losses import barlow_twins_loss, info_nce_loss, vicreg_loss
from selfsup.losses.textbook import textbook_barlow_twins, textbook_vicreg


def fwd_bwd(loss_fn, a: torch.Tensor, b: torch.Tensor):
    def run() -> None:
        a.grad = b.grad = None
        loss_fn(a, b).backward()

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dim", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    B, D = args.batch, args.dim
    g = torch.Generator().manual_seed(0)
    a = torch.randn(B, D, generator=g).requires_grad_()
    b = torch.randn(B, D, generator=g).requires_grad_()
    za, zb = a.detach(), b.detach()
    M = torch.randn(D, D, generator=g)
    z2 = torch.cat([za, zb])
    S = torch.randn(2 * B, 2 * B, generator=g)

    def vicreg_products() -> None:  # 4 x B*D^2 multiply-adds
        za.T @ za, zb.T @ zb, za @ M, zb @ M

    def info_nce_products() -> None:  # 2 x (2B)^2*D
        z2 @ z2.T, S @ z2

    def barlow_products() -> None:  # 3 x B*D^2
        za.T @ zb, za @ M, zb @ M

    cases = {
        "vicreg_loss": fwd_bwd(vicreg_loss, a, b),
        "vicreg_textbook": fwd_bwd(textbook_vicreg, a, b),
        "vicreg_matmul": vicreg_products,
        "info_nce_loss": fwd_bwd(info_nce_loss, a, b),
        "info_nce_matmul": info_nce_products,
        "barlow_twins_loss": fwd_bwd(barlow_twins_loss, a, b),
        "barlow_textbook": fwd_bwd(textbook_barlow_twins, a, b),
        "barlow_matmul": barlow_products,
    }
    seconds, _ = interleaved(cases, args.repeats)
    print(f"B={B} D={D} float32, median of {args.repeats} interleaved rounds; {machine()}")
    for name, times in seconds.items():
        print(f"{name:>20s} {spread(times)}")
    pairs = {
        "vicreg_over_matmul": ratio(seconds, "vicreg_loss", "vicreg_matmul"),
        "vicreg_textbook_over_matmul": ratio(seconds, "vicreg_textbook", "vicreg_matmul"),
        "info_nce_over_matmul": ratio(seconds, "info_nce_loss", "info_nce_matmul"),
        "barlow_twins_over_matmul": ratio(seconds, "barlow_twins_loss", "barlow_matmul"),
        "barlow_textbook_over_matmul": ratio(seconds, "barlow_textbook", "barlow_matmul"),
    }
    print(closing_line(pairs))


if __name__ == "__main__":
    main()
