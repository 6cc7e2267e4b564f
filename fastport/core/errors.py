"""Errors the broker reports to clients, each with a stable code.

The code is the contract (programs switch on it); the message is for people. Both
doors map the same code to their own wire form: a gRPC status or an error frame.
Whether a refusal is temporary follows from its code (``TEMPORARY``), so that clients
need no list of their own to decide what to retry.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ErrorCode(StrEnum):
    INVALID_FRAME = "invalid_frame"
    INVALID_FIELD = "invalid_field"
    NOT_INITIALIZED = "not_initialized"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_EXISTS = "session_exists"
    INVALID_PASSWORD = "invalid_password"
    INVALID_CREDENTIALS = "invalid_credentials"
    SESSION_SUSPENDED = "session_suspended"
    INVALID_TOPIC = "invalid_topic"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    LIMIT_EXCEEDED = "limit_exceeded"
    UNKNOWN_MESSAGE = "unknown_message"
    OVERLOADED = "overloaded"  # the session holds as much unsettled data as it may
    SLOW_CONSUMER = "slow_consumer"  # a subscriber that read nothing for too long
    STORAGE_ERROR = "storage_error"
    UNAVAILABLE = "unavailable"  # the engine cannot store now (NATS unreachable): publish again
    UNAUTHENTICATED = "unauthenticated"
    PERMISSION_DENIED = "permission_denied"
    UNSUPPORTED = "unsupported"
    SHUTTING_DOWN = "shutting_down"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    INTERNAL = "internal"


# The codes of temporary refusals: the same request, sent again unchanged, may succeed
# later without anyone doing anything, because what refused it is the server's state
# and that state passes by itself. Clients retry these (with a backoff) and report the
# others at once. Every other code is permanent: the request itself is at fault
# (invalid_*, payload_too_large, unknown_message ...), or it needs someone to act:
# session_suspended waits for an admin to resume the session, limit_exceeded for the
# client or its peers to use fewer connections or subscriptions (a configured cap, not
# a passing load), and internal is a fault of the server that the same request would
# meet again.
TEMPORARY: Final[frozenset[ErrorCode]] = frozenset(
    {
        # The session holds as much unsettled data as it may; it drains as its
        # subscribers ACK.
        ErrorCode.OVERLOADED,
        # This connection was dropped for not reading; a new one starts with room.
        ErrorCode.SLOW_CONSUMER,
        # The database cannot be written now (disk full, read-only, I/O errors): the
        # broker keeps serving and stores again once it can.
        ErrorCode.STORAGE_ERROR,
        # The engine cannot reach its storage now (NATS unreachable): it reconnects.
        ErrorCode.UNAVAILABLE,
        # This server is going away; the request goes to it or another one once back.
        ErrorCode.SHUTTING_DOWN,
        # The login throttle lets this address try again after the wait it names.
        ErrorCode.TOO_MANY_ATTEMPTS,
    }
)


class BrokerError(Exception):
    """A refused request. Raised by the core, translated by the doors."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def temporary(self) -> bool:
        """Whether the same request may succeed later, unchanged (see ``TEMPORARY``)."""
        return self.code in TEMPORARY

    def __repr__(self) -> str:
        return f"BrokerError({self.code.value!r}, {self.message!r})"


class CloseReason(StrEnum):
    """Why the broker ends a connection (``Peer.close``); each door maps it to its own
    wire form (an error frame's code, a gRPC status)."""

    SHUTTING_DOWN = ErrorCode.SHUTTING_DOWN.value
    SLOW_CONSUMER = ErrorCode.SLOW_CONSUMER.value
    SESSION_DROPPED = "session_dropped"
    SESSION_EXPIRED = "session_expired"
    REPLACED = "replaced"  # another connection took over its client id


class GiveUpReason(StrEnum):
    """Why a delivery was given up (``Peer.delivery_failed``; DeliveryFailed.reason on the wire)."""

    RETRY_LIMIT = "retry_limit"
    EXPIRED = "expired"
    SUBSCRIBER_GONE = "subscriber_gone"


class EngineError(Exception):
    """An engine cannot be used at all: its store unreadable, locked by another process
    or of a version this fastport does not know, or already closed. ``Engine.open``
    raises it and the server does not start; a refused request is a ``BrokerError``."""
