"""The storage interface the broker core writes through.

The core keeps all live state in memory; a store is its durable record, read back
once at start-up. Writes that must be durable before the client is answered return an
awaitable (a backend batches them: group commit); the others are fire-and-forget and
ordered after the writes before them. A backend that is durable by nature of doing
nothing (``memory``) returns None, and the core answers at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..core.connection import Subscriber
    from ..core.delivery import Message
    from ..core.session import SessionRecord


@dataclass(slots=True)
class StoredState:
    """Everything a store hands back at start-up."""

    sessions: list[SessionRecord] = field(default_factory=list)


class Store(Protocol):
    async def open(self) -> StoredState:
        """Open (creating or migrating as needed) and load what was stored."""

    async def close(self) -> None:
        """Flush every write made so far, then close."""

    async def put_session(self, record: SessionRecord) -> None:
        """Create or replace a session's record."""

    async def delete_session(self, name: str) -> None:
        """Delete a session and everything stored for it."""

    def add_message(self, message: Message, subscribers: Sequence[Subscriber]) -> Awaitable[None] | None:
        """Record a published message and who it is for; the publish is confirmed when this completes."""

    def settle(self, message: Message, subscriber: Subscriber) -> None:
        """One delivery of ``message`` is settled (ACKed or given up)."""

    def retried(self, message: Message, subscriber: Subscriber, attempts: int, due_ms: int) -> None:
        """A delivery was (re-)sent: its attempt count and next deadline."""

    def forget_message(self, message: Message) -> None:
        """Every delivery of ``message`` is settled."""

    def put_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        """A persistent subscription was made."""

    def delete_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        """A persistent subscription was removed."""
