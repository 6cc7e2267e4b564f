"""The ``memory`` store: no durability, for tests and throwaway brokers.

The engine already holds all live state in memory, so this store records nothing and
every publish is confirmed at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING

from .base import Rejected, StoredState

if TYPE_CHECKING:
    from ..core.delivery import Message
    from ..core.session import SessionRecord


class MemoryStore:
    async def open(self, dedup_window_ms: int) -> StoredState:
        return StoredState()

    async def close(self) -> None:
        return None

    async def put_session(self, record: SessionRecord) -> None:
        return None

    async def delete_session(self, name: str) -> None:
        return None

    def add_message(self, message: Message, named: Sequence[str], delivered_to: int) -> Awaitable[Rejected] | None:
        return None

    def flush(self) -> bool:
        return True

    def settle(self, session: str, message_id: str, subscriber: str) -> None:
        return None

    def retried(self, session: str, message_id: str, subscriber: str, attempts: int, due_ms: int) -> None:
        return None

    def forget_message(self, session: str, message_id: str, forget_at_ms: int) -> None:
        return None

    def put_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        return None

    def delete_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        return None
