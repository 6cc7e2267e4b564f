"""Errors the broker reports to clients, each with a stable code.

The code is the contract (programs switch on it); the message is for people. Both
doors map the same code to their own wire form: a gRPC status or an error frame.
"""

from __future__ import annotations

from enum import StrEnum


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


class BrokerError(Exception):
    """A refused request. Raised by the core, translated by the doors."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"BrokerError({self.code.value!r}, {self.message!r})"
