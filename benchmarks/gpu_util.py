"""GPU utilisation sampled in the background while a benchmark's side trains."""

from __future__ import annotations

import subprocess
import threading

import numpy as np
import torch


class GpuSampler:
    """GPU utilisation (%) and memory used (MiB), read every 0.5 s while a side trains."""

    def __init__(self) -> None:
        self.util: list[float] = []
        self.memory: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self) -> tuple[float, float] | None:
        try:
            out = subprocess.run(
                [
                    "nvidia-smi",
                    "--query-gpu=utilization.gpu,memory.used",
                    "--format=csv,noheader,nounits",
                ],
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout
            util, memory = out.splitlines()[0].split(",")
            return float(util), float(memory)
        except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
            try:
                return float(torch.cuda.utilization()), float("nan")
            except Exception:  # no NVML either: report no samples rather than fail the run
                return None

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            sample = self._read()
            if sample is not None:
                self.util.append(sample[0])
                self.memory.append(sample[1])

    def __enter__(self) -> GpuSampler:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def mean_util(self) -> float:
        return float(np.mean(self.util)) if self.util else float("nan")
