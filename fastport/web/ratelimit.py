"""Fixed-window request limiting per client address, as the old server's
express-rate-limit did: ``limit`` requests per ``window_s`` on ``/api/*``, then 429,
with the ``RateLimit-Policy`` (``100;w=900``), ``RateLimit-Limit``,
``RateLimit-Remaining`` and ``RateLimit-Reset`` headers (IETF draft "RateLimit header
fields", draft 6 as express-rate-limit sends it; seconds) on every counted response.

No timers: expired windows are swept while counting, at most once per window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 15 * 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # seconds until the window ends
    window_s: int

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Policy": f"{self.limit};w={self.window_s}",
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset_s)
        return headers


class RateLimiter:
    def __init__(self, limit: int, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._windows: dict[str, list[float]] = {}  # address -> [window end, count]
        self._next_sweep = clock() + window_s

    def hit(self, key: str) -> Decision:
        """Count one request from ``key`` and say whether it may go on."""
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        entry = self._windows.get(key)
        if entry is None or entry[0] <= now:
            entry = self._windows[key] = [now + self.window_s, 0]
        entry[1] += 1
        count = int(entry[1])
        reset = max(0, math.ceil(round(entry[0] - now, 3)))
        return Decision(count <= self.limit, self.limit, max(0, self.limit - count), reset, round(self.window_s))

    def _sweep(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        self._next_sweep = now + self.window_s
