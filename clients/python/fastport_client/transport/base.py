"""The one small interface between the client's reliability logic and a wire.

A transport is one connection: it is opened once, used, and closed or lost; the
client makes a new one for every reconnect. It speaks only in wire-neutral terms
(``data`` is the end-to-end string, never a plaintext) and reports what arrives to a
:class:`Listener`, so retry, ACK, de-duplication and reconnect are written once in
``client.py`` and behave the same on gRPC and on the legacy WebSocket protocol.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from ..errors import BrokerError, ConfigError, ConnectError, FastPortError

DEFAULT_GRPC_PORT = 50051
# How long a close waits for what is already queued (ACKs above all) to be written.
CLOSE_FLUSH_S = 2.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect, parsed from the client's URL."""

    kind: str  # "grpc" or "ws"
    host: str
    port: int
    tls: bool
    path: str = "/"

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_url(url: str) -> Endpoint:
    """``grpc://host:port`` (also a bare ``host:port``), ``grpcs://``, ``ws://``, ``wss://``.

    A gRPC URL without a port means fastport's default 50051; a WebSocket URL keeps the
    usual web defaults (80/443) so that it can point at a reverse proxy.
    """
    if not isinstance(url, str) or not url:
        raise ConfigError("invalid_url", "The URL must be a non-empty string")
    parts = urlsplit(url if "://" in url else "grpc://" + url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise ConfigError("invalid_url", f"Bad port in URL {url!r}") from None
    host = parts.hostname
    if not host:
        raise ConfigError("invalid_url", f"No host in URL {url!r}")
    if scheme in ("grpc", "grpcs"):
        if parts.path not in ("", "/") or parts.query:
            raise ConfigError("invalid_url", f"A gRPC URL has no path or query: {url!r}")
        return Endpoint("grpc", host, port or DEFAULT_GRPC_PORT, scheme == "grpcs")
    if scheme in ("ws", "wss"):
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Endpoint("ws", host, port or (443 if scheme == "wss" else 80), scheme == "wss", path)
    raise ConfigError("invalid_url", f"Unsupported URL scheme {parts.scheme!r}; use grpc, grpcs, ws or wss")


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message as it arrived: still sealed. ``json`` marks a ``data`` that a plain
    legacy client sent as a JSON value instead of an end-to-end string. ``data`` keeps
    bytes that are not UTF-8 as surrogate escapes (see ``crypto.payload_bytes``)."""

    topic: str
    message_id: str
    data: str
    hash: str
    timestamp_ms: int
    retry: int
    json: bool = False
    # The publisher's attributes (gRPC only: the legacy protocol has none).
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutgoingPublish:
    topic: str
    message_id: str
    data: str
    hash: str
    timestamp_ms: int
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PublishResult:
    message_id: str
    delivered_to: int = 0
    duplicate: bool = False
    error: BrokerError | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """A subscriber ACKed a message this client published; ``remaining`` deliveries of
    it are still unsettled."""

    message_id: str
    topic: str
    remaining: int


@dataclass(frozen=True, slots=True)
class DeliveryFailed:
    """The broker gave up one delivery of a message this client published
    (``reason``: retry_limit, expired, subscriber_gone or session_dropped);
    ``dead_lettered``: the message went to the session's dead-letter topic for it."""

    message_id: str
    topic: str
    reason: str
    remaining: int
    dead_lettered: bool = False


class Listener(Protocol):
    """What a transport reports to. Called from the event loop, never blocking."""

    def on_delivery(self, delivery: Delivery) -> None: ...

    def on_publish_result(self, result: PublishResult) -> None: ...

    def on_ack_received(self, ack: AckReceived) -> None: ...

    def on_delivery_failed(self, failure: DeliveryFailed) -> None: ...

    def on_server_error(self, error: BrokerError) -> None:
        """An error the server did not tie to a request we are waiting on."""

    def on_closed(self, error: ConnectError) -> None:
        """The connection ended without our asking; ``error.code`` says why
        (``connection_lost``, or the server's closing code such as ``shutdown``)."""


class Transport(ABC):
    """One connection to a fastport server."""

    @abstractmethod
    async def open(self) -> None:
        """Connect. Raises :class:`ConnectError` (``connect_failed``); a transport may
        instead report an unreachable server at the first request."""

    @abstractmethod
    async def init(self, session: str, password: str, client_id: str | None) -> None:
        """Authenticate. Raises :class:`BrokerError` when refused, :class:`ConnectError`
        when the connection ends first."""

    @abstractmethod
    async def subscribe(self, topic: str, persistent: bool) -> None:
        """Subscribe; raises like :meth:`init`."""

    @abstractmethod
    async def unsubscribe(self, topic: str) -> None:
        """Unsubscribe; raises like :meth:`init`."""

    @abstractmethod
    def publish(self, item: OutgoingPublish) -> None:
        """Queue a publish; its result arrives at :meth:`Listener.on_publish_result`."""

    @abstractmethod
    def ack(self, topic: str, message_id: str) -> None:
        """Queue an ACK (no reply)."""

    @abstractmethod
    def nack(self, topic: str, message_id: str) -> None:
        """Ask for a re-send now (no reply), where the door can; elsewhere the message
        simply stays unACKed and comes again at the next retry interval."""

    @abstractmethod
    async def close(self) -> None:
        """Close without reporting to the listener. Safe to call more than once."""


class PendingRequests:
    """Requests waiting for their reply, keyed by what the reply can be matched on.

    Replies to one key come back in request order, so each key holds a FIFO. When the
    connection ends every waiter is failed at once, so no caller hangs on a dead wire.
    """

    def __init__(self) -> None:
        self._waiting: dict[Hashable, deque[asyncio.Future[None]]] = {}
        self._failed: FastPortError | None = None

    def add(self, key: Hashable) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._failed is not None:
            fut.set_exception(self._failed)
        else:
            self._waiting.setdefault(key, deque()).append(fut)
        return fut

    def resolve(self, key: Hashable, error: BrokerError | None) -> bool:
        """Answer the oldest request under ``key``; False if none was waiting."""
        queue = self._waiting.get(key)
        if not queue:
            return False
        fut = queue.popleft()
        if not queue:
            del self._waiting[key]
        if not fut.done():
            if error is None:
                fut.set_result(None)
            else:
                fut.set_exception(error)
        return True

    def fail_all(self, error: FastPortError) -> None:
        """Fail every waiter, and every later request, with ``error``."""
        self._failed = error
        waiting, self._waiting = self._waiting, {}
        for queue in waiting.values():
            for fut in queue:
                if not fut.done():
                    fut.set_exception(error)


class ConnectionBase(Transport):
    """What both transports share: the listener, the waiting requests, the reader and
    writer tasks, and ending exactly once."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener
        self._requests = PendingRequests()
        self._tasks: list[asyncio.Task[None]] = []
        self._done = False

    def _finish(self, error: ConnectError) -> None:
        """The connection ended by itself: fail the waiters and tell the listener, once."""
        if self._done:
            return
        self._done = True
        self._requests.fail_all(error)
        self._listener.on_closed(error)

    async def _flush(self, written: Callable[[], Awaitable[object]]) -> None:
        """Before closing on purpose, let the writer send what is queued (the ACKs of
        messages just handled would otherwise be lost and the broker re-send them)."""
        if self._tasks and not self._done:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(written(), CLOSE_FLUSH_S)

    def _silence(self) -> None:
        """Closing on purpose: no more reports, and every waiter fails now."""
        self._done = True
        self._requests.fail_all(ConnectError("closed", "The connection was closed"))

    async def _end_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
