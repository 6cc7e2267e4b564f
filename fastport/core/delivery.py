"""Messages and the deliveries that track them, one per subscriber."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

if TYPE_CHECKING:
    from .connection import Connection, Subscriber
    from .session import Session


# What a message without attributes carries: one shared, read-only empty mapping, so
# the common case allocates nothing.
NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})


class Absent(enum.Enum):
    """The type of ``ABSENT``: a field the publisher left out."""

    ABSENT = "absent"


# A message's hash is relayed exactly as it was published (legacy-json.md §9): left out
# (``ABSENT``), ``None`` (JSON null), ``""`` or any other string. The old server's
# clients tell these apart, so the core keeps all four; a door that has fewer (gRPC's
# proto3 string) maps them to its own.
ABSENT: Final = Absent.ABSENT
Hash: TypeAlias = str | None | Literal[Absent.ABSENT]


class Message:
    """A published message while any of its deliveries is unsettled."""

    __slots__ = (
        "id",
        "topic",
        "payload",
        "hash",
        "timestamp_ms",
        "json",
        "attributes",
        "session",
        "publisher",
        "created_ms",
        "expires_ms",
        "deliveries",
        "remaining",
        "committed",
        "waiters",
        "wire",
    )

    def __init__(
        self,
        *,
        id: str,
        topic: str,
        payload: bytes,
        hash: Hash,
        timestamp_ms: int,
        json: bool,
        session: Session,
        publisher: Connection | None,
        created_ms: int,
        expires_ms: int,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> None:
        self.id = id
        self.topic = topic
        self.payload = payload
        self.hash = hash
        self.timestamp_ms = timestamp_ms
        self.json = json
        # Application headers, relayed as published (doors that cannot carry them drop them).
        self.attributes = attributes
        self.session = session
        self.publisher = publisher
        self.created_ms = created_ms
        self.expires_ms = expires_ms  # 0 = never
        self.deliveries: list[Delivery] = []
        self.remaining = 0
        self.committed = False
        # Duplicate publishes that arrived while the store was still writing this one
        # (a tuple: almost always empty, and then nothing is allocated for it).
        self.waiters: tuple[tuple[Connection, object], ...] = ()
        # Free for a door to cache this message's encoded form, so a fan-out encodes once.
        self.wire: object = None


class Delivery:
    """One subscriber's copy of one message: sent, re-sent, then settled or dropped."""

    __slots__ = ("message", "subscriber", "attempts", "due_ms", "settled")

    def __init__(self, message: Message, subscriber: Subscriber) -> None:
        # None once settled (see Broker._settle): a settled delivery may wait in the
        # retry queue until its stale entry comes up, without keeping the message.
        self.message: Message | None = message
        self.subscriber = subscriber
        self.attempts = 0  # sends so far
        # When the next re-send (or the drop) is due; 0 while not scheduled (its
        # subscriber is offline). A retry-queue entry whose due time differs is stale.
        self.due_ms = 0
        self.settled = False
