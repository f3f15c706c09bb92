import contextlib

import torch

from selfsup.config import load_config
from selfsup.data.from_config import load_data
from selfsup.evaluate import knn_accuracy
from selfsup.evaluate.final import evaluate_encoder, evaluation_stages
from selfsup.methods import build_method
from tests.conftest import TINY


def test_the_final_evaluation_runs_without_training_code_and_reports_each_stage():
    """evaluate/ runs the evaluation on its own (no progress display, no Trainer); a caller's
    ``stage`` wraps every stage it announces, and the kNN equals one computed here."""
    config = load_config(None, [*TINY, "data.train_subset=300", "data.test_subset=100"])
    data = load_data(config)
    method = build_method(config, data).eval()
    untrained = build_method(config, data).backbone
    seen = []

    def stage(what):
        seen.append(what)
        return contextlib.nullcontext()

    metrics = evaluate_encoder(method, data, config, untrained, stage=stage)
    assert len(seen) == evaluation_stages(config, with_baseline=True)
    assert metrics["baseline"]["knn_top1"] > 0 and metrics["feature_dim"] == 32

    with torch.no_grad():

        def embed(images):  # the digits are stored as uint8

            return method.backbone(method.normalise(images.float() / 255))

        xs_train, ys_train = data.train.images, data.train.labels
        xs_test, ys_test = data.test.images, data.test.labels
        expected = knn_accuracy(
            embed(xs_train),
            ys_train,
            embed(xs_test),
            ys_test,
            config.eval.knn_k,
            config.eval.knn_temperature,
        )
    assert metrics["knn_top1"] == expected
    assert evaluate_encoder(method, data, config)["knn_top1"] == expected  # no stage given
