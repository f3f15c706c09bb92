"""The comparison table: one row per run, written as Markdown, CSV and JSON.

Columns: the run, its method, the settings that differ between the runs, the accuracies
(where the dataset has labels), the label-free measures of the backbone output, its dimension
and where they were measured, and the training time. Below the table, each measure's Spearman
rank correlation with kNN accuracy over the runs, and what cannot be compared.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

from selfsup.compare.measures import LABELS, MEASURES
from selfsup.compare.runs import ACCURACIES, RunRecord, measure
from selfsup.train.atomic import atomic_write_text

#: settings that say where a run lives, not what it is
IGNORED_SETTINGS = ("data.root", "data.download", "data.num_workers")
#: table columns of measures whose own names would be ambiguous ("knn" beside "knn_top1")
COLUMNS = {"gauss_ub": "entropy_gauss_ub", "knn": "entropy_knn"}
#: settings of what is measured or shown during training, not of what is trained
IGNORED_PREFIXES = ("lens.", "trainer.enable_progress_bar", "trainer.enable_model_summary")


def differing_settings(records: Sequence[RunRecord]) -> list[str]:
    """The flattened config keys whose values are not the same in every run."""
    keys = sorted({k for r in records for k in r.settings} - set(IGNORED_SETTINGS))
    keys = [k for k in keys if not k.startswith(IGNORED_PREFIXES)]
    # an empty section in one run ("method.params": {}) beside its keys in another
    # ("method.params.temperature"): the keys say it, the section's column would repeat them
    keys = [k for k in keys if not any(other.startswith(f"{k}.") for other in keys)]
    missing = object()
    return [
        k
        for k in keys
        if len({json.dumps(r.settings.get(k, missing), default=str) for r in records}) > 1
    ]


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rank correlation of the finite pairs (``nan`` with fewer than 3, or when
    either side is constant)."""
    from scipy.stats import spearmanr

    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(x) and math.isfinite(y)]
    if len(pairs) < 3 or len({p[0] for p in pairs}) < 2 or len({p[1] for p in pairs}) < 2:
        return math.nan
    return float(spearmanr(*zip(*pairs, strict=True)).statistic)


def rows(records: Sequence[RunRecord]) -> list[dict]:
    """The table as a list of ``{column: value}``."""
    differ = differing_settings(records)
    out = []
    for r in records:
        row: dict = {"run": r.name, "method": r.method}
        row.update({k: r.settings.get(k) for k in differ if k != "method.name"})
        row.update({k: _float(r.metrics.get(k)) for k in ACCURACIES})
        row.update({COLUMNS.get(name, name): measure(r, name) for name in MEASURES})
        row["feature_dim"] = r.feature_dim
        row["measured_on"] = r.measured_on
        row["train_seconds"] = _float(r.metrics.get("train_seconds"))
        out.append(row)
    return out


def correlations(records: Sequence[RunRecord]) -> dict[str, float]:
    """Spearman correlation of each label-free measure with kNN accuracy over the runs."""
    knn = [_float(r.metrics.get("knn_top1")) for r in records]
    out = {name: spearman([measure(r, name) for r in records], knn) for name in MEASURES}
    alpha = [-abs(measure(r, "alpha_req") - 1.0) for r in records]
    out["alpha_req_score"] = spearman(alpha, knn)
    return out


def write_tables(records: Sequence[RunRecord], out: Path) -> dict:
    """``compare.md``, ``compare.csv`` and ``compare.json`` in ``out``; returns the JSON."""
    table = rows(records)
    result = {
        "dataset": records[0].dataset,
        "runs": [str(r.path) for r in records],
        "differing_settings": differing_settings(records),
        "table": table,
        "spearman_with_knn": correlations(records),
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "compare.json", json.dumps(result, indent=1, default=str) + "\n")
    atomic_write_text(out / "compare.csv", _csv(table))
    atomic_write_text(out / "compare.md", "\n".join(markdown(result)) + "\n")
    return result


def markdown(result: dict) -> list[str]:
    """The comparison as Markdown: the table, then the rank correlations."""
    table = result["table"]
    columns = list(table[0])
    lines = [
        f"# Runs compared on {result['dataset']}",
        "",
        "Measures are of the backbone output; `measured_on` says on which images.",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in table:
        lines.append("| " + " | ".join(_cell(row[c]) for c in columns) + " |")
    lines += ["", "— : a setting the run leaves at its default, or a number not measured."]
    dims = {row.get("feature_dim") for row in table} - {None}
    if len(dims) > 1:
        lines += [
            "",
            "The entropies are in nats summed over the feature dimensions, which differ here "
            f"({', '.join(str(d) for d in sorted(dims))}): compare them only between runs of "
            "the same `feature_dim`.",
        ]
    lines += ["", "Spearman rank correlation with kNN accuracy over the runs:", ""]
    for name, rho in result["spearman_with_knn"].items():
        lines.append(f"- {LABELS.get(name, name)}: {_cell(rho)}")
    if any(math.isnan(rho) for rho in result["spearman_with_knn"].values()):
        lines += [
            "",
            "— : a rank correlation needs at least 3 runs with both this measure and a kNN "
            "accuracy, not all equal on either side.",
        ]
    return lines


def _csv(table: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(table[0]))
    writer.writeheader()
    for row in table:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in row.items()}
        )
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):  # plug-ins, layer widths: [a, b] as "a, b"
        return ", ".join(_cell(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value).replace("|", "\\|")
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _float(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
