"""A published message as plain values, and what its fields may hold."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, TypeAlias

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
    """A published message as the core and the doors see it: plain values.

    An engine hands one such object per message to ``Peer.deliver`` for every send of
    it (a fan-out and its re-sends share it), so it must not be copied per delivery;
    an engine that tracks deliveries may keep its tracking state in a subclass with
    ``__slots__`` (the embedded engine's ``TrackedMessage``)."""

    __slots__ = (
        "id",
        "topic",
        "payload",
        "hash",
        "timestamp_ms",
        "json",
        "attributes",
        "session",
        "created_ms",
        "expires_ms",
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
        session: str,
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
        self.session = session  # the session's name
        self.created_ms = created_ms  # when the broker took it (the publisher's clock is timestamp_ms)
        self.expires_ms = expires_ms  # 0 = never
