"""Information-theory tracking during training: entropy estimates and the paper's assumptions.

``InfoTracking`` measures, before training and after every training epoch, on a fixed subset of
test images (same images, same random views every time, so curves show the network changing,
not the sample):

* entropy estimates of the backbone features (``rep``) and projector outputs (``emb``):
  Gaussian upper bound (Ledoit-Wolf covariance, defined for ``n <= d``), LogDet entropy
  (``beta = 1``), the Kolchinsky-Tracey pairwise-distance bounds of the batch seen as a mixture
  of ``N(z_i, s^2 I)`` with ``s^2`` the measured per-dimension augmentation spread (the paper's
  data model with isotropic components), and the kNN (Kozachenko-Leonenko) estimate;
* the invariance between two views (``F.mse_loss``, and relative to the per-dimension variance),
  the log det of the (Ledoit-Wolf) covariance, the effective rank of the centred embeddings
  (:func:`selfsup.info.effective_rank`), and the separation ratio
  ``E||z_i - z_j||^2 / E||z_i - z_i'||^2`` (distinct samples vs two views of one sample);
* on a few samples, the assumption checks of :func:`selfsup.info.augmentation_gaussianity`
  with the method's own first view pipeline as the augmentation: share of output dimensions
  whose normality is rejected, Mardia p-values, the affine-covariance error and the region
  stability of the whole ``normalise -> backbone -> projector`` network.

All entropies are in nats. Values go to the run's loggers (CSV column ``info/<name>``) at the
global step, and at fit end to ``info_tracking.json`` and ``info_tracking.png`` in the run dir.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits
from torch import nn

from selfsup.data.views import to_unit_float
from selfsup.errors import InputError
from selfsup.info import (
    augmentation_gaussianity,
    effective_rank,
    knn_entropy,
    ledoit_wolf_covariance,
    ledoit_wolf_entropy,
    logdet_entropy,
    pairwise_distance_entropy,
)
from selfsup.train.atomic import atomic_write_text


def _finite(fn, *args, **kwargs) -> float:
    # an estimator that cannot run on this embedding (collapsed, repeated points) gives nan,
    # which is what the curve should show, instead of stopping the training run
    try:
        value = float(fn(*args, **kwargs))
    except (ValueError, RuntimeError, torch.linalg.LinAlgError):
        return math.nan
    return value


def basic_stats(
    z: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor, centred: torch.Tensor | None = None
) -> dict[str, float]:
    """The cheap part of :func:`embedding_stats`: Gaussian (Ledoit-Wolf) and kNN entropies,
    spread, invariance and separation (the lens's entropy numbers). ``centred``:
    ``selfsup.info.gram_eigenvalues(z, centred=True)``, if already computed."""
    z, z_a, z_b = z.double(), z_a.double(), z_b.double()
    n = z.shape[0]
    invariance = float(F.mse_loss(z_a, z_b))
    variance = float(z.var(0).mean())
    # the mean of ||z_i - z_j||^2 over pairs i != j is 2 tr(S), S the unbiased covariance
    between = 2.0 * z.shape[1] * variance if n > 1 else math.nan
    within = float((z_a - z_b).pow(2).sum(1).mean())
    return {
        "gauss_ub": _finite(ledoit_wolf_entropy, z, centred),
        "knn": _finite(knn_entropy, z, 3),
        "std": math.sqrt(variance),
        "invariance": invariance,
        "invariance_rel": invariance / variance if variance > 0 else math.nan,
        "separation": between / within if within > 0 else math.nan,
    }


def embedding_stats(z: torch.Tensor, z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, float]:
    """Entropy estimates and geometry of one embedding space.

    Args:
        z: ``(n, d)`` embeddings of the clean images.
        z_a, z_b: ``(n, d)`` embeddings of two random views of the same images.

    Returns:
        ``{name: value}``; entropies in nats (summed over the ``d`` dimensions).
    """
    stats = basic_stats(z, z_a, z_b)
    z = z.double()
    # per-dimension std of one view around its sample's mean: E(z_a - z_b)^2 = 2 s^2
    spread = math.sqrt(max(stats["invariance"] / 2.0, 1e-12))
    cov, _ = ledoit_wolf_covariance(z)
    stats.update(
        {
            "logdet": _finite(logdet_entropy, z),
            "pd_lower": _finite(pairwise_distance_entropy, z, spread, "bhattacharyya"),
            "pd_upper": _finite(pairwise_distance_entropy, z, spread, "kl"),
            "logdet_cov": _finite(lambda c: torch.linalg.slogdet(c)[1], cov),
            # Roy & Vetterli on the centred embeddings (selfsup.info.effective_rank)
            "erank": float(effective_rank(z - z.mean(0))),
        }
    )
    return stats


class InfoTracking(L.Callback):
    """Per-epoch entropy, invariance and assumption checks on a fixed evaluation subset.

    Args:
        n_samples: test images measured (fixed by ``seed``); entropies at equal ``n`` compare.
        n_gaussianity: images on which the Gaussianity / region checks run (the costly part).
        n_views: augmented views per such image (>= 20).
        seed: picks the images and seeds the views, so every epoch sees the same ones.
        every_n_epochs: measure after every n-th training epoch (and always before training).
        plot: write ``info_tracking.png`` at fit end.
    """

    log_prefix = "info"  # logger columns are <prefix>/<name>

    def __init__(
        self,
        n_samples: int = 512,
        n_gaussianity: int = 2,
        n_views: int = 64,
        seed: int = 0,
        every_n_epochs: int = 1,
        plot: bool = True,
    ) -> None:
        if n_samples < 4:
            raise InputError(f"n_samples must be >= 4 to estimate entropies, got {n_samples}")
        if n_views < 20:
            raise InputError(f"n_views must be >= 20 (normality tests), got {n_views}")
        self.n_samples, self.n_gaussianity, self.n_views = n_samples, n_gaussianity, n_views
        self.seed, self.every_n_epochs, self.plot = seed, every_n_epochs, plot
        self.history: list[dict[str, float]] = []
        self._images: torch.Tensor | None = None
        #: torch's thread count outside the current measurement (None outside one)
        self.outer_threads: int | None = None

    # --- hooks ----------------------------------------------------------------------------
    def on_fit_start(self, trainer, pl_module) -> None:
        splits = trainer.datamodule.data  # the probe needs no labels: unlabelled data has no test
        data = splits.test if splits.test is not None else splits.ssl_train
        n = min(self.n_samples, len(data))
        generator = torch.Generator().manual_seed(self.seed)
        indices = torch.randperm(len(data), generator=generator)[:n].sort().values
        self._images, _ = data.get_batch(indices)
        if not self.history and trainer.is_global_zero:
            self._record(trainer, pl_module, epoch=0)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch + 1  # epochs completed
        if trainer.is_global_zero and epoch % self.every_n_epochs == 0:
            self._record(trainer, pl_module, epoch=epoch)

    def on_fit_end(self, trainer, pl_module) -> None:
        if not trainer.is_global_zero or not self.history:
            return
        out = Path(trainer.default_root_dir)
        atomic_write_text(out / "info_tracking.json", json.dumps(self.history, indent=1))
        if self.plot:
            from selfsup.train.info_report import plot_info_tracking

            plot_info_tracking(self.history, out / "info_tracking.png")

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))

    # --- measurement -----------------------------------------------------------------------
    def measure(self, pl_module: L.LightningModule) -> dict[str, float]:
        """All values for the module's current weights (eval mode; RNG state untouched)."""
        if self._images is None:
            raise RuntimeError("InfoTracking.measure needs the images picked in on_fit_start")
        was_training = pl_module.training
        pl_module.eval()
        device = pl_module.device
        # the views drawn here must not shift the training run's random stream
        devices = [device] if device.type == "cuda" else []
        threads = self.outer_threads = torch.get_num_threads()
        try:
            # one thread: these are small (<= 1k) LAPACK problems, slower multithreaded and
            # pathologically so on a busy CPU, where a threaded eigh waits at every barrier
            # for a descheduled thread
            torch.set_num_threads(1)
            with threadpool_limits(1), torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.seed)
                return self._measure(pl_module, to_unit_float(self._images.to(device)))
        finally:
            torch.set_num_threads(threads)
            self.outer_threads = None
            pl_module.train(was_training)

    def _measure(self, pl_module, images: torch.Tensor) -> dict[str, float]:
        normalise, backbone = pl_module.normalise, pl_module.backbone
        projector = getattr(pl_module, "projector", None)
        view = pl_module.views.views[0]
        values: dict[str, float] = {}
        with torch.no_grad():
            clean, a, b = (normalise(images), normalise(view(images)), normalise(view(images)))
            reps = [backbone(x).flatten(1) for x in (clean, a, b)]
            spaces = {"rep": reps}
            if projector is not None:
                spaces["emb"] = [projector(r) for r in reps]
        for name, (z, z_a, z_b) in spaces.items():
            values.update({f"{name}_{k}": v for k, v in embedding_stats(z, z_a, z_b).items()})
        if self.n_gaussianity > 0:
            # the network the paper's Z comes from: [0, 1] images -> normalise -> ... -> output
            parts = [normalise, backbone] + ([projector] if projector is not None else [])
            net = nn.Sequential(*parts)

            def augment(x: torch.Tensor) -> torch.Tensor:
                return view(x).clamp(0.0, 1.0)

            result = augmentation_gaussianity(
                net, images[: self.n_gaussianity], augment, n_views=self.n_views
            )
            values["gauss_frac_dims_rejected"] = float(np.nanmean(result.frac_dims_rejected))
            values["gauss_mardia_skew_p"] = float(
                np.median([m.skew_pvalue if m else np.nan for m in result.mardia])
            )
            values["gauss_mardia_kurt_p"] = float(
                np.median([m.kurt_pvalue if m else np.nan for m in result.mardia])
            )
            values["gauss_cov_rel_error"] = float(np.nanmedian(result.cov_rel_error))
            values["region_stability"] = float(np.mean(result.region_stability))
        return values

    def _record(self, trainer, pl_module, epoch: int) -> None:
        start = time.perf_counter()
        values = self.measure(pl_module)
        # its own cost, so a run can show what tracking adds to an epoch
        values["seconds"] = time.perf_counter() - start
        row = {"epoch": epoch, "step": trainer.global_step, **values}
        self.history.append(row)
        metrics = {f"{self.log_prefix}/{k}": v for k, v in values.items()}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=trainer.global_step)
