"""What one lens measurement costs, quantity by quantity, on the digits MLP recipe's encoder.

Builds `vicreg_digits` (or the config given; untrained weights: the cost does not depend on
them), picks the lens's probe batch and times, on one thread as the lens runs:

- the forward passes (probe images, two views, the LiDAR views; backbone and projector);
- each quantity of both spaces (``rep`` and ``emb``), the lens's way (one shared Gram
  eigendecomposition per space: ``selfsup.train.lens.lens_stats``) and the reference way (each
  estimator on its own: ``rankme``, ``effective_rank`` and ``alpha_req`` with an SVD each,
  the Ledoit-Wolf covariance and its Cholesky factor, all pair distances, a float64 randomised
  SVD for the view-MI axes: the lens before this change);
- a whole measurement (``Lens.measure``) and ``lens.png`` of seven rows.

Cases take turns (``harness.interleave``), medians of ``--rounds``. The last line gives the
measurement's and the figure's seconds.

    python benchmarks/lens_profile.py --rounds 5
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import torch
from harness import LoadLog, final_line, interleave, median
from threadpoolctl import threadpool_limits

from selfsup.config import load_config
from selfsup.data.from_config import load_data
from selfsup.data.views import to_unit_float
from selfsup.info import (
    EstimatorRegimeWarning,
    alpha_req,
    effective_rank,
    gaussian_entropy_from_samples,
    gaussian_mutual_information,
    knn_entropy,
    ledoit_wolf_entropy,
    lidar,
    rankme,
)
from selfsup.info.spectral import gram_spectra
from selfsup.methods import build_method
from selfsup.train.info_report import plot_info_tracking
from selfsup.train.lens import (
    LENS_PANELS,
    Lens,
    collapse_indicators,
    lens_stats,
    spectral_stats,
    view_mutual_information,
)


def _old_view_mi(z_a: torch.Tensor, z_b: torch.Tensor, k: int = 8) -> float:
    """The lens's view MI before: axes of both views from a float64 randomised SVD."""
    both = torch.cat([z_a, z_b])
    pcs = torch.svd_lowrank(both - both.mean(0), q=k + 8, niter=3)[2][:, :k]
    pa, pb = (z_a - z_a.mean(0)) @ pcs, (z_b - z_b.mean(0)) @ pcs
    return float(gaussian_mutual_information(torch.cov(torch.cat([pa, pb], 1).T), k))


def _old_mean_cos(z: torch.Tensor) -> float:
    unit = torch.nn.functional.normalize(z, dim=1)
    cos = unit @ unit.T
    return float(cos.sum() - cos.diagonal().sum())


def _cases(spaces: dict) -> dict[str, tuple]:
    """``{quantity: (lens way, reference way)}``, each a no-argument callable over both spaces."""
    data = {k: [t.double() for t in v] for k, v in spaces.items()}

    def each(fn):
        return lambda: [fn(*outputs) for outputs in data.values()]

    return {
        "shared Gram product + 2 eigendecompositions": (
            each(lambda z, *_: gram_spectra(z, 8)),
            None,
        ),
        "RankMe + effective rank + alpha-ReQ": (
            each(lambda z, *_: spectral_stats(z)),
            each(lambda z, *_: (rankme(z), effective_rank(z - z.mean(0)), alpha_req(z))),
        ),
        "Gaussian entropy (Ledoit-Wolf)": (
            each(lambda z, *_: ledoit_wolf_entropy(z)),
            each(lambda z, *_: gaussian_entropy_from_samples(z, shrinkage="ledoit_wolf")),
        ),
        "kNN entropy (k = 3)": (each(lambda z, *_: knn_entropy(z, 3)), None),
        "view MI (Gaussian on 8 axes + KSG)": (
            each(lambda z, a, b, *_: view_mutual_information(a, b, pcs=torch.eye(z.shape[1]))),
            each(lambda z, a, b, *_: _old_view_mi(a, b)),
        ),
        "LiDAR (64 images x 8 views)": (each(lambda z, a, b, v: lidar(v)), None),
        "collapse indicators": (
            each(lambda z, *_: collapse_indicators(z)),
            each(lambda z, *_: _old_mean_cos(z)),
        ),
        "separation (pair distances)": (
            each(lambda z, *_: 2 * z.shape[1] * z.var(0).mean()),
            each(lambda z, *_: torch.pdist(z).pow(2).mean()),
        ),
        "all numbers (lens_stats)": (each(lens_stats), None),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "overrides",
        nargs="*",
        help="config overrides (default: vicreg_digits, the digits MLP recipe)",
    )
    args = p.parse_args()
    warnings.simplefilter("ignore", EstimatorRegimeWarning)
    config = load_config("vicreg_digits", args.overrides)
    data = load_data(config)
    method = build_method(config, data).eval()
    lens = Lens(**{k: v for k, v in dict(config.lens).items() if k != "every_n_epochs"})
    probe = SimpleNamespace(datamodule=SimpleNamespace(data=data), is_global_zero=False)
    lens.on_fit_start(probe, method)  # picks the probe images (no measurement: not rank 0)
    images = to_unit_float(lens._images)
    torch.manual_seed(0)
    spaces = lens.embed(method, images)
    shapes = {k: tuple(v[0].shape) for k, v in spaces.items()}
    load = LoadLog()
    torch.set_num_threads(1)  # as the lens measures
    with threadpool_limits(1):
        timed = {
            "forward passes (probe + 2 views + LiDAR views)": lambda: lens.embed(method, images)
        }
        for name, (fast, ref) in _cases(spaces).items():
            timed[name] = fast
            if ref is not None:
                timed[f"{name} [reference]"] = ref
        timed["whole measurement (Lens.measure)"] = lambda: lens.measure(method)
        history = [{"epoch": e, **lens.measure(method)} for e in range(0, 35, 5)]
        out = Path(tempfile.mkdtemp()) / "lens.png"
        timed["lens.png (7 rows)"] = lambda: plot_info_tracking(history, out, LENS_PANELS)
        times = interleave(timed, args.rounds, load=load)
    print(f"probe batch: {len(images)} images; spaces {shapes}; {load}")
    print("| quantity (both spaces) | lens (ms) | reference (ms) |\n|---|---|---|")
    for name in timed:
        if name.endswith("[reference]"):
            continue
        ref = times.get(f"{name} [reference]")
        cell = f"{1e3 * median(ref):.0f}" if ref else ""
        print(f"| {name} | {1e3 * median(times[name]):.0f} | {cell} |")
    final_line(
        measurement_s=median(times["whole measurement (Lens.measure)"]),
        lens_png_s=median(times["lens.png (7 rows)"]),
        rounds=args.rounds,
    )


if __name__ == "__main__":
    main()
