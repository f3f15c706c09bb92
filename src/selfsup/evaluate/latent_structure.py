"""Does a representation form per-class Gaussian clusters?

SimVAE's model says each content class is a Gaussian cluster ``p(z|y) = N(mu_y, Sigma)``, and
argues that discriminative SSL induces the same structure. Two measures, comparable across
methods because both are invariant to invertible affine maps of the features:

- ``scatter_ratio``: ``tr(S_w) / tr(S_b)``, within- over between-class scatter of the
  features after whitening them with their total covariance (lower: tighter, better
  separated clusters).
- ``class_gaussian_gain``: mean test log-likelihood (nats per dimension) of a class-conditional
  Gaussian model (each class its own mean and full covariance, evaluated at the true class)
  minus that of a single Gaussian fit to all features: how much knowing the class explains.
  ``gmm_gain``: the same for an unsupervised Gaussian mixture with one component per class.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from selfsup.errors import InputError


def _gaussian_loglik(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``log N(x; mean, cov)`` per row of ``x`` ``(n, d)``."""
    d = x.shape[1]
    chol = np.linalg.cholesky(cov)
    sol = np.linalg.solve(chol, (x - mean).T)
    logdet = 2 * np.log(np.diag(chol)).sum()
    return -0.5 * (sol**2).sum(0) - 0.5 * logdet - 0.5 * d * math.log(2 * math.pi)


def latent_structure(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    reg: float = 1e-4,
    seed: int = 0,
) -> dict[str, float]:
    """``scatter_ratio``, ``class_gaussian_gain`` and ``gmm_gain`` (see the module docstring).

    Args:
        train_features: ``(n, dim)`` used to fit; test_features ``(m, dim)`` to evaluate;
            labels ``(n,)`` / ``(m,)`` ints.
        reg: added to covariance diagonals, relative to whitened (unit) variance.
    """
    x = train_features.double().cpu().numpy()
    xt = test_features.double().cpu().numpy()
    y, yt = train_labels.cpu().numpy(), test_labels.cpu().numpy()
    if x.ndim != 2 or y.shape != (x.shape[0],) or yt.shape != (xt.shape[0],):
        raise InputError(
            f"features must be (n, dim) with labels (n,); got {x.shape}, {y.shape}, "
            f"{xt.shape}, {yt.shape}"
        )
    d = x.shape[1]
    # whiten with the train covariance so every method's features have the same scale
    mean = x.mean(0)
    cov = np.cov(x, rowvar=False).reshape(d, d) + reg * np.eye(d)
    w = np.linalg.inv(np.linalg.cholesky(cov))
    x, xt = (x - mean) @ w.T, (xt - mean) @ w.T
    classes = np.unique(y)
    within = sum(((x[y == c] - x[y == c].mean(0)) ** 2).sum() for c in classes)
    between = sum((y == c).sum() * (x[y == c].mean(0) ** 2).sum() for c in classes)
    single = _gaussian_loglik(xt, np.zeros(d), np.eye(d) * (1 + reg)).mean()
    per_class = np.empty(len(xt))
    for c in classes:
        xc = x[y == c]
        cov_c = np.cov(xc, rowvar=False).reshape(d, d) + reg * np.eye(d)
        mask = yt == c
        if mask.any():
            per_class[mask] = _gaussian_loglik(xt[mask], xc.mean(0), cov_c)
    from sklearn.mixture import GaussianMixture  # imported here: see evaluate.clustering

    gmm = GaussianMixture(len(classes), covariance_type="full", reg_covar=reg, random_state=seed)
    gmm.fit(x)
    return {
        "scatter_ratio": float(within / max(between, 1e-12)),
        "class_gaussian_gain": float((per_class.mean() - single) / d),
        "gmm_gain": float((gmm.score(xt) - single) / d),
    }
