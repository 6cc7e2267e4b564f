"""Lines a client can cause in floods, let through at most once an interval per session."""

from __future__ import annotations


class QuietLog:
    """Lets one line through per interval and counts those it holds back, so that the
    next line let through can say how many were not logged.

    A client can make its session produce some lines as fast as it sends (refused
    publishes: an overloaded session refuses many) or in bursts (a subscriber that leaves
    with thousands of deliveries pending has each one given up). Such lines must flood
    neither the log nor the session's ``sys/logs`` readers; the counters and metrics
    still count every event."""

    __slots__ = ("interval_ms", "_quiet_until_ms", "_held_back")

    def __init__(self, interval_ms: int = 1000) -> None:
        self.interval_ms = interval_ms
        self._quiet_until_ms = 0
        self._held_back = 0

    def admit(self, now_ms: int) -> int | None:
        """``None`` when this line is to be held back; otherwise the number of lines
        held back since the last one let through."""
        if now_ms < self._quiet_until_ms:
            self._held_back += 1
            return None
        held, self._held_back = self._held_back, 0
        self._quiet_until_ms = now_ms + self.interval_ms
        return held
