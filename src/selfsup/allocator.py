"""Keep large freed CPU buffers in the process heap while training, instead of handing them
back to the OS.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB by default)
with a fresh ``mmap`` and returns it with ``munmap`` when freed. A training step on CPU frees
and re-allocates the same large activations every step (the first ConvNet block at batch
2 x 256 on MNIST holds 512 x 32 x 28 x 28 floats = 51 MB), so each step pays the kernel to
zero-fill those pages again. Raising the threshold lets ``malloc`` reuse them from its heap.
``selfsup train`` applies it when it trains on the CPU (on a GPU the activations are device
memory); docs/benchmarks.md has what it is worth.

The setting only holds inside ``reuse_freed_memory()``: on exit the threshold goes back to
32 MiB and the free heap is returned to the OS (``malloc_trim``). Left on for the final
evaluation, differently sized large blocks (kNN similarity blocks, the linear probe's
buffers) fragmented the heap and a MNIST run peaked at 2.8 GB RSS instead of 1.7 GB.
Blocks above 256 MiB keep their own mappings throughout. Set ``SELFSUP_MALLOC_TUNING=0`` to
leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from selfsup.errors import InputError

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers (malloc.h)
M_MMAP_THRESHOLD = -3
TRAINING_THRESHOLD = 256 << 20
GLIBC_MAX_DEFAULT_THRESHOLD = 32 << 20  # where glibc's own dynamic threshold tops out


def _libc() -> ctypes.CDLL | None:
    if os.environ.get("SELFSUP_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return None
    return libc


@contextmanager
def reuse_freed_memory(threshold_bytes: int = TRAINING_THRESHOLD) -> Iterator[bool]:
    """Inside the block, glibc serves blocks up to ``threshold_bytes`` from its heap.

    Yields:
        Whether the setting took effect: ``False`` off Linux/glibc, when disabled by
        ``SELFSUP_MALLOC_TUNING=0``, or when glibc refuses the value.
    """
    if not 0 < threshold_bytes < 2**31:
        raise InputError(
            f"threshold_bytes must be in (0, 2**31) (mallopt takes a C int); got {threshold_bytes}"
        )
    libc = _libc()
    tuned = bool(libc and libc.mallopt(M_MMAP_THRESHOLD, threshold_bytes))
    if tuned:
        # Setting a threshold switches off glibc's dynamic thresholds, and the trim threshold
        # would stay at 128 KiB: every free at the top of the heap handed its pages back and
        # the next allocation faulted them in again (in the view pipeline, with only the mmap
        # threshold raised, ~8 times the page faults of glibc's default). Keep twice the mmap
        # threshold, as glibc's own dynamic rule does.
        libc.mallopt(M_TRIM_THRESHOLD, min(2 * threshold_bytes, 2**31 - 1))
    try:
        yield tuned
    finally:
        if tuned:
            libc.mallopt(M_MMAP_THRESHOLD, GLIBC_MAX_DEFAULT_THRESHOLD)
            libc.mallopt(M_TRIM_THRESHOLD, 2 * GLIBC_MAX_DEFAULT_THRESHOLD)
            libc.malloc_trim(0)
