"""What the embedded engine keeps for one session: subscriptions, pending messages and
their limits, and the session's timer queues."""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import TYPE_CHECKING

from ...core.connection import Connection, PublishOutcome
from ...core.session import Session
from ...core.topics import TopicIndex
from .recent import RecentIds

if TYPE_CHECKING:
    from .tracking import Delivery, Subscriber, TrackedMessage


class SessionTracker:
    """One session's deliveries and everything that bounds or schedules them.

    The session's settings are copied from the node's ``Session`` (they do not change
    while it lives) and its counters are the node's own object, added to here."""

    def __init__(self, session: Session) -> None:
        self.name = session.name
        self.session = session
        self.counters = session.counters
        self.retry_interval_ms = session.retry_interval_ms
        self.max_retry_limit = session.max_retry_limit
        self.message_expiry_ms = session.message_expiry_ms
        self.expires_at_ms = session.expires_at_ms
        self.limits = session.limits
        self.dropped = False
        self.index: TopicIndex[Subscriber] = TopicIndex()
        self.named: dict[str, Subscriber] = {}  # client id -> subscriber that outlives connections
        self.messages: dict[str, TrackedMessage] = {}  # pending (not yet settled) by message id
        self.pending_bytes = 0  # payload bytes of ``messages``
        # Publish results kept back while the session is congested, with the time each
        # is answered anyway (one delay for all: a FIFO in due order).
        self.held: deque[tuple[int, Connection, PublishOutcome]] = deque()
        # Timer queues. All entries of one queue share one interval, so append order is
        # due order: each queue is a FIFO and the scheduler only looks at its head.
        # The retry queue maps each unsettled, sent delivery to its due time; a delivery
        # leaves it when settled (O(1)), so an ACKed message leaves nothing behind for
        # the garbage collector to walk, and a re-send moves it to the back.
        self.retry_queue: OrderedDict[Delivery, int] = OrderedDict()
        self.expiry_queue: deque[TrackedMessage] = deque()
        # Subscribers whose door refused a send, with the time they are disconnected
        # unless it has room again by then (one timeout for all: a FIFO in due order).
        self.blocked: dict[Subscriber, int] = {}
        self.recent = RecentIds(session.max_remembered_ids)  # settled message ids kept for de-duplication
        # Due time of this session's entry in the scheduler (timers.py), if it has one.
        self.armed_at: int | None = None

    # -- unsettled messages and the limits on them (DESIGN.md "One tenant never hurts another")

    def add_pending(self, message: TrackedMessage) -> None:
        self.messages[message.id] = message
        self.pending_bytes += len(message.payload)

    def remove_pending(self, message_id: str) -> TrackedMessage | None:
        message = self.messages.pop(message_id, None)
        if message is not None:
            self.pending_bytes -= len(message.payload)
        return message

    def full(self, size: int) -> bool:
        """True if one more message of ``size`` payload bytes would take the session
        past a hard limit: it is refused (``overloaded``), never buffered."""
        limits = self.limits
        return len(self.messages) >= limits.max_pending_messages or self.pending_bytes + size > limits.max_pending_bytes

    def congested(self) -> bool:
        """Past a soft limit (half of either hard limit): publish results wait, which
        slows a publisher that waits for them before publishing more."""
        limits = self.limits
        return (
            len(self.messages) > limits.max_pending_messages // 2 or self.pending_bytes > limits.max_pending_bytes // 2
        )

    def next_due(self) -> int | None:
        """Earliest time this session has timer work, or None."""
        due = [self.expires_at_ms] if self.expires_at_ms else []
        if self.retry_queue:
            due.append(next(iter(self.retry_queue.values())))
        if self.expiry_queue:
            due.append(self.expiry_queue[0].expires_ms)
        if self.blocked:
            due.append(next(iter(self.blocked.values())))
        if self.held:
            due.append(self.held[0][0])
        oldest = self.recent.oldest()
        if oldest is not None:
            due.append(oldest)
        return min(due) if due else None

    def clear(self) -> None:
        """The session is gone: let go of everything it held."""
        self.dropped = True
        self.named.clear()
        self.messages.clear()
        self.pending_bytes = 0
        self.held.clear()
        self.retry_queue.clear()
        self.expiry_queue.clear()
        self.blocked.clear()
        self.recent.clear()
