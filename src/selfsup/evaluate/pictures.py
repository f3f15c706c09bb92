"""PNG grids a VAE library is expected to draw: reconstructions and cluster-conditional samples.

Works with any method that has ``encode`` (images -> mu) and ``decode`` (z -> images in
[0, 1]), i.e. ``selfsup.methods.GenerativeMethod``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from selfsup.data.views import to_unit_float


def save_grid(images: torch.Tensor, path: str | Path, nrow: int, upscale: int = 1) -> Path:
    """Write ``(N, C, H, W)`` images in [0, 1] as one PNG grid, ``nrow`` images per row."""
    from torchvision.utils import save_image

    images = images.detach().float().cpu().clamp(0, 1)
    if upscale > 1:
        images = F.interpolate(images, scale_factor=upscale, mode="nearest")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(images, str(path), nrow=nrow, padding=1, pad_value=1.0)
    return path


@torch.no_grad()
def reconstruction_grid(method, images: torch.Tensor, path: str | Path, upscale: int = 2) -> Path:
    """Originals (top row) above their mean reconstructions ``sigmoid(g(mu(x)))``.

    Args:
        method: has ``encode`` and ``decode``; images: uint8 or [0, 1] ``(n, C, H, W)``.
    """
    was_training = method.training
    method.eval()
    x = to_unit_float(images.to(method.device))
    recon = method.decode(method.encode(x))
    method.train(was_training)
    return save_grid(torch.cat([x, recon]), path, nrow=len(x), upscale=upscale)


@torch.no_grad()
def cluster_samples_grid(
    method,
    features: torch.Tensor,
    n_clusters: int,
    path: str | Path,
    per_cluster: int = 8,
    seed: int = 0,
    upscale: int = 2,
) -> Path:
    """Samples conditional on a content cluster: fit a Gaussian mixture to ``features`` (mu of
    training images, ``(n, L)``), draw ``per_cluster`` latents from each component and decode
    them; one row per component."""
    from sklearn.mixture import GaussianMixture  # imported here: see evaluate.clustering

    gmm = GaussianMixture(n_clusters, covariance_type="full", random_state=seed, reg_covar=1e-4)
    gmm.fit(features.double().cpu().numpy())
    rng = np.random.default_rng(seed)
    z = np.concatenate(
        [
            rng.multivariate_normal(gmm.means_[k], gmm.covariances_[k], per_cluster)
            for k in range(n_clusters)
        ]
    )
    was_training = method.training
    method.eval()
    images = method.decode(torch.as_tensor(z, dtype=torch.float32, device=method.device))
    method.train(was_training)
    return save_grid(images, path, nrow=per_cluster, upscale=upscale)
