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
* the invariance: ``mi_gauss`` (Gaussian I(view a; view b) on the top principal axes of the
  clean probe embeddings) and ``mi_ksg`` (KSG on the first one), ``invariance_rel`` (mse
  between views / variance);
* collapse indicators: ``mean_cos`` (mean cosine similarity of distinct samples: 1 when all
  embeddings point one way), ``dead_frac`` (share of dimensions whose std is below 1% of the
  mean std), ``rankme_frac`` (RankMe / its maximum ``min(n, d)``).

With a linear head (``method.projector: [h]``: one ``nn.Linear``), the closed-form Grassmannian
prediction of the learning-dynamics paper is logged beside the measured span of ``W``
(:mod:`selfsup.train.lens_grassmann`).

Values go to the run's loggers (CSV column ``lens/<space>_<name>``) and, at fit end, to
``lens.csv`` and ``lens.png`` in the run directory. ``seconds`` is each measurement's own cost.

Cost: each view is embedded once (no gradients), and one product ``Zc Zc^T`` of the centred
embeddings with its two eigendecompositions (:func:`selfsup.info.spectral.gram_spectra`)
serves RankMe, the effective rank, alpha-ReQ, the Ledoit-Wolf entropy and the MI's axes; the
pair sums of ``separation`` and ``mean_cos`` are closed forms. Each equals its reference
estimator to 1e-8 (``tests/train/test_lens_reference.py``).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from selfsup.errors import InputError
from selfsup.info import lidar
from selfsup.info.spectral import (
    RANKME_EPS,
    GramSpectra,
    gram_spectra,
    power_law_exponent,
    principal_components,
    spectral_entropy_rank,
)
from selfsup.train.atomic import atomic_write_text
from selfsup.train.info_tracking import InfoTracking, _finite, basic_stats
from selfsup.train.lens_grassmann import GrassmannTrack, linear_head


