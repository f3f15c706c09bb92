"""The evaluation that ends a run (and ``selfsup eval``'s default): kNN, linear and MLP probes
of a trained backbone's frozen features, and the kNN of its untrained twin as the baseline."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig
from torch import nn

from selfsup.data import DataSplits
from selfsup.errors import SelfsupError
from selfsup.evaluate.features import extract_features
from selfsup.evaluate.knn import knn_accuracy
from selfsup.evaluate.probes import LinearProbe, MLPProbe

#: ``stage("kNN")`` -> a context manager around one stage of the evaluation (a progress display)
Stage = Callable[[str], contextlib.AbstractContextManager]


def evaluation_stages(config: DictConfig, with_baseline: bool) -> int:
    """How many stages :func:`evaluate_encoder` runs for ``config.eval``."""
    e = config.eval
    return 3 + bool(e.linear_probe) + bool(e.mlp_probe) + with_baseline


def evaluate_encoder(
    method: Any,
    data: DataSplits,
    config: DictConfig,
    untrained: nn.Module | None = None,
    stage: Stage | None = None,
) -> dict:
    """kNN, linear probe (and MLP probe) top-1 on the test split from frozen backbone features.

    Args:
        method: the trained method (its ``backbone`` and ``normalise``).
        data: labelled train and test splits.
        config: the run's config (``eval.*``: k, temperature, which probes; ``seed``).
        untrained: the backbone with the run's initial weights; its kNN top-1 by the same
            protocol goes to ``metrics["baseline"]["knn_top1"]``, what training is compared
            with.
        stage: wraps each stage (e.g. a progress bar's); none by default.

    Returns:
        ``knn_top1``, ``linear_top1`` / ``mlp_top1`` where asked, ``baseline`` where
        ``untrained`` is given, and ``feature_dim``.

    Raises:
        SelfsupError: the data has no labels or no test split (``DataSplits.labelled``).
    """
    if not data.labelled:
        raise SelfsupError(
            f"evaluation needs labelled train and test splits: {data.unlabelled_reason()}"
        )
    stage = stage or (lambda what: contextlib.nullcontext())
    e = config.eval
    with stage(f"features of {len(data.train)} training images"):
        train_f, train_y = extract_features(method.backbone, data.train, method.normalise)
    with stage(f"features of {len(data.test)} test images"):
        test_f, test_y = extract_features(method.backbone, data.test, method.normalise)
    with stage("kNN"):
        knn = knn_accuracy(train_f, train_y, test_f, test_y, e.knn_k, e.knn_temperature)
    metrics = {"knn_top1": knn}
    if e.linear_probe:
        with stage("linear probe"):
            probe = LinearProbe(weight_decay=e.linear_weight_decay).fit(train_f, train_y)
            metrics["linear_top1"] = probe.score(test_f, test_y)
    if e.mlp_probe:
        with stage("MLP probe"):
            mlp = MLPProbe(seed=config.seed).fit(train_f, train_y)
            metrics["mlp_top1"] = mlp.score(test_f, test_y)
    if untrained is not None:
        with stage("kNN of the untrained encoder"):
            metrics["baseline"] = {"knn_top1": _knn_of(untrained, method, data, config)}
    metrics["feature_dim"] = train_f.shape[1]
    return metrics


def _knn_of(backbone: nn.Module, method: Any, data: DataSplits, config: DictConfig) -> float:
    """kNN top-1 of another backbone of ``method``'s architecture, with its normalisation
    (on the trained method's device, in its parameters' dtype)."""
    weight = next(iter(method.backbone.parameters()))
    backbone = backbone.to(device=weight.device, dtype=weight.dtype)
    train_f, train_y = extract_features(backbone, data.train, method.normalise)
    test_f, test_y = extract_features(backbone, data.test, method.normalise)
    return knn_accuracy(
        train_f, train_y, test_f, test_y, config.eval.knn_k, config.eval.knn_temperature
    )
