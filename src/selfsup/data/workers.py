"""Run a view's chunks, or whole views, on CPU threads, each with one intra-op thread.

A colour view is ~50 small elementwise passes per chunk. Under torch's own intra-op
parallelism every pass is an OpenMP parallel region that ends in a barrier, and on a
machine shared with other processes a barrier waits for a descheduled thread, so on a
loaded machine 2 intra-op threads can make the pipeline several times *slower* than 1.
Here each of ``torch.get_num_threads()`` Python threads renders whole
chunks with single-threaded ops (torch releases the GIL inside its kernels), so nothing
waits for anything but the last chunk. ``MultiView`` hands these threads whole views, one per
thread, when the views share the threads out evenly; a view rendered on a worker thread then
runs its own chunks in order on that thread (a worker has one torch thread, so
``run_tasks`` there does not reach for the pool again).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import torch

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _single_threaded() -> None:
    # ATen sets a new thread's OpenMP thread count on its first parallel op, from a
    # process-wide value: run one such op before lowering this thread's count to 1, and
    # restore the process-wide value from the calling thread afterwards (see ``_workers``)
    torch.ones(1 << 16).sum()
    torch.set_num_threads(1)


def _workers() -> ThreadPoolExecutor | None:
    """The shared pool, sized to the caller's torch thread count; ``None`` for one thread."""
    global _pool, _pool_size
    size = torch.get_num_threads()
    if size <= 1:
        return None
    with _lock:
        if _pool is None or _pool_size != size:
            if _pool is not None:
                _pool.shutdown(wait=True)
            _pool = ThreadPoolExecutor(size, "selfsup-views", initializer=_single_threaded)
            _pool_size = size
            # start every worker now (each runs its initializer once), then put back the
            # process-wide count the initializers lowered
            barrier = threading.Barrier(size)
            list(_pool.map(lambda _: barrier.wait(), range(size)))
            torch.set_num_threads(size)
    return _pool


def _forget_pool() -> None:
    # a forked child (DataLoader worker, fork-started process) inherits the pool object but
    # not its threads: tasks submitted to it would wait forever
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def run_tasks(fn: Callable[[object], None], tasks: Iterable[object], parallel: bool = True) -> None:
    """``fn(task)`` for every task: on the worker threads when ``parallel`` and torch uses more
    than one thread, else in order on the calling thread. Exceptions propagate."""
    tasks = list(tasks)
    pool = _workers() if parallel and len(tasks) > 1 else None
    if pool is None:
        for task in tasks:
            fn(task)
        return
    # grad and inference mode are thread-local: the worker threads run in the caller's modes
    # (else tensors made under the caller's inference_mode cannot be updated in place there)
    modes = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())

    def in_callers_modes(task: object) -> None:
        with torch.set_grad_enabled(modes[0]), torch.inference_mode(modes[1]):
            fn(task)

    for future in [pool.submit(in_callers_modes, task) for task in tasks]:
        future.result()
