"""Settled message ids, remembered for the de-duplication window."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class RecentIds:
    """One session's settled message ids, each with the number of subscribers its
    publish was delivered to (the answer to a duplicate publish), until its forget time.

    At a high publish rate this is the broker's largest structure: it holds rate ×
    window ids (36 million for 60,000 msg/s and 10 minutes). So an id costs its dict
    slot and one deque slot beside its string, nothing more: forget times are kept
    run-length encoded, as ids are added in forget order and those of one millisecond
    share a time (a tuple and an int per id took most of its memory).

    Ids leave from the front of the order deque, not of the dict: CPython keeps a
    dict's deleted slots until the table is rebuilt, so reading the first key after
    deleting from the front rescans them all, and pruning became quadratic. Figures
    for both: bench/README.md, "What profiling found", 7.

    ``limit`` caps how many ids are remembered (DESIGN.md "One tenant never hurts
    another"): past it, the oldest are forgotten first, before their time, so a
    session publishing faster than limit / window remembers its ids for less than the
    window rather than growing without bound.
    """

    __slots__ = ("_results", "_order", "_times", "_counts", "limit", "forgotten_early", "get")

    def __init__(self, limit: int = 0) -> None:
        self._results: dict[str, int] = {}  # id -> delivered to
        # How many the message was delivered to, or None if its id is not remembered:
        # the dict's own ``get``, asked on every publish, with no call in between.
        self.get: Callable[[str], int | None] = self._results.get
        self._order: deque[str] = deque()  # the same ids, in forget order
        self._times: deque[int] = deque()  # forget times, ascending ...
        self._counts: deque[int] = deque()  # ... and how many ids of _order each one is for
        self.limit = limit  # most ids remembered; 0: no cap
        self.forgotten_early = 0  # ids forgotten before their time, to stay under the limit

    def __len__(self) -> int:
        return len(self._results)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._results

    def add(self, message_id: str, forget_at_ms: int, delivered_to: int) -> None:
        """Remember ``message_id`` until ``forget_at_ms``, or until the forget time of
        the id added before it if that is later: ids leave in the order they came, so
        one is sometimes remembered a little longer, never less."""
        results = self._results
        if message_id in results:  # only when restoring from a store
            results[message_id] = delivered_to
            return
        results[message_id] = delivered_to
        self._order.append(message_id)
        times = self._times
        if times and times[-1] >= forget_at_ms:
            self._counts[-1] += 1
        else:
            times.append(forget_at_ms)
            self._counts.append(1)
        if self.limit and len(results) > self.limit:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        del self._results[self._order.popleft()]
        counts = self._counts
        counts[0] -= 1
        if not counts[0]:
            counts.popleft()
            self._times.popleft()
        self.forgotten_early += 1

    def oldest(self) -> int | None:
        """The earliest forget time, or None when nothing is remembered."""
        return self._times[0] if self._times else None

    def expire(self, now_ms: int) -> None:
        """Forget every id whose time has come."""
        times, counts, order, results = self._times, self._counts, self._order, self._results
        while times and times[0] <= now_ms:
            times.popleft()
            for _ in range(counts.popleft()):
                del results[order.popleft()]

    def clear(self) -> None:
        self._results.clear()
        self._order.clear()
        self._times.clear()
        self._counts.clear()
