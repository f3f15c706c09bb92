"""Unsupervised clustering of frozen features: GMM accuracy (Hungarian matching), NMI, ARI."""

from __future__ import annotations

import numpy as np
import torch

from selfsup.errors import InputError


def _numpy(t: torch.Tensor | np.ndarray) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def cluster_accuracy(
    labels: torch.Tensor | np.ndarray, clusters: torch.Tensor | np.ndarray
) -> float:
    """Accuracy of the best one-to-one map from cluster ids to labels (Hungarian algorithm).

    Args:
        labels: ``(n,)`` non-negative int class labels.
        clusters: ``(n,)`` non-negative int cluster ids; their number may differ from the
            number of classes (unmatched clusters count as errors).
    """
    from scipy.optimize import linear_sum_assignment  # imported here: see gmm_clustering

    y, c = _numpy(labels).astype(int), _numpy(clusters).astype(int)
    if y.shape != c.shape or y.ndim != 1:
        raise InputError(f"labels and clusters must both be (n,), got {y.shape} and {c.shape}")
    counts = np.zeros((c.max() + 1, y.max() + 1), dtype=np.int64)
    np.add.at(counts, (c, y), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y))


def gmm_clustering(
    features: torch.Tensor | np.ndarray,
    labels: torch.Tensor | np.ndarray,
    n_components: int | None = None,
    covariance_type: str = "full",
    seed: int = 0,
    n_init: int = 1,
) -> dict[str, float]:
    """Fit a Gaussian mixture to standardised features; score its clusters against labels.

    Args:
        features: ``(n, dim)``; labels: ``(n,)`` ints.
        n_components: mixture size; default the number of classes.

    Returns:
        ``gmm_accuracy`` (Hungarian-matched), ``nmi``, ``ari``.
    """
    # imported here, not at the top: `selfsup reproduce`'s option errors should not wait for
    # scikit-learn (benchmarks/cli_startup.py times them)
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.mixture import GaussianMixture

    x, y = _numpy(features).astype(np.float64), _numpy(labels).astype(int)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise InputError(f"features must be (n, dim) and labels (n,), got {x.shape}, {y.shape}")
    x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-8)  # the same scale for every method
    k = n_components or int(y.max()) + 1
    gmm = GaussianMixture(
        k, covariance_type=covariance_type, random_state=seed, n_init=n_init, reg_covar=1e-4
    )
    clusters = gmm.fit_predict(x)
    return {
        "gmm_accuracy": cluster_accuracy(y, clusters),
        "nmi": float(normalized_mutual_info_score(y, clusters)),
        "ari": float(adjusted_rand_score(y, clusters)),
    }
