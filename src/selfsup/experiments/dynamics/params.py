"""Sizes of the learning-dynamics experiments: ``full``, ``quick`` (minutes on 2 cores) and
``tiny`` (the test suite)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from selfsup.experiments.experiment import Preset, option

EXPERIMENTS = ("collapse", "exact", "contrastive", "width", "mnist")


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of every experiment; only ``experiments`` is a command-line option."""

    experiments: tuple[str, ...] = option(
        EXPERIMENTS, "which experiments to run", choices=EXPERIMENTS
    )
    collapse_d: int = 64
    collapse_n: int = 4000
    collapse_hs: tuple[int, ...] = (4, 16)
    collapse_lrs: tuple[float, ...] = (0.05, 0.01)
    collapse_t: float = 10.0
    exact_d: int = 64
    exact_n: int = 4000
    exact_hs: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    exact_lrs: tuple[float, ...] = (0.2, 0.1, 0.05, 0.025, 0.0125)
    exact_t: float = 30.0
    exact_t_fix: float = 2.0
    ode_d: int = 30
    contrast_d: int = 40
    contrast_n: int = 20000
    width_d: int = 32
    width_n: int = 256
    width_ms: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
    width_all_ms: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
    width_seeds: int = 3
    width_all_steps: int = 60
    width_frozen_t: float = 40.0
    mnist_n: int = 5000
    mnist_hs: tuple[int, ...] = (2, 8, 32)
    mnist_lrs: tuple[float, ...] = (0.2, 0.1, 0.05, 0.025)
    mnist_t: float = 20.0
    mnist_width_n: int = 256
    mnist_width_ms: tuple[int, ...] = (64, 256, 1024, 4096)
    mnist_width_all_ms: tuple[int, ...] = (64, 256, 1024, 4096)
    mnist_width_seeds: int = 2
    mnist_pool: int = 1


FULL = Sizes()
QUICK = replace(
    FULL,
    exact_lrs=(0.2, 0.1, 0.05, 0.025),
    width_ms=(64, 256, 1024, 4096),
    width_all_ms=(64, 256, 1024, 4096),
    width_seeds=2,
    mnist_n=3000,
    mnist_width_n=128,
    mnist_width_all_ms=(64, 256, 1024),
    mnist_width_seeds=1,
)
TINY = replace(
    FULL,
    collapse_d=16,
    collapse_n=500,
    collapse_hs=(4,),
    collapse_lrs=(0.05,),
    exact_d=16,
    exact_n=500,
    exact_hs=(1, 4),
    exact_lrs=(0.1, 0.05),
    exact_t=4.0,
    ode_d=8,
    contrast_d=12,
    contrast_n=2000,
    width_d=8,
    width_n=32,
    width_ms=(16, 64),
    width_all_ms=(16, 64),
    width_seeds=1,
    width_all_steps=10,
    width_frozen_t=4.0,
    mnist_n=300,
    mnist_hs=(2,),
    mnist_lrs=(0.1, 0.05),
    mnist_t=2.0,
    mnist_width_n=16,
    mnist_width_ms=(16, 64),
    mnist_width_all_ms=(16,),
    mnist_width_seeds=1,
    mnist_pool=4,
)


PRESETS = {
    # three seeds: each claim's verdict applies to a 95 % interval across them
    "full": Preset(
        FULL, "d=64 planted signals, 7 widths x 3 initialisations, 5000 MNIST images", 3
    ),
    "quick": Preset(
        QUICK, "fewer widths, initialisations and learning rates, 3000 MNIST images", 3
    ),
    "tiny": Preset(TINY, "test-suite sizes (seconds)"),
}
