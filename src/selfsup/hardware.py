"""What the CPU that runs this code does natively, detected at run time.

Training on CPU stays float32 by default. ``trainer.precision=bf16-mixed`` (CPU autocast to
bfloat16) works everywhere, but only CPUs with bfloat16 arithmetic in hardware (AVX512_BF16,
AMX-BF16) run it faster; elsewhere oneDNN emulates it and a step is slower than in float32
(docs/benchmarks.md has the measurements). It would become the CPU default only on such
CPUs and only once accuracy at equal wall time is shown to hold there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_flags() -> set[str]:
    """The CPU feature flags the kernel reports (``/proc/cpuinfo``; empty off Linux)."""
    if not sys.platform.startswith("linux"):
        return set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_native_bf16() -> bool:
    """Whether the CPU multiplies bfloat16 in hardware (AVX512_BF16 or AMX-BF16)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    if any(getattr(torch.cpu, name, lambda: False)() for name in probes):
        return True
    return bool(_BF16_FLAGS & cpu_flags())


def describe_cpu() -> str:
    """One line for benchmark logs: torch's vector capability and native bfloat16."""
    capability = torch.backends.cpu.get_cpu_capability()
    return f"CPU capability {capability}, native bfloat16: {cpu_native_bf16()}"
