"""The theory lens during training: spectral ranks, entropies, view MI and collapse signs.

``lens: {every_n_epochs: K}`` in any config adds :class:`Lens` to the run. Before training and
after every K-th epoch it measures, on a fixed probe batch of test images (same images, same
random views every time, the training run's random stream untouched), for the backbone output
(``rep``) and the projector output (``emb``):

* ``rankme`` (Garrido et al. 2023), ``erank`` (Roy & Vetterli's effective rank of the centred
  embeddings), ``alpha_req`` (Agrawal et al. 2022) and ``lidar`` (Thilak et al. 2024, from
  ``lidar_views`` views of ``lidar_samples`` images): :mod:`selfsup.info.spectral`;
* entropy estimates: ``gauss_ub`` (Gaussian upper bound with a Ledoit-Wolf covariance) and
  ``knn`` (Kozachenko-Leonenko, k = 3), with the spread ``std``, and ``separation`` (between /
  within views): :func:`selfsup.train.info_tracking.basic_stats`;
* the invariance: ``mi_gauss`` (Gaussian I(view a; view b) on the top principal components) and
  ``mi_ksg`` (KSG on the first one), ``invariance_rel`` (mse between views / variance);
* collapse indicators: ``mean_cos`` (mean cosine similarity of distinct samples: 1 when all
  embeddings point one way), ``dead_frac`` (share of dimensions whose std is below 1% of the
  mean std), ``rankme_frac`` (RankMe / its maximum ``min(n, d)``).

With a linear head (``method.projector: [h]``: one ``nn.Linear``), the closed-form Grassmannian
prediction of the learning-dynamics paper is logged beside the measured span of ``W``
(:mod:`selfsup.train.lens_grassmann`).

Values go to the run's loggers (CSV column ``lens/<space>_<name>``) and, at fit end, to
``lens.csv`` and ``lens.png`` in the run directory. ``seconds`` is each measurement's own cost.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from selfsup.info import lidar, rankme
from selfsup.info.spectral import power_law_exponent, spectral_entropy_rank
from selfsup.train.atomic import atomic_write_text
from selfsup.train.info_tracking import InfoTracking, _finite, basic_stats
from selfsup.train.lens_grassmann import GrassmannTrack, linear_head


def view_mutual_information(z_a: torch.Tensor, z_b: torch.Tensor, k: int = 8) -> dict[str, float]:
    """I(view a; view b) of two views' outputs ``(n, d)``, in nats.

    ``mi_gauss``: the Gaussian formula on the top ``min(k, d, n // 20)`` principal components of
    both views together (plug-in covariances need ``n >>`` dimensions; the components come from
    a randomised SVD, which draws from torch's global generator); ``mi_ksg``: KSG (k = 3) on the
    first component of each view. ``k_pcs`` says how many components were used.
    """
    from selfsup.info import gaussian_mutual_information, ksg_mutual_information

    z_a, z_b = z_a.double(), z_b.double()
    n, d = z_a.shape
    k = max(1, min(k, d, n // 20))
    both = torch.cat([z_a, z_b])
    # a randomised SVD finds the top k directions at a fraction of the cost of a full one
    # (10x at n = 720, d = 1024); any projection gives a valid MI, these are near the top PCs
    q = min(k + 8, *both.shape)
    pcs = torch.svd_lowrank(both - both.mean(0), q=q, niter=3)[2][:, :k]
    pa, pb = (z_a - z_a.mean(0)) @ pcs, (z_b - z_b.mean(0)) @ pcs
    joint = torch.cov(torch.cat([pa, pb], 1).T)
    return {
        "mi_gauss": _finite(gaussian_mutual_information, joint, k),
        "mi_ksg": _finite(ksg_mutual_information, pa[:, :1], pb[:, :1], k=3),
        "k_pcs": float(k),
    }


def collapse_indicators(z: torch.Tensor) -> dict[str, float]:
    """Signs of (dimensional) collapse of embeddings ``z (n, d)``; see the module docstring."""
    z = z.double()
    n, d = z.shape
    std = z.std(0)
    unit = F.normalize(z, dim=1)
    cos = unit @ unit.T
    off = (cos.sum() - cos.diagonal().sum()) / max(1, n * (n - 1))
    mean_std = float(std.mean())
    return {
        "mean_cos": float(off),
        "dead_frac": float((std < 0.01 * mean_std).double().mean()) if mean_std > 0 else 1.0,
        "min_std": float(std.min()),
    }


def _finite_svdvals(x: torch.Tensor) -> torch.Tensor | None:
    if not bool(torch.isfinite(x).all()):
        return None
    try:
        return torch.linalg.svdvals(x)
    except (RuntimeError, torch.linalg.LinAlgError):
        return None


def spectral_stats(z: torch.Tensor, views: torch.Tensor | None = None) -> dict[str, float]:
    """RankMe, effective rank, alpha-ReQ of ``z (n, d)``, and LiDAR of ``views (m, q, d)``."""
    z = z.double()
    n, d = z.shape
    # one SVD of the centred embeddings serves both the effective rank and alpha-ReQ
    s = _finite_svdvals(z - z.mean(0))
    out = {
        "rankme": _finite(rankme, z),
        "erank": float(spectral_entropy_rank(s)) if s is not None else math.nan,
        "alpha_req": _finite(power_law_exponent, s * s / max(1, n - 1))
        if s is not None
        else math.nan,
    }
    out["rankme_frac"] = out["rankme"] / min(n, d)
    if views is not None:
        out["lidar"] = _finite(lidar, views.double())
    return out


def lens_stats(
    z: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor, views: torch.Tensor | None = None
) -> dict[str, float]:
    """Every lens number of one embedding space (clean ``z``, two views, LiDAR views)."""
    stats = basic_stats(z, z_a, z_b)
    stats.update(spectral_stats(z, views))
    stats.update(view_mutual_information(z_a, z_b))
    stats.update(collapse_indicators(z))
    return stats


class Lens(InfoTracking):
    """The lens callback (see the module docstring).

    Args:
        every_n_epochs: measure after every n-th epoch (and once before training).
        n_samples: probe images (a fixed random subset of the test split).
        lidar_samples, lidar_views: images and views per image for LiDAR (0: no LiDAR).
        seed: picks the images and seeds the views.
        plot: write ``lens.png`` at fit end.
    """

    def __init__(
        self,
        every_n_epochs: int = 5,
        n_samples: int = 512,
        lidar_samples: int = 64,
        lidar_views: int = 8,
        seed: int = 0,
        plot: bool = True,
    ) -> None:
        if every_n_epochs < 1:
            raise ValueError(f"lens.every_n_epochs must be >= 1, got {every_n_epochs}")
        if lidar_samples and (lidar_samples < 2 or lidar_views < 2):
            raise ValueError("lens.lidar_samples and lens.lidar_views must be >= 2 (or 0: off)")
        super().__init__(
            n_samples=n_samples,
            n_gaussianity=0,
            seed=seed,
            every_n_epochs=every_n_epochs,
            plot=plot,
        )
        self.lidar_samples, self.lidar_views = lidar_samples, lidar_views
        self.grassmann = GrassmannTrack()

    log_prefix = "lens"

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if linear_head(getattr(pl_module, "projector", None)) is not None and trainer.optimizers:
            self.grassmann.step(trainer.optimizers[0].param_groups[0]["lr"])

    def state_dict(self) -> dict:
        return {**super().state_dict(), "grassmann": self.grassmann.state_dict()}

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self.grassmann.load_state_dict(state_dict.get("grassmann", {}))

    def _measure(self, pl_module, images: torch.Tensor) -> dict[str, float]:
        normalise, backbone = pl_module.normalise, pl_module.backbone
        projector = getattr(pl_module, "projector", None)
        view = pl_module.views.views[0]
        m, q = min(self.lidar_samples, len(images)), self.lidar_views
        with torch.no_grad():
            inputs = [normalise(images), normalise(view(images)), normalise(view(images))]
            if m >= 2:
                repeated = images[:m].repeat_interleave(q, 0)  # (m q, C, H, W), views grouped
                inputs.append(normalise(view(repeated)))
            reps = [backbone(x).flatten(1) for x in inputs]
            spaces = {"rep": reps}
            if projector is not None:
                spaces["emb"] = [projector(r) for r in reps]
        values: dict[str, float] = {}
        for name, (z, z_a, z_b, *rest) in spaces.items():
            views = rest[0].reshape(m, q, -1) if rest else None
            values.update({f"{name}_{k}": v for k, v in lens_stats(z, z_a, z_b, views).items()})
        head = linear_head(projector)
        if head is not None:  # the paper's closed form beside the measured span of W
            values.update(self.grassmann.measure(head.weight, reps[1], reps[2]))
        return values

    def on_fit_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero or not self.history:
            return
        out = Path(trainer.default_root_dir)
        write_lens_csv(self.history, out / "lens.csv")
        if self.plot:
            from selfsup.train.info_report import plot_info_tracking

            plot_info_tracking(self.history, out / "lens.png", LENS_PANELS)


def write_lens_csv(history: list[dict[str, float]], path: Path) -> None:
    """One row per measurement; columns: epoch, step, seconds, then every value, sorted."""
    keys = sorted({k for row in history for k in row} - {"epoch", "step", "seconds"})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["epoch", "step", "seconds", *keys])
    for row in history:
        cells = [row.get(k, math.nan) for k in ("epoch", "step", "seconds", *keys)]
        writer.writerow([f"{c:.6g}" if isinstance(c, float) else c for c in cells])
    atomic_write_text(path, buffer.getvalue())


def _both(key: str) -> list[tuple[str, str]]:
    return [(f"emb_{key}", "projector"), (f"rep_{key}", "backbone")]


#: lens.png: (panel title, [(history key, legend label), ...]); absent keys are skipped
LENS_PANELS: list[tuple[str, list[tuple[str, str]]]] = [
    ("RankMe (Garrido et al. 2023)", _both("rankme")),
    ("effective rank, centred (Roy & Vetterli)", _both("erank")),
    ("LiDAR (Thilak et al. 2024)", _both("lidar")),
    ("alpha-ReQ decay exponent (Agrawal et al. 2022)", _both("alpha_req")),
    (
        "entropy (nats): Gaussian UB (LW) / kNN",
        [
            ("emb_gauss_ub", "projector, Gaussian"),
            ("rep_gauss_ub", "backbone, Gaussian"),
            ("emb_knn", "projector, kNN"),
            ("rep_knn", "backbone, kNN"),
        ],
    ),
    ("I(view a; view b), Gaussian on top PCs (nats)", _both("mi_gauss")),
    ("invariance: mse(views) / variance", _both("invariance_rel")),
    ("collapse: mean cosine of distinct samples", _both("mean_cos")),
    ("collapse: share of near-dead dimensions", _both("dead_frac")),
    (
        "linear head: span(W) vs Grassmann flow (distance)",
        [
            ("grass_pred_dist", "measured vs closed form"),
            ("grass_top_dist", "measured vs top-h eigenspace of C"),
            ("grass_pred_top_dist", "closed form vs top-h eigenspace"),
        ],
    ),
]
