import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from selfsup.evaluate import LinearProbe, MLPProbe, knn_predict


def test_knn_matches_a_plain_weighted_vote():
    g = torch.Generator().manual_seed(0)
    train = torch.randn(60, 5, generator=g)
    labels = torch.randint(0, 3, (60,), generator=g)
    test = torch.randn(7, 5, generator=g)
    scores = knn_predict(train, labels, test, k=4, temperature=0.5, num_classes=3, chunk_size=3)
    for i in range(7):
        sims = [
            (float(torch.dot(test[i], t) / (test[i].norm() * t.norm())), int(y))
            for t, y in zip(train, labels, strict=True)
        ]
        votes = [0.0, 0.0, 0.0]
        for s, y in sorted(sims, reverse=True)[:4]:
            votes[y] += math.exp(s / 0.5)
        assert scores[i].tolist() == pytest.approx(votes, rel=1e-5)


def test_knn_rejects_mismatched_dims():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 5\)"):
        knn_predict(torch.randn(4, 3), torch.zeros(4, dtype=torch.long), torch.randn(2, 5))


def _digits():
    x, y = load_digits(return_X_y=True)
    return (
        torch.tensor(x[:1200], dtype=torch.float32),
        torch.tensor(y[:1200]),
        torch.tensor(x[1200:], dtype=torch.float32),
        torch.tensor(y[1200:]),
    )


def test_linear_probe_reaches_the_logistic_regression_optimum():
    xtr, ytr, xte, yte = _digits()
    wd = 1e-2
    probe = LinearProbe(weight_decay=wd).fit(xtr, ytr)
    # the same convex problem in scikit-learn: C = 1 / (n * wd) on standardised features
    scaler = StandardScaler().fit(xtr.numpy())
    ref = LogisticRegression(C=1 / (len(xtr) * wd), max_iter=5000, tol=1e-8)
    ref.fit(scaler.transform(xtr.numpy()), ytr.numpy())
    ours = probe.decision_function(xte).argmax(1).numpy()
    theirs = ref.predict(scaler.transform(xte.numpy()))
    assert (ours == theirs).mean() > 0.98
    assert probe.score(xte, yte) == pytest.approx(
        ref.score(scaler.transform(xte.numpy()), yte.numpy()), abs=0.01
    )
    assert np.abs(probe.linear_.weight.detach().numpy() - ref.coef_).max() < 0.05


def test_mlp_probe_beats_chance_by_far():
    xtr, ytr, xte, yte = _digits()
    assert MLPProbe(hidden=64, epochs=30, batch_size=128).fit(xtr, ytr).score(xte, yte) > 0.85
