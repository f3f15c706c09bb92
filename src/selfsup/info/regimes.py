"""Where each estimator's bias was measured, and a warning for calls outside that regime.

Numbers come from ``python benchmarks/info_bias.py`` and ``python benchmarks/info_regimes.py``
(tables in docs/info.md). Outside its regime an estimator still returns a value; it emits an
:class:`EstimatorRegimeWarning` that says what was measured, so nobody reads a +5 nat kNN bias
at d = 20 as information. Silence it with
``warnings.simplefilter("ignore", selfsup.info.EstimatorRegimeWarning)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass


class EstimatorRegimeWarning(UserWarning):
    """A call outside the sample-size / dimension regime where the estimator's bias was
    measured (see docs/info.md)."""


@dataclass(frozen=True)
class Regime:
    """Where the bias was measured small: ``d <= max_d``, ``n >= min_n``, ``n >= c * d^2``."""

    max_d: int
    min_n: int
    min_n_per_d2: float
    measured: str  # the bias found inside and just outside, with numbers

    def contains(self, n: int, d: int) -> bool:
        return d <= self.max_d and n >= self.min_n and n >= self.min_n_per_d2 * d * d

    def describe(self) -> str:
        per_d2 = f", n >= {self.min_n_per_d2:g} d^2" if self.min_n_per_d2 else ""
        return f"d <= {self.max_d}, n >= {self.min_n}{per_d2}"


# Gaussian data, covariance eigenvalues log-spaced on [0.1, 10], 3 seeds, N = 250 .. 16000
PLUGIN_ENTROPY = Regime(
    max_d=100,
    min_n=250,
    min_n_per_d2=1.0,
    measured="biased low by about d^2 / (4 n): within -0.25 nats there, -0.58 at d = 20, "
    "n = 250; -2.9 at d = 50, n = 250; -12 at d = 100, n = 250",
)
LEDOIT_WOLF_ENTROPY = Regime(
    max_d=100,
    min_n=250,
    min_n_per_d2=10.0,
    measured="biased high: within +0.28 nats there, +0.47 at d = 20, n = 1000; +2.3 at d = 50, "
    "n = 1000; +7.8 at d = 100, n = 1000 (grows with the spread of the spectrum)",
)
SHRUNK_ENTROPY = Regime(
    max_d=0,
    min_n=0,
    min_n_per_d2=0.0,
    measured="a fixed shrinkage weight was not measured; it is biased high like Ledoit-Wolf",
)
LOGDET_ENTROPY = Regime(
    max_d=100,
    min_n=250,
    min_n_per_d2=0.4,
    measured="against 1/2 log det(I + beta Sigma): within -0.25 nats there, -0.73 at d = 50, "
    "n = 250; -2.7 at d = 100, n = 250",
)
KNN_ENTROPY = Regime(
    max_d=5,
    min_n=250,
    min_n_per_d2=0.0,
    measured="within +0.3 nats there; biased high by +0.8 to +1.8 nats at d = 10, +3.9 to +5.8 "
    "at d = 20, +17 to +22 at d = 50 (n = 4000 .. 250)",
)
KSG_MUTUAL_INFORMATION = Regime(
    max_d=2,
    min_n=250,
    min_n_per_d2=0.0,
    measured="correlated Gaussian pairs dx = dy <= 2: within 0.15 nats there; biased low by "
    "0.15 - 2.1 nats at dx = dy = 5 and 0.7 - 6.2 at 10 (the larger I, the larger)",
)


def warn_outside(regime: Regime, fn: str, n: int, d: int, stacklevel: int = 3) -> None:
    """Warn (once per distinct message) when ``(n, d)`` is outside ``regime``."""
    if regime.contains(n, d):
        return
    warnings.warn(
        f"{fn}: n={n}, d={d} is outside the regime where its bias was measured "
        f"({regime.describe()}: {regime.measured}); read the value with care, "
        "see docs/info.md",
        EstimatorRegimeWarning,
        stacklevel=stacklevel,
    )
