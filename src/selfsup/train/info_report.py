"""The plot of :class:`selfsup.train.info_tracking.InfoTracking`'s history (matplotlib)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from selfsup.train.atomic import atomic_file

#: (panel title, [(history key, legend label), ...]); panels whose keys are absent are skipped
PANELS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "projector output: entropy estimates (nats)",
        [
            ("emb_gauss_ub", "Gaussian UB (LW)"),
            ("emb_logdet", "LogDet"),
            ("emb_pd_lower", "pairdist lower"),
            ("emb_pd_upper", "pairdist upper"),
            ("emb_knn", "kNN"),
        ],
    ),
    (
        "backbone output: entropy estimates (nats)",
        [
            ("rep_gauss_ub", "Gaussian UB (LW)"),
            ("rep_logdet", "LogDet"),
            ("rep_pd_lower", "pairdist lower"),
            ("rep_pd_upper", "pairdist upper"),
            ("rep_knn", "kNN"),
        ],
    ),
    (
        "invariance / variance",
        [("emb_invariance_rel", "projector"), ("rep_invariance_rel", "backbone")],
    ),
    (
        "separation (between / within)",
        [("emb_separation", "projector"), ("rep_separation", "backbone")],
    ),
    ("effective rank", [("emb_erank", "projector"), ("rep_erank", "backbone")]),
    (
        "assumption checks (a few samples)",
        [
            ("region_stability", "region stability"),
            ("gauss_frac_dims_rejected", "dims non-normal (p<.05)"),
            ("gauss_cov_rel_error", "affine cov. rel. error"),
        ],
    ),
]


def plot_info_tracking(
    history: Sequence[dict], out_path: Path, panels: Sequence[tuple[str, list]] | None = None
) -> Path | None:
    """A grid of the tracked quantities against the epoch; ``None`` if there is nothing.

    ``panels``: ``[(title, [(history key, label), ...]), ...]``, default :data:`PANELS`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return None
    chosen = PANELS if panels is None else panels
    panels = [(t, [(k, lab) for k, lab in keys if k in history[0]]) for t, keys in chosen]
    panels = [(t, keys) for t, keys in panels if keys]
    cols = 3
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.8 * cols, 3.3 * rows), squeeze=False)
    epochs = [row["epoch"] for row in history]
    for ax, (title, keys) in zip(axes.flat, panels, strict=False):
        for key, label in keys:
            ax.plot(
                epochs, [row.get(key, float("nan")) for row in history], marker=".", label=label
            )
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    # fixed margins for the fixed panel size: tight_layout measured every tick label and
    # doubled the time of the figure (1.3 of 2.6 s, a cost every lens / tracking run pays)
    height = fig.get_figheight()  # inches: room for the x label below, the title above
    fig.subplots_adjust(
        left=0.05, right=0.98, bottom=0.45 / height, top=1 - 0.3 / height, wspace=0.25, hspace=0.4
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out_path) as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return out_path
