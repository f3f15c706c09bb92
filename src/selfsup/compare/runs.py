"""One run as ``selfsup compare`` sees it: settings, accuracies, label-free measures, time.

Everything is read from the run directory (``config.yaml``, ``metrics.json``, ``lens.csv``) as
untrusted data; a run without a lens is measured on its final encoder
(:func:`selfsup.compare.measures.label_free_measures`, training images only).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from selfsup.compare.measures import MEASURES
from selfsup.errors import SelfsupError
from selfsup.train.run_dir import CONFIG, read_metrics

LENS_CSV = "lens.csv"
#: accuracies read from ``metrics.json`` (where the dataset has labels)
ACCURACIES = ("knn_top1", "linear_top1", "online_probe_top1")


@dataclass
class RunRecord:
    """What one run contributes to a comparison."""

    path: Path
    name: str
    settings: dict  # the resolved config, flattened: {"optim.lr": 0.002, ...}
    metrics: dict  # metrics.json
    lens: list[dict] = field(default_factory=list)  # lens.csv rows (empty: no lens)
    measures: dict[str, float] = field(default_factory=dict)  # "rep_rankme", ...
    measured_on: str = ""  # where the measures come from, in words
    feature_dim: int | None = None  # the backbone's output size (entropies compare only at one)

    @property
    def dataset(self) -> str:
        return str(self.metrics.get("dataset") or self.settings.get("data.name", "?"))

    @property
    def method(self) -> str:
        return str(self.settings.get("method.name", self.metrics.get("method", "?")))


def read_run(path: str | Path) -> RunRecord:
    """A run directory's record, without measuring anything (see :func:`measure_run`)."""
    path = Path(path)
    if not path.is_dir():
        raise SelfsupError(f"{path} is not a run directory")
    config_file = path / CONFIG
    try:
        config = yaml.safe_load(config_file.read_text())
    except OSError:
        raise SelfsupError(f"{path} has no {CONFIG}: is it a selfsup run directory?") from None
    except yaml.YAMLError as err:
        first = " ".join(str(err).split())[:160]
        raise SelfsupError(f"{config_file} is not valid YAML ({first})") from None
    if not isinstance(config, dict):
        raise SelfsupError(f"{config_file} does not hold a mapping of config sections")
    metrics = read_metrics(path)
    dim = metrics.get("feature_dim")  # written by the final evaluation (labelled data)
    return RunRecord(
        path,
        path.name,
        flatten(config),
        metrics,
        read_lens(path),
        feature_dim=dim if isinstance(dim, int) and not isinstance(dim, bool) else None,
    )


def read_lens(path: Path) -> list[dict]:
    """``lens.csv`` of a run as rows of floats (``[]`` if it has none)."""
    file = path / LENS_CSV
    if not file.is_file():
        return []
    try:
        with open(file, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as err:
        raise SelfsupError(f"{file} is unreadable ({err})") from None
    return [{k: _number(v) for k, v in row.items() if k is not None} for row in rows]


def measure_run(
    record: RunRecord,
    data_root: str | None = None,
    n_samples: int = 512,
    seed: int = 0,
    from_lens: bool = False,
) -> RunRecord:
    """Fill ``record.measures``: the final encoder measured on ``n_samples`` training images
    (the same images and views for every run of a dataset, so the numbers compare), or, with
    ``from_lens``, the lens's final row where the run has a lens that reached its last epoch
    (test images, the run's own lens settings)."""
    epochs = record.metrics.get("epochs")
    last = record.lens[-1] if record.lens else None
    if from_lens and last is not None and (epochs is None or last.get("epoch") == epochs):
        record.measures = {k: v for k, v in last.items() if k.startswith(("rep_", "emb_"))}
        record.measured_on = f"lens, epoch {int(last.get('epoch', 0))} (test images)"
        return record
    from selfsup.compare.measures import label_free_measures
    from selfsup.train.trained import load_run, other_data

    # the run's own data section (a named dataset, a folder or tensors), loaded once
    method, config, data = load_run(record.path)
    data = other_data(config, data, None, data_root)
    record.measures = label_free_measures(method, data, n_samples=n_samples, seed=seed)
    record.feature_dim = record.feature_dim or int(method.backbone.out_dim)
    n = min(n_samples, len(data.ssl_train))
    record.measured_on = f"final encoder, {n} training images"
    return record


def measure(record: RunRecord, name: str, space: str = "rep") -> float:
    """One label-free measure of a run (``nan`` if it was not measured)."""
    return float(record.measures.get(f"{space}_{name}", math.nan))


def flatten(tree: dict, prefix: str = "") -> dict:
    """``{"optim": {"lr": 1}}`` -> ``{"optim.lr": 1}`` (lists stay values)."""
    out: dict = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


__all__ = ["ACCURACIES", "MEASURES", "RunRecord", "measure", "measure_run", "read_run"]
