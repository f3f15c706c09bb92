"""The SimVAE report's sections: per dataset, the headline metrics, the style probes per
factor, errors and pictures (reconstructions and GMM-cluster samples of seed 0)."""

from __future__ import annotations

from pathlib import Path

from selfsup.experiments.experiment import Finished
from selfsup.experiments.report import image
from selfsup.experiments.simvae.curves import CURVE_KEYS, plateaued, plot_advantage, plot_curves
from selfsup.experiments.simvae.settings import DISCRIMINATIVE, RESULT_KEYS, Params, setting_for

COLUMNS = (*RESULT_KEYS, "scatter_ratio", "class_gaussian_gain", "gmm_gain")
PROJECTOR_COLUMNS = ("projector_content_linear_top1", "projector_style_score")


def fmt(mean: float | None, std: float | None) -> str:
    return "—" if mean is None else f"{mean:.3f} ± {std:.3f}"


def report(summary: dict, p: Params, finished: list[Finished], out: Path) -> list[str]:
    lines = [
        "Mean ± std over seeds; features are the frozen encoder's posterior mean (VAEs) or its "
        "output (SimCLR, VICReg, Barlow Twins); `projector_*` columns probe the joint-embedding "
        "methods' projector output instead. `_official`: the official code's weighting of the "
        "objective (docs/simvae.md).",
        "",
    ]
    pictures: dict = {}
    for f in finished:
        where = pictures.setdefault((f.run.args["dataset"], f.run.args["method"]), [])
        where += [f"runs/{f.run.key}/{name}" for name in f.result.get("pictures", [])]
    for d, per_method in summary.items():
        s = setting_for(p, d)
        budget = f"{s.minutes:g} minutes" if s.minutes is not None else f"{s.steps} steps"
        lines += [
            f"## {d}",
            "",
            f"Encoder `{s.backbone}` {s.backbone_params}, views `{s.views}`, "
            f"{budget} of {s.batch_size} samples x 2 views, Adam lr {s.lr}.",
            "",
        ]
        lines += _table(per_method, COLUMNS)
        if any(c in info["mean"] for info in per_method.values() for c in PROJECTOR_COLUMNS):
            lines += ["", "At the projector output (joint-embedding methods only):", ""]
            lines += _table(
                {m: i for m, i in per_method.items() if PROJECTOR_COLUMNS[0] in i["mean"]},
                PROJECTOR_COLUMNS,
            )
        lines += _curve_section(per_method, d, out)
        style_cols = sorted(
            k
            for k in next(iter(per_method.values()))["mean"]
            if k.startswith("style_")
            and k != "style_score"
            and (k.endswith("_acc") or k.endswith("_r2"))
        )
        if style_cols:
            lines += ["", "Style probes (accuracy or R^2 per factor):", ""]
            lines += _table(per_method, style_cols)
        errors = [e for info in per_method.values() for e in info["errors"]]
        if errors:
            lines += ["", "Errors: " + "; ".join(errors)]
        pics = [path for m in per_method for path in pictures.get((d, m), [])]
        if pics:
            lines += [""] + [
                f"![{Path(path).parent.name}-{Path(path).stem}]({path})" for path in pics
            ]
        lines.append("")
    return lines


def _curve_section(per_method: dict, dataset: str, out: Path) -> list[str]:
    """The curves' PNG and, per method, whether its style_score has stopped moving."""
    curves = {m: info["curve"] for m, info in per_method.items() if info.get("curve")}
    if not curves or all(len(c["steps"]) < 2 for c in curves.values()):
        return []
    name = plot_curves(curves, dataset, out / f"curves-{dataset}.png", CURVE_KEYS[:2])
    if name is None:
        name = plot_curves(curves, dataset, out / f"curves-{dataset}.png", CURVE_KEYS[2:3])
    lines = ["", "Probe metrics against training steps (mean ± std over seeds):", ""]
    if name is not None:
        lines += [image(out / name, out, f"curves-{dataset}"), ""]
    ours = [m for m in ("simvae", "simvae_official") if m in curves]
    path = out / f"advantage-{dataset}.png"
    if ours and plot_advantage(curves, dataset, ours, DISCRIMINATIVE, path) is not None:
        lines += [
            "SimVAE's style advantage against steps (its style_score minus each discriminative "
            "method's; vertical lines: crossing points):",
            "",
            image(path, out, f"advantage-{dataset}"),
            "",
        ]
    for m, c in curves.items():
        for key in ("style_score", "projector_style_score"):
            if key not in c["mean"]:
                continue
            still = "stopped moving" if plateaued(c["mean"][key], c["std"][key]) else "STILL MOVING"
            pts = ", ".join(
                f"{s}: {'—' if v is None else f'{v:.3f}'}"
                for s, v in zip(c["steps"], c["mean"][key], strict=True)
            )
            lines.append(f"- {m} {key} ({still} over its last 3 points): {pts}")
    return lines


def _table(per_method: dict, columns) -> list[str]:
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for m, info in per_method.items():
        cells = [fmt(info["mean"].get(c), info["std"].get(c)) for c in columns]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines
