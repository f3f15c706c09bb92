"""The sweep's Optuna study: storage, sharing between workers, trials of dead workers.

Workers started with the same ``--storage``, ``--study`` and ``--out`` share one study: each
takes its next trial with Optuna's ``ask`` (one row inserted in the database, numbered by the
database: no trial is run twice) and reports it with ``tell``.

SQLite (the default, a file in ``OUT``) serialises writers: every connection waits up to
:data:`SQLITE_TIMEOUT_S` for the file's lock instead of failing, and creating the tables or
the study, which two workers may try at the same moment, is retried.

A worker that dies mid-trial (SIGKILL, power loss) leaves its trial ``RUNNING``. Two things
mark it ``FAIL`` so the study goes on:

* the worker holds an exclusive ``flock`` on ``OUT/trial-NNN/.sweep-worker.lock`` while the
  trial runs; the kernel drops it when the process dies, so the next worker that starts (on any
  machine that shares the folder) finds the lock free and fails the trial at once;
* Optuna's heartbeat (a thread records one every :data:`HEARTBEAT_S`): a trial whose
  heartbeat is older than :data:`GRACE_S` is failed by ``optuna.storages.fail_stale_trials``
  (workers that share the database but not the folder).
"""

from __future__ import annotations

import fcntl
import os
import random
import threading
import time
import warnings
from pathlib import Path

from selfsup.errors import SelfsupError

SQLITE_TIMEOUT_S = 600
HEARTBEAT_S = 20
GRACE_S = 120
WORKER_LOCK = ".sweep-worker.lock"
#: the user attribute that says a trial's worker holds its lock
LOCKED = "worker_lock"


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"


def open_study(url: str, name: str, direction: str = "maximize", sampler=None):
    """Create or load study ``name`` in the database at ``url`` (retried on the races of
    several workers starting at once)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # ask / tell with a heartbeat is how selfsup runs trials (Heartbeat below beats)
    warnings.filterwarnings("ignore", message="Heartbeat of storage", category=UserWarning)
    # the heartbeat and fail_stale_trials are the features selfsup chose; Optuna flags them
    # as experimental on every call, which tells a user of `selfsup sweep` nothing
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    engine = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}} if url.startswith("sqlite") else {}
    last: Exception | None = None
    for attempt in range(12):
        try:
            storage = optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S
            )
            study = optuna.create_study(
                storage=storage,
                study_name=name,
                direction=direction,
                sampler=sampler,
                load_if_exists=True,
            )
        except (ImportError, ModuleNotFoundError) as err:
            raise SelfsupError(
                f"storage {mask(url)}: its database driver is missing ({err})"
            ) from None
        except ValueError as err:
            raise SelfsupError(f"storage {mask(url)}: {str(err).splitlines()[0]}") from None
        except Exception as err:  # table creation or study insert raced another worker
            last = err
            time.sleep(0.2 + random.random() * (0.5 + attempt))
            continue
        if study.direction.name.lower() != direction:
            raise SelfsupError(
                f"study '{name}' in {mask(url)} was made to {study.direction.name.lower()}, "
                f"not {direction}: use another --study or the same objective"
            )
        return study
    first = str(last).splitlines()[0] if last else "?"
    raise SelfsupError(f"cannot open study '{name}' in {mask(url)} ({first})")


def mask(url: str) -> str:
    """The URL without its password (for messages and sweep.json)."""
    head, at, tail = url.rpartition("@")
    if not at or "://" not in head:
        return url
    scheme, _, credentials = head.partition("://")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{tail}"


class TrialLock:
    """The worker's exclusive lock on a trial's folder while it runs the trial."""

    def __init__(self, trial_dir: Path) -> None:
        self.path = trial_dir / WORKER_LOCK
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise SelfsupError(f"{self.path.parent} is in use by another sweep worker") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_is_free(path: Path) -> bool:
    """Whether nobody holds the ``flock`` on ``path`` (checked without keeping it)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False  # no file: the trial never reached its lock; the heartbeat decides
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def fail_dead_trials(study) -> list[int]:
    """Mark ``FAIL`` every running trial whose worker is gone (its lock free, or its heartbeat
    stale); returns their numbers."""
    import optuna
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        lock = trial.user_attrs.get(LOCKED)
        if lock and lock_is_free(Path(lock)):
            try:
                study._storage.set_trial_user_attr(trial._trial_id, "error", "its worker stopped")
                if study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL):
                    failed.append(trial.number)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # its worker told the study after all, between our read and our write
    before = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    optuna.storages.fail_stale_trials(study)
    after = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,))}
    return sorted(set(failed) | (after - before))


class Heartbeat:
    """Records the trial's heartbeat every :data:`HEARTBEAT_S` in a daemon thread."""

    def __init__(self, study, trial) -> None:
        self.storage, self.trial_id = study._storage, trial._trial_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> Heartbeat:
        self.storage.record_heartbeat(self.trial_id)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception:  # a busy database: the next beat tries again
                pass
