"""Evaluation on frozen features: works on any encoder, ours or a user's."""

from selfsup.evaluate.clustering import cluster_accuracy, gmm_clustering
from selfsup.evaluate.features import extract_features
from selfsup.evaluate.knn import knn_accuracy, knn_predict
from selfsup.evaluate.knn_sweep import knn_sweep
from selfsup.evaluate.latent_structure import latent_structure
from selfsup.evaluate.probes import LinearProbe, MLPProbe
from selfsup.evaluate.style import ridge_r2, style_scores

__all__ = [
    "LinearProbe",
    "MLPProbe",
    "cluster_accuracy",
    "extract_features",
    "gmm_clustering",
    "knn_accuracy",
    "knn_predict",
    "knn_sweep",
    "latent_structure",
    "ridge_r2",
    "style_scores",
]
