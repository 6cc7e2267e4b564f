"""The storage interface the embedded engine writes through.

The engine keeps all live state in memory; a store is its durable record, read back
once at start-up. It is given plain values (names, ids, the core's ``Message``
values), never the engine's live objects. Writes that must be durable before the client is answered return an
awaitable (a backend batches them: group commit); the others are fire-and-forget and
ordered after the writes before them. A backend that is durable by nature of doing
nothing (``memory``) returns None, and the engine answers at once.

What is kept: sessions, named subscribers' persistent subscriptions, messages with
each named subscriber's unsettled delivery (attempts and next deadline, absolute ms),
and settled message ids until their de-duplication window ends. Deliveries to
connection-bound subscribers are not kept: nobody can claim them after a restart. So a
backend may keep no more than the id of a message that only such subscribers were
given, from its publish on, and count its de-duplication window from there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..core.delivery import Hash
from ..core.errors import EngineError

if TYPE_CHECKING:
    from ..core.delivery import Message
    from ..core.session import SessionRecord


# What a write of publishes completes with: the (session, message id) of those among
# them whose values the store cannot hold (each such publish fails alone); the others
# are stored. Almost always empty.
Rejected = frozenset[tuple[str, str]]
NOTHING_REJECTED: Rejected = frozenset()


class StoreError(EngineError):
    """The store cannot be used: unreadable, locked by another process, of a schema
    version this fastport does not know, or already closed (so neither can its engine)."""


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    session: str
    subscriber: str
    pattern: str


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A named subscriber's unsettled delivery; ``due_ms`` 0 = not sent since it was stored."""

    subscriber: str
    attempts: int
    due_ms: int


@dataclass(slots=True)
class StoredMessage:
    """A pending message, with its named subscribers' unsettled deliveries."""

    session: str
    id: str
    topic: str
    payload: bytes
    hash: Hash
    timestamp_ms: int
    json: bool
    created_ms: int
    expires_ms: int
    delivered_to: int
    deliveries: list[StoredDelivery] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RememberedId:
    """A settled message's id, kept for de-duplication until ``forget_at_ms``."""

    session: str
    id: str
    forget_at_ms: int
    delivered_to: int


@dataclass(slots=True)
class StoredState:
    """Everything a store hands back at start-up; messages in publish order."""

    sessions: list[SessionRecord] = field(default_factory=list)
    subscriptions: list[StoredSubscription] = field(default_factory=list)
    messages: list[StoredMessage] = field(default_factory=list)  # pending ones
    remembered: list[RememberedId] = field(default_factory=list)  # possibly past their time


class Store(Protocol):
    async def open(self, dedup_window_ms: int) -> StoredState:
        """Open (creating or migrating as needed) and load what was stored.
        ``dedup_window_ms`` is how long the core remembers the id of a settled message."""

    async def close(self) -> None:
        """Flush every write made so far, then close."""

    async def put_session(self, record: SessionRecord) -> None:
        """Create or replace a session's record."""

    async def delete_session(self, name: str) -> None:
        """Delete a session and everything stored for it."""

    def add_message(self, message: Message, named: Sequence[str], delivered_to: int) -> Awaitable[Rejected] | None:
        """Record a published message delivered to ``delivered_to`` subscribers, of
        which ``named`` are the client ids of those with one (whose deliveries outlive a
        restart); the publish is confirmed when this completes, unless its (session,
        id) is among those it completes with. A message delivered to subscribers none
        of whom is named is kept as its id only (see the module docstring)."""

    def flush(self) -> bool:
        """Write what was handed over now, if that can be done without waiting on a
        thread; True if no publish handed over is left unconfirmed."""

    def settle(self, session: str, message_id: str, subscriber: str) -> None:
        """A named subscriber's delivery is settled (ACKed or given up)."""

    def retried(self, session: str, message_id: str, subscriber: str, attempts: int, due_ms: int) -> None:
        """A named subscriber's delivery was (re-)sent: its attempt count and next deadline."""

    def forget_message(self, session: str, message_id: str, forget_at_ms: int) -> None:
        """Every delivery of a message kept whole (not as its id only) is settled; its
        id is remembered until ``forget_at_ms``."""

    def put_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        """A persistent subscription was made."""

    def delete_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        """A persistent subscription was removed."""
