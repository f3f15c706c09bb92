"""Label-free measures of a trained encoder, from training images alone.

The lens (:mod:`selfsup.train.lens`) measures during training, on test images. After
training, a run without a lens (or a sweep's trial, whose objective must not depend on a
labelled split) is measured here instead: the same estimators, through the same code
(:class:`~selfsup.train.lens.Lens`), on a fixed random probe batch of the *training* images
(``data.ssl_train``, what SSL itself trains on). Labels are never read: only images are
taken from the split, so the values are the same for a dataset with or without labels.
"""

from __future__ import annotations

import math
import warnings

import torch

from selfsup.data import DataSplits
from selfsup.info import EstimatorRegimeWarning

#: the label-free measures reported for each run, in the backbone's space (``rep``): the
#: features kNN and the probes are computed on
MEASURES = ("rankme", "lidar", "alpha_req", "erank", "gauss_ub", "knn")
#: how the tables and figures name them
LABELS = {
    "rankme": "RankMe",
    "lidar": "LiDAR",
    "alpha_req": "alpha-ReQ",
    "erank": "effective rank",
    "gauss_ub": "entropy (Gaussian UB, nats)",
    "knn": "entropy (kNN, nats)",
    "alpha_req_score": "-|alpha-ReQ - 1|",
}


def probe_images(data: DataSplits, n_samples: int = 512, seed: int = 0) -> torch.Tensor:
    """A fixed random subset of ``n_samples`` training images, uint8 ``(n, C, H, W)``."""
    split = data.ssl_train
    n = min(n_samples, len(split))
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randperm(len(split), generator=generator)[:n].sort().values
    images, _ = split.get_batch(indices)  # the labels are dropped here, unread
    return images


def label_free_measures(
    method,
    data: DataSplits,
    n_samples: int = 512,
    lidar_samples: int = 64,
    lidar_views: int = 8,
    seed: int = 0,
) -> dict[str, float]:
    """Every lens number of ``method``'s current weights on training images.

    Args:
        method: an ``SSLMethod`` (backbone, projector, normalisation, views).
        data: the run's data; only ``data.ssl_train``'s images are used.
        n_samples: probe images; ``lidar_samples`` x ``lidar_views``: LiDAR's views.
        seed: picks the images and seeds the views (the caller's random stream is untouched).

    Returns:
        ``{"rep_rankme": ..., "emb_rankme": ..., ...}``: the keys of the lens
        (``docs/lens.md``) for the backbone (``rep``) and projector (``emb``) outputs.
    """
    from selfsup.train.lens import Lens

    lens = Lens(
        every_n_epochs=1,
        n_samples=n_samples,
        lidar_samples=lidar_samples,
        lidar_views=lidar_views,
        seed=seed,
        plot=False,
    )
    lens._images = probe_images(data, n_samples, seed)
    with warnings.catch_warnings():  # the lens reads its estimators outside their regimes too
        warnings.simplefilter("ignore", EstimatorRegimeWarning)
        return lens.measure(method)


def selection_scores(measures: dict[str, float], space: str = "rep") -> dict[str, float]:
    """The measures as "higher is better" scores, for picking a run without labels.

    RankMe, LiDAR, the effective rank and the entropies are used as they are (more dimensions
    in use, more spread); alpha-ReQ as ``-|alpha - 1|`` (Agrawal et al. 2022 find the best
    representations near a decay exponent of 1).
    """
    out = {name: float(measures.get(f"{space}_{name}", math.nan)) for name in MEASURES}
    out["alpha_req_score"] = -abs(out["alpha_req"] - 1.0)
    return out
