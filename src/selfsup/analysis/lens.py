"""``analysis.json`` for ``selfsup analyze``: the lens numbers of every analysed space with
95% intervals, regime flags, and how well each augmentation parameter is predicted from the
representation (``augmentation_r2``).

Intervals come from half-sampling without replacement (McCarthy 1969; Politis & Romano's
subsampling): the statistic is recomputed on ``n_boot`` random halves (``m = n / 2``), and the
interval is the estimate minus the 97.5% / 2.5% quantiles of the halves around their mean,
scaled by ``sqrt(m / (n - m))`` = 1 (a statistic of ``m`` of ``n`` points drawn without
replacement varies as ``sigma^2 (1/m - 1/n)``, which is the full sample's ``sigma^2 / n`` for
halves).
Not the plain bootstrap: resampling with replacement repeats points, which lowers every rank
and entropy (a percentile bootstrap of RankMe does not even contain the estimate) and breaks
the kNN estimators. The interval describes sampling variability only, not the estimators'
bias: that is what the regime flag is for (``below_measured_regime``: ``(n, d)`` lies outside
the regime where the bias was measured, :mod:`selfsup.info.regimes`; docs/info.md).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from selfsup.info.regimes import (
    KNN_ENTROPY,
    KSG_MUTUAL_INFORMATION,
    LEDOIT_WOLF_ENTROPY,
    PLUGIN_ENTROPY,
    EstimatorRegimeWarning,
    Regime,
)
from selfsup.train.info_tracking import _finite

#: analysis.json's names of the lens's numbers (selfsup.train.lens.lens_stats)
LENS_KEYS = {
    "rankme": "rankme",
    "effective_rank": "erank",
    "alpha_req": "alpha_req",
    "entropy_gaussian": "gauss_ub",
    "entropy_knn": "knn",
    "mi_gaussian": "mi_gauss",
    "mi_ksg": "mi_ksg",
    "invariance_rel": "invariance_rel",
    "separation": "separation",
    "k_pcs": "k_pcs",
}


def _interval(values: list[float]) -> list[float]:
    v = np.asarray([x for x in values if math.isfinite(x)], dtype=np.float64)
    if len(v) < max(10, len(values) // 2):
        return [math.nan, math.nan]
    return [float(np.quantile(v, 0.025)), float(np.quantile(v, 0.975))]


def subsample_cis(
    stats, values: dict[str, float], n: int, n_boot: int, generator: torch.Generator
) -> dict[str, list[float]]:
    """95% half-sampling intervals of ``values = stats(all n indices)``, a dict of numbers;
    ``stats`` takes a ``(m,)`` index tensor (no repeated points) and returns such a dict."""
    m = n // 2
    draws = [stats(torch.randperm(n, generator=generator)[:m]) for _ in range(n_boot)]
    # without replacement a statistic of m of n points varies as sigma^2 (1/m - 1/n): rescale
    # that to the sigma^2 / n of the full sample (= 1 for halves: McCarthy's half-sampling)
    scale = math.sqrt(m / (n - m))
    out = {}
    for key, value in values.items():
        column = [d[key] for d in draws]
        finite = [x for x in column if math.isfinite(x)]
        if not finite or not math.isfinite(value):
            out[key] = [math.nan, math.nan]
            continue
        centre = float(np.mean(finite))
        lo, hi = _interval(column)
        out[key] = [value - scale * (hi - centre), value - scale * (lo - centre)]
    return out


def subsample_ci(
    stat, value: float, n: int, n_boot: int, generator: torch.Generator
) -> list[float]:
    """:func:`subsample_cis` of one number."""
    return subsample_cis(lambda i: {"v": stat(i)}, {"v": value}, n, n_boot, generator)["v"]


def _entry(value: float, ci: list[float], regime: Regime | None, n: int, d: int) -> dict:
    out = {"value": value, "ci95": ci}
    if regime is not None:
        out["below_measured_regime"] = not regime.contains(n, d)
        out["measured_regime"] = regime.describe()
        out["estimator_dims"] = d  # the dimension the estimator worked in (n is n_samples)
    return out


def space_numbers(
    z: torch.Tensor,
    z_a: torch.Tensor,
    z_b: torch.Tensor,
    views: torch.Tensor | None,
    n_boot: int,
    seed: int,
) -> dict[str, dict]:
    """Every number of one space with its interval: ``{key: {"value", "ci95", ...}}``."""
    from selfsup.info import lidar
    from selfsup.train.lens import lens_stats

    z, z_a, z_b = z.double(), z_a.double(), z_b.double()
    n, d = z.shape
    g = torch.Generator().manual_seed(seed)

    def stats(i: torch.Tensor) -> dict[str, float]:
        with warnings.catch_warnings():  # the regime goes into the json once, not per half
            warnings.simplefilter("ignore", EstimatorRegimeWarning)
            # the lens's own numbers (one shared decomposition per half)
            lens = lens_stats(z[i], z_a[i], z_b[i])
            return {key: lens[name] for key, name in LENS_KEYS.items()}

    values = stats(torch.arange(n))
    k_pcs = int(values.pop("k_pcs"))
    out: dict[str, dict] = {"k_pcs": k_pcs}
    regimes = {
        "entropy_gaussian": (LEDOIT_WOLF_ENTROPY, d),
        "entropy_knn": (KNN_ENTROPY, d),
        "mi_gaussian": (PLUGIN_ENTROPY, 2 * k_pcs),  # the joint of both views' top PCs
        "mi_ksg": (KSG_MUTUAL_INFORMATION, 1),
    }
    cis = subsample_cis(stats, values, n, n_boot, g)
    for key, value in values.items():
        regime, dim = regimes.get(key, (None, d))
        out[key] = _entry(value, cis[key], regime, n, dim)
    if views is not None:  # the LiDAR images are the resampled units
        m = views.shape[0]
        stat = lambda i: _finite(lidar, views[i].double())  # noqa: E731
        value = stat(torch.arange(m))
        out["lidar"] = _entry(value, subsample_ci(stat, value, m, n_boot, g), None, m, d)
    return out


def augmentation_r2(
    reps: torch.Tensor, params: dict[str, torch.Tensor], groups: torch.Tensor, seed: int
) -> dict[str, float]:
    """Held-out R^2 of a ridge regression (cross-validated penalty, standardised features)
    predicting each augmentation parameter from the representation of its view.

    Args:
        reps: ``(N, d)`` representations of ``N`` views.
        params: ``{name: (N,)}`` each view's parameters (constant ones are skipped).
        groups: ``(N,)`` source-image index of each view: the split keeps an image's views
            together, so no image is both fitted and scored.
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = reps.double().numpy()
    split = GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=seed)
    train, test = next(split.split(X, groups=groups.numpy()))
    out = {}
    for name, values in sorted(params.items()):
        y = values.double().numpy()
        if np.std(y[train]) == 0 or np.std(y[test]) == 0:
            continue
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13)))
        model.fit(X[train], y[train])
        out[name] = float(model.score(X[test], y[test]))
    return out


