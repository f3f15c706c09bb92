"""What a SimVAE-reproduction run measures on its frozen encoder, at two probe points.

The *encoder* point is the backbone's output (the posterior mean for the VAEs, the
representation before the head for SimCLR / VICReg / Barlow Twins); the *projector* point is
the joint-embedding methods' head output, which the paper's argument concerns too (the VAEs
have none). ``point_metrics`` is the cheap set measured along training for the curves (style
and the linear content probe); ``final_metrics`` adds kNN, clustering and latent structure.
"""

from __future__ import annotations

import torch

from selfsup.data.images import TensorImages
from selfsup.evaluate import (
    LinearProbe,
    MLPProbe,
    extract_features,
    gmm_clustering,
    knn_sweep,
    latent_structure,
    style_scores,
)
from selfsup.experiments.simvae.settings import KNN_KS

PROJECTOR = "projector_"  # prefix of every metric measured at the projector output


class Features:
    """Frozen train / test features at both probe points, and the style factors they need."""

    def __init__(self, method, data, train_set, train_idx, test_n: int | None = None) -> None:
        test_set, test_idx = data.test, None
        if test_n is not None and test_n < len(data.test) and isinstance(data.test, TensorImages):
            test_idx = torch.arange(test_n)
            test_set = TensorImages(*data.test.get_batch(test_idx), data.test.num_classes)
        self.train, self.train_y = extract_features(method.backbone, train_set, method.normalise)
        self.test, self.test_y = extract_features(method.backbone, test_set, method.normalise)
        self.proj_train = self.proj_test = None
        head = getattr(method, "projector", None)
        if head is not None:
            with torch.no_grad():  # eval mode: BatchNorm's running statistics, as for the encoder
                self.proj_train, self.proj_test = head(self.train), head(self.test)
        self.style_train = self.style_test = None
        if "style_train" in data.extras:
            self.style_train = data.extras["style_train"]
            if train_idx is not None:
                self.style_train = {k: v[train_idx] for k, v in self.style_train.items()}
            self.style_test = data.extras["style_test"]
            if test_idx is not None:
                self.style_test = {k: v[test_idx] for k, v in self.style_test.items()}

    def points(self) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        """``(metric prefix, train, test)`` for each probe point this method has."""
        out = [("", self.train, self.test)]
        if self.proj_train is not None:
            out.append((PROJECTOR, self.proj_train, self.proj_test))
        return out

    def finite(self) -> bool:
        return all(bool(torch.isfinite(t).all()) for _, a, b in self.points() for t in (a, b))


def point_metrics(f: Features) -> dict:
    """Content linear probe and style scores at every probe point (``None`` style where the
    dataset has no known style factors)."""
    m: dict = {}
    for prefix, train, test in f.points():
        probe = LinearProbe().fit(train, f.train_y)
        m[f"{prefix}content_linear_top1"] = probe.score(test, f.test_y)
        m[f"{prefix}style_score"] = None
        if f.style_train is not None:
            scores = style_scores(train, f.style_train, test, f.style_test)
            m.update({f"{prefix}{k}": v for k, v in scores.items()})
    return m


def final_metrics(f: Features, num_classes: int, seed: int, mlp_probe: bool) -> dict:
    """``point_metrics`` plus, at the encoder point, the kNN sweep, GMM clustering and latent
    structure (and an MLP probe if asked)."""
    m = point_metrics(f)
    m["finite"] = f.finite()
    knn = knn_sweep(*_standardise(f.train, f.test, f.train_y, f.test_y), ks=KNN_KS)
    m["knn_by_k"] = knn
    m["content_knn_top1"] = max(knn.values())
    if mlp_probe:
        m["content_mlp_top1"] = MLPProbe(seed=seed).fit(f.train, f.train_y).score(f.test, f.test_y)
    m.update(gmm_clustering(f.test, f.test_y, num_classes, seed=seed))
    m.update(latent_structure(f.train, f.train_y, f.test, f.test_y, seed=seed))
    return m


def _standardise(tr_f, te_f, tr_y, te_y):
    # cosine kNN on centred, unit-variance features: the VAE means are not centred at 0
    mean, std = tr_f.mean(0), tr_f.std(0).clamp_min(1e-8)
    return (tr_f - mean) / std, tr_y, (te_f - mean) / std, te_y
