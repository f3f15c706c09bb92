"""Losses: speed against the matrix products they cannot avoid, and float32 accuracy.

Run: python benchmarks/losses.py [--batch 256] [--dim 8192] [--repeats 5]
     python benchmarks/losses.py --accuracy [--seeds 3]
     python benchmarks/losses.py --routes [--batch 256] [--repeats 5]
     (--threads N sets torch's thread count for the speed runs)

Speed (float32, measured in the same run, interleaved, best of N), against
  VICReg: z^T z per branch (forward) and one (B x D)(D x D) product per branch (backward);
  InfoNCE: the (2B x D)(D x 2B) similarity and one (2B x 2B)(2B x D) product for its gradient;
  Barlow Twins: z_a^T z_b (forward) and its two gradient products (backward).
At D >= 16 B our VICReg / Barlow Twins take the float64 Gram route (selfsup/losses/_offdiag.py);
``vicreg_dxd_route`` times the same loss forced through the D x D route (what D < 16 B uses),
``vicreg_dxd_route_blas_dot`` the same with the off-diagonal squares summed by one BLAS dot
(the fast reduction that lost digits when one feature dominates; ``dxd_route_over_blas_dot``
is what the accurate reduction costs);
the textbook formulas (tests/losses/textbook.py) are timed too. ``finite_check`` is the
cost of the input validation (``check_finite`` on both views: one pass each, one sync), and
``vicreg_loss_unchecked`` the loss under ``finite_checks(False)``. Last line: name=value
ratios.

Routes (``--routes``): the covariance term of both branches, forward + backward, through each
route at D = B .. 32 B, over the same four products: where the float64 Gram route starts to
pay (the ``D >= 16 B`` threshold in selfsup/losses/_offdiag.py).

Accuracy: for every loss, over the hard cases (tests/losses/textbook.py, HARD_CASES), shapes,
terms and seeds, the worst relative error of ours and of the plain formula in float32, both
against the plain formula in float64, for values and gradients (markdown); then VICReg's
covariance term per case next to the plain float32 Gram identity (which cancels when one
feature dominates).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from selfsup import losses
from selfsup.losses import _offdiag, barlow_twins_loss, info_nce_loss, vicreg_loss
from selfsup.losses.vicreg import covariance_term, variance_term
from selfsup.validation import check_finite, finite_checks

# the plain formulas are the tests' reference, kept with them (tests/losses/textbook.py), not
# in the installed package: the repository root goes on the path to reach them
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.losses import textbook  # noqa: E402


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


def blas_dot_sum_of_squares(m: torch.Tensor) -> torch.Tensor:
    """The D x D route's reduction as it was: one BLAS dot over the D^2 entries (fast, but
    its float32 running sums lose digits when one feature dominates)."""
    flat = m.reshape(-1)
    return torch.dot(flat, flat)


def vicreg_dxd_route_blas_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``vicreg_dxd_route`` with the BLAS-dot reduction, the baseline of its speed."""
    accurate = _offdiag.sum_of_squares
    _offdiag.sum_of_squares = blas_dot_sum_of_squares
    try:
        return vicreg_dxd_route(a, b)
    finally:
        _offdiag.sum_of_squares = accurate


