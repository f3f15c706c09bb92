"""Time selfsup.info.knn_entropy on 20000 x 32 against a scipy cKDTree Kozachenko-Leonenko.

Run: python benchmarks/knn_entropy.py [--n 20000] [--d 32] [--k 3]
Both timed interleaved, median of ``--repeats`` (``harness.py``).
Last line: name=value pairs (ours_s, scipy_s, speedup, abs_diff_nats, ...).
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch
from harness import closing_line, interleaved, machine, median, ratio, spread
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from selfsup.info import knn_entropy


def scipy_kl_entropy(z: np.ndarray, k: int) -> float:
    """Kozachenko-Leonenko with scipy's exact kd-tree search, the reference implementation."""
    n, d = z.shape
    dist = cKDTree(z).query(z, k=k + 1, workers=-1)[0][:, k]  # column 0 is the point itself
    log_vd = 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1.0)
    return float(digamma(n) - digamma(k) + log_vd + d * np.log(dist).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--d", type=int, default=32)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    z = torch.randn(args.n, args.d, generator=g)
    truth = 0.5 * args.d * math.log(2 * math.pi * math.e)

    knn_entropy(z[:1000], args.k)  # warm-up (thread pool, allocator) on a small slice
    z64 = z.double().numpy()
    cases = {
        "ours": lambda: knn_entropy(z, args.k).item(),
        "scipy": lambda: scipy_kl_entropy(z64, args.k),
    }
    seconds, last = interleaved(cases, args.repeats, warmup=0)
    ours, ref = last["ours"], last["scipy"]
    ours_s, scipy_s = median(seconds["ours"]), median(seconds["scipy"])

    print(f"N={args.n} d={args.d} k={args.k} {machine()}")
    print(
        f"ours  (chunked matmul + topk, float32 search, float64 refine): {ours:.6f} nats, "
        f"{spread(seconds['ours'])}"
    )
    print(f"scipy (cKDTree, exact, workers=-1): {ref:.6f} nats, {spread(seconds['scipy'])}")
    print(f"true Gaussian entropy: {truth:.6f} nats (bias at this N, d: {ours - truth:+.3f})")
    pairs = {
        "ours_s": ours_s,
        "scipy_s": scipy_s,
        "speedup": ratio(seconds, "scipy", "ours"),
        "abs_diff_nats": abs(ours - ref),
        "ours_nats": ours,
        "scipy_nats": ref,
        "true_nats": truth,
    }
    print(closing_line(pairs, digits=6))


if __name__ == "__main__":
    main()
