"""Where the infomax paper's Gaussian premise holds: a map over the strength of the augmentation.

The paper's argument: a ReLU network is piecewise affine, so a view ``x + eps`` that stays in the
clean sample's linear region gives ``f(x + eps) = A x + b + A eps``, exactly Gaussian with
covariance ``A Sigma A^T`` when ``eps ~ N(0, Sigma)``. For a trained encoder we sweep isotropic
input noise from tiny (the premise holds) to large, then the method's own views (crops, affine),
and measure at each level, with the tools of :mod:`selfsup.info` (no second implementation):

- ``in_region_share``: share of views inside the clean sample's linear region;
- ``affine_cov_rel_err``: median ``||C_emp - A Sigma A^T||_F / ||C_emp||_F`` (``Sigma`` the
  empirical covariance of the input views);
- ``normality_reject_share``: share of output dimensions whose normality D'Agostino rejects at
  ``alpha`` (a Gaussian gives about ``alpha``: that is the expected false-positive share);
- entropy of the outputs on their top ``entropy_dims`` (whitened) principal directions: the
  Kolchinsky-Tracey bounds of the affine model's mixture ``sum_n N(A_n m_n + b_n, A_n Sigma_n
  A_n^T)`` against kNN on the views (a projection keeps a Gaussian mixture a Gaussian mixture,
  and kNN is only trustworthy in a few dimensions).

Noise is in the units of the network's input, [0, 1] pixels, and is not clipped (clipping would
make the input noise non-Gaussian).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from selfsup.experiments.report import pyplot, save_figure
from selfsup.info import (
    augmentation_gaussianity,
    knn_entropy,
    local_affine,
    mixture_entropy_bounds,
)
from selfsup.info.affine import eval_mode

#: isotropic input-noise stds swept, in [0, 1] pixel units
NOISE_LEVELS = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
#: the premise "holds" at a level when all three hold (for the mean over seeds)
MIN_IN_REGION = 0.9
MAX_COV_ERR = 0.1
REJECT_FACTOR = 2.0  # rejection share <= REJECT_FACTOR * alpha (the infomax claims' tolerance)
#: the entropy bounds "bracket" the kNN estimate within this many nats: kNN's bias in d <= 5 is
#: within 0.3 nats at n >= 250 (docs/info.md); on a trained MNIST encoder at noise 1e-4 it read
#: +0.94 / +0.55 / +0.33 nats above the (then exact) bounds with 16 / 32 / 64 views per image
ENTROPY_SLACK = 0.5
#: the sweep's sizes a reproduction sets (as ``sweep``'s keyword arguments)
SIZES = ("n_gaussianity", "n_entropy", "entropy_views", "entropy_dims")
#: the key of the sweep in a run's result and in the summary (and so in results.json)
KEY = "gaussianity_vs_noise"
FIELDS = tuple(
    "input_rms in_region_share affine_cov_rel_err normality_reject_share entropy_lower "
    "entropy_upper entropy_knn".split()
)


class Projected(nn.Module):
    """``net`` followed by a fixed linear map ``basis`` ``(k, out)``: ``x -> basis f(x)``."""

    def __init__(self, net: nn.Module, basis: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("basis", basis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1) @ self.basis.T


def isotropic_noise(sigma: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """Views ``x + sigma * eps``, ``eps ~ N(0, I)``, from torch's global generator."""

    def augment(x: torch.Tensor) -> torch.Tensor:
        return x + sigma * torch.randn_like(x)

    return augment


def principal_basis(z: torch.Tensor, k: int) -> torch.Tensor:
    """Top-``k`` principal directions of ``z`` ``(n, d)``, each divided by ``z``'s std along
    it: rows ``(k, d)`` in ``z``'s dtype that map ``z`` to ``k`` whitened coordinates.

    Whitening changes every entropy by the same constant, but keeps kNN away from the
    bias it has on strongly anisotropic data (one dominant output dimension).
    """
    zc = (z - z.mean(0)).double()
    vals, vecs = torch.linalg.eigh(zc.T @ zc / max(z.shape[0] - 1, 1))
    std = vals[-k:].flip(0).clamp_min(1e-300).sqrt()
    return (vecs[:, -k:].flip(1) / std).T.contiguous().to(z.dtype)


