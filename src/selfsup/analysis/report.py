"""``report.md``, ``analysis.json`` and the plots of ``selfsup analyze``.

Every quantity appears once, in one table per analysed space, with the estimator that computed
it and the sample it was computed on: the lens numbers with their 95% intervals
(:mod:`selfsup.analysis.lens`) and the checks made beside them
(:func:`selfsup.analysis.command.analyse`), all on the same images and the same pair of
views. The estimators' regime warnings are collected while they run and listed once in the
report (and in ``analysis.json``) instead of going to stderr.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from selfsup.info.regimes import LOGDET_ENTROPY, EstimatorRegimeWarning
from selfsup.train.atomic import atomic_write_text

#: float32 resolution: the outputs are float32, so a covariance eigenvalue below this share of
#: the largest one is rounding noise, not a direction the output uses
FLOAT32_EPS = float(torch.finfo(torch.float32).eps)

HOW_TO_READ = """\
## How to read this

Every number below is computed once, on one sample: the {n} test images named above and one
pair of random views of each (views a and b, the augmentation preset above); the affine,
Gaussianity and cluster checks use the first of these images with many views each, as their
rows say. Entropies and mutual informations are in nats.

- **Estimates and bounds.** An *estimate* (kNN entropy, KSG and Gaussian mutual information)
  aims at the quantity itself and has a bias that depends on the number of points n and the
  dimension d. A *bound* lies on one known side of its quantity. The Gaussian entropy is an
  upper bound on H(z) (no distribution with the measured covariance has more entropy), itself
  computed from an estimated (Ledoit-Wolf) covariance. The pairwise-distance bounds bracket
  the entropy of the outputs blurred by noise of the augmentation spread s (a mixture of
  N(z_i, s^2 I), the data model of the information-theoretic view of VICReg); when every pair
  of outputs is many s apart, the lower and the upper bound both reach their common ceiling
  log n + d/2 log(2 pi e s^2) and print the same: they then say that the outputs do not
  overlap at that scale, not that the entropy is known to the last digit. The same holds for
  the bounds on the mixture of the per-image view clusters.
- **Why differential entropies can be very negative.** A differential entropy measures the
  log-volume the outputs fill, and a volume in d dimensions shrinks fast: each direction with
  standard deviation sigma contributes about 1/2 log(2 pi e sigma^2) nats, negative once
  sigma < 0.24, so an output of d = 512 whose variance lives in a few directions (a low
  effective rank) has an entropy of hundreds or thousands of negative nats. Scaling the output
  by c adds d log c. Compare entropies of one space at equal n (across epochs or runs), never
  across spaces of different d or scale. The LogDet entropy 1/2 log det(I + Sigma) counts
  only the directions whose variance is above unit noise, so it stays >= 0, and mutual
  informations are scale-free and >= 0 (a small negative value is estimation noise).
- **Intervals** come from half-sampling the images and describe sampling variability only. A
  `!` marks an estimate whose (n, d) lies outside the regime where its bias was measured; the
  regime notes below say what was measured, and that bias can be far larger than the interval.
"""


@contextlib.contextmanager
def capture_regime_notes(into: list[str]) -> Iterator[None]:
    """Collect the :class:`EstimatorRegimeWarning` messages raised inside into ``into`` (each
    once) instead of printing them; other warnings are shown as usual."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EstimatorRegimeWarning)
        yield
    for w in caught:
        if issubclass(w.category, EstimatorRegimeWarning):
            note = str(w.message)
            if note not in into:
                into.append(note)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.4g}"


def _interval(entry: dict | None) -> str:
    if not entry or "ci95" not in entry:
        return "-"
    lo, hi = entry["ci95"]
    return f"[{_fmt(lo)}, {_fmt(hi)}]"