def speed(args: argparse.Namespace) -> None:
    B, D = args.batch, args.dim
    g = torch.Generator().manual_seed(0)
    a = torch.randn(B, D, generator=g).requires_grad_()
    b = torch.randn(B, D, generator=g).requires_grad_()
    za, zb = a.detach(), b.detach()
    M = torch.randn(D, D, generator=g)
    z2 = torch.cat([za, zb])
    S = torch.randn(2 * B, 2 * B, generator=g)

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
        "vicreg_dxd_route_blas_dot": fwd_bwd(vicreg_dxd_route_blas_dot, a, b),
        "vicreg_textbook": fwd_bwd(textbook.textbook_vicreg, a, b),
        "vicreg_matmul": four_products(za, zb, M),
        "finite_check": lambda: check_finite("bench", z_a=za, z_b=zb),
        "info_nce_loss": fwd_bwd(info_nce_loss, a, b),
        "info_nce_matmul": info_nce_products,
        "barlow_twins_loss": fwd_bwd(barlow_twins_loss, a, b),
        "barlow_textbook": fwd_bwd(textbook.textbook_barlow_twins, a, b),
        "barlow_matmul": barlow_products,
    }
    loads = [os.getloadavg()[0]]
    best = best_times(cases, args.repeats, loads)
    print(f"B={B} D={D} float32, threads={torch.get_num_threads()}, best of {args.repeats}")
    for name, s in best.items():
        print(f"{name:>22s} {s * 1e3:9.2f} ms")
    print(f"1-min load average during the run: {min(loads):.1f} - {max(loads):.1f}")
    ratios = {
        "vicreg_over_matmul": best["vicreg_loss"] / best["vicreg_matmul"],
        "vicreg_dxd_route_over_matmul": best["vicreg_dxd_route"] / best["vicreg_matmul"],
        "dxd_route_over_blas_dot": best["vicreg_dxd_route"] / best["vicreg_dxd_route_blas_dot"],
        "vicreg_textbook_over_matmul": best["vicreg_textbook"] / best["vicreg_matmul"],
        "finite_check_over_vicreg": best["finite_check"] / best["vicreg_loss"],
        "vicreg_checked_over_unchecked": best["vicreg_loss"] / best["vicreg_loss_unchecked"],
        "info_nce_over_matmul": best["info_nce_loss"] / best["info_nce_matmul"],
        "barlow_twins_over_matmul": best["barlow_twins_loss"] / best["barlow_matmul"],
        "barlow_textbook_over_matmul": best["barlow_textbook"] / best["barlow_matmul"],
    }
    print(" ".join(f"{k}={v:.3f}" for k, v in ratios.items()))


def four_products(za: torch.Tensor, zb: torch.Tensor, M: torch.Tensor):
    """VICReg's reference: z^T z per branch and one (B x D)(D x D) product per branch."""

    def run() -> None:  # 4 x B*D^2 multiply-adds
        za.T @ za, zb.T @ zb, za @ M, zb @ M

    return run


def covariance_route(route: str, a: torch.Tensor, b: torch.Tensor):
    return fwd_bwd(lambda x, y: covariance_term(x, route) + covariance_term(y, route), a, b)


def best_times(cases: dict, repeats: int, loads: list[float] | None = None) -> dict[str, float]:
    """Best of ``repeats`` per case, interleaved so load changes hit every case alike."""
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(repeats):
        for name, run in cases.items():
            t = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - t)
        if loads is not None:
            loads.append(os.getloadavg()[0])
    return best


def routes(args: argparse.Namespace) -> None:
    B = args.batch
    print(f"B={B} float32, threads={torch.get_num_threads()}, best of {args.repeats}")
    print("D, gram_over_matmul, dxd_over_matmul, load")
    for D in (B, 2 * B, 4 * B, 8 * B, 16 * B, 32 * B):
        g = torch.Generator().manual_seed(0)
        a = torch.randn(B, D, generator=g).requires_grad_()
        b = torch.randn(B, D, generator=g).requires_grad_()
        M = torch.randn(D, D, generator=g)
        cases = {
            "matmul": four_products(a.detach(), b.detach(), M),
            "gram": covariance_route("gram", a, b),
            "dxd": covariance_route("dxd", a, b),
        }
        best = best_times(cases, args.repeats)
        ratio = {k: best[k] / best["matmul"] for k in ("gram", "dxd")}
        print(f"{D}, {ratio['gram']:.3f}, {ratio['dxd']:.3f}, {os.getloadavg()[0]:.1f}", flush=True)


PAIR_LOSSES = {
    "vicreg": (losses.vicreg_terms, textbook.vicreg_terms),
    "barlow_twins": (losses.barlow_twins_terms, textbook.barlow_twins_terms),
    "info_nce": (losses.info_nce_terms, textbook.info_nce_terms),
    "clip": (lambda a, b: losses.clip_terms(a, b, 10.0), textbook.clip_terms),
    "vicreg_logdet": (losses.vicreg_logdet_terms, textbook.vicreg_logdet_terms),
    "vicreg_pairdist": (losses.vicreg_pairdist_terms, textbook.vicreg_pairdist_terms),
}
ELBOS = {
    "vae": (
        lambda x, lg, mu, lv, z: losses.vae_elbo(*(t.flatten(0, 1) for t in (x, lg, mu, lv))),
        lambda x, lg, mu, lv, z: textbook.vae_terms(*(t.flatten(0, 1) for t in (x, lg, mu, lv))),
    ),
    "cr_vae": (
        lambda x, lg, mu, lv, z: losses.cr_vae_elbo(x, lg, mu, lv),
        lambda x, lg, mu, lv, z: textbook.cr_vae_terms(x, lg, mu, lv),
    ),
    "simvae": (
        lambda x, lg, mu, lv, z: losses.simvae_elbo(x, lg, mu, lv, z),
        lambda x, lg, mu, lv, z: textbook.simvae_terms(x, lg, mu, lv, z),
    ),
}


