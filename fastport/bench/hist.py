"""A latency histogram with about 1% resolution and bounded size.

Values are microseconds; bucket ``i`` holds values whose ``round(100 * ln(v))`` is i,
so merging across processes is adding lists, and a quantile is read back as the
bucket's representative value (error ≤ 0.5%).
"""

from __future__ import annotations

import math

_SCALE = 100.0
_BUCKETS = int(_SCALE * math.log(3600e6)) + 2  # up to an hour


class Histogram:
    __slots__ = ("counts", "count", "max")

    def __init__(self) -> None:
        self.counts = [0] * _BUCKETS
        self.count = 0
        self.max = 0

    def add(self, us: int) -> None:
        if us < 1:
            us = 1
        i = int(_SCALE * math.log(us) + 0.5)
        self.counts[i if i < _BUCKETS else _BUCKETS - 1] += 1
        self.count += 1
        if us > self.max:
            self.max = us

    def merge(self, counts: list[int], count: int, maximum: int) -> None:
        for i, c in enumerate(counts):
            if c:
                self.counts[i] += c
        self.count += count
        self.max = max(self.max, maximum)

    def state(self) -> tuple[list[int], int, int]:
        return self.counts, self.count, self.max

    def quantile(self, q: float) -> float | None:
        if not self.count:
            return None
        rank = q * self.count
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if c and seen >= rank:
                return min(math.exp(i / _SCALE), float(self.max))
        return float(self.max)

    def summary(self) -> dict[str, float | int | None]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 1)

        return {
            "count": self.count,
            "p50": r(self.quantile(0.5)),
            "p90": r(self.quantile(0.9)),
            "p99": r(self.quantile(0.99)),
            "max": self.max if self.count else None,
        }