def mixture_entropies(
    proj: nn.Module,
    images: torch.Tensor,
    augment: Callable[[torch.Tensor], torch.Tensor],
    n_views: int,
    sigma: float | None,
) -> dict[str, float]:
    """Entropy of ``proj``'s outputs on ``n_views`` views of each image: the affine model's
    mixture bounds against kNN on the views, and the views' RMS distance to their image.

    Args:
        proj: network ``(n, *in_shape) -> (n, k)`` (a :class:`Projected`).
        images: ``(N, *in_shape)`` clean images.
        augment: as in :func:`~selfsup.info.augmentation_gaussianity`.
        sigma: the isotropic noise std when ``augment`` is that noise (the model then uses the
            exact input moments ``x_n``, ``sigma^2 I``); ``None``: the views' empirical ones.
    """
    A, b = local_affine(proj, images)  # (N, k, in), (N, k)
    A, b = A.double(), b.double()
    means, covs, outputs, sq_dist = [], [], [], []
    with eval_mode(proj), torch.no_grad():
        for i in range(images.shape[0]):
            views = augment(images[i : i + 1].expand(n_views, *images.shape[1:]).clone())
            outputs.append(proj(views).double())
            flat = views.reshape(n_views, -1).double()
            x = images[i].reshape(-1).double()
            sq_dist.append(((flat - x) ** 2).mean())
            if sigma is not None:
                m, cov = x, sigma**2 * A[i] @ A[i].T
            else:
                m = flat.mean(0)
                pushed = (flat - m) @ A[i].T
                cov = pushed.T @ pushed / (n_views - 1)
            means.append(A[i] @ m + b[i])
            covs.append(cov)
    covs_t = torch.stack(covs)
    k = covs_t.shape[-1]
    # a dead unit pattern can make a component singular; a ridge far below every variance
    scale = torch.diagonal(covs_t, dim1=-2, dim2=-1).mean().clamp_min(1e-300)
    covs_t = covs_t + 1e-9 * scale * torch.eye(k, dtype=covs_t.dtype)
    lower, upper = mixture_entropy_bounds(torch.stack(means), covs_t)
    return {
        "input_rms": math.sqrt(float(torch.stack(sq_dist).mean())),
        "entropy_lower": float(lower),
        "entropy_upper": float(upper),
        "entropy_knn": float(knn_entropy(torch.cat(outputs), 3)),
    }


def sweep(
    net: nn.Module,
    images: torch.Tensor,
    views: Callable[[torch.Tensor], torch.Tensor],
    levels: Sequence[float] = NOISE_LEVELS,
    *,
    n_gaussianity: int = 8,
    n_views: int = 64,
    n_entropy: int = 128,
    entropy_views: int = 64,
    entropy_dims: int = 4,
    alpha: float = 0.05,
    seed: int = 0,
) -> list[dict]:
    """The premise's numbers at each noise level, then at ``views`` (the real augmentation).

    Args:
        net: ``[0, 1]`` images ``(n, *in_shape)`` -> outputs (piecewise affine for the region
            measures to mean anything); evaluated in eval mode.
        images: ``(N, *in_shape)`` clean images, ``N >= max(n_gaussianity, n_entropy)``.
        views: the real augmentation, batch -> batch of the same shape.
        levels: isotropic input-noise stds.
        n_gaussianity, n_views: images and views per image for the Gaussianity checks.
        n_entropy, entropy_views, entropy_dims: images, views per image and principal
            directions for the entropy comparison.
        seed: every level draws its views from ``torch.manual_seed(seed)`` (RNG state
            restored after).

    Returns:
        One dict per level, ``augmentation`` ``"noise"`` (``noise`` = the std) or ``"views"``
        (``noise`` = ``None``), with the :data:`FIELDS` and ``alpha``.
    """
    with torch.no_grad():
        clean = net(images[:n_entropy]).flatten(1)
    # eval() here too: eval_mode restores a module's own flag, and a fresh module's is train,
    # which would put batch-norm back on batch statistics
    proj = Projected(net, principal_basis(clean, entropy_dims)).eval()
    steps: list[tuple[float | None, Callable]] = [(s, isotropic_noise(s)) for s in levels]
    steps.append((None, views))
    out = []
    for sigma, augment in steps:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            g = augmentation_gaussianity(
                net, images[:n_gaussianity], augment, n_views=n_views, alpha=alpha
            )
            entropy = mixture_entropies(proj, images[:n_entropy], augment, entropy_views, sigma)
        out.append(
            {
                "augmentation": "noise" if sigma is not None else "views",
                "noise": sigma,
                "in_region_share": float(np.mean(g.region_stability)),
                "affine_cov_rel_err": float(np.nanmedian(g.cov_rel_error)),
                "normality_reject_share": float(np.nanmean(g.frac_dims_rejected)),
                "alpha": alpha,
                **entropy,
                "entropy_dims": entropy_dims,
            }
        )
    return out


