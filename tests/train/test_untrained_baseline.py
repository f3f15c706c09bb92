"""Every run reports its untrained encoder's kNN (``metrics.json`` ``baseline``) beside the
trained one: the same protocol, on the run's own initial weights, also after a resume."""

import json
import re

import lightning as L
import numpy as np
import pytest
import torch

from selfsup.cli import main
from selfsup.config import load_config
from selfsup.data.from_config import load_data
from selfsup.methods import build_method
from selfsup.train import train
from tests.conftest import TINY

WORDS = [*TINY, "eval.linear_probe=false", "eval.knn_monitor=false", "seed=3"]


def _knn_float64(train_f, train_y, test_f, test_y, k: int, temperature: float) -> float:
    """The weighted cosine kNN written out in numpy float64 (votes exp(cos / T) of the k
    nearest), apart from ``selfsup.evaluate.knn``."""
    a = train_f / np.linalg.norm(train_f, axis=1, keepdims=True)
    b = test_f / np.linalg.norm(test_f, axis=1, keepdims=True)
    sims = b @ a.T
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    votes = np.zeros((len(b), int(train_y.max()) + 1))
    for row, idx in enumerate(nearest):
        np.add.at(votes[row], train_y[idx], np.exp(sims[row, idx] / temperature))
    return float((votes.argmax(1) == test_y).mean())


def _fresh_encoder_knn(words: list[str]) -> tuple[float, int]:
    """kNN of a freshly initialised encoder of this config and seed, built here (seeded as
    every run is, then the data, then the model), with a plain forward in eval mode."""
    config = load_config(None, words)
    L.seed_everything(config.seed, verbose=False)
    data = load_data(config)
    method = build_method(config, data)
    backbone = method.backbone.eval()

    def features(split):
        x = split.images.double().div(255).float()
        with torch.no_grad():
            return backbone(method.normalise(x)).double().numpy(), split.labels.numpy()

    e = config.eval
    knn = _knn_float64(*features(data.train), *features(data.test), e.knn_k, e.knn_temperature)
    return knn, len(data.test)


def test_the_baseline_is_the_fresh_encoders_knn_and_is_printed(tmp_path, capsys):
    assert main(["train", "--run-dir", str(tmp_path / "run"), *WORDS]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    baseline = metrics["baseline"]["knn_top1"]
    expected, n_test = _fresh_encoder_knn(WORDS)
    # the same neighbours up to float32 ties: at most one test image of difference
    assert abs(baseline - expected) <= 1 / n_test + 1e-6
    # printed beside the trained kNN, in the last line
    shown = re.fullmatch(r"kNN (\d\.\d{3}) \(untrained encoder: (\d\.\d{3})\)", out[-1])
    assert shown, out[-2:]
    assert float(shown[1]) == round(metrics["knn_top1"], 3)
    assert float(shown[2]) == round(baseline, 3)


def test_another_seed_starts_from_other_weights(tmp_path):
    """The reference depends on the seed (so the equality above is not a coincidence of
    data alone): two seeds' fresh encoders give different features."""
    outs = []
    for seed in (3, 4):
        config = load_config(None, [*WORDS, f"seed={seed}"])
        L.seed_everything(config.seed, verbose=False)
        method = build_method(config, load_data(config))
        outs.append(torch.cat([p.flatten() for p in method.backbone.parameters()]))
    assert not torch.equal(*outs)


def test_a_resumed_run_reports_the_same_baseline(tmp_path):
    run = tmp_path / "run"
    first = train(load_config(None, [*WORDS, "trainer.max_epochs=1"]), run)
    resumed = train(load_config(None, [*WORDS, "trainer.max_epochs=2"]), run, resume=True)
    assert resumed["epochs"] == 2 and first["epochs"] == 1
    assert resumed["baseline"] == first["baseline"]
    expected, n_test = _fresh_encoder_knn(WORDS)
    assert abs(resumed["baseline"]["knn_top1"] - expected) <= 1 / n_test + 1e-6
    on_disk = json.loads((run / "metrics.json").read_text())
    assert on_disk["baseline"] == resumed["baseline"]


@pytest.mark.slow
def test_the_quickstart_clearly_beats_its_untrained_encoder(tmp_path):
    """The real quickstart (no overrides but the progress bar): at least 5 kNN points over
    its untrained encoder on the held-out test images (measured: benchmarks/results)."""
    config = load_config(None, ["trainer.enable_progress_bar=false"])
    metrics = train(config, tmp_path / "run")
    assert metrics["knn_top1"] >= metrics["baseline"]["knn_top1"] + 0.05, metrics
