"""Running totals of what a session (and the whole broker) has done, as plain integers.

The core only adds to them, one session's counters per event; whoever wants rates or
metrics (the admin portal's sampler, a metrics exporter) reads them on its own
schedule and takes differences, and the broker's totals are summed when asked for
(``Broker.totals``). So the publish path pays one integer add, never a clock read or
a callback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Counters:
    """Totals since start-up (or since the session was created in this process)."""

    published: int = 0  # publishes stored and fanned out (duplicates and refusals not counted)
    delivered: int = 0  # messages handed to a subscriber's connection, re-sends included
    acked: int = 0  # deliveries settled by their subscriber's ACK
    given_up: int = 0  # deliveries dropped: retry limit, expiry, subscriber gone

    def copy(self) -> Counters:
        return Counters(self.published, self.delivered, self.acked, self.given_up)

    def add(self, other: Counters) -> None:
        self.published += other.published
        self.delivered += other.delivered
        self.acked += other.acked
        self.given_up += other.given_up
