"""``metrics.csv``: Lightning's CSV logger, rewritten atomically, keeping earlier attempts' rows.

Lightning's own writer deletes ``metrics.csv`` when a run resumes and appends in place (a kill
mid-write leaves half a row). This one holds every row of the run in memory — the earlier
attempts' rows read at start, then the new ones — and replaces the whole file atomically at each
flush, so the file on disk is always complete: a resumed run killed hard (SIGKILL, power loss)
keeps all rows up to its last flush. Rows that a resumed attempt logs again (the steps after
the checkpoint it started from) replace the earlier attempt's.

Rewriting costs O(rows), so Lightning's every-100-steps flushes are throttled to one per
``min_interval`` seconds; the run flushes unconditionally at each epoch start, before each
checkpoint and at the end (``RunCSVLogger.flush``).
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from selfsup.train.atomic import atomic_file

METRICS_CSV = "metrics.csv"
#: where older versions kept earlier rows during a resume; read once, then removed
EARLIER_LOG = "metrics.before-resume.csv"


def read_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def merge_rows(earlier: list[dict], later: list[dict]) -> list[dict]:
    """``earlier`` up to the first step ``later`` logged, then ``later`` (logged again wins)."""
    steps = [float(r["step"]) for r in later if r.get("step") not in (None, "")]
    first_new = min(steps, default=None)
    if first_new is None:
        return earlier + later
    return [r for r in earlier if float(r.get("step") or 0) < first_new] + later


def write_rows(path: Path, rows: list[dict]) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    columns = [k for k in ("epoch", "step") if k in keys] + sorted(set(keys) - {"epoch", "step"})
    with atomic_file(path, "w") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def earlier_rows(run_dir: Path) -> list[dict]:
    """The rows a resumed run starts from (including a legacy ``EARLIER_LOG``)."""
    return merge_rows(read_rows(run_dir / EARLIER_LOG), read_rows(run_dir / METRICS_CSV))


class _AtomicWriter(ExperimentWriter):
    def __init__(self, log_dir: str, earlier: list[dict], min_interval: float) -> None:
        # not super().__init__: Lightning's deletes an existing metrics.csv
        self.log_dir = log_dir
        self.metrics_file_path = os.path.join(log_dir, METRICS_CSV)
        self.metrics, self.metrics_keys, self.hparams = [], [], {}
        self._earlier, self._rows = list(earlier), []
        self._min_interval, self._last_write = min_interval, 0.0

    def log_hparams(self, params: dict) -> None:
        self.hparams.update(params)  # the run's config.yaml is the record of its settings

    def save(self, force: bool = False) -> None:
        self._rows.extend(self.metrics)
        self.metrics = []
        if not force and time.monotonic() - self._last_write < self._min_interval:
            return
        rows = merge_rows(self._earlier, self._rows)
        if rows:
            write_rows(Path(self.metrics_file_path), rows)
            Path(self.log_dir, EARLIER_LOG).unlink(missing_ok=True)
        self._last_write = time.monotonic()


class RunCSVLogger(CSVLogger):
    """Writes ``<run_dir>/metrics.csv``, continuing ``earlier`` rows (see the module doc).

    Args:
        run_dir: the run directory.
        earlier: rows of earlier attempts (:func:`earlier_rows`), empty for a new run.
        min_interval: seconds between the flushes Lightning asks for during an epoch.
    """

    def __init__(self, run_dir: Path, earlier: list[dict] = (), min_interval: float = 30.0):
        super().__init__(run_dir, name="", version="")
        self._earlier, self._min_interval = list(earlier), min_interval

    @property
    @rank_zero_experiment
    def experiment(self) -> _AtomicWriter:
        if self._experiment is None:
            self._experiment = _AtomicWriter(self.log_dir, self._earlier, self._min_interval)
        return self._experiment

    @rank_zero_only
    def flush(self) -> None:
        """Write every row logged so far, now."""
        self.experiment.save(force=True)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self.flush()
