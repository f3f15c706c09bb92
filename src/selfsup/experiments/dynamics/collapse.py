"""Collapse without constraints: unconstrained gradient flow ``dW/dt = 2 C W`` drives the
effective rank of W to 1 (claim 1), shown by GD on top of the closed form ``exp(2tC) W0``."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from selfsup.dynamics import (
    effective_rank,
    loss_matrix,
    top_direction_alignment,
    unconstrained_flow,
)
from selfsup.experiments.claims import Claim, all_of, measure
from selfsup.experiments.dynamics.common import F64, CEig, fmt, noise_view, normalised, planted_data
from selfsup.experiments.dynamics.params import Sizes
from selfsup.experiments.report import pyplot, save_figure


def run(sz: Sizes, seed: int, out: Path, C_eig: CEig | None = None, tag: str = "collapse") -> dict:
    """Unconstrained GD vs ``exp(2tC) W0``: effective rank of W over time goes to 1."""
    gen = torch.Generator().manual_seed(seed)
    if C_eig is None:
        x, _, _ = planted_data(sz.collapse_n, sz.collapse_d, [2.0, 1.7, 1.4, 1.1, 0.8], 0.3, gen)
        C_eig = normalised(loss_matrix(x, noise_view(x, 0.3, gen)))
    C, eig = C_eig
    lam, U = eig
    u1 = U[:, -1]
    d = C.shape[0]
    t_end, n_points = sz.collapse_t, 51
    times = torch.linspace(0, t_end, n_points, dtype=F64)
    res: dict = {"d": d, "t_end": t_end, "top_eigenvalues": lam.flip(0)[:6].tolist(), "h": {}}
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 3.8))
    for h in sz.collapse_hs:
        W0 = torch.randn(d, h, generator=gen, dtype=F64) / math.sqrt(d)
        Wc = unconstrained_flow(C, W0, times, eig=eig)
        er_c = effective_rank(Wc)
        entry = {
            "erank_closed": er_c.tolist(),
            "alignment_u1_closed": top_direction_alignment(Wc, u1).tolist(),
            "gd": {},
        }
        line = axes[0].plot(times, er_c, label=f"exp(2tC) W0, h={h}")[0]
        axes[1].plot(times, entry["alignment_u1_closed"], color=line.get_color(), label=f"h={h}")
        for j, lr in enumerate(sz.collapse_lrs):
            every = round(t_end / (n_points - 1) / lr)
            W, traj = W0.clone(), [W0.clone()]
            for k in range(1, every * (n_points - 1) + 1):
                W = W + lr * 2 * C @ W  # -grad of -tr(W^T C W)
                if k % every == 0:
                    traj.append(W.clone())
            Wg = torch.stack(traj)
            er_g = effective_rank(Wg)
            rel = torch.linalg.matrix_norm(Wg[-1] - Wc[-1]) / torch.linalg.matrix_norm(Wc[-1])
            entry["gd"][str(lr)] = {
                "erank": er_g.tolist(),
                "max_abs_erank_diff": (er_g - er_c).abs().max().item(),
                "final_erank": er_g[-1].item(),
                "rel_weight_error_at_t_end": rel.item(),
            }
            axes[0].plot(
                times[::5],
                er_g[::5],
                "o^s"[j % 3],
                color=line.get_color(),
                mfc="none",
                label=f"GD lr={lr}, h={h}",
            )
        entry["final_erank_closed"] = er_c[-1].item()
        entry["initial_erank"] = er_c[0].item()
        res["h"][str(h)] = entry
    axes[0].set(
        xlabel="t (units of 1/lambda_max)",
        ylabel="effective rank of W",
        yscale="log",
        title="unconstrained flow: dimension collapse",
    )
    axes[1].set(xlabel="t", ylabel="||u1^T W||^2 / ||W||_F^2", title="alignment with top eigvec")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    res["figure"] = save_figure(fig, out / f"{tag}.png")
    return res


ERANK_MAX = 1.2  # the effective rank the claim calls collapsed


def claims(col: dict) -> list[Claim]:
    finals = {h: e["final_erank_closed"] for h, e in col["h"].items()}
    inits = {h: e["initial_erank"] for h, e in col["h"].items()}
    lr_min = min(col["h"][next(iter(col["h"]))]["gd"], key=float)
    gd_final = {h: e["gd"][lr_min]["final_erank"] for h, e in col["h"].items()}
    gd_diff = {h: e["gd"][lr_min]["max_abs_erank_diff"] for h, e in col["h"].items()}
    # the simulation must collapse too; its lag behind exp(2tC) is O(lr), shown in the table
    parts = {
        "closed form: largest effective rank": measure(
            "closed form", {0: max(finals.values())}, below=ERANK_MAX
        ),
        f"GD lr={lr_min}: largest effective rank": measure(
            "GD", {0: max(gd_final.values())}, below=ERANK_MAX
        ),
    }
    return [
        all_of(
            "1. Unconstrained (regression-like) SSL dynamics collapse to a ~1-dim representation",
            paper="effective rank -> 1",
            ours={
                **{f"closed form h={h}": v for h, v in finals.items()},
                **{f"GD lr={lr_min} h={h}": v for h, v in gd_final.items()},
            },
            parts=parts,
            tolerance=f"effective rank < {ERANK_MAX} at t={col['t_end']:g} (largest over h)",
            evidence="effective rank of W from "
            + ", ".join(f"{fmt(inits[h])} (h={h})" for h in inits)
            + f" to {', '.join(f'{fmt(finals[h])}' for h in finals)} at t={col['t_end']:g} "
            f"(closed form); GD at lr={lr_min}: "
            + ", ".join(f"{fmt(gd_final[h])}" for h in gd_final)
            + ", max |erank diff| to the closed form over time "
            + ", ".join(f"{fmt(gd_diff[h])}" for h in gd_diff),
        )
    ]


def section(col: dict, where: str) -> list[str]:
    """Markdown; ``where`` is the run's folder relative to the report."""
    lines = [
        "## Collapse without constraints",
        "",
        f"C from noise views of a planted 5-dim signal (d={col['d']}), top eigenvalues "
        f"(normalised) {', '.join(f'{v:.3f}' for v in col['top_eigenvalues'][:5])}.",
        "",
        "| h | erank t=0 | erank t_end (closed form) | GD lr: max abs erank diff, "
        "rel. weight error at t_end |",
        "|---|---|---|---|",
    ]
    for h, e in col["h"].items():
        gd = "; ".join(
            f"{lr}: {g['max_abs_erank_diff']:.3g}, {g['rel_weight_error_at_t_end']:.3g}"
            for lr, g in e["gd"].items()
        )
        lines.append(f"| {h} | {e['initial_erank']:.2f} | {e['final_erank_closed']:.3f} | {gd} |")
    return lines + [
        "",
        "With W^T W = I the effective rank is h at all times by construction.",
        "",
        f"![collapse]({where}/{col['figure']})",
        "",
    ]
