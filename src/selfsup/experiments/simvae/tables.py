"""The SimVAE report's sections: per dataset, the headline metrics, the style probes per
factor, errors and pictures (reconstructions and GMM-cluster samples of seed 0)."""

from __future__ import annotations

from pathlib import Path

from selfsup.experiments.experiment import Finished
from selfsup.experiments.simvae.settings import RESULT_KEYS, Params, setting_for

COLUMNS = (*RESULT_KEYS, "scatter_ratio", "class_gaussian_gain", "gmm_gain")


def fmt(mean: float | None, std: float | None) -> str:
    return "—" if mean is None else f"{mean:.3f} ± {std:.3f}"


def report(summary: dict, p: Params, finished: list[Finished], out: Path) -> list[str]:
    lines = [
        "Mean ± std over seeds; features are the frozen encoder's posterior mean (VAEs) or its "
        "output (SimCLR, VICReg).",
        "",
    ]
    pictures: dict = {}
    for f in finished:
        where = pictures.setdefault((f.run.args["dataset"], f.run.args["method"]), [])
        where += [f"runs/{f.run.key}/{name}" for name in f.result.get("pictures", [])]
    for d, per_method in summary.items():
        s = setting_for(p, d)
        lines += [
            f"## {d}",
            "",
            f"Encoder `{s.backbone}` {s.backbone_params}, views `{s.views}`, "
            f"{s.steps} steps of {s.batch_size} samples x 2 views, Adam lr {s.lr}.",
            "",
        ]
        lines += _table(per_method, COLUMNS)
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


def _table(per_method: dict, columns) -> list[str]:
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for m, info in per_method.items():
        cells = [fmt(info["mean"].get(c), info["std"].get(c)) for c in columns]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines
