"""The allocator setting that keeps large freed buffers in the heap (selfsup/allocator.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from selfsup.allocator import reuse_freed_memory

_PROBE = textwrap.dedent(
    """
    import ctypes, sys
    from selfsup.allocator import reuse_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    def mmapped_growth():  # bytes of a new 64 MiB buffer (above glibc's default threshold)
        before = libc.mallinfo2().hblkhd  # that were given their own mapping
        buffer = bytearray(64 << 20)
        return libc.mallinfo2().hblkhd - before

    if sys.argv[1] == "tuned":
        with reuse_freed_memory() as tuned:
            inside = mmapped_growth()
        print(tuned, inside, mmapped_growth())
    else:
        print(False, mmapped_growth(), mmapped_growth())
    """
)


def _mmapped_growth(mode: str) -> tuple[str, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    tuned, inside, after = out.stdout.split()
    return tuned, int(inside), int(after)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_large_buffers_come_from_the_heap_once_tuned():
    try:
        _mmapped_growth("default")
    except subprocess.CalledProcessError as e:  # pragma: no cover - non-glibc Linux
        pytest.skip(f"no glibc mallinfo2 here: {e.stderr.strip().splitlines()[-1]}")
    tuned, growth, _ = _mmapped_growth("default")
    assert tuned == "False" and growth >= 64 << 20  # its own mmap
    tuned, inside, after = _mmapped_growth("tuned")
    assert tuned == "True" and inside == 0  # served from the heap
    assert after >= 64 << 20  # and back to its own mapping once the block is left


def test_opt_out_and_bad_threshold(monkeypatch):
    monkeypatch.setenv("SELFSUP_MALLOC_TUNING", "0")
    with reuse_freed_memory() as tuned:
        assert tuned is False
    with pytest.raises(ValueError, match="C int"), reuse_freed_memory(2**31):
        pass


_FAULTS = textwrap.dedent(
    """
    import resource
    import torch
    from selfsup.allocator import reuse_freed_memory
    from selfsup.data.colour import hue

    x, shift = torch.rand(9, 3, 96, 96), torch.rand(9) - 0.5  # one task of a 96 px view
    with reuse_freed_memory() as tuned:
        for _ in range(3):
            hue(x, shift)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(20):
            hue(x, shift)
        print(tuned, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt is Linux-only")
def test_freed_blocks_are_not_handed_back_and_faulted_in_again():
    """With only the mmap threshold raised, glibc's trim threshold stays at 128 KiB, and the
    hue of a 96 px chunk (~40 temporaries of 0.3-1 MB) gave pages back to the OS and faulted
    them in again: ~200-320 page faults a call; 0-25 with the trim threshold raised too
    (0-4 on a quiet machine, 24 once in a clean-clone CI run)."""
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS], capture_output=True, text=True, check=True
    ).stdout.split()
    if out[0] != "True":  # pragma: no cover - non-glibc Linux
        pytest.skip("the allocator setting does not take effect here")
    assert float(out[1]) < 100
