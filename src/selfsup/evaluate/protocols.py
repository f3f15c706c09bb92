"""The evaluation protocols by name, as ``selfsup eval --protocol knn,linear,...`` runs them.

=============  =========================================================================
``knn``        weighted kNN on frozen features (cosine, k and temperature from the config)
``linear``     L2-regularised logistic regression on frozen features, solved by L-BFGS
``linear-sgd`` linear evaluation as papers report it: SGD + augmentation + cosine schedule
``finetune``   the whole encoder and a linear head trained with SGD + augmentation
``fewshot``    linear probes (L-BFGS) on 1% and 10% of the labels, class-balanced, 3 seeds
=============  =========================================================================
"""

from __future__ import annotations

from typing import Any

from torch import nn

from selfsup.data.datasets import DataSplits
from selfsup.data.pipeline import View, ViewSpec
from selfsup.errors import SelfsupError
from selfsup.evaluate.features import extract_features
from selfsup.evaluate.fewshot import fewshot_linear
from selfsup.evaluate.knn import knn_accuracy
from selfsup.evaluate.probes import LinearProbe
from selfsup.evaluate.supervised import SupervisedEval

PROTOCOLS = ("knn", "linear", "linear-sgd", "finetune", "fewshot")


def parse_protocols(text: str) -> list[str]:
    """``"knn,linear-sgd"`` -> ``["knn", "linear-sgd"]``; unknown names are a ``SelfsupError``."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown or not names:
        raise SelfsupError(
            f"unknown evaluation protocol(s) {', '.join(unknown) or '(none given)'}; "
            f"valid: {','.join(PROTOCOLS)}"
        )
    return names


def eval_augmentation(image_shape: tuple[int, ...]) -> nn.Module:
    """The training views of ``linear-sgd`` and ``finetune``: for colour images the papers'
    random-resized crop (area 0.08-1) and horizontal flip; for grey digit-like images a mild
    crop (area 0.6-1, no flip: digits are not mirror-symmetric). Our choice for grey images."""
    channels, size = image_shape[0], image_shape[-1]
    if channels == 3:
        return View(ViewSpec(scale=(0.08, 1.0), flip_p=0.5), size)
    return View(ViewSpec(scale=(0.6, 1.0), ratio=(0.8, 1.25), flip_p=0.0), size)


def run_protocols(
    encoder: nn.Module,
    normalise: nn.Module,
    data: DataSplits,
    protocols: list[str],
    eval_config: Any,
    seed: int = 0,
    epochs: int = 30,
) -> dict[str, float]:
    """Top-1 accuracies on the test split under each named protocol.

    Args:
        encoder: maps normalised images to features (a method's ``backbone``).
        normalise: the encoder's input normalisation of [0, 1] images.
        eval_config: has ``knn_k``, ``knn_temperature``, ``linear_weight_decay`` (the
            config's ``eval`` section).
        epochs: training epochs of ``linear-sgd`` and ``finetune``.
    """
    if epochs < 1:
        raise SelfsupError(f"--epochs must be >= 1, got {epochs}")
    metrics: dict[str, float] = {}
    if {"knn", "linear", "fewshot"} & set(protocols):
        train_f, train_y = extract_features(encoder, data.train, normalise)
        test_f, test_y = extract_features(encoder, data.test, normalise)
        metrics["feature_dim"] = train_f.shape[1]
    if "knn" in protocols:
        k, t = eval_config.knn_k, eval_config.knn_temperature
        metrics["knn_top1"] = knn_accuracy(train_f, train_y, test_f, test_y, k, t)
    if "linear" in protocols:
        probe = LinearProbe(weight_decay=eval_config.linear_weight_decay).fit(train_f, train_y)
        metrics["linear_top1"] = probe.score(test_f, test_y)
    if "fewshot" in protocols:
        wd = eval_config.linear_weight_decay
        metrics.update(fewshot_linear(train_f, train_y, test_f, test_y, weight_decay=wd))
    for name, finetune in (("linear-sgd", False), ("finetune", True)):
        if name in protocols:
            augment = eval_augmentation(data.image_shape)
            run = SupervisedEval(finetune=finetune, epochs=epochs, augment=augment, seed=seed)
            run.fit(encoder, data.train, normalise)
            metrics[f"{name.replace('-', '_')}_top1"] = run.score(data.test)
    return metrics
