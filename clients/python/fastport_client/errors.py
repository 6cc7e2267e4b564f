"""Errors raised or reported by the client, each with a stable ``code``.

Programs switch on ``code`` (a snake_case string that never changes meaning); the
message is for people. Codes that come from the broker (``session_not_found``,
``invalid_password``, ``payload_too_large`` ...) are passed through unchanged, so the
same code means the same thing whichever door the client went through.
"""

from __future__ import annotations


class FastPortError(Exception):
    """Base class of every error this package raises."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{message} [{code}]")
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class ConfigError(FastPortError):
    """The client was built with something unusable (a bad URL, key or cipher name).

    Raised at construction so a mistake shows up at start-up, not at the first message.
    """


class InvalidKeyError(ConfigError):
    """The end-to-end key is not standard base64 of exactly 32 bytes."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_key", message)


class CryptoError(FastPortError):
    """A received message failed its integrity check or could not be decrypted.

    ``code`` is the reason: ``hash_mismatch``, ``malformed``, ``unsupported_format``,
    ``authentication_failed`` (aes-gcm tag, wrong key, or a message moved to another
    session, topic or id), ``decrypt_failed`` (legacy-cbc padding or wrong key) or
    ``not_encrypted``. Such a message is never handed to the application.
    """


class NotEncryptedError(CryptoError):
    """A client with a key received a message published in plain text (by a client
    without encryption, ``fastport pub`` without ``--key``, or a plain legacy client).
    Like every :class:`CryptoError` it is reported, never handed over, never ACKed."""

    def __init__(self, message: str = "The message was published in plain text, not encrypted") -> None:
        super().__init__("not_encrypted", message)


# The codes the broker calls temporary (its ``TEMPORARY``), for the doors whose wire has
# no place for the flag: the legacy JSON protocol's frames and REST answers carry only
# ``code``. gRPC carries the broker's answer with every error. The server's tests check
# that this copy is the broker's own (tests/test_error_codes.py).
TEMPORARY_CODES = frozenset(
    {"overloaded", "slow_consumer", "storage_error", "unavailable", "shutting_down", "too_many_attempts"}
)


class BrokerError(FastPortError):
    """The broker refused a request; ``code`` is the broker's stable error code.

    ``temporary`` is the broker's word on whether the same request, sent again
    unchanged, may succeed later (``overloaded``, ``storage_error``, ``shutting_down``
    ...): the client retries a temporary refusal of an emit, and the application may
    retry others of its own requests the same way."""

    def __init__(self, code: str, message: str, *, temporary: bool) -> None:
        super().__init__(code, message)
        self.temporary = temporary

    @classmethod
    def from_code(cls, code: str, message: str) -> BrokerError:
        """For the doors whose answers carry no ``temporary``: from ``TEMPORARY_CODES``."""
        return cls(code, message, temporary=code in TEMPORARY_CODES)


class ConnectError(FastPortError):
    """The server could not be reached (``connect_failed``) or the connection was lost
    (``connection_lost``) before a request was answered."""


class ClosedError(FastPortError):
    """The client was closed (by the application, or for good by the server)."""

    def __init__(self, message: str = "The client is closed") -> None:
        super().__init__("closed", message)


class PublishTimeoutError(FastPortError):
    """An emit was not confirmed by the broker within the emit deadline."""

    def __init__(self, message_id: str, seconds: float) -> None:
        super().__init__("publish_timeout", f"Message {message_id} not confirmed within {seconds:g} s")
        self.message_id = message_id


class HandlerError(FastPortError):
    """An application callback raised; the message was not ACKed, so the broker re-sends it."""
