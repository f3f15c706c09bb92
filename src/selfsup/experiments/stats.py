"""Summaries over seeds, the same for every reproduction."""

from __future__ import annotations

import math
from collections.abc import Iterable

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