def view_mutual_information(
    z_a: torch.Tensor, z_b: torch.Tensor, k: int = 8, pcs: torch.Tensor | None = None
) -> dict[str, float]:
    """I(view a; view b) of two views' outputs ``(n, d)``, in nats.

    ``mi_gauss``: the Gaussian formula on the projections onto the axes ``pcs (d, >= k)``
    (default: the top principal axes of both views together), ``min(k, d, n // 20)`` of them
    (plug-in covariances need ``n >>`` dimensions); ``mi_ksg``: KSG (k = 3) on the first axis
    of each view. ``k_pcs`` says how many axes were used. Any fixed projection gives a valid MI
    (the lens passes the clean embeddings' axes, which it has already computed).
    """
    from selfsup.info import gaussian_mutual_information, ksg_mutual_information

    z_a, z_b = z_a.double(), z_b.double()
    n, d = z_a.shape
    k = max(1, min(k, d, n // 20))
    if not bool(torch.isfinite(z_a).all() and torch.isfinite(z_b).all()):
        return {"mi_gauss": math.nan, "mi_ksg": math.nan, "k_pcs": 0.0}
    if pcs is None:
        pcs = principal_components(torch.cat([z_a, z_b]), k)[1]
    k = min(k, pcs.shape[1])
    if k == 0:  # a constant output: nothing to project on
        return {"mi_gauss": math.nan, "mi_ksg": math.nan, "k_pcs": 0.0}
    pcs = pcs[:, :k].to(torch.float64)
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
    # sum over i != j of u_i . u_j = ||sum_i u_i||^2 - sum_i ||u_i||^2: no n x n matrix
    off = (unit.sum(0).pow(2).sum() - unit.pow(2).sum()) / max(1, n * (n - 1))
    mean_std = float(std.mean())
    return {
        "mean_cos": float(off),
        "dead_frac": float((std < 0.01 * mean_std).double().mean()) if mean_std > 0 else 1.0,
        "min_std": float(std.min()),
    }


def spectral_stats(
    z: torch.Tensor, views: torch.Tensor | None = None, spectra: GramSpectra | None = None
) -> dict[str, float]:
    """RankMe, effective rank, alpha-ReQ of ``z (n, d)``, and LiDAR of ``views (m, q, d)``.

    ``spectra``: ``gram_spectra(z, k)`` if already computed. The values are those of
    :func:`selfsup.info.rankme`, :func:`selfsup.info.effective_rank` of ``z - mean`` and
    :func:`selfsup.info.alpha_req`, from one Gram product instead of three SVDs.
    """
    z = z.double()
    n, d = z.shape
    out = dict.fromkeys(("rankme", "erank", "alpha_req"), math.nan)
    if spectra is None and bool(torch.isfinite(z).all()):
        spectra = _finite_spectra(z)
    if spectra is not None:
        out["rankme"] = float(spectral_entropy_rank(spectra.raw.sqrt(), RANKME_EPS))
        out["erank"] = float(spectral_entropy_rank(spectra.centred.sqrt()))
        if n >= 3:  # the covariance spectrum: min(n - 1, d) eigenvalues
            covariance = spectra.centred[: min(n - 1, d)] / (n - 1)
            out["alpha_req"] = _finite(power_law_exponent, covariance)
    out["rankme_frac"] = out["rankme"] / min(n, d)
    if views is not None:
        out["lidar"] = _finite(lidar, views.double())
    return out


def _finite_spectra(z: torch.Tensor, k: int = 0) -> GramSpectra | None:
    try:
        return gram_spectra(z, k)
    except (RuntimeError, torch.linalg.LinAlgError):  # not finite, or eigh did not converge
        return None


def lens_stats(
    z: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor, views: torch.Tensor | None = None
) -> dict[str, float]:
    """Every lens number of one embedding space (clean ``z``, two views, LiDAR views).

    One Gram product of the centred ``z`` and its two eigendecompositions serve RankMe, the
    effective rank, alpha-ReQ, the Ledoit-Wolf entropy and the axes of the view MI
    (``docs/lens.md``, "What a measurement costs").
    """
    z = z.double()
    spectra = _finite_spectra(z, 8) if bool(torch.isfinite(z).all()) else None
    stats = basic_stats(z, z_a, z_b, spectra.centred if spectra is not None else None)
    stats.update(spectral_stats(z, views, spectra))
    axes = spectra.axes if spectra is not None else None
    stats.update(view_mutual_information(z_a, z_b, pcs=axes))
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
            raise InputError(f"lens.every_n_epochs must be >= 1, got {every_n_epochs}")
        if lidar_samples and (lidar_samples < 2 or lidar_views < 2):
            raise InputError("lens.lidar_samples and lens.lidar_views must be >= 2 (or 0: off)")
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

    def embed(self, pl_module, images: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """``{"rep": [z, z_a, z_b, lidar views], "emb": ...}``: every forward pass of one
        measurement, the probe images once and each view once (no gradients)."""
        # the forward passes are convolutions like training's: they get training's threads
        # (measure() drops to one thread for the small eigenproblems that follow)
        inner = torch.get_num_threads()
        torch.set_num_threads(self.outer_threads or inner)
        try:
            return self._embed(pl_module, images)
        finally:
            torch.set_num_threads(inner)

    def _embed(self, pl_module, images: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        m, q = min(self.lidar_samples, len(images)), self.lidar_views
        normalise, backbone = pl_module.normalise, pl_module.backbone
        projector = getattr(pl_module, "projector", None)
        view = pl_module.views.views[0]
        with torch.inference_mode():
            inputs = [normalise(images), normalise(view(images)), normalise(view(images))]
            if m >= 2:
                repeated = images[:m].repeat_interleave(q, 0)  # (m q, C, H, W), views grouped
                inputs.append(normalise(view(repeated)))
            reps = [backbone(x).flatten(1) for x in inputs]
            spaces = {"rep": reps}
            if projector is not None:
                spaces["emb"] = [projector(r) for r in reps]
            for outputs in spaces.values():
                if m >= 2:
                    outputs[3] = outputs[3].reshape(m, q, -1)
        return spaces

    def _measure(self, pl_module, images: torch.Tensor) -> dict[str, float]:
        spaces = self.embed(pl_module, images)
        values: dict[str, float] = {}
        for name, (z, z_a, z_b, *rest) in spaces.items():
            views = rest[0] if rest else None
            values.update({f"{name}_{k}": v for k, v in lens_stats(z, z_a, z_b, views).items()})
        head = linear_head(getattr(pl_module, "projector", None))
        if head is not None:  # the paper's closed form beside the measured span of W
            reps = spaces["rep"]
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
