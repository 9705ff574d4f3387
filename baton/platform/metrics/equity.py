"""Equity signals: groups whose drop-off differs from the rest of the district by more than
chance, so a governance meeting starts from the gaps.

The test, stated once: for a rate metric (numerator x of denominator n) and a breakdown,
each group g is compared with the rest of the district (everyone not in g) by a two-sided
two-proportion z-test with the pooled proportion:

    p_g = x_g / n_g,  p_r = (X - x_g) / (N - n_g),  p = X / N
    z = (p_g - p_r) / sqrt(p (1 - p) (1 / n_g + 1 / (N - n_g)))

A group is flagged when |z| >= 1.96 (5% two-sided) and both the group and the rest have at
least MIN_GROUP in the denominator (smaller groups are reported as "too small to test").
With many groups and metrics, about one flag in twenty is expected by chance: a flag opens a
question for the meeting, it does not answer it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_CRITICAL = 1.96
MIN_GROUP = 20


@dataclass(frozen=True)
class Signal:
    group: object
    numerator: int
    denominator: int
    rate: float
    rest_rate: float
    z: float

    @property
    def direction(self) -> str:
        return "higher" if self.rate > self.rest_rate else "lower"


def z_score(x_g: int, n_g: int, x_all: int, n_all: int) -> float | None:
    """The pooled two-proportion z of group g against the rest; None when undefined."""
    n_r = n_all - n_g
    if n_g <= 0 or n_r <= 0:
        return None
    p = x_all / n_all
    if p in (0.0, 1.0):
        return 0.0  # every case the same: no difference to find
    p_g, p_r = x_g / n_g, (x_all - x_g) / n_r
    return (p_g - p_r) / math.sqrt(p * (1 - p) * (1 / n_g + 1 / n_r))


def signals(groups: dict[object, tuple[int, int]]) -> list[Signal]:
    """The flagged groups of one breakdown: ``groups`` maps group -> (numerator,
    denominator) of one rate metric; the district total is their sum."""
    x_all = sum(x for x, _n in groups.values())
    n_all = sum(n for _x, n in groups.values())
    flagged = []
    for group, (x_g, n_g) in groups.items():
        if n_g < MIN_GROUP or n_all - n_g < MIN_GROUP:
            continue
        z = z_score(x_g, n_g, x_all, n_all)
        if z is not None and abs(z) >= Z_CRITICAL:
            rest = (x_all - x_g) / (n_all - n_g)
            flagged.append(Signal(group, x_g, n_g, x_g / n_g, rest, z))
    return sorted(flagged, key=lambda s: -abs(s.z))