def sweep_run(run_dir: Path, levels: Sequence[float], n_views: int, **sizes: int) -> list[dict]:
    """:func:`sweep` on a finished training run's encoder (normalise -> backbone -> projector),
    its first view pipeline, and the test images InfoTracking measures (same selection);
    ``sizes`` are :data:`SIZES`."""
    from selfsup.data.from_config import load_data
    from selfsup.data.views import to_unit_float
    from selfsup.train.trained import load_method

    method, config = load_method(run_dir)
    test = load_data(config).test
    n = min(max(512, sizes["n_entropy"], sizes["n_gaussianity"]), len(test))
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))
    images = to_unit_float(test.get_batch(order[:n].sort().values)[0])
    parts = [method.normalise, method.backbone]
    if getattr(method, "projector", None) is not None:
        parts.append(method.projector)
    view = method.views.views[0]
    return sweep(
        nn.Sequential(*parts).eval(),
        images,
        lambda x: view(x).clamp(0.0, 1.0),
        levels,
        n_views=n_views,
        **{k: min(v, n) if k in ("n_gaussianity", "n_entropy") else v for k, v in sizes.items()},
    )


# ----------------------------------------------------------------------------- summary and claims


def summarise(per_run: list[tuple[str, str, list[dict]]]) -> list[dict]:
    """``gaussianity_vs_noise``: one entry per (dataset, method, level), means over seeds.

    Args:
        per_run: ``(dataset, method, sweep)`` for every run that made a sweep.
    """
    groups: dict[tuple, list[dict]] = {}
    for dataset, method, entries in per_run:
        for i, e in enumerate(entries):
            groups.setdefault((dataset, method, i), []).append(e)
    out = []
    for (dataset, method, _), rows in groups.items():
        first = rows[0]
        entry = {"dataset": dataset, "method": method, "augmentation": first["augmentation"]}
        entry["noise"] = first["noise"]
        for key in FIELDS:
            entry[key] = float(np.mean([r[key] for r in rows]))
        # each run's value, in the order of the runs (seeds), for the claims' intervals
        entry["per_seed"] = {key: [float(r[key]) for r in rows] for key in FIELDS}
        entry["normality_reject_expected"] = first["alpha"]
        entry.update(entropy_dims=first["entropy_dims"], seeds=len(rows))
        entry["premise_holds"] = premise_holds(entry)
        entry["approximately_gaussian"] = approximately_gaussian(entry)
        entry["bounds_bracket_knn"] = brackets(entry)
        out.append(entry)
    return out


def premise_holds(e: dict) -> bool:
    """Most views in the clean region, small affine-covariance error, rejection near alpha."""
    return (
        e["in_region_share"] >= MIN_IN_REGION
        and e["affine_cov_rel_err"] <= MAX_COV_ERR
        and e["normality_reject_share"] <= REJECT_FACTOR * e["normality_reject_expected"]
    )


