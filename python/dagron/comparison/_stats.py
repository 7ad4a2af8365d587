"""Order statistics of sorted samples, and the Mann-Whitney U test.

The per-node statistics of a comparison run in Rust (``dagron._core._node_stats``,
``rust/compare.rs``), the test included; this module gives the same test for one pair
of samples (the sides' wall times) and the few order statistics computed here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional

from dagron import _core

__all__ = ["EXACT_LIMIT", "mann_whitney", "median", "quantile", "smallest_p"]

# Up to this many values in all (and without ties), the test's p-value is exact.
EXACT_LIMIT = 50


def median(values: Sequence[float]) -> float:
    """The median of sorted ``values`` (the mean of the middle two for an even count)."""
    n = len(values)
    half = n >> 1
    return values[half] if n & 1 else (values[half - 1] + values[half]) / 2


def quantile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted ``values``, interpolated linearly between ranks."""
    position = (len(values) - 1) * q
    low = int(position)
    if low + 1 >= len(values):
        return values[-1]
    return values[low] + (values[low + 1] - values[low]) * (position - low)


def smallest_p(m: int, n: int) -> float:
    """The smallest two-sided p-value the test can give for sizes m and n: both tails'
    most extreme U (0 or m*n) happen in one ordering each of C(m + n, m)."""
    if m == 0 or n == 0:
        return 1.0
    if m + n > EXACT_LIMIT:
        return 0.0
    return min(1.0, 2 / math.comb(m + n, m))


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, Optional[float]]:
    """``(U, p)``: U counts the pairs where the value from ``b`` is larger (ties count
    one half), p is two-sided (None when either sample is empty)."""
    return _core._mann_whitney(list(a), list(b))
