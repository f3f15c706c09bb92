"""Evaluation on frozen features: works on any encoder, ours or a user's."""

from selfsup.evaluate.clustering import cluster_accuracy, gmm_clustering
from selfsup.evaluate.features import extract_features
from selfsup.evaluate.fewshot import balanced_subset, fewshot_linear
from selfsup.evaluate.knn import knn_accuracy, knn_predict
from selfsup.evaluate.knn_sweep import knn_sweep
from selfsup.evaluate.latent_structure import latent_structure
from selfsup.evaluate.probes import LinearProbe, MLPProbe
from selfsup.evaluate.protocols import PROTOCOLS, parse_protocols, run_protocols
from selfsup.evaluate.style import ridge_r2, style_scores
from selfsup.evaluate.supervised import SupervisedEval

__all__ = [
    "PROTOCOLS",
    "LinearProbe",
    "MLPProbe",
    "SupervisedEval",
    "balanced_subset",
    "cluster_accuracy",
    "extract_features",
    "fewshot_linear",
    "gmm_clustering",
    "knn_accuracy",
    "knn_predict",
    "knn_sweep",
    "latent_structure",
    "parse_protocols",
    "ridge_r2",
    "run_protocols",
    "style_scores",
]
