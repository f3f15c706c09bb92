"""Losses: speed against the matrix products the issues call unavoidable, and float32 accuracy.

Run: python benchmarks/losses.py [--batch 256] [--dim 8192] [--repeats 5]
     python benchmarks/losses.py --accuracy [--seeds 3]

Speed (float32, measured in the same run, interleaved, best of N), against
  VICReg: z^T z per branch (forward) and one (B x D)(D x D) product per branch (backward);
  InfoNCE: the (2B x D)(D x 2B) similarity and one (2B x 2B)(2B x D) product for its gradient;
  Barlow Twins: z_a^T z_b (forward) and its two gradient products (backward).
At D >= 8 B our VICReg / Barlow Twins take the float64 Gram route (selfsup/losses/_offdiag.py);
``vicreg_dxd_route`` times the same loss forced through the D x D route (what D < 8 B uses);
the textbook formulas (selfsup/losses/textbook.py) are timed too. ``finite_check`` is the
cost of the input validation (``check_finite`` on both views: one pass each, one sync), and
``vicreg_loss_unchecked`` the loss under ``finite_checks(False)``. Last line: name=value
ratios.

Accuracy: for every pair loss and hard case (selfsup.losses.textbook.HARD_CASES) the worst
relative error over the seeds of ours and of the plain formula in float32, both against the
plain formula in float64, of the loss value and of its gradient; a markdown table.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from selfsup import losses
from selfsup.losses import barlow_twins_loss, info_nce_loss, textbook, vicreg_loss
from selfsup.losses.vicreg import covariance_term, variance_term
from selfsup.validation import check_finite, finite_checks


def fwd_bwd(loss_fn, a: torch.Tensor, b: torch.Tensor):
    def run() -> None:
        a.grad = b.grad = None
        loss_fn(a, b).backward()

    return run


def vicreg_dxd_route(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``vicreg_loss`` with its covariance forced through the D x D route."""
    var = (variance_term(a) + variance_term(b)) / 2
    cov = covariance_term(a, route="dxd") + covariance_term(b, route="dxd")
    return 25 * F.mse_loss(a, b) + 25 * var + cov


def speed(args: argparse.Namespace) -> None:
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

    def unchecked(a_: torch.Tensor, b_: torch.Tensor) -> torch.Tensor:
        with finite_checks(False):
            return vicreg_loss(a_, b_)

    cases = {
        "vicreg_loss": fwd_bwd(vicreg_loss, a, b),
        "vicreg_loss_unchecked": fwd_bwd(unchecked, a, b),
        "vicreg_dxd_route": fwd_bwd(vicreg_dxd_route, a, b),
        "vicreg_textbook": fwd_bwd(textbook.textbook_vicreg, a, b),
        "vicreg_matmul": vicreg_products,
        "finite_check": lambda: check_finite("bench", z_a=za, z_b=zb),
        "info_nce_loss": fwd_bwd(info_nce_loss, a, b),
        "info_nce_matmul": info_nce_products,
        "barlow_twins_loss": fwd_bwd(barlow_twins_loss, a, b),
        "barlow_textbook": fwd_bwd(textbook.textbook_barlow_twins, a, b),
        "barlow_matmul": barlow_products,
    }
    best = dict.fromkeys(cases, float("inf"))
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):  # interleaved, so load changes hit every case alike
        for name, run in cases.items():
            t = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t)
        loads.append(os.getloadavg()[0])
    print(f"B={B} D={D} float32, threads={torch.get_num_threads()}, best of {args.repeats}")
    for name, s in best.items():
        print(f"{name:>22s} {s * 1e3:9.2f} ms")
    print(f"1-min load average during the run: {min(loads):.1f} - {max(loads):.1f}")
    ratios = {
        "vicreg_over_matmul": best["vicreg_loss"] / best["vicreg_matmul"],
        "vicreg_dxd_route_over_matmul": best["vicreg_dxd_route"] / best["vicreg_matmul"],
        "vicreg_textbook_over_matmul": best["vicreg_textbook"] / best["vicreg_matmul"],
        "finite_check_over_vicreg": best["finite_check"] / best["vicreg_loss"],
        "vicreg_checked_over_unchecked": best["vicreg_loss"] / best["vicreg_loss_unchecked"],
        "info_nce_over_matmul": best["info_nce_loss"] / best["info_nce_matmul"],
        "barlow_twins_over_matmul": best["barlow_twins_loss"] / best["barlow_matmul"],
        "barlow_textbook_over_matmul": best["barlow_textbook"] / best["barlow_matmul"],
    }
    print(" ".join(f"{k}={v:.3f}" for k, v in ratios.items()))


PAIR_LOSSES = {
    "vicreg": (losses.vicreg_terms, textbook.vicreg_terms),
    "barlow_twins": (losses.barlow_twins_terms, textbook.barlow_twins_terms),
    "info_nce": (losses.info_nce_terms, textbook.info_nce_terms),
    "clip": (lambda a, b: losses.clip_terms(a, b, 10.0), textbook.clip_terms),
    "vicreg_logdet": (losses.vicreg_logdet_terms, textbook.vicreg_logdet_terms),
    "vicreg_pairdist": (losses.vicreg_pairdist_terms, textbook.vicreg_pairdist_terms),
}
ELBOS = {
    "cr_vae": (losses.cr_vae_elbo, textbook.cr_vae_terms),
    "simvae": (
        lambda x, lg, mu, lv, z: losses.simvae_elbo(x, lg, mu, lv, z),
        lambda x, lg, mu, lv, z: textbook.simvae_terms(x, lg, mu, lv, z),
    ),
}


def _worst(ours, plain, draws) -> dict:
    worst: dict = {}
    for inputs in draws:
        for key, (e_ours, e_plain) in textbook.float32_errors(ours, plain, inputs).items():
            w = worst.setdefault(key, [0.0, 0.0])
            w[0], w[1] = max(w[0], e_ours), max(w[1], e_plain)
    return worst


def accuracy(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)  # small problems
    print("| loss | B x D | case | term | value: ours / plain f32 | gradient: ours / plain f32 |")
    print("| --- | --- | --- | --- | ---: | ---: |")
    shapes = [(256, 64), (32, 512), (2, 1)]
    seeds = range(args.seeds)
    for name, (ours, plain) in PAIR_LOSSES.items():
        for batch, dim in shapes:
            for case in textbook.HARD_CASES:
                draws = [textbook.hard_pair(case, batch, dim, s) for s in seeds]
                worst = _worst(ours, plain, draws)
                for term in sorted({t for t, _ in worst}):
                    v, gr = worst[(term, "value")], worst[(term, "gradient")]
                    print(f"| {name} | {batch}x{dim} | {case} | {term} | {v[0]:.1e} / {v[1]:.1e} "
                          f"| {gr[0]:.1e} / {gr[1]:.1e} |")  # fmt: skip
    for name, (ours, plain) in ELBOS.items():
        for case in textbook.HARD_CASES:
            draws = [textbook.hard_elbo_inputs(case, 16, 2, 8, s) for s in seeds]
            worst = _worst(ours, plain, draws)
            for term in sorted({t for t, _ in worst}):
                v, gr = worst[(term, "value")], worst[(term, "gradient")]
                print(f"| {name} | 16x2x8 | {case} | {term} | {v[0]:.1e} / {v[1]:.1e} "
                      f"| {gr[0]:.1e} / {gr[1]:.1e} |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dim", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--accuracy", action="store_true", help="print the float32 error table")
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    accuracy(args) if args.accuracy else speed(args)


if __name__ == "__main__":
    main()