def approximately_gaussian(e: dict) -> bool:
    """The premise's two consequences without its cause: covariance and normality as if
    affine, whether or not the views stay in the clean sample's region."""
    return (
        e["affine_cov_rel_err"] <= MAX_COV_ERR
        and e["normality_reject_share"] <= REJECT_FACTOR * e["normality_reject_expected"]
    )


def brackets(e: dict) -> bool:
    return (
        e["entropy_lower"] - ENTROPY_SLACK <= e["entropy_knn"] <= e["entropy_upper"] + ENTROPY_SLACK
    )


def by_curve(entries: list[dict]) -> dict[tuple[str, str], list[dict]]:
    curves: dict[tuple[str, str], list[dict]] = {}
    for e in entries:
        curves.setdefault((e["dataset"], e["method"]), []).append(e)
    return curves


def transition(
    curve: list[dict], test: Callable[[dict], bool]
) -> tuple[float | None, float | None]:
    """``(largest noise up to which test holds at every level, first noise where it fails)``;
    ``None`` for "none" / "never" among the noise levels."""
    last_ok = first_bad = None
    for e in curve:
        if e["augmentation"] != "noise":
            continue
        if test(e) and first_bad is None:
            last_ok = e["noise"]
        elif first_bad is None:
            first_bad = e["noise"]
    return last_ok, first_bad


def range_of(
    entries: list[dict], test: Callable[[dict], bool], what: str
) -> tuple[dict, str, bool]:
    """Per-curve transitions, the regime sentence, and whether the smallest level passes."""
    ours, oks, bads, at_views, smallest = {}, [], [], [], True
    for (dataset, method), curve in by_curve(entries).items():
        ok, bad = transition(curve, test)
        ours[f"{dataset}/{method}"] = f"<= {ok:g}" if ok is not None else "none"
        oks.append(ok)
        bads.append(bad)
        at_views += [test(e) for e in curve if e["augmentation"] == "views"]
        smallest &= ok is not None
    if all(o is not None for o in oks):
        held = f"{what} for isotropic input noise std <= {min(oks):g} ([0, 1] pixel units)"
    else:
        held = f"{what} at no noise level for some method"
    known = [b for b in bads if b is not None]
    if known and min(known) == max(known):
        held += f"; fails from std {min(known):g} for every method that fails"
    elif known:
        held += f"; fails from std {min(known):g} (first method) to {max(known):g} (last)"
    held += "; " + ("holds" if all(at_views) else "fails") + " at the methods' own views"
    return ours, held, smallest


# ----------------------------------------------------------------------------- report