def _worst(ours, plain, draws, floor: float = 0.0, what: str = "value") -> tuple[float, float]:
    """Worst (ours, plain float32) error over the draws and the terms, values or gradients."""
    worst = [0.0, 0.0]
    for inputs in draws:
        errors = textbook.float32_errors(ours, plain, inputs, floor)
        for (_, kind), (e_ours, e_plain) in errors.items():
            if kind == what:
                worst = [max(worst[0], e_ours), max(worst[1], e_plain)]
    return worst[0], worst[1]


def old_gram_identity_covariance(a: torch.Tensor, b: torch.Tensor) -> dict[str, torch.Tensor]:
    """VICReg's covariance term by the plain Gram identity: ||Zc Zc^T||_F^2 - sum diag^2
    through the B x B Gram, in the input dtype (it cancels when one feature dominates)."""

    def term(z: torch.Tensor) -> torch.Tensor:
        n, d = z.shape
        zc = z - z.mean(0)
        gram = (zc @ zc.T).reshape(-1)
        diagonal = zc.pow(2).sum(0)
        return (torch.dot(gram, gram) - torch.dot(diagonal, diagonal)) / (n - 1) ** 2 / d

    return {"covariance": term(a) + term(b)}


def _ratio(e_ours: float, e_plain: float) -> float:
    return e_ours / max(e_plain, 2 * torch.finfo(torch.float32).eps)


def accuracy(args: argparse.Namespace) -> None:
    torch.set_num_threads(1)  # small problems
    seeds = range(args.seeds)
    print("Per hard case and shape (256x64, 32x512, 2x1; ELBOs 16x2x8): the worst relative")
    print("error over terms and seeds, of ours and of the plain formula in float32, against the")
    print("plain formula in float64; ratio = ours / max(plain, 2 eps). Max ratio over cases and")
    print("shapes (the tests require <= 10), and the median errors over cases and shapes.")
    print()
    print("| loss | value: max ratio | median ours / plain | gradient: max ratio | "
          "median ours / plain |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: |")
    shapes = ((256, 64), (32, 512), (2, 1))
    pair_draws = [
        [textbook.hard_pair(case, *shape, s) for s in seeds]
        for shape in shapes
        for case in textbook.HARD_CASES
    ]
    elbo_draws = [[textbook.hard_elbo_inputs(case, 16, 2, 8, s) for s in seeds]
                  for case in textbook.HARD_CASES]  # fmt: skip
    for name, (ours, plain) in {**PAIR_LOSSES, **ELBOS}.items():
        groups = pair_draws if name in PAIR_LOSSES else elbo_draws
        cells = []
        for what in ("value", "gradient"):
            ratios, e_ours, e_plain = [], [], []
            for draws in groups:
                floor = draws[0][0].shape[1] if name == "barlow_twins" else 0.0
                worst = _worst(ours, plain, draws, floor, what)
                ratios.append(_ratio(*worst))
                e_ours.append(worst[0])
                e_plain.append(worst[1])
            median = f"{statistics.median(e_ours):.1e} / {statistics.median(e_plain):.1e}"
            cells += [f"{max(ratios):.2f}", median]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print()
    print("VICReg, worst value error over seeds: ours / plain f32 (worst over all terms) / the")
    print("float32 Gram identity (the covariance term without the spread features apart)")
    print()
    print("| B x D | " + " | ".join(textbook.HARD_CASES) + " |")
    print("| --- |" + " ---: |" * len(textbook.HARD_CASES))
    for batch, dim in ((256, 64), (32, 512)):
        cells = []
        for case in textbook.HARD_CASES:
            pairs = [textbook.hard_pair(case, batch, dim, s) for s in seeds]
            ours_w = _worst(losses.vicreg_terms, textbook.vicreg_terms, pairs)
            old_w = _worst(old_gram_identity_covariance, textbook.vicreg_terms, pairs)
            cells.append(f"{ours_w[0]:.0e} / {ours_w[1]:.0e} / {old_w[0]:.0e}")
        print(f"| {batch}x{dim} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--dim", type=int, default=8192)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--accuracy", action="store_true", help="print the float32 error table")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--routes", action="store_true", help="time both covariance routes")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.accuracy:
        accuracy(args)
    elif args.routes:
        routes(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
