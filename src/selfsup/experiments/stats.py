"""Summaries over seeds, the same for every reproduction: mean and spread, and the 95 %
intervals claims are decided by (Student-t, via ``scipy.stats.t``)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (``ddof=1``; 0 for one value) of the finite values;
    ``(None, None)`` when there are none. Missing (``None``) or non-finite values are left out,
    so one diverged seed does not turn the mean into NaN (the runs themselves keep it)."""
    kept = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not kept:
        return None, None
    std = float(np.std(kept, ddof=1)) if len(kept) > 1 else 0.0
    return float(np.mean(kept)), std


#: how every reproduction's intervals are computed, as results.json and the reports name it
PAIRED_T = "paired Student-t on the per-seed differences"
WELCH_T = "Welch t on the two groups of seeds (no shared seeds to pair)"
ONE_SAMPLE_T = "Student-t on the per-seed values"


@dataclass(frozen=True)
class Estimate:
    """A mean over seeds with its two-sided interval.

    Attributes:
        value: the mean (for a comparison, of A - B).
        interval: ``(low, high)``, or ``None`` with fewer than two values per group.
        n: the number of seeds behind it (pairs when paired; the smaller group when not).
        method: how the interval was computed (:data:`PAIRED_T`, :data:`WELCH_T`,
            :data:`ONE_SAMPLE_T`).
    """

    value: float
    interval: tuple[float, float] | None
    n: int
    method: str


def _finite(values: Mapping[Any, float | None]) -> dict[Any, float]:
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def mean_interval(values: Mapping[Any, float | None], level: float = 0.95) -> Estimate | None:
    """Mean of per-seed values and its Student-t interval: ``mean +- t_{n-1} s / sqrt(n)``.

    ``values`` maps a seed to its value; missing or non-finite values are left out. ``None``
    when no value is left; no interval (``None``) with one value.
    """
    kept = list(_finite(values).values())
    if not kept:
        return None
    n, mean = len(kept), float(np.mean(kept))
    if n < 2:
        return Estimate(mean, None, n, ONE_SAMPLE_T)
    from scipy.stats import t as student_t  # scipy.stats is heavy: only when a claim is decided

    half = float(student_t.ppf(0.5 + level / 2, n - 1) * np.std(kept, ddof=1) / math.sqrt(n))
    return Estimate(mean, (mean - half, mean + half), n, ONE_SAMPLE_T)


def difference_interval(
    a: Mapping[Any, float | None], b: Mapping[Any, float | None], level: float = 0.95
) -> Estimate | None:
    """``mean(A) - mean(B)`` over seeds with its interval.

    Paired by seed when A and B share every seed (the paired Student-t interval of the
    per-seed differences: the seed's data and initialisation cancel out); otherwise Welch's
    unpaired interval, with the Welch-Satterthwaite degrees of freedom. ``None`` when a side
    has no finite value; no interval with fewer than two values on a side.
    """
    a, b = _finite(a), _finite(b)
    if not a or not b:
        return None
    if set(a) == set(b):
        estimate = mean_interval({k: a[k] - b[k] for k in a}, level)
        return (
            None
            if estimate is None
            else Estimate(estimate.value, estimate.interval, estimate.n, PAIRED_T)
        )
    va, vb = np.array(list(a.values())), np.array(list(b.values()))
    diff, n = float(va.mean() - vb.mean()), min(len(va), len(vb))
    if n < 2:
        return Estimate(diff, None, n, WELCH_T)
    qa, qb = va.var(ddof=1) / len(va), vb.var(ddof=1) / len(vb)
    if qa + qb == 0:
        return Estimate(diff, (diff, diff), n, WELCH_T)
    df = (qa + qb) ** 2 / (qa**2 / (len(va) - 1) + qb**2 / (len(vb) - 1))
    from scipy.stats import t as student_t

    half = float(student_t.ppf(0.5 + level / 2, df) * math.sqrt(qa + qb))
    return Estimate(diff, (diff - half, diff + half), n, WELCH_T)
