"""Contrastive vs non-contrastive loss matrices: which eigenspace each reaches when a sample,
its positive and its negative share a nuisance direction (the setting behind the claims)."""

from __future__ import annotations

from pathlib import Path

import torch

from selfsup.dynamics import (
    grassmann_flow,
    loss_matrix,
    riemannian_gd,
    subspace_distance,
    top_direction_alignment,
    top_eigenspace,
)
from selfsup.experiments.claims import Claim, all_of, measure
from selfsup.experiments.dynamics.common import F64, noise_view, normalised, random_frame
from selfsup.experiments.dynamics.params import Sizes
from selfsup.experiments.report import pyplot, save_figure


def _signal_and_nuisance(Q: torch.Tensor, S: torch.Tensor, u: torch.Tensor) -> tuple[float, float]:
    return subspace_distance(Q, S).projection.item(), top_direction_alignment(
        Q, u
    ).item() * Q.shape[1]


def run(sz: Sizes, seed: int, out: Path) -> dict:
    """Which eigenspace each loss matrix reaches when negatives share a nuisance direction."""
    gen = torch.Generator().manual_seed(seed)
    d, n, k = sz.contrast_d, sz.contrast_n, 4
    basis = random_frame(d, k + 1, gen)
    S, u = basis[:, :k], basis[:, k]
    strengths = torch.tensor([1.2, 1.1, 1.0, 0.9], dtype=F64)
    z = torch.randn(n, k, generator=gen, dtype=F64)
    a = 2.0 * torch.randn(n, 1, generator=gen, dtype=F64)  # nuisance, shared by x, x+ and x-

    def sample(content: torch.Tensor) -> torch.Tensor:
        clean = (content * strengths) @ S.T + a * u
        return clean + 0.1 * torch.randn(n, d, generator=gen, dtype=F64)

    x = sample(z)
    x_pos = noise_view(x, 0.3, gen)
    x_neg = noise_view(sample(z[torch.randperm(n, generator=gen)]), 0.3, gen)
    variants = {
        "inner, non-contrastive": loss_matrix(x, x_pos),
        "inner, contrastive": loss_matrix(x, x_pos, x_neg),
        "distance, contrastive": loss_matrix(x, x_pos, x_neg, form="distance"),
        "distance + variance, non-contrastive": loss_matrix(x, x_pos, form="distance_variance"),
    }
    res: dict = {
        "d": d,
        "h": k,
        "nuisance_std": 2.0,
        "signal_strengths": strengths.tolist(),
        "variants": {},
    }
    W0 = random_frame(d, k, gen)
    times = torch.linspace(0, 20, 41, dtype=F64)
    fig, axes = pyplot().subplots(1, 2, figsize=(10, 3.8))
    for name, C in variants.items():
        C, eig = normalised(C)
        dist, nuis = _signal_and_nuisance(top_eigenspace(C, k, eig=eig), S, u)
        Wc = grassmann_flow(C, W0, times, eig=eig)
        Wg = riemannian_gd(C, W0, 0.05, 400, record_every=10)
        dist_t = subspace_distance(Wc, S).projection
        nuis_t = top_direction_alignment(Wc, u) * k
        res["variants"][name] = {
            "top_eigenspace_dist_to_signal": dist,
            "top_eigenspace_nuisance_energy": nuis,
            "flow_dist_to_signal_at_t_end": dist_t[-1].item(),
            "flow_nuisance_energy_at_t_end": nuis_t[-1].item(),
            # GD records every 10 steps of 0.05, i.e. on the same 0.5-spaced grid as the flow
            "gd_vs_closed_max_projection_distance": subspace_distance(Wg, Wc)
            .projection.max()
            .item(),
        }
        line = axes[0].plot(times, dist_t, label=name)[0]
        axes[0].plot(
            times[::4],
            subspace_distance(Wg, S).projection[::4],
            "o",
            mfc="none",
            color=line.get_color(),
        )
        axes[1].plot(times, nuis_t, color=line.get_color(), label=name)
        axes[1].plot(
            times[::4],
            (top_direction_alignment(Wg, u) * k)[::4],
            "o",
            mfc="none",
            color=line.get_color(),
        )
    axes[0].set(
        xlabel="t",
        ylabel="distance to planted signal subspace",
        title="lines: closed form, circles: GD lr=0.05",
    )
    axes[1].set(xlabel="t", ylabel="||u^T W||^2 (nuisance captured)")
    axes[0].legend(fontsize=7)
    res["figure"] = save_figure(fig, out / "contrastive.png")
    return res


def claims(con: dict) -> list[Claim]:
    c = con["variants"]
    nc, cc = c["inner, non-contrastive"], c["inner, contrastive"]
    energy = {
        "non-contrastive": nc["top_eigenspace_nuisance_energy"],
        "contrastive": cc["top_eigenspace_nuisance_energy"],
    }
    parts = {
        "contrastive: nuisance energy": measure("c", {0: energy["contrastive"]}, below=0.05),
        "non-contrastive: nuisance energy": measure(
            "nc", {0: energy["non-contrastive"]}, above=0.5
        ),
    }
    return [
        all_of(
            "(setting) The contrastive C removes a direction shared with negatives; the "
            "non-contrastive C keeps it",
            paper="contrastive: 0, non-contrastive: 1 (nuisance energy in the top eigenspace)",
            ours=energy,
            parts=parts,
            tolerance="contrastive < 0.05 and non-contrastive > 0.5",
            evidence=f"nuisance energy in the top-4 eigenspace: non-contrastive "
            f"{nc['top_eigenspace_nuisance_energy']:.3f}, contrastive "
            f"{cc['top_eigenspace_nuisance_energy']:.3f}; distance to signal subspace "
            f"{nc['top_eigenspace_dist_to_signal']:.3f} vs "
            f"{cc['top_eigenspace_dist_to_signal']:.3f}",
        )
    ]


def section(con: dict, where: str) -> list[str]:
    """Markdown; ``where`` is the run's folder relative to the report."""
    lines = [
        "## Contrastive vs non-contrastive C",
        "",
        f"4-dim signal (strengths {con['signal_strengths']}) plus a nuisance direction u "
        f"(std {con['nuisance_std']}) shared by each sample, its positive and its negative.",
        "",
        "| loss | top-4 eigenspace: dist to signal | nuisance energy | flow at t=20: dist | "
        "nuisance | GD vs closed form |",
        "|---|---|---|---|---|---|",
    ]
    for name, v in con["variants"].items():
        lines.append(
            f"| {name} | {v['top_eigenspace_dist_to_signal']:.3f} | "
            f"{v['top_eigenspace_nuisance_energy']:.3f} | "
            f"{v['flow_dist_to_signal_at_t_end']:.3f} | "
            f"{v['flow_nuisance_energy_at_t_end']:.3f} | "
            f"{v['gd_vs_closed_max_projection_distance']:.1e} |"
        )
    return lines + ["", f"![contrastive]({where}/{con['figure']})", ""]
