"""What travels with a message in JetStream besides its payload: NATS headers.

- ``Nats-Msg-Id``: the publisher's message id, for JetStream's de-duplication. Header
  values are one line, trimmed by nats-py, and a message id is any text of up to 256
  characters, so it is escaped like a subject token (``%XX`` for whitespace, Unicode's
  included since nats-py trims with ``str.strip``, control characters and ``%``; see
  subjects.py): ``"a "`` and ``"a"`` stay two ids, and an id with CR LF cannot write a
  header of its own.
- ``Fastport-Origin``: where the publisher is, ``<node id> <connection id>``, so that
  the subscribers' nodes can send ``ack_received`` and give-ups to the publisher's
  node (notices.py), and the publisher's own node can skip the publisher's own
  subscriptions (fastport never delivers a message to the connection that published it).
- ``Fastport-Meta``: the rest of the message as fastport relays it, one JSON object
  (orjson escapes every control character, so it stays one line): ``t`` the
  timestamp, ``j`` the JSON flag of the legacy door, ``h`` the hash (left out when
  absent: absent, null, "" and a string are four different things to legacy clients),
  ``a`` the attributes (left out when there are none), ``d`` how many subscribers it
  was sent to (the answer to a duplicate publish of its id).

The topic is the subject (subjects.py). Everything here counts against the NATS
servers' ``max_payload`` with the payload (link.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import re

import orjson
from nats.js.api import Header

from ...core.delivery import ABSENT, NO_ATTRIBUTES, Hash
from .subjects import escape, unescape

ORIGIN = "Fastport-Origin"
META = "Fastport-Meta"
MSG_ID = Header.MSG_ID.value
# What a header value must not carry as it is (see the module docstring).
_UNSAFE_IN_VALUE = re.compile(r"[\s\x00-\x1f\x7f%\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Origin:
    """A publishing connection: the node it is on and its number there."""

    node: str
    conn: int

    def __str__(self) -> str:
        return f"{self.node} {self.conn}"

    @classmethod
    def parse(cls, text: str) -> Origin:
        node, _, conn = text.partition(" ")
        return cls(node, int(conn))


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message's fields other than topic and payload, as stored in JetStream."""

    message_id: str
    origin: Origin
    timestamp_ms: int
    json: bool = False
    hash: Hash = ABSENT
    attributes: Mapping[str, str] = field(default_factory=lambda: NO_ATTRIBUTES)
    delivered_to: int = 0

    def headers(self) -> dict[str, str]:
        meta: dict[str, Any] = {"t": self.timestamp_ms, "d": self.delivered_to}
        if self.json:
            meta["j"] = 1
        if self.hash is not ABSENT:
            meta["h"] = self.hash
        if self.attributes:
            meta["a"] = dict(self.attributes)
        return {
            MSG_ID: escape(self.message_id, _UNSAFE_IN_VALUE),
            ORIGIN: str(self.origin),
            META: orjson.dumps(meta).decode("utf-8"),
        }

    @classmethod
    def read(cls, headers: Mapping[str, str] | None) -> Envelope:
        """The envelope of a message stored by a fastport node; ValueError (or
        KeyError) for one that was not: a message someone else put on a fastport
        subject is not delivered."""
        if headers is None:
            raise ValueError("no headers: not stored by fastport")
        meta = orjson.loads(headers[META])
        return cls(
            message_id=unescape(headers[MSG_ID]),
            origin=Origin.parse(headers[ORIGIN]),
            timestamp_ms=int(meta["t"]),
            json=bool(meta.get("j")),
            hash=meta["h"] if "h" in meta else ABSENT,
            attributes=meta.get("a") or NO_ATTRIBUTES,
            delivered_to=int(meta.get("d", 0)),
        )
