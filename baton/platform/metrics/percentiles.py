"""Percentiles from fixed-bucket histograms: exact to the bucket, never interpolated."""

from __future__ import annotations

import math


def percentile(histogram: dict[int, int], pct: float) -> int | None:
    """The upper edge of the bucket holding the value ranked ``ceil(pct/100 * n)`` (nearest
    rank); -1 stands for "longer than the last edge". None for an empty histogram."""
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, math.ceil(pct / 100 * total))
    seen = 0
    for bucket in sorted(histogram, key=lambda b: math.inf if b == -1 else b):
        seen += histogram[bucket]
        if seen >= rank:
            return bucket
    return None  # unreachable: the ranks add up to the total
