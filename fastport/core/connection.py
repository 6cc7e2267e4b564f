"""Connections (one per client stream or socket) and how the core talks back to them.

A door creates a Connection for each client and gives it a Peer: the only way the core
talks back. Peer methods never block: a door queues what it is given and writes it
out, coalescing what is ready in one event-loop turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .delivery import Message
    from .errors import BrokerError, CloseReason, GiveUpReason
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

    def delivery_failed(self, message: Message, reason: GiveUpReason, remaining: int, dead_lettered: bool) -> None:
        """A delivery of a message this connection published was given up;
        ``dead_lettered``: it was published to the session's dead-letter topic."""

    def close(self, code: CloseReason, reason: str) -> None:
        """The broker ends this connection (session dropped, replaced, shutdown)."""


class Connection:
    __slots__ = ("peer", "address", "session", "client_id", "subscriber", "closed", "user_id")

    def __init__(self, peer: Peer, address: str = "") -> None:
        self.peer = peer
        self.address = address  # the client's address as the door saw it, for log lines
        self.session: Session | None = None
        self.client_id: str | None = None  # what it joined its session as, if anything
        # What the engine keeps for this connection while it is in a session (the
        # embedded engine: its Subscriber); the core never looks inside.
        self.subscriber: Any = None
        self.closed = False
        self.user_id: str | None = None