def _space_rows(space: str, lens: dict, c: dict) -> list[tuple[str, str, str, dict]]:
    """``(quantity, computed with, on, entry)`` of one space, in the order printed."""
    n, k = lens["n_samples"], lens["k_pcs"].get(space, 0)
    clean, pair = f"{n} images", f"{n} images x 2 views"
    views = f"{c['n_gaussianity']} images x {c['n_views']} views"
    lidar = "{} images x {} views".format(*lens.get("lidar_sample", ["?", "?"]))
    mi = lens["mutual_information"][space]
    entropy = lens["entropy"][space]

    def plain(value: float) -> dict:
        return {"value": value}

    rows = [
        ("RankMe", "exp(entropy of the normalised singular values)", clean, lens["rankme"]),
        ("effective rank", "Roy-Vetterli, centred outputs", clean, lens["effective_rank"]),
        ("alpha-ReQ", "power-law decay of the eigenvalues", clean, lens["alpha_req"]),
        (
            "LiDAR",
            "rank of the view-vs-image LDA matrix",
            lidar,
            lens["lidar"],
        ),
    ]
    rows = [(q, how, on, table.get(space)) for q, how, on, table in rows]
    rows += [
        ("H(z) upper bound (nats)", "Gaussian, Ledoit-Wolf covariance", clean, entropy["gaussian"]),
        ("H(z) estimate (nats)", "kNN, Kozachenko-Leonenko k = 3", clean, entropy["knn"]),
        (
            "LogDet entropy (nats)",
            "1/2 log det(I + Sigma), sample covariance",
            clean,
            {
                "value": c["logdet_entropy"],
                "below_measured_regime": not c["logdet_entropy_in_measured_regime"],
            },
        ),
        (
            "H(z + s noise) lower bound (nats)",
            "pairwise distances, Bhattacharyya",
            clean,
            plain(c["pairwise_lower"]),
        ),
        (
            "H(z + s noise) upper bound (nats)",
            "pairwise distances, KL",
            clean,
            plain(c["pairwise_upper"]),
        ),
        (
            "augmentation spread s",
            "rms (z_a - z_b) / sqrt 2 per dim",
            pair,
            plain(c["augmentation_spread"]),
        ),
        (
            f"I(top {k} PCs of view a; of view b) (nats)",
            "Gaussian formula",
            pair,
            mi["gaussian_top_pcs"],
        ),
        ("I(first PC of view a; of view b) (nats)", "KSG, k = 3", pair, mi["ksg_first_pc"]),
        (
            "invariance",
            "mean (z_a - z_b)^2 / per-dim variance",
            pair,
            lens["invariance"].get(space),
        ),
        (
            "separation",
            "mean squared distance of two images / of two views",
            pair,
            lens["separation"].get(space),
        ),
        (
            "region stability",
            "share of views in the clean image's linear region",
            views,
            plain(c["region_stability"]),
        ),
        (
            "affine covariance error",
            "median norm(C_emp - A Sigma A^T) / norm(C_emp)",
            views,
            plain(c["affine_cov_error"]),
        ),
        (
            "share of non-normal output dims",
            f"D'Agostino p < {c['normality_alpha']:g} (about {c['normality_alpha']:g} if Gaussian)",
            views,
            plain(c["share_non_normal"]),
        ),
        ("Mardia skewness p", "median over images, top PCs", views, plain(c["mardia_skew_p"])),
        ("Mardia kurtosis p", "median over images, top PCs", views, plain(c["mardia_kurt_p"])),
        (
            "distance between cluster centres",
            "median over pairs of images",
            views,
            plain(c["centre_distance"]),
        ),
        (
            "cluster spread",
            "median rms distance of a view to its centre",
            views,
            plain(c["cluster_spread"]),
        ),
        (
            "cluster separation d'",
            "median centre distance / std along the line joining them",
            views,
            plain(c["direction_separation"]),
        ),
        (
            "H(cluster mixture) lower bound (nats)",
            "Kolchinsky-Tracey, Bhattacharyya, isotropic",
            views,
            plain(c["mixture_lower"]),
        ),
        (
            "H(cluster mixture) upper bound (nats)",
            "Kolchinsky-Tracey, KL, isotropic",
            views,
            plain(c["mixture_upper"]),
        ),
    ]
    return rows


def _overlap(separation: float) -> str:
    """How much two clusters of views overlap, in words, from their d' (above 4 they barely
    overlap, below 2 they overlap)."""
    if separation > 4:
        return "barely overlap"
    return "overlap" if separation < 2 else "partly overlap"


def _reading(space: str, lens: dict, c: dict) -> list[str]:
    """What this space's numbers say where they need a word (bounds that coincide, d')."""
    n, d = lens["n_samples"], lens["dims"][space]
    lines = []
    lo, hi, top = c["pairwise_lower"], c["pairwise_upper"], c["pairwise_ceiling"]
    if _fmt(lo) == _fmt(hi) == _fmt(top) != "n/a":  # equal as printed
        lines.append(
            f"- The pairwise-distance bounds coincide at their ceiling log {n} + {d}/2 "
            f"log(2 pi e s^2) = {_fmt(top)}: at the scale of the augmentation spread every "
            "pair of outputs is far apart."
        )
    lo, hi, top = c["mixture_lower"], c["mixture_upper"], c["mixture_ceiling"]
    if _fmt(lo) == _fmt(hi) == _fmt(top) != "n/a":  # equal as printed
        lines.append(
            f"- The cluster-mixture bounds coincide at their ceiling log {c['n_gaussianity']} + "
            f"the mean cluster entropy = {_fmt(top)}: under the isotropic model the clusters do "
            "not overlap."
        )
    sep = c["direction_separation"]
    if math.isfinite(sep):
        lines.append(
            f"- Along the line joining two centres the clusters of views {_overlap(sep)} (d' "
            f"{_fmt(sep)}; above 4 they barely overlap, below 2 they overlap). The distance "
            "between centres against the cluster spread ignores direction: in many dimensions "
            "a spread as large as the distance can still leave the clusters apart."
        )
    return lines