def figure(entries: list[dict], dataset: str, path: Path) -> str:
    """Four panels against noise std (log x); each method's real views as a star at their RMS
    distance from the clean image."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    panels = (
        ("in_region_share", "share of views in the clean region", False),
        ("affine_cov_rel_err", "affine covariance rel. error", True),
        ("normality_reject_share", "share of dims non-normal", False),
        ("knn_minus_lower", "kNN - lower bound, nats (band: upper)", False),
    )
    curves = {m: c for (d, m), c in by_curve(entries).items() if d == dataset}
    for n, (method, curve) in enumerate(curves.items()):
        colour = f"C{n}"
        # entropies span tens of nats over the sweep: show kNN against the bounds instead
        curve = [dict(e, knn_minus_lower=e["entropy_knn"] - e["entropy_lower"]) for e in curve]
        noise = [e for e in curve if e["augmentation"] == "noise"]
        views = [e for e in curve if e["augmentation"] == "views"]
        xs = [e["noise"] for e in noise]
        for ax, (key, title, logy) in zip(axes, panels, strict=True):
            ax.plot(xs, [e[key] for e in noise], "o-", color=colour, label=method, ms=3)
            ax.plot([e["input_rms"] for e in views], [e[key] for e in views], "*", color=colour,
                    ms=11)  # fmt: skip
            ax.set(xscale="log", title=title, xlabel="input noise std (star: real views' RMS)")
            if logy:
                ax.set_yscale("log")
        gap = [e["entropy_upper"] - e["entropy_lower"] for e in noise]
        axes[3].fill_between(xs, 0.0, gap, color=colour, alpha=0.15)
    if entries:
        alpha = entries[0]["normality_reject_expected"]
        axes[2].axhline(alpha, color="grey", ls=":", label=f"alpha = {alpha}")
        axes[2].axhline(REJECT_FACTOR * alpha, color="grey", ls="--", label="tolerance")
        axes[0].axhline(MIN_IN_REGION, color="grey", ls="--")
        axes[1].axhline(MAX_COV_ERR, color="grey", ls="--")
        axes[3].axhline(-ENTROPY_SLACK, color="grey", ls="--")
    axes[0].legend(fontsize=7)
    axes[2].legend(fontsize=7)
    return save_figure(fig, path, dpi=90)


def section(entries: list[dict], rows: dict, dataset: str, out: Path) -> list[str]:
    """Markdown: the map's table and figure for ``dataset``; ``rows`` is the reproduction's
    summary for it, so the real-views level sits beside InfoTracking's last-epoch numbers."""
    mine = [e for e in entries if e["dataset"] == dataset]
    if not mine:
        return []
    name = figure(mine, dataset, out / f"gaussianity_vs_noise_{dataset}.png")
    alpha = mine[0]["normality_reject_expected"]
    lines = [
        f"### {dataset}: Gaussianity against augmentation strength",
        "",
        f"Mean over {mine[0]['seeds']} seed(s). Premise holds (**yes**) when in-region share >= "
        f"{MIN_IN_REGION}, affine cov. error <= {MAX_COV_ERR} and the share of non-normal dims "
        f"<= {REJECT_FACTOR * alpha:g} (a Gaussian gives {alpha}); approximately Gaussian "
        "when the last two hold, in the region or not. Entropies on the top "
        f"{mine[0]['entropy_dims']} principal directions of the clean outputs (whitened), nats: "
        "the affine model's mixture bounds and kNN (k = 3) on the views.",
        "",
        "| method | augmentation | input RMS | in region | affine cov. err | non-normal dims "
        "| premise | approx. Gaussian | H lower | H kNN | H upper |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in mine:
        what = f"noise {e['noise']:g}" if e["augmentation"] == "noise" else "real views"
        lines.append(
            f"| {e['method']} | {what} | {e['input_rms']:.3g} | {e['in_region_share']:.3f} | "
            f"{e['affine_cov_rel_err']:.3g} | {e['normality_reject_share']:.3f} | "
            f"{'**yes**' if e['premise_holds'] else 'no'} | "
            f"{'**yes**' if e['approximately_gaussian'] else 'no'} | {e['entropy_lower']:.1f} | "
            f"{e['entropy_knn']:.1f} | {e['entropy_upper']:.1f} |"
        )
    lines += ["", "Transitions (noise std, [0, 1] pixels; '-' none among the levels):", ""]
    for (_, method), curve in by_curve(mine).items():
        words = []
        for what, test in (
            ("premise", premise_holds),
            ("approx. Gaussian", approximately_gaussian),
        ):
            ok, bad = (f"{v:g}" if v is not None else "-" for v in transition(curve, test))
            words.append(f"{what} holds up to {ok}, fails from {bad}")
        lines.append(f"- {method}: " + "; ".join(words))
    lines += [
        "",
        "Real views, this sweep vs InfoTracking's last epoch (the sweep's images start with its):",
        "",
    ]
    lines += ["| method | in region | affine cov. err | non-normal dims |", "|---|---|---|---|"]
    for e in (e for e in mine if e["augmentation"] == "views"):
        last = rows.get(e["method"], {})

        def tracked(key: str, last: dict = last) -> str:
            value = last.get(f"info_last/{key}", {}).get("mean")
            return "n/a" if value is None else f"{value:.3g}"

        lines.append(
            f"| {e['method']} | {e['in_region_share']:.3f} vs {tracked('region_stability')} | "
            f"{e['affine_cov_rel_err']:.3g} vs {tracked('gauss_cov_rel_error')} | "
            f"{e['normality_reject_share']:.3f} vs {tracked('gauss_frac_dims_rejected')} |"
        )
    return [*lines, "", f"![gaussianity vs noise]({name})", ""]
