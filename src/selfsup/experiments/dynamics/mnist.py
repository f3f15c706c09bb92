"""The same experiments on flattened MNIST images: exact dynamics for noise and crop views,
collapse, contrastive vs non-contrastive C (the mean image is what negatives share), width."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from selfsup.dynamics import loss_matrix, top_direction_alignment, top_eigenspace
from selfsup.experiments.claims import Claim
from selfsup.experiments.dynamics import collapse, exact, width
from selfsup.experiments.dynamics.common import F64, crop_view, noise_view, normalised
from selfsup.experiments.dynamics.params import Sizes


def load_mnist(root: Path, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """First ``n`` MNIST training images as ``(n, 28, 28)`` float64 in [0, 1] and labels."""
    from selfsup.data.datasets import load_dataset

    train = load_dataset("mnist", root).train
    return train.images[:n, 0].to(F64) / 255.0, train.labels[:n]


def run(sz: Sizes, seed: int, out: Path, root: Path) -> dict:
    """Collapse, exact dynamics, contrastive vs non-contrastive and width on flattened MNIST."""
    images, labels = load_mnist(root, max(sz.mnist_n, sz.mnist_width_n))
    if sz.mnist_pool > 1:  # the test preset shrinks images so that d stays small
        images = torch.nn.functional.avg_pool2d(images[:, None], sz.mnist_pool)[:, 0]
    gen = torch.Generator().manual_seed(seed)
    imgs = images[: sz.mnist_n]
    x = imgs.reshape(len(imgs), -1)
    views = {"noise": noise_view(x, 0.3, gen), "crop": crop_view(imgs, 4, gen)}
    res: dict = {"n": len(x), "d": x.shape[1], "views": {}}
    C_eigs = {name: normalised(loss_matrix(x, x_pos)) for name, x_pos in views.items()}
    for name in views:
        res["views"][name] = {
            "exact": exact.run(
                sz,
                seed,
                out,
                C_eig=C_eigs[name],
                hs=sz.mnist_hs,
                lrs=sz.mnist_lrs,
                t_end=sz.mnist_t,
                tag=f"mnist_{name}_exact",
            ),
        }
    res["collapse"] = collapse.run(
        replace(sz, collapse_hs=(16,), collapse_lrs=(0.05,)),
        seed,
        out,
        C_eig=C_eigs["noise"],
        tag="mnist_collapse",
    )
    # contrastive: negatives are views of other images, so the mean image is shared
    x_neg = noise_view(x[torch.randperm(len(x), generator=gen)], 0.3, gen)
    mean_dir = x.mean(0) / torch.linalg.vector_norm(x.mean(0))
    res["contrastive"] = {}
    for name, (C, eig) in (
        ("non-contrastive", C_eigs["noise"]),
        ("contrastive", normalised(loss_matrix(x, views["noise"], x_neg))),
    ):
        Q = top_eigenspace(C, 8, eig=eig)
        res["contrastive"][name] = {
            "mean_image_energy_top8": (top_direction_alignment(Q, mean_dir) * 8).item(),
            "top1_cosine_with_mean_image": abs(Q[:, 0] @ mean_dir).item(),
        }
    # width on MNIST: one-hot regression vs SSL with noise views, h = 10
    wn = sz.mnist_width_n
    xw = images[:wn].reshape(wn, -1)
    xw_pos = noise_view(xw, 0.3, gen)
    y = torch.nn.functional.one_hot(labels[:wn], 10).to(F64) - 0.1
    res["width"] = {
        "n": wn,
        "h": 10,
        "all_layers": width.sweep(
            xw,
            xw_pos,
            y,
            10,
            sz.mnist_width_all_ms,
            sz.mnist_width_seeds,
            0.05,
            sz.width_all_steps,
            True,
            seed,
        ),
        "last_layer": width.sweep(
            xw,
            xw_pos,
            y,
            10,
            sz.mnist_width_ms,
            sz.mnist_width_seeds,
            0.1,
            round(sz.width_frozen_t / 0.1),
            False,
            seed,
        ),
    }
    width.plot(res["width"], out / "mnist_width.png", "MNIST")
    return res


def claims(mn: dict) -> list[Claim]:
    return []  # the MNIST numbers illustrate claims 1-3 on real images; the verdicts are above


def section(mn: dict, where: str) -> list[str]:
    """Markdown; ``where`` is the run's folder relative to the report."""
    lines = [
        "## MNIST",
        "",
        f"n={mn['n']} training images, flattened (d={mn['d']}), pixel values in [0, 1].",
        "",
        "| view | h | slope of GD error vs lr | error at smallest lr | dist to top-h at t_end |",
        "|---|---|---|---|---|",
    ]
    for view, v in mn["views"].items():
        ex = v["exact"]
        for h, e in ex["h"].items():
            lines.append(
                f"| {view} | {h} | {e['slope_error_vs_lr']:.2f} | "
                f"{e['gd'][str(ex['lrs'][-1])]['error_at_t_fix']:.2e} | "
                f"{e['dist_to_top_closed'][-1]:.2e} |"
            )
    e16 = mn["collapse"]["h"]["16"]
    lines += [
        "",
        f"Collapse (noise views, h=16): effective rank {e16['initial_erank']:.2f} -> "
        f"{e16['final_erank_closed']:.3f}; GD vs closed form max |diff| "
        f"{max(g['max_abs_erank_diff'] for g in e16['gd'].values()):.3g}.",
        "",
    ]
    for name, c in mn["contrastive"].items():
        lines.append(
            f"- {name} C: mean-image energy in the top-8 eigenspace "
            f"{c['mean_image_energy_top8']:.3f}, |cos(top eigvec, mean image)| "
            f"{c['top1_cosine_with_mean_image']:.3f}"
        )
    lines += ["", "Width (one-hot regression vs SSL with noise views, h=10):", ""]
    lines += width.table(mn["width"])
    figures = [mn["views"]["noise"]["exact"]["figures"][0], mn["collapse"]["figure"]]
    figures.append("mnist_width.png")
    return lines + [f"![{Path(f).stem}]({where}/{f})" for f in figures] + [""]
