"""What the embedded engine tracks: messages, their deliveries, and subscribers.

A Subscriber is what deliveries are tracked against. Without a client id it lives and
dies with its connection; with one (and persistent subscriptions) it outlives
connections and collects deliveries while no connection is attached.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ...core.connection import Connection
from ...core.delivery import NO_ATTRIBUTES, Hash, Message
from .flow import Window
from .states import DeliveryState

if TYPE_CHECKING:
    from .sessions import SessionTracker


class TrackedMessage(Message):
    """A message while any of its deliveries is unsettled: the core's plain values
    plus what the engine tracks, in one object (doors are handed this one, so a
    fan-out allocates nothing per delivery for the message)."""

    __slots__ = ("tracker", "publisher", "deliveries", "remaining", "committed", "durable", "waiters")

    def __init__(
        self,
        *,
        id: str,
        topic: str,
        payload: bytes,
        hash: Hash,
        timestamp_ms: int,
        json: bool,
        tracker: SessionTracker,
        publisher: Connection | None,
        created_ms: int,
        expires_ms: int,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> None:
        # Every field set here rather than through Message.__init__: one call per publish.
        self.id = id
        self.topic = topic
        self.payload = payload
        self.hash = hash
        self.timestamp_ms = timestamp_ms
        self.json = json
        self.attributes = attributes
        self.session = tracker.name
        self.created_ms = created_ms
        self.expires_ms = expires_ms
        self.tracker = tracker
        self.publisher = publisher
        self.deliveries: list[Delivery] = []
        self.remaining = 0
        self.committed = False
        # Whether the store keeps its row (and must be told when it is forgotten): not
        # so for one only connection-bound subscribers were given (only its id is kept).
        self.durable = True
        # Duplicate publishes that arrived while the store was still writing this one
        # (a tuple: almost always empty, and then nothing is allocated for it).
        self.waiters: tuple[tuple[Connection, object], ...] = ()


class Delivery:
    """One subscriber's copy of one message: sent, re-sent, then settled or given up."""

    __slots__ = ("message", "subscriber", "attempts", "due_ms", "state")

    def __init__(self, message: TrackedMessage, subscriber: Subscriber) -> None:
        # None once settled (see EmbeddedEngine._settle): nothing of an ACKed message
        # outlives it through its deliveries.
        self.message: TrackedMessage | None = message
        self.subscriber = subscriber
        self.attempts = 0  # sends so far
        self.due_ms = 0  # while SCHEDULED: when its re-send (or give-up) is due
        self.state = DeliveryState.WAITING


_ids = itertools.count(1)


class Subscriber:
    __slots__ = ("id", "named", "tracker", "connection", "pending", "patterns", "window")

    def __init__(self, tracker: SessionTracker, client_id: str | None) -> None:
        self.id = client_id or f"~{next(_ids)}"
        self.named = client_id is not None
        self.tracker = tracker
        self.connection: Connection | None = None
        # Unsettled deliveries by message id; insertion order is publish order.
        self.pending: dict[str, Delivery] = {}
        # pattern -> persistent
        self.patterns: dict[str, bool] = {}
        self.window = Window()  # flow control of its connection (see flow.py)

    def __repr__(self) -> str:
        return f"Subscriber({self.tracker.name!r}, {self.id!r})"
