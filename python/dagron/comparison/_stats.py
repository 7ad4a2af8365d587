"""Order statistics and the Mann-Whitney U rank test, in plain Python.

Samples arrive sorted (the caller sorts each node's durations once); every function
here reads them without copying. The rank test is two-sided: exact (the distribution of
U counted by recurrence, cached per pair of sample sizes) when there are no ties and at
most ``EXACT_LIMIT`` values in all, else the normal approximation with the tie
correction and a continuity correction.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import lru_cache
from itertools import repeat
from typing import Optional

__all__ = ["EXACT_LIMIT", "exact_p_values", "mann_whitney", "median", "quantile", "smallest_p"]

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


@lru_cache(maxsize=256)
def _u_counts(m: int, n: int) -> tuple[int, ...]:
    """How many of the C(m+n, m) orderings of m + n distinct values give each U."""
    # counts[a][b]: the distribution for sizes (a, b), built for b = 0..n as a grows.
    rows = [[1] for _ in range(n + 1)]  # a = 0: U is 0 in one way
    for a in range(1, m + 1):
        row = [[1]]  # b = 0
        for b in range(1, n + 1):
            # The largest value belongs to the first sample (adds b) or to the second.
            left, right = rows[b], row[b - 1]
            size = a * b + 1
            counts = [0] * size
            for u, c in enumerate(left):
                counts[u + b] += c
            for u, c in enumerate(right):
                counts[u] += c
            row.append(counts)
        rows = row
    return tuple(rows[n])


@lru_cache(maxsize=256)
def _exact_tail(m: int, n: int) -> tuple[float, ...]:
    """``tail[u]``: P(U <= u) under the null hypothesis, for sizes m and n."""
    counts = _u_counts(m, n)
    total = math.comb(m + n, m)
    tail, running = [], 0
    for c in counts:
        running += c
        tail.append(running / total)
    return tuple(tail)


@lru_cache(maxsize=64)
def exact_p_values(m: int, n: int) -> tuple[float, ...]:
    """The exact two-sided p-value for each U = 0 .. m*n (no ties)."""
    tail = _exact_tail(m, n)
    return tuple(min(1.0, 2 * tail[min(u, m * n - u)]) for u in range(m * n + 1))


def smallest_p(m: int, n: int) -> float:
    """The smallest two-sided p-value the test can give for sizes m and n."""
    if m == 0 or n == 0:
        return 1.0
    return min(1.0, 2 * _exact_tail(m, n)[0]) if m + n <= EXACT_LIMIT else 0.0


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, Optional[float]]:
    """``(U, p)`` for sorted samples ``a`` and ``b``: U counts the pairs where the value
    from ``b`` is larger (ties count one half), p is two-sided; p is None when either
    sample is empty."""
    m, n = len(a), len(b)
    if m == 0 or n == 0:
        return 0.0, None
    below = sum(map(bisect_left, repeat(a), b))
    ties = len({*a, *b}) != m + n
    if not ties:
        if m + n <= EXACT_LIMIT:
            return float(below), exact_p_values(m, n)[below]
        return float(below), _normal_p(below, a, b, False)
    u = (below + sum(map(bisect_right, repeat(a), b))) / 2
    return u, _normal_p(u, a, b, True)


def _normal_p(u: float, a: Sequence[float], b: Sequence[float], ties: bool) -> float:
    m, n = len(a), len(b)
    total = m + n
    correction = 0.0
    if ties:
        merged = sorted([*a, *b])
        run = 1
        for x, y in zip(merged, merged[1:]):
            if x == y:
                run += 1
            else:
                correction += run**3 - run
                run = 1
        correction += run**3 - run
    variance = m * n / 12 * ((total + 1) - correction / (total * (total - 1)))
    if variance <= 0:
        return 1.0  # every value equal: no evidence of a change
    z = max(0.0, abs(u - m * n / 2) - 0.5) / math.sqrt(variance)
    return min(1.0, math.erfc(z / math.sqrt(2)))
