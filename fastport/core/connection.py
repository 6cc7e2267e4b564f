"""Connections (one per client stream or socket) and subscribers (who deliveries go to).

A door creates a Connection for each client and gives it a Peer: the only way the core
talks back. Peer methods never block: a door queues what it is given and writes it
out, coalescing what is ready in one event-loop turn.

A Subscriber is what deliveries are tracked against. Without a client id it lives and
dies with its connection; with one (and persistent subscriptions) it outlives
connections and collects deliveries while no connection is attached.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .flow import Window

if TYPE_CHECKING:
    from .delivery import Delivery, Message
    from .errors import BrokerError
    from .session import Session


@dataclass(slots=True)
class PublishOutcome:
    """The answer to one publish. ``error`` is set when it failed.

    Not frozen: one is made per publish, and a frozen dataclass's ``__init__`` pays an
    ``object.__setattr__`` call per field. Doors only read it."""

    ref: object
    message_id: str
    delivered_to: int = 0
    duplicate: bool = False
    error: BrokerError | None = None


class Peer(Protocol):
    """How the core reaches one connected client; implemented by each door."""

    def deliver(self, message: Message, retry: int) -> bool:
        """Send ``message`` to the client; ``retry`` is 0 first, then 1, 2, ...

        False when the door could not take it (a client that reads too slowly has a
        full buffer): the refused send does not count against the retry limit, and
        nothing more is offered to this connection until the door calls
        ``Broker.room`` for it, which it must do once it has room again."""

    def publish_result(self, outcome: PublishOutcome) -> None:
        """Answer a publish made on this connection."""

    def ack_received(self, message: Message, remaining: int) -> None:
        """A subscriber ACKed a message this connection published."""

    def delivery_failed(self, message: Message, reason: str, remaining: int) -> None:
        """A delivery of a message this connection published was given up."""

    def close(self, code: str, reason: str) -> None:
        """The broker ends this connection (session dropped, replaced, shutdown)."""


_ids = itertools.count(1)


class Subscriber:
    __slots__ = ("id", "named", "session", "connection", "pending", "patterns", "window")

    def __init__(self, session: Session, client_id: str | None) -> None:
        self.id = client_id or f"~{next(_ids)}"
        self.named = client_id is not None
        self.session = session
        self.connection: Connection | None = None
        # Unsettled deliveries by message id; insertion order is publish order.
        self.pending: dict[str, Delivery] = {}
        # pattern -> persistent
        self.patterns: dict[str, bool] = {}
        self.window = Window()  # flow control of its connection (see flow.py)

    def __repr__(self) -> str:
        return f"Subscriber({self.session.name!r}, {self.id!r})"


class Connection:
    __slots__ = ("peer", "address", "session", "subscriber", "closed", "user_id")

    def __init__(self, peer: Peer, address: str = "") -> None:
        self.peer = peer
        self.address = address  # the client's address as the door saw it, for log lines
        self.session: Session | None = None
        self.subscriber: Subscriber | None = None
        self.closed = False
        self.user_id: str | None = None