def _in_short(lens: dict, checks: dict) -> list[str]:
    """One line per space: the rank in use, whether the Gaussian-mixture premise of the
    information-theoretic view holds (views in one linear region, normal output dims), how
    far apart the clusters of views lie, and the augmentation parameter kept best."""
    lines = ["## In short", ""]
    for space, c in checks.items():
        d = lens["dims"][space]
        rank = (lens["rankme"].get(space) or {}).get("value", math.nan)
        stable, non_normal = c["region_stability"], c["share_non_normal"]
        alpha = c["normality_alpha"]
        parts = [f"RankMe {_fmt(rank)} of {d} dimensions in use"]
        if not (math.isfinite(stable) and math.isfinite(non_normal)):
            parts.append("the Gaussian-mixture premise could not be checked")
        else:
            holds = stable > 0.5 and non_normal < 2 * alpha
            parts.append(
                f"the Gaussian-mixture premise {'holds' if holds else 'does not hold'} "
                f"({_fmt(100 * stable)} % of views stay in the clean image's linear region, "
                f"{_fmt(100 * non_normal)} % of output dims are non-normal against about "
                f"{alpha * 100:g} % if Gaussian)"
            )
        sep = c["direction_separation"]
        if math.isfinite(sep):
            parts.append(
                f"the clusters of views of different images {_overlap(sep)} (d' {_fmt(sep)})"
            )
        r2 = {k: v for k, v in lens["augmentation_r2"].get(space, {}).items() if math.isfinite(v)}
        if r2:
            best = max(r2, key=r2.get)
            parts.append(f"the augmentation parameter kept best is {best} (R^2 {_fmt(r2[best])})")
        lines.append(f"- **{space}**: " + "; ".join(parts) + ".")
    return [*lines, ""]


def _regime_flags(lens: dict, checks: dict) -> list[str]:
    """One line per estimate outside the regime where its bias was measured."""
    lines = []
    n = lens["n_samples"]
    for space, d in lens["dims"].items():
        flagged = []
        if not checks[space]["logdet_entropy_in_measured_regime"]:
            flagged.append(("LogDet entropy", d, LOGDET_ENTROPY.describe()))
        for group, labels in (
            ("entropy", {"gaussian": "Gaussian H(z)", "knn": "kNN H(z)"}),
            (
                "mutual_information",
                {"gaussian_top_pcs": "Gaussian I(view a; b)", "ksg_first_pc": "KSG I(view a; b)"},
            ),
        ):
            for key, label in labels.items():
                entry = lens[group][space][key]
                if entry.get("below_measured_regime"):
                    dims = entry.get("estimator_dims", d)
                    flagged.append((label, dims, entry["measured_regime"]))
        lines += [
            f"{space}: {label} in d = {dims} with n = {n}; its bias was measured for {regime}"
            for label, dims, regime in flagged
        ]
    return lines


def report_markdown(
    meta: dict, lens: dict, checks: dict, notes: list[str], pictures: list[str]
) -> str:
    """The text of ``report.md``."""
    dirty = " (uncommitted changes)" if meta.get("dirty") else ""
    lines = [
        f"# Information-theory analysis of `{meta['encoder']}`",
        "",
        f"Dataset `{meta['dataset']}` (test split, {lens['n_samples']} images drawn with seed "
        f"{meta['seed']}), augmentation preset `{meta['views']}`. Command: `{meta['command']}`  ",
        f"Code {meta['code'] or 'unknown'}{dirty}; torch {meta['torch']}.",
        "",
        *_in_short(lens, checks),
        HOW_TO_READ.format(n=lens["n_samples"]),
    ]
    for space, c in checks.items():
        lines += [
            f"## {space} output (d = {lens['dims'][space]})",
            "",
            "| quantity | computed with | on | value | 95% interval |",
            "|---|---|---|---|---|",
        ]
        for quantity, how, on, entry in _space_rows(space, lens, c):
            if entry is None:
                continue
            flag = " !" if entry.get("below_measured_regime") else ""
            lines.append(
                f"| {quantity}{flag} | {how} | {on} | {_fmt(entry['value'])} | {_interval(entry)} |"
            )
        lines += ["", *_reading(space, lens, c), ""]
    flags = _regime_flags(lens, checks)
    lines += ["## Regime notes", ""]
    if flags or notes:
        lines += [
            "Estimates whose (n, d) lies outside the regime where their bias was measured "
            "(docs/info.md); `--n-samples` raises n up to the size of the test split:",
            "",
            *(f"- {line}" for line in flags + notes),
        ]
    else:
        lines.append("Every estimate lies inside the regime where its bias was measured.")
    lines += ["", "## Augmentation parameters", ""]
    lines += [
        "Held-out R^2 of a ridge regression predicting each augmentation parameter from the "
        "representation of its view (1: fully kept; 0 or below: not linearly readable):",
        "",
    ]
    spaces = list(lens["augmentation_r2"])
    params = sorted({p for r in lens["augmentation_r2"].values() for p in r})
    lines += ["| parameter | " + " | ".join(spaces) + " |", "|---|" + "---|" * len(spaces)]
    for p in params:
        cells = [_fmt(lens["augmentation_r2"][s].get(p, math.nan)) for s in spaces]
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines += ["", "## Plots", "", *(f"![{p}]({p})" for p in pictures)]
    return "\n".join(lines) + "\n"


