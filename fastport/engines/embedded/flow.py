"""Flow control of one subscriber: at most ``max_in_flight`` deliveries outstanding.

Like JetStream's MaxAckPending or MQTT's Receive Maximum: a delivery is *in flight*
from the moment it is admitted to its subscriber's window until it is settled (ACKed
or given up). Deliveries past the window wait in the subscriber's queue, in publish
order, and are admitted as settlements make room. A subscriber that reads slowly is
therefore sent no more than it can have outstanding, its door buffers a bounded amount,
and re-sends (due one retry interval after the door accepted a send) are not caused
by the backlog itself.

A door that has no room for a send (its outgoing buffer is full) refuses it: the
delivery stays in flight but *unsent*, uses no attempt and has no deadline, and the
window is *blocked* until the door reports room again (``Engine.room``). Then the
unsent deliveries go first, in order, then the waiting ones. A subscriber that stays
blocked past the server's slow-consumer timeout is disconnected (see ``EmbeddedEngine``).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .states import DeliveryState

if TYPE_CHECKING:
    from .tracking import Delivery


class Window:
    # The two queues are made when first needed and let go once empty: a deque takes
    # its first 64-slot block (~0.5 KB) at once, and most subscribers never fall
    # behind (bench/README.md: ~1.1 KB of every idle connection).
    __slots__ = ("in_flight", "unsent", "waiting", "blocked")

    def __init__(self) -> None:
        # Admitted and not settled: sent (awaiting an ACK or a re-send) or unsent.
        self.in_flight: set[Delivery] = set()
        # In flight, refused by the door for want of room: offered again on room, in order.
        self.unsent: deque[Delivery] | None = None
        # Not admitted yet, in publish order. Settled ones (given up while waiting) are
        # skipped when they come up rather than searched for. None or non-empty.
        self.waiting: deque[Delivery] | None = None
        self.blocked = False

    def admit(self, delivery: Delivery, limit: int) -> bool:
        """True if ``delivery`` may be sent now (it is then in flight); otherwise it
        waits its turn behind the deliveries already waiting."""
        if self.blocked or self.waiting or len(self.in_flight) >= limit:
            if self.waiting is None:
                self.waiting = deque()
            self.waiting.append(delivery)
            return False
        self.in_flight.add(delivery)
        return True

    def settle(self, delivery: Delivery) -> None:
        """``delivery`` is settled: it no longer counts against the window."""
        self.in_flight.discard(delivery)

    def refused(self, delivery: Delivery, oldest: bool) -> None:
        """The door had no room for ``delivery`` (in flight): block until it has.
        ``oldest``: it was the first of the unsent ones, so it stays first."""
        self.blocked = True
        if self.unsent is None:
            self.unsent = deque()
        if oldest:
            self.unsent.appendleft(delivery)
        else:
            self.unsent.append(delivery)

    def next(self, limit: int) -> tuple[Delivery, bool] | None:
        """The next delivery to offer the door, and whether it was unsent (rather than
        newly admitted); None while blocked or when nothing may go."""
        if self.blocked:
            return None
        unsent = self.unsent
        if unsent is not None:
            while unsent:
                delivery = unsent.popleft()
                if delivery in self.in_flight:
                    return delivery, True
            self.unsent = None
        waiting = self.waiting
        if waiting is not None:
            while waiting and len(self.in_flight) < limit:
                delivery = waiting.popleft()
                if delivery.state is not DeliveryState.SETTLED:
                    self.in_flight.add(delivery)
                    if not waiting:
                        self.waiting = None
                    return delivery, False
            if not waiting:
                self.waiting = None
        return None
