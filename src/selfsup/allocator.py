"""Keep large freed CPU buffers in the process heap instead of handing them back to the OS.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB by default)
with a fresh ``mmap`` and returns it with ``munmap`` when freed. A training step on CPU frees
and re-allocates the same large activations every step (the first ConvNet block at batch
2 x 256 on MNIST holds 512 x 32 x 28 x 28 floats = 51 MB), so each step pays the kernel to
zero-fill those pages again. Raising the threshold lets ``malloc`` reuse them from its heap.
``benchmarks/vs_lightly.py`` measures what it is worth; docs/benchmarks.md has the numbers.

Peak memory is unchanged (the buffers exist at the peak either way); only the page faults go.
Set ``SELFSUP_MALLOC_TUNING=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)
DEFAULT_THRESHOLD = 1 << 30


def reuse_freed_memory(threshold_bytes: int = DEFAULT_THRESHOLD) -> bool:
    """Raise glibc's mmap threshold to ``threshold_bytes`` for this process.

    Returns:
        Whether the setting took effect: ``False`` off Linux/glibc, when disabled by
        ``SELFSUP_MALLOC_TUNING=0``, or when glibc refuses the value.
    """
    if not 0 < threshold_bytes < 2**31:
        raise ValueError(
            f"threshold_bytes must be in (0, 2**31) (mallopt takes a C int); got {threshold_bytes}"
        )
    if os.environ.get("SELFSUP_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(M_MMAP_THRESHOLD, threshold_bytes))