def _batched(net, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([net(x[i : i + batch]) for i in range(0, len(x), batch)]).double()


def draw_view_pair(view, images: torch.Tensor, seed: int) -> tuple:
    """Two random views of each of ``images (n, C, H, W)`` in [0, 1], drawn by ``view`` (a
    :class:`selfsup.data.pipeline.View`) from ``seed``: ``(a, b, params_a, params_b)``, the
    views clamped to [0, 1] and each view's parameters ``{name: (n,)}``."""
    if not hasattr(view, "forward_with_params"):
        raise TypeError("augmentation_r2 needs a selfsup.data.pipeline.View (its parameters)")
    torch.manual_seed(seed)
    with torch.no_grad():
        a, params_a = view.forward_with_params(images)
        b, params_b = view.forward_with_params(images)
    return a.clamp(0, 1), b.clamp(0, 1), params_a, params_b


def lens_analysis(
    spaces: dict,
    images: torch.Tensor,
    view,
    n_boot: int = 100,
    lidar_samples: int = 64,
    lidar_views: int = 8,
    seed: int = 0,
    pair: tuple | None = None,
) -> dict:
    """The ``analysis.json`` content for ``spaces`` (``{name: net}``, [0, 1] images -> ``(B, d)``)
    on ``images (n, C, H, W)`` in [0, 1] and two random views of each, ``pair`` (default:
    :func:`draw_view_pair` with ``seed``; pass the pair the rest of a report uses, so that every
    number describes the same views).

    Returns ``{"rankme": {space: entry}, "effective_rank": ..., "alpha_req": ..., "lidar": ...,
    "entropy": {space: {"gaussian": entry, "knn": entry}}, "mutual_information": {space:
    {"gaussian_top_pcs": entry, "ksg_first_pc": entry}}, "invariance": {space: entry},
    "separation": {space: entry}, "k_pcs": {space: k}, "augmentation_r2": {space: {param:
    R^2}}, "dims": {space: d}, "n_samples": n}`` with ``entry = {"value", "ci95", ...}``.
    """
    n = len(images)
    a, b, params_a, params_b = pair if pair is not None else draw_view_pair(view, images, seed)
    torch.manual_seed(seed + 1)  # the LiDAR views, apart from the pair
    m = min(lidar_samples, n)
    lidar_images = view(images[:m].repeat_interleave(lidar_views, 0)) if m >= 2 else None
    params = {k: torch.cat([params_a[k], params_b[k]]) for k in params_a}
    groups = torch.arange(n).repeat(2)
    out: dict = {k: {} for k in ("rankme", "effective_rank", "alpha_req", "lidar")}
    out.update(entropy={}, mutual_information={}, invariance={}, separation={}, k_pcs={})
    out.update(augmentation_r2={}, dims={}, n_samples=n, lidar_sample=[m, lidar_views])
    for name, net in spaces.items():
        net.eval()
        z, z_a, z_b = (_batched(net, x.clamp(0, 1)) for x in (images, a, b))
        views = None
        if lidar_images is not None:
            views = _batched(net, lidar_images.clamp(0, 1)).reshape(m, lidar_views, -1)
        nums = space_numbers(z, z_a, z_b, views, n_boot, seed)
        for key in ("rankme", "effective_rank", "alpha_req", "lidar"):
            if key in nums:
                out[key][name] = nums[key]
        out["entropy"][name] = {"gaussian": nums["entropy_gaussian"], "knn": nums["entropy_knn"]}
        out["mutual_information"][name] = {
            "gaussian_top_pcs": nums["mi_gaussian"],
            "ksg_first_pc": nums["mi_ksg"],
        }
        out["invariance"][name] = nums["invariance_rel"]
        out["separation"][name] = nums["separation"]
        out["k_pcs"][name] = nums["k_pcs"]
        out["augmentation_r2"][name] = augmentation_r2(torch.cat([z_a, z_b]), params, groups, seed)
        out["dims"][name] = int(z.shape[1])
    return out
