"""Our kNN and linear probe against scikit-learn on 60k x 512 features (time and accuracy).

Run: python benchmarks/eval.py [--n 60000] [--dim 512] [--repeats 2] [--skip-logreg]
Features: a 10-class Gaussian mixture (class means on a random 32-d subspace plus isotropic
noise), 60k train / 10k test, float32. kNN: k=20, votes weighted by exp(cos / 0.07), the same
rule in scikit-learn (``metric="cosine"``, ``weights=exp((1 - d) / 0.07)``, brute force).
Linear: L2-regularised multinomial logistic regression on standardised features,
``LinearProbe(weight_decay=wd)`` vs ``LogisticRegression(C=1 / (n * wd), lbfgs)``.
Timings interleaved (``harness.interleave``), median of N. Last line: name=value.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from harness import LoadLog, final_line, interleave, median
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from selfsup.evaluate import LinearProbe, knn_predict

K, T = 20, 0.07


def features(n: int, n_test: int, dim: int, seed: int = 0):
    g = np.random.default_rng(seed)
    basis = g.standard_normal((32, dim)) / np.sqrt(32)
    # class means small next to the noise, so neither classifier is at 100%
    means = g.standard_normal((10, 32)) @ basis * 0.008
    y = g.integers(0, 10, n + n_test)
    x = (means[y] + g.standard_normal((n + n_test, dim)) / np.sqrt(dim)).astype(np.float32)
    return x[:n], y[:n], x[n:], y[n:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=60_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--skip-logreg", action="store_true")
    args = ap.parse_args()
    xtr, ytr, xte, yte = features(args.n, 10_000, args.dim)
    ttr, tytr, tte = torch.from_numpy(xtr), torch.from_numpy(ytr), torch.from_numpy(xte)

    def ours_knn():
        return knn_predict(ttr, tytr, tte, K, T, 10).argmax(1).numpy()

    def similarity_only():
        # the floor of exact kNN: the (10k x 512)(512 x 60k) products and nothing else
        for start in range(0, len(tte), 2048):
            tte[start : start + 2048] @ ttr.T

    def sk_knn():
        clf = KNeighborsClassifier(
            K, metric="cosine", algorithm="brute", weights=lambda d: np.exp((1 - d) / T), n_jobs=-1
        )
        return clf.fit(xtr, ytr).predict(xte)

    def ours_linear():
        probe = LinearProbe(weight_decay=args.weight_decay).fit(ttr, tytr)
        return probe.predict(tte).numpy()

    def sk_linear():
        scaler = StandardScaler().fit(xtr)
        clf = LogisticRegression(C=1 / (args.n * args.weight_decay), max_iter=1000)
        return clf.fit(scaler.transform(xtr), ytr).predict(scaler.transform(xte))

    cases = {"ours_knn": ours_knn, "sklearn_knn": sk_knn, "similarity_matmul": similarity_only}
    if not args.skip_logreg:
        cases |= {"ours_linear": ours_linear, "sklearn_linear": sk_linear}
    preds = {}

    def keep(name, fn):
        def call():
            preds[name] = fn()

        return call

    load = LoadLog()
    times = interleave({n: keep(n, fn) for n, fn in cases.items()}, args.repeats, 0, load)
    best = {name: median(t) for name, t in times.items()}
    acc = {n: float((p == yte).mean()) for n, p in preds.items() if p is not None}
    print(f"train {args.n} x {args.dim}, test 10000, threads={torch.get_num_threads()}")
    for name in cases:
        top1 = f"  top-1 {acc[name]:.4f}" if name in acc else ""
        print(f"{name:>17s} {best[name]:8.2f} s{top1}")
    agree = float((preds["ours_knn"] == preds["sklearn_knn"]).mean())
    print(f"kNN predictions identical on {agree:.4%} of test points")
    print(load)
    out = {
        "knn_speedup": best["sklearn_knn"] / best["ours_knn"],
        "knn_acc_delta": acc["ours_knn"] - acc["sklearn_knn"],
        "knn_agreement": agree,
        "knn_over_matmul": best["ours_knn"] / best["similarity_matmul"],
    }
    if not args.skip_logreg:
        out |= {
            "linear_speedup": best["sklearn_linear"] / best["ours_linear"],
            "linear_acc_delta": acc["ours_linear"] - acc["sklearn_linear"],
        }
    table = [
        {"case": name, "seconds": round(best[name], 2), "top1": round(acc[name], 4)}
        if name in acc
        else {"case": name, "seconds": round(best[name], 2)}
        for name in cases
    ]
    final_line(table=table, load=load, **out)


if __name__ == "__main__":
    main()
