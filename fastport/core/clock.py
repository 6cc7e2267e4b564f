"""Time for the broker, injectable so retry and expiry are testable without sleeping.

Times are integer milliseconds since the Unix epoch: deadlines are stored as absolute
times so that, after a restart, retries and expiry continue where they were.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Current time in ms since the epoch."""

    async def wait(self, wake: asyncio.Event, deadline_ms: int | None) -> None:
        """Return when ``wake`` is set or the clock reaches ``deadline_ms``."""


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def wait(self, wake: asyncio.Event, deadline_ms: int | None) -> None:
        if deadline_ms is None:
            await wake.wait()
            return
        delay = (deadline_ms - self.now_ms()) / 1000
        if delay <= 0:
            return
        try:
            await asyncio.wait_for(wake.wait(), delay)
        except TimeoutError:
            pass


class ManualClock:
    """A clock that moves only when told to: ``advance(ms)`` wakes due waiters."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: int) -> None:
        self._now += ms
        still: list[tuple[int, asyncio.Future[None]]] = []
        for deadline, fut in self._waiters:
            if fut.done():
                continue
            if deadline <= self._now:
                fut.set_result(None)
            else:
                still.append((deadline, fut))
        self._waiters = still

    async def wait(self, wake: asyncio.Event, deadline_ms: int | None) -> None:
        if deadline_ms is not None and deadline_ms <= self._now:
            return
        wake_task = asyncio.ensure_future(wake.wait())
        waiters: set[asyncio.Future[Any]] = {wake_task}
        if deadline_ms is not None:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((deadline_ms, fut))
            waiters.add(fut)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
