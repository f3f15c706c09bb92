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
    """The measured regime: ``d <= max_d`` and ``n >= min_n`` (and ``n >= min_n_per_d * d``)."""

    max_d: int
    min_n: int
    min_n_per_d: float
    measured: str  # the bias found inside, in words and numbers

    def contains(self, n: int, d: int) -> bool:
        return d <= self.max_d and n >= self.min_n and n >= self.min_n_per_d * d

    def describe(self) -> str:
        per_d = f", n >= {self.min_n_per_d:g} d" if self.min_n_per_d else ""
        return f"d <= {self.max_d}, n >= {self.min_n}{per_d}"


PLUGIN_ENTROPY = Regime(
    max_d=20,
    min_n=250,
    min_n_per_d=0.0,
    measured="Gaussian data: plain estimate within -0.6 nats, Ledoit-Wolf within +1.5 nats",
)
LOGDET_ENTROPY = Regime(
    max_d=20,
    min_n=250,
    min_n_per_d=0.0,
    measured="Gaussian data: within -0.1 nats of 1/2 log det(I + beta Sigma)",
)
KNN_ENTROPY = Regime(
    max_d=5,
    min_n=250,
    min_n_per_d=0.0,
    measured="Gaussian data: within +0.3 nats (d <= 5); +0.5 to +5.8 nats at d = 10 - 20",
)
KSG_MUTUAL_INFORMATION = Regime(
    max_d=2,
    min_n=250,
    min_n_per_d=0.0,
    measured="correlated Gaussian pairs, dx = dy = 1: within 0.04 nats",
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
