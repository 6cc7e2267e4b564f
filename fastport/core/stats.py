"""What the broker counts for monitoring beyond each session's ``Counters``: plain
integers bumped on the hot path, read by whoever exports them (the HTTP door's
``/metrics``) at scrape time.

``Counters`` (counters.py) hold what a session did (published, delivered, acked, given
up) and ``Broker.totals`` sums them; this holds the broker-wide detail next to it: open
connections, how many sends were re-sends or failed in a door, give-ups and dead
letters by reason,
frames the doors could not take, and how long store commits took. Nothing here knows
Prometheus or any wire format: an increment is all a send pays.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

# Upper bounds, in seconds, of the store commit latency buckets (and +Inf after them).
COMMIT_BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(slots=True)
class Stats:
    connections: int = 0  # open now, initialized or not, on either door
    resent: int = 0  # sends that were re-sends (Counters.delivered counts them too)
    delivery_errors: int = 0  # sends a door failed on (Peer.deliver raised): a door's bug, contained
    gave_up: Counter[str] = field(default_factory=Counter)  # by reason: retry_limit, expired, ...
    dead_lettered: Counter[str] = field(default_factory=Counter)  # give-ups published to a dead-letter topic, by reason
    frame_errors: Counter[tuple[str, str]] = field(default_factory=Counter)  # (door, code)
    # Store commits: one count per bucket of COMMIT_BUCKETS, then +Inf; and their sum.
    commit_buckets: list[int] = field(default_factory=lambda: [0] * (len(COMMIT_BUCKETS) + 1))
    commit_seconds: float = 0.0

    def commit_took(self, seconds: float) -> None:
        self.commit_buckets[bisect.bisect_left(COMMIT_BUCKETS, seconds)] += 1
        self.commit_seconds += seconds

    def frame_error(self, door: str, code: str) -> None:
        """A client frame a door could not take (bad JSON, unknown type, bad protobuf)."""
        self.frame_errors[door, code] += 1
