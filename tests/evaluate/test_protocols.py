"""Evaluation protocols: class-balanced few-shot subsets, SGD linear evaluation and fine-tuning
(against scikit-learn's logistic regression on the same pixels), and `selfsup eval --protocol`."""

import json

import pytest
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from selfsup.cli import main as cli_main
from selfsup.config import load_config
from selfsup.data import load_dataset
from selfsup.evaluate import SupervisedEval, balanced_subset, fewshot_linear
from selfsup.evaluate.protocols import eval_augmentation
from selfsup.train import train
from tests.conftest import TINY


def test_balanced_subset_takes_the_fraction_of_every_class():
    labels = torch.tensor([0] * 50 + [1] * 200 + [2] * 7)
    idx = balanced_subset(labels, 0.1, seed=3)
    counts = torch.bincount(labels[idx], minlength=3).tolist()
    assert counts == [5, 20, 1]  # round(0.1 * n), at least one
    assert torch.equal(idx, idx.unique())  # sorted, no repeats
    assert torch.equal(idx, balanced_subset(labels, 0.1, seed=3))
    assert not torch.equal(idx, balanced_subset(labels, 0.1, seed=4))
    assert balanced_subset(labels, 1.0).numel() == labels.numel()
    with pytest.raises(ValueError, match="fraction"):
        balanced_subset(labels, 0.0)


def test_fewshot_linear_on_separable_features():
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (2000,), generator=g)
    features = torch.nn.functional.one_hot(labels, 4).float() * 3
    features = torch.cat([features, torch.randn(2000, 6, generator=g)], dim=1)
    out = fewshot_linear(features[:1500], labels[:1500], features[1500:], labels[1500:])
    assert out["fewshot_10pct_top1"] > 0.99 and out["fewshot_1pct_top1"] > 0.9
    sizes = torch.bincount(labels[:1500])
    for fraction, name in ((0.01, "fewshot_1pct_n"), (0.1, "fewshot_10pct_n")):
        assert out[name] == sum(max(1, round(fraction * int(n))) for n in sizes)
    assert out["fewshot_1pct_top1_std"] >= 0.0


def _digits_pixels():
    data = load_dataset("digits")
    x_tr, y_tr = data.train.get_batch(torch.arange(len(data.train)))
    x_te, y_te = data.test.get_batch(torch.arange(len(data.test)))
    return data, x_tr.flatten(1).float() / 255, y_tr, x_te.flatten(1).float() / 255, y_te


def test_linear_sgd_on_pixels_reaches_logistic_regression():
    data, x_tr, y_tr, x_te, y_te = _digits_pixels()
    reference = LogisticRegression(max_iter=2000).fit(x_tr.numpy(), y_tr.numpy())
    expected = reference.score(x_te.numpy(), y_te.numpy())  # ~0.97
    run = SupervisedEval(epochs=20, batch_size=128).fit(nn.Flatten(), data.train)
    assert run.score(data.test) > expected - 0.03
    # with the grey-image augmentation it still learns (a harder task, fewer epochs)
    augmented = SupervisedEval(epochs=5, augment=eval_augmentation((1, 8, 8))).fit(
        nn.Flatten(), data.train
    )
    assert augmented.score(data.test) > 0.8


def test_linear_eval_freezes_and_finetune_trains_a_copy():
    data = load_dataset("digits")
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU())
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    frozen = SupervisedEval(epochs=2).fit(encoder, data.train)
    tuned = SupervisedEval(finetune=True, epochs=2).fit(encoder, data.train)
    for name, value in encoder.state_dict().items():  # the caller's encoder is untouched
        assert torch.equal(value, before[name]), name
    # linear eval: weights and BatchNorm statistics of its copy are unchanged too
    for name, value in frozen.encoder_.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert not torch.equal(tuned.encoder_[1].weight, before["1.weight"])
    assert tuned.score(data.test) > 0.5


def test_cli_eval_runs_the_named_protocols(tmp_path, capsys):
    run = tmp_path / "run"
    train(load_config(None, [*TINY, "trainer.max_epochs=1", "eval.linear_probe=false"]), run)
    protocols = "knn,linear,linear-sgd,finetune,fewshot"
    assert cli_main(["eval", str(run), "--protocol", protocols, "--epochs", "1"]) == 0
    printed = capsys.readouterr().out
    record = json.loads((run / "metrics.json").read_text())
    metrics = record["eval"]["digits"]  # beside the training record, which stays
    assert "linear_top1" not in record and record["status"] == "finished"
    for key in ("knn_top1", "linear_top1", "linear_sgd_top1", "finetune_top1"):
        assert 0.1 < metrics[key] <= 1.0 and key in printed
    assert 0 < metrics["fewshot_1pct_top1"] <= metrics["fewshot_10pct_top1"] + 0.1
    assert cli_main(["eval", str(run), "--protocol", "knn,probe"]) == 2
    assert "unknown evaluation protocol(s) probe" in capsys.readouterr().err


def test_a_second_eval_with_other_protocols_keeps_the_first_ones(tmp_path):
    run = tmp_path / "run"
    train(load_config(None, [*TINY, "trainer.max_epochs=1", "eval.linear_probe=false"]), run)
    assert cli_main(["eval", str(run), "--protocol", "knn"]) == 0
    knn = json.loads((run / "metrics.json").read_text())["eval"]["digits"]["knn_top1"]
    assert cli_main(["eval", str(run), "--protocol", "linear", "--epochs", "1"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())["eval"]["digits"]
    assert metrics["knn_top1"] == knn and 0.1 < metrics["linear_top1"] <= 1.0
