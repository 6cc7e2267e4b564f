"""Dead-letter topics (issue #17): what a given-up delivery becomes when its session has
a ``dead_letter_topic``.

A given-up delivery is published again, inside its session, to the dead-letter topic:
payload, hash, timestamp, json flag and attributes as the original's, plus the
attributes below, which say what happened. Its id is derived from the original id and
the subscriber, the same on every attempt, so that a give-up repeated after a crash
(the original delivery was not settled in the store yet) is a duplicate publish, which
the session's de-duplication answers without delivering it twice.

The metadata travels as attributes because attributes already go everywhere a message
goes (the store, every engine, the gRPC door); the legacy JSON door, which has no
place for attributes, shows them as one extra ``deadLetter`` key of its ``message``
frame (``web/codec.py``). Attribute keys starting with ``RESERVED_PREFIX`` are the
broker's: publishers may not set them, so a dead-letter message cannot be forged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

# Attribute keys with this prefix are set by the broker only (publishes with one are refused).
RESERVED_PREFIX = "fastport-"
TOPIC = "fastport-dl-topic"  # the topic the message was published to
MESSAGE_ID = "fastport-dl-message-id"  # its original id
REASON = "fastport-dl-reason"  # retry_limit, expired, subscriber_gone
ATTEMPTS = "fastport-dl-attempts"  # sends to that subscriber, decimal
SUBSCRIBER = "fastport-dl-subscriber"  # the subscriber's client id, "" without one
TIME_MS = "fastport-dl-time-ms"  # when it was given up, Unix ms, decimal


def dead_letter_id(message_id: str, subscriber: str) -> str:
    """The dead letter's id for the delivery of ``message_id`` to ``subscriber``: the
    same for the same pair on every attempt, node and restart, and within the
    message-id length limit however long the original id is."""
    digest = hashlib.sha256(f"{message_id}\x00{subscriber}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"dl-{digest[:40]}"


def dead_letter_attributes(
    original: Mapping[str, str],
    *,
    topic: str,
    message_id: str,
    reason: str,
    attempts: int,
    client_id: str | None,
    time_ms: int,
) -> dict[str, str]:
    """The dead letter's attributes: the original's, and what happened."""
    return {
        **original,
        TOPIC: topic,
        MESSAGE_ID: message_id,
        REASON: reason,
        ATTEMPTS: str(attempts),
        SUBSCRIBER: client_id or "",
        TIME_MS: str(time_ms),
    }
