"""Core error codes as gRPC status codes.

The stable fastport code also travels as trailing metadata ``fastport-error-code``, so
a client in any language can tell, say, ``invalid_password`` from ``session_not_found``
although both are UNAUTHENTICATED/NOT_FOUND-like statuses; ``fastport-error-temporary``
(``true`` or ``false``) beside it says whether the same call may succeed later, as
``Error.temporary`` does inside a stream (``BrokerError.temporary``).
"""

from __future__ import annotations

from urllib.parse import unquote

import grpc

from ..core.errors import BrokerError, ErrorCode

ERROR_CODE_KEY = "fastport-error-code"
ERROR_TEMPORARY_KEY = "fastport-error-temporary"

STATUS: dict[ErrorCode, grpc.StatusCode] = {
    ErrorCode.INVALID_FRAME: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_FIELD: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.INVALID_TOPIC: grpc.StatusCode.INVALID_ARGUMENT,
    ErrorCode.NOT_INITIALIZED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.SESSION_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.SESSION_EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    ErrorCode.INVALID_PASSWORD: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.INVALID_CREDENTIALS: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    ErrorCode.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.SESSION_SUSPENDED: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.PAYLOAD_TOO_LARGE: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.LIMIT_EXCEEDED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.OVERLOADED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.SLOW_CONSUMER: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.STORAGE_ERROR: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.SHUTTING_DOWN: grpc.StatusCode.UNAVAILABLE,
    ErrorCode.TOO_MANY_ATTEMPTS: grpc.StatusCode.RESOURCE_EXHAUSTED,
    ErrorCode.UNSUPPORTED: grpc.StatusCode.UNIMPLEMENTED,
    ErrorCode.INTERNAL: grpc.StatusCode.INTERNAL,
}


def client_address(context: grpc.aio.ServicerContext) -> str:
    """The client's ``host:port`` (``[host]:port`` for IPv6), as the WebSocket door
    writes it, from grpc's ``ipv4:127.0.0.1:5000`` or ``ipv6:%5B::1%5D:5000``."""
    peer = context.peer() or ""
    kind, _, rest = peer.partition(":")
    return unquote(rest) if kind in ("ipv4", "ipv6") else peer


async def abort(context: grpc.aio.ServicerContext, err: BrokerError) -> None:
    """End the call with ``err``'s status; never returns."""
    metadata = ((ERROR_CODE_KEY, err.code.value), (ERROR_TEMPORARY_KEY, "true" if err.temporary else "false"))
    await context.abort(STATUS[err.code], err.message, trailing_metadata=metadata)