def write_report(
    out: Path, meta: dict, lens: dict, checks: dict, notes: list[str], pictures: list[str]
) -> None:
    """``out/report.md`` and ``out/analysis.json`` (the same numbers), written atomically."""
    record = {**meta, **lens, "checks": checks, "regime_notes": _regime_flags(lens, checks) + notes}
    atomic_write_text(out / "analysis.json", json.dumps(record, indent=1) + "\n")
    atomic_write_text(out / "report.md", report_markdown(meta, lens, checks, notes, pictures))


def spectrum_floor(eigenvalues: np.ndarray) -> float:
    """The smallest covariance eigenvalue worth plotting: float32 resolution of the largest."""
    top = float(np.max(eigenvalues)) if eigenvalues.size else 0.0
    return FLOAT32_EPS * top


def spectrum_range(eigenvalues: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The eigenvalues worth plotting (above :func:`spectrum_floor`) and the y-range that
    shows them: from a third of the smallest (never below half the floor) to twice the
    largest."""
    floor = spectrum_floor(eigenvalues)
    kept = eigenvalues[eigenvalues > floor]
    if not len(kept):
        return kept, (0.1, 10.0)
    return kept, (max(floor / 2, float(kept.min()) / 3), float(kept.max()) * 2)


def plot_space(name: str, plot: dict, out: Path) -> str:
    """``out/analysis_<name>.png``: the covariance spectrum, the normality p-values and the
    views of each image in the top two principal components; returns the file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    z = plot["z"] - plot["z"].mean(0)
    n = z.shape[0]
    eig = (torch.linalg.svdvals(z) ** 2 / max(1, n - 1)).numpy()
    kept, (bottom, top) = spectrum_range(eig)
    floor = spectrum_floor(eig)
    ax = axes[0]
    ax.semilogy(np.arange(1, len(kept) + 1), kept, marker=".", ms=3)
    if floor >= bottom:
        ax.axhline(floor, color="grey", ls="--", lw=0.8)
        ax.text(1, floor, " float32 resolution", va="bottom", fontsize=7, color="grey")
    ax.set_ylim(bottom, top)
    ax.set_xlim(0, max(len(kept), 1) + 1)
    ax.set_xlabel(f"principal component (of {n} outputs; {len(eig) - len(kept)} below float32 "
                  "resolution not shown)", fontsize=8)  # fmt: skip
    ax.set_ylabel("variance (output units^2)", fontsize=8)
    ax.set_title(f"{name}: covariance spectrum", fontsize=9)

    ax = axes[1]
    pv = np.asarray(plot["pvalues"], dtype=float).ravel()
    pv = pv[np.isfinite(pv)]
    ax.hist(pv, bins=20, range=(0, 1))
    if pv.size:
        ax.axhline(pv.size / 20, color="grey", ls="--", lw=0.8, label="if Gaussian")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlim(0, 1)
    ax.set_xlabel("D'Agostino p-value (one per output dim and image)", fontsize=8)
    ax.set_ylabel("count", fontsize=8)
    ax.set_title("normality of each output dim over the views", fontsize=9)

    ax = axes[2]
    clusters = plot["clusters"]
    flat = clusters.reshape(-1, clusters.shape[-1])
    pcs = torch.linalg.svd(flat - flat.mean(0), full_matrices=False).Vh[:2].T
    for c in clusters:
        xy = ((c - flat.mean(0)) @ pcs).numpy()
        ax.scatter(xy[:, 0], xy[:, 1], s=4)
    ax.set_xlabel("PC 1 of all views (output units)", fontsize=8)
    ax.set_ylabel("PC 2 (output units)", fontsize=8)
    ax.set_title(f"views of each of {len(clusters)} images (one colour each)", fontsize=9)
    fig.tight_layout()
    path = out / f"analysis_{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name
