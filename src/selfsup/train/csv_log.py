"""``metrics.csv``: Lightning's CSV logger, rewritten atomically, keeping earlier attempts' rows.

Lightning's own writer deletes ``metrics.csv`` when a run resumes and appends in place (a kill
mid-write leaves half a row). This one holds every row of the run in memory — the earlier
attempts' rows read at start, then the new ones — and replaces the whole file atomically at each
flush, so the file on disk is always complete: a resumed run killed hard (SIGKILL, power loss)
keeps all rows up to its last flush. Rows that a resumed attempt logs again (the steps after
the checkpoint it started from) replace the earlier attempt's.

A flush serialises only the rows logged since the last one (the text of the others is kept) and
writes the whole file. Lightning's every-100-steps flushes are throttled
to one per ``min_interval`` seconds (and to ~1% of the time); the run flushes unconditionally at
each epoch start, before each checkpoint and at the end (``RunCSVLogger.flush``).
"""

from __future__ import annotations

import csv
import io
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
    first_new = min((_step(r) for r in later if _has_step(r)), default=None)
    if first_new is None:
        return earlier + later
    return [r for r in earlier if _step(r) < first_new] + later


def write_rows(path: Path, rows: list[dict]) -> None:
    """Replace ``path`` with ``rows`` (columns: epoch, step, then the others sorted)."""
    with atomic_file(path, "w") as f:
        f.write(_serialise(rows, _columns(rows), header=True))


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
        self._min_interval, self._last_write, self._cost = min_interval, 0.0, 0.0
        # the file's text so far, kept so that a flush serialises only the new rows
        self._text: list[str] = []
        self._written = 0  # rows of self._rows in self._text
        self._made_for: tuple | None = None  # (columns, first new step) of self._text

    def log_hparams(self, params: dict) -> None:
        self.hparams.update(params)  # the run's config.yaml is the record of its settings

    def save(self, force: bool = False) -> None:
        self._rows.extend(self.metrics)
        self.metrics = []
        if len(self._rows) == self._written:
            return  # nothing new: the file stays as it is (also after a refused resume)
        # unforced flushes take at most ~1% of the time, however long the log grows
        if not force and time.monotonic() - self._last_write < max(
            self._min_interval, 100 * self._cost
        ):
            return
        start = time.monotonic()
        new = self._rows[self._written :]
        first_new = min((_step(r) for r in self._rows if _has_step(r)), default=None)
        columns = self._made_for[0] if self._made_for else ()
        if self._made_for is None or first_new != self._made_for[1] or _new_keys(new, columns):
            kept = merge_rows(self._earlier, self._rows)
            columns = _columns(kept)
            self._text = [_serialise(kept, columns, header=True)]
            self._made_for = (columns, first_new)
        else:
            self._text.append(_serialise(new, columns))
        with atomic_file(self.metrics_file_path, "w") as f:
            f.writelines(self._text)
        Path(self.log_dir, EARLIER_LOG).unlink(missing_ok=True)
        self._written, self._last_write = len(self._rows), time.monotonic()
        self._cost = self._last_write - start


def _has_step(row: dict) -> bool:
    return row.get("step") not in (None, "")


def _step(row: dict) -> float:
    return float(row.get("step") or 0)


def _new_keys(rows: list[dict], columns: tuple) -> bool:
    known = set(columns)
    return any(k not in known for r in rows for k in r)


def _columns(rows: list[dict]) -> tuple:
    keys = set().union(*rows) if rows else set()
    first = ("epoch", "step")
    return tuple(k for k in first if k in keys) + tuple(sorted(keys - set(first)))


def _serialise(rows: list[dict], columns: tuple, header: bool = False) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


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
