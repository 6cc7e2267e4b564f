"""When each session's timer work is due, and one task that runs it.

All deliveries of a session share one retry interval, so a session's retry queue is in
due order by construction (a FIFO), and so is its expiry queue (``sessions.py``). One
heap holds each session's earliest due time, and one task sleeps until the heap's
head. Nothing per message is scheduled with the event loop.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

from ...core.clock import Clock
from .sessions import SessionTracker

log = logging.getLogger("fastport.broker")


class Scheduler:
    def __init__(self, clock: Clock, run: Callable[[SessionTracker, int], None]) -> None:
        self._clock = clock
        self._run = run  # a session's work due by the time given
        self._heap: list[tuple[int, int, SessionTracker]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()

    def arm(self, tracker: SessionTracker) -> None:
        """Make sure the scheduler wakes for ``tracker``'s earliest due work."""
        due = tracker.next_due()
        if due is not None:
            self.wake_at(tracker, due)

    def wake_at(self, tracker: SessionTracker, due: int) -> None:
        """Make sure the scheduler wakes for ``tracker`` by ``due``. O(1) when it
        already will, which is the common case on the publish path."""
        armed = tracker.armed_at
        if armed is not None and armed <= due:
            return
        tracker.armed_at = due
        heapq.heappush(self._heap, (due, next(self._seq), tracker))
        if self._heap[0][2] is tracker:
            self._wake.set()

    async def loop(self) -> None:
        while True:
            self._wake.clear()
            await self._clock.wait(self._wake, self._heap[0][0] if self._heap else None)
            try:
                self.run_due()
            except Exception:
                log.exception("timer run failed")

    def run_due(self) -> None:
        """Do all timer work due by now."""
        now = self._clock.now_ms()
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, tracker = heapq.heappop(heap)
            if tracker.armed_at != due or tracker.dropped:
                continue  # superseded by an earlier entry, or the session is gone
            # While its work runs, what it queues is due at ``now`` or later: looked at by
            # the arm() after the run, not pushed to the heap meanwhile.
            tracker.armed_at = now
            try:
                self._run(tracker, now)
            except Exception:  # a bug: the other sessions' work, and this one's next run, go on
                log.exception("timer work of session %r failed", tracker.name, extra={"session": tracker.name})
            finally:
                tracker.armed_at = None
            if not tracker.dropped:
                self.arm(tracker)
