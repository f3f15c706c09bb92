"""Evaluation on frozen features: works on any encoder, ours or a user's."""

from selfsup.evaluate.features import extract_features
from selfsup.evaluate.knn import knn_accuracy, knn_predict
from selfsup.evaluate.probes import LinearProbe, MLPProbe

__all__ = ["LinearProbe", "MLPProbe", "extract_features", "knn_accuracy", "knn_predict"]
