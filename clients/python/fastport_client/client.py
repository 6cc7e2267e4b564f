"""The async client: one API over both doors, with the reliability written once.

What the application gets without doing anything:

* **Emit until confirmed.** ``emit`` resolves when the broker has stored the message
  (its publish result). With no result within ``publish_timeout`` the same message
  (same id, same ciphertext) is sent again; the broker de-duplicates by id, so a retry
  never delivers twice. After ``emit_timeout`` it gives up with ``publish_timeout``,
  well inside the broker's de-duplication window (10 minutes by default).
* **ACK after handling.** With ``auto_ack`` (the default) a received message is ACKed
  only after every callback for it has returned (or the ``messages()`` consumer has
  asked for the next one or left the loop), so a crash mid-handling means a re-send,
  not a loss. A callback that raises is reported and the message is *not* ACKed: the
  broker re-sends it. Without ``auto_ack`` the application settles each message with
  ``message.ack()`` or ``message.nack()`` (re-send now, on gRPC).
* **Exactly one hand-over per message id.** The broker re-sends a message whose ACK it
  has not seen (after a reconnect, or when an ACK crossed a re-send). Ids already
  handled are ACKed again and not handed over; ids still being handled are ignored.
* **Integrity first.** A message that fails its hash or authentication, or arrives in
  plain text at a client with a key, is never handed over. It goes to ``on_error`` (a
  :class:`CryptoError` with the reason; :class:`NotEncryptedError` for plain text) and
  is not ACKed, as the legacy protocol specifies: the publisher is not told it arrived.
* **Reconnect.** A lost connection is re-opened with exponential backoff and jitter;
  the client re-inits, re-subscribes every topic and re-sends unconfirmed emits.
  It stops for good only when retrying cannot help: the session was dropped or
  expired, the password is no longer valid, or another connection took over its
  client id.

Messages are handed to the application one at a time, in arrival order.
Time (timeouts, backoff) comes from an injectable :class:`Clock`, so all of this is
testable without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, TypeVar

from .crypto import Binding, CipherName, PlainText, make_cipher
from .errors import (
    BrokerError,
    ClosedError,
    ConnectError,
    CryptoError,
    FastPortError,
    HandlerError,
    NotEncryptedError,
    PublishTimeoutError,
)
from .transport import Endpoint, Listener, Transport, open_transport, parse_url
from .transport.base import AckReceived, Delivery, DeliveryFailed, OutgoingPublish, PublishResult

log = logging.getLogger("fastport_client")

T = TypeVar("T")

# The connection was ended on purpose and reconnecting would not change that.
_FINAL_CLOSINGS = frozenset({"session_dropped", "session_expired", "replaced"})
# An init refused with one of these will be refused again: stop instead of retrying.
_FINAL_REFUSALS = frozenset(
    {"session_not_found", "invalid_password", "invalid_field", "unauthenticated", "permission_denied"}
)


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(slots=True, eq=False)
class Message:
    """A received message, decrypted and checked. Settle it with :meth:`ack` or
    :meth:`nack` (``auto_ack`` does it after the handlers have returned)."""

    topic: str
    message_id: str
    payload: bytes
    timestamp_ms: int
    # 0 on the first delivery; the broker's re-send counter otherwise.
    retry: int
    # The publisher's attributes (gRPC only; not encrypted).
    attributes: Mapping[str, str] = field(default_factory=dict)
    # ack() or nack() was called (by the application or by auto_ack).
    settled: bool = field(default=False, init=False)
    _settler: Callable[[Message, bool], None] | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")

    def ack(self) -> None:
        """Settle: the broker stops re-sending it and tells its publisher."""
        self._settle(True)

    def nack(self) -> None:
        """Refuse it for now: on gRPC the broker re-sends it at once (a re-send like any
        other, with its retry limit); on the legacy protocol, at the next retry interval.
        Either way it is handed over again."""
        self._settle(False)

    def _settle(self, ack: bool) -> None:
        if not self.settled:
            self.settled = True
            if self._settler is not None:
                self._settler(self, ack)


@dataclass(frozen=True, slots=True)
class PublishReceipt:
    """The broker stored the message and sent it to ``delivered_to`` subscribers.
    ``duplicate``: the id had been published before (a retry that crossed the result)."""

    message_id: str
    delivered_to: int
    duplicate: bool


class Clock(Protocol):
    """Where the client's timeouts and backoff get their time; swap it in tests."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: ``initial * multiplier**attempt`` capped at ``maximum``, each
    shortened by a random part of up to ``jitter`` of it, so that clients dropped by one
    server restart do not all come back in the same instant."""

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        return base * (1.0 - self.jitter * rand())


Handler = Callable[[Message], Awaitable[None] | None]
ErrorCallback = Callable[[FastPortError, Delivery | None], Any]
StateCallback = Callable[[ConnectionState, FastPortError | None], Any]
TransportFactory = Callable[[Endpoint, Listener], Transport]


class _Abandoned(Exception):
    """A ``messages()`` consumer stopped before this message was handed out: do not ACK it."""


class _StreamState:
    """What a :class:`MessageStream` and its generator share. Neither is referenced
    from here, so a stream dropped after ``break`` is freed at once (no reference
    cycle), and the event loop's async-generator finalizer then settles the message in
    hand and unsubscribes right away rather than whenever the cycle collector runs."""

    def __init__(self, client: FastPort, topic: str) -> None:
        self.client = client
        self.topic = topic
        self.queue: asyncio.Queue[tuple[Message, asyncio.Future[bool]] | FastPortError | None] = asyncio.Queue()
        self.subscribing: asyncio.Future[None] | None = None

    async def handler(self, message: Message) -> None:
        handed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((message, handed))
        if not await handed:
            raise _Abandoned

    async def subscribed(self) -> None:
        if self.subscribing is None:
            self.client._streams.add(self.queue)
            self.subscribing = self.client._register(self.topic, self.handler)
        await asyncio.shield(self.subscribing)

    def end(self) -> None:
        """No more messages from here: those not handed out are not ACKed."""
        client = self.client
        client._streams.discard(self.queue)
        while not self.queue.empty():
            left = self.queue.get_nowait()
            if isinstance(left, tuple) and not left[1].done():
                left[1].set_result(False)
        if self.subscribing is not None and client._remove_handler(self.topic, self.handler) and client._connected:
            client._spawn(client._send_unsubscribe(self.topic))
        self.subscribing = None


async def _iterate(state: _StreamState) -> AsyncGenerator[Message, None]:
    try:
        await state.subscribed()
        while True:
            item = await state.queue.get()
            if item is None:
                return
            if isinstance(item, FastPortError):
                raise item
            message, handed = item
            try:
                yield message
            finally:
                handed.set_result(True)  # the next one was asked for, or the loop was left
    finally:
        state.end()


class MessageStream:
    """``async for message in client.messages(topic)``; see :meth:`FastPort.messages`."""

    def __init__(self, client: FastPort, topic: str) -> None:
        self._state = _StreamState(client, topic)
        self._iterator = _iterate(self._state)
        # Dropped without being iterated to the end or closed: end the subscription
        # (the generator's own cleanup covers only a generator that was started).
        weakref.finalize(self, self._state.end)

    async def subscribed(self) -> None:
        """Wait until the broker has confirmed the subscription (it is live); raises
        :class:`BrokerError` if it refused."""
        await self._state.subscribed()

    def __aiter__(self) -> MessageStream:
        return self

    async def __anext__(self) -> Message:
        return await anext(self._iterator)

    async def aclose(self) -> None:
        """End the subscription; the message in hand is settled as by the loop."""
        await self._iterator.aclose()
        self._state.end()  # when iteration never started, the generator's cleanup did not run

    async def __aenter__(self) -> MessageStream:
        await self.subscribed()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@dataclass(slots=True)
class _PendingEmit:
    item: OutgoingPublish
    future: asyncio.Future[PublishReceipt]
    refused: BrokerError | None = None  # the last temporary refusal, while it is retried


class _Events:
    """The transport listener: forwards to the client's private handlers, keeping the
    listener methods out of the client's public API."""

    def __init__(self, client: FastPort) -> None:
        self._client = client

    def on_delivery(self, delivery: Delivery) -> None:
        self._client._on_delivery(delivery)

    def on_publish_result(self, result: PublishResult) -> None:
        self._client._on_publish_result(result)

    def on_ack_received(self, ack: AckReceived) -> None:
        self._client._invoke(self._client._on_ack, ack)

    def on_delivery_failed(self, failure: DeliveryFailed) -> None:
        self._client._invoke(self._client._on_delivery_failed, failure)

    def on_server_error(self, error: BrokerError) -> None:
        self._client._report(error, None)

    def on_closed(self, error: ConnectError) -> None:
        self._client._on_lost(error)


def topic_matches(pattern: str, topic: str) -> bool:
    """MQTT matching as the broker does it: ``+`` is one level, a last ``#`` is that
    level and everything below (``a/#`` matches ``a``)."""
    if pattern == topic:
        return True
    p_levels, t_levels = pattern.split("/"), topic.split("/")
    for i, p in enumerate(p_levels):
        if p == "#" and i == len(p_levels) - 1:
            return True
        if i >= len(t_levels) or (p != "+" and p != t_levels[i]):
            return False
    return len(p_levels) == len(t_levels)


class FastPort:
    """An async fastport client.

    ``url`` picks the door: ``grpc://host:50051`` (the default scheme; ``grpcs://``
    for TLS) or ``ws://host:3000`` (``wss://``) for the legacy JSON protocol.
    ``key`` is the session's end-to-end key (see :func:`generate_key`); it and the URL
    are checked here, so a mistake fails at construction. ``cipher`` is the format of
    what this client sends and the only one it accepts.

    With ``client_id`` the client is a named, persistent subscriber: the broker keeps
    its subscriptions and the messages published for it while it is away, and hands
    them over when it comes back. Register callbacks with :meth:`get` *before*
    :meth:`init` then, so that nothing kept for it arrives before its handler.
    """

    def __init__(
        self,
        url: str,
        session: str,
        password: str,
        key: str | bytes | None = None,
        cipher: CipherName = "aes-gcm",
        *,
        client_id: str | None = None,
        auto_ack: bool = True,
        retry_on_failed_connect: bool = False,
        on_error: ErrorCallback | None = None,
        on_ack: Callable[[AckReceived], Any] | None = None,
        on_delivery_failed: Callable[[DeliveryFailed], Any] | None = None,
        on_state: StateCallback | None = None,
        publish_timeout: float = 5.0,
        emit_timeout: float = 300.0,
        request_timeout: float = 10.0,
        backoff: Backoff = Backoff(),
        clock: Clock | None = None,
        dedup_size: int = 100_000,
        root_certificates: bytes | None = None,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self._endpoint = parse_url(url)
        self._cipher = make_cipher(cipher, key)
        self._auto_ack = auto_ack
        self._retry_on_failed_connect = retry_on_failed_connect
        self.session = session
        self._password = password
        self._client_id = client_id
        self._on_error = on_error
        self._on_ack = on_ack
        self._on_delivery_failed = on_delivery_failed
        self._on_state = on_state
        self._publish_timeout = publish_timeout
        self._emit_timeout = emit_timeout
        self._request_timeout = request_timeout
        self._backoff = backoff
        self._clock: Clock = clock or SystemClock()
        self._dedup_size = dedup_size
        if transport_factory is None:

            def transport_factory(endpoint: Endpoint, listener: Listener) -> Transport:
                return open_transport(endpoint, listener, root_certificates)

        self._make_transport = transport_factory
        self._events = _Events(self)

        self._handlers: dict[str, list[Handler]] = {}
        self._unconfirmed: dict[str, _PendingEmit] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()  # handled and ACKed
        self._active: set[str] = set()  # queued or being handled
        self._inbox: asyncio.Queue[tuple[Delivery, Message]] | None = None
        self._streams: set[asyncio.Queue[Any]] = set()  # messages() iterators
        self._transport: Transport | None = None
        self._connected = False
        self._lost: asyncio.Event | None = None
        self._lost_error: ConnectError | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._started = False
        self._closed: FastPortError | None = None
        self.state = ConnectionState.CLOSED

    # ------------------------------------------------------------------ lifecycle

    async def init(self) -> None:
        """Connect, authenticate and subscribe what :meth:`get` registered so far.

        Raises :class:`ConnectError` if the server cannot be reached (with
        ``retry_on_failed_connect``, it keeps trying with the backoff instead, like
        nats-py's option of that name) and :class:`BrokerError` if it refuses
        (``session_not_found``, ``invalid_password``, ``session_suspended``). After this
        returns, connection losses are repaired in the background.
        """
        if self._closed is not None:
            raise ClosedError()
        if self._started:
            return
        self._started = True
        self._inbox = asyncio.Queue()
        self._lost = asyncio.Event()
        self._set_state(ConnectionState.CONNECTING)
        try:
            attempt = 0
            while True:
                try:
                    await self._connect()
                    break
                except ConnectError as exc:
                    if not self._retry_on_failed_connect:
                        raise
                    log.info("connect attempt %d failed: %s", attempt + 1, exc)
                    await self._clock.sleep(self._backoff.delay(attempt))
                    attempt += 1
        except BaseException as exc:
            self._started = False
            self._set_state(ConnectionState.CLOSED, exc if isinstance(exc, FastPortError) else None)
            raise
        self._tasks = [
            asyncio.create_task(self._dispatch_loop(), name="fastport-dispatch"),
            asyncio.create_task(self._supervise(), name="fastport-reconnect"),
        ]

    async def close(self) -> None:
        """Close the connection. Emits not yet confirmed fail with ``closed``;
        ``messages()`` iterators end."""
        await self._shutdown(None)

    async def __aenter__(self) -> FastPort:
        await self.init()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _set_state(self, state: ConnectionState, error: FastPortError | None = None) -> None:
        if state == self.state:
            return
        self.state = state
        log.info("connection %s%s", state.value, f" ({error})" if error else "")
        self._invoke(self._on_state, state, error)

    async def _connect(self) -> None:
        """Open one connection and bring it to where the application expects it to be."""
        transport = self._make_transport(self._endpoint, self._events)
        self._transport = transport
        try:
            await transport.open()
            await self._request(transport.init(self.session, self._password, self._client_id))
            persistent = self._client_id is not None
            topics = list(self._handlers)
            results = await asyncio.gather(
                *(self._request(transport.subscribe(topic, persistent)) for topic in topics),
                return_exceptions=True,
            )
            for result in results:
                if isinstance(result, BrokerError):
                    self._report(result, None)  # e.g. an invalid topic: the others still work
                elif isinstance(result, BaseException):
                    raise result
        except BaseException:
            self._transport = None
            await transport.close()
            raise
        self._connected = True
        # Catch up with get()/unsubscribe() calls made while this connection was set up.
        for topic in self._handlers.keys() - topics:
            self._spawn(self._subscribe_reporting(topic))
        for topic in set(topics) - self._handlers.keys():
            self._spawn(self._send_unsubscribe(topic))
        for pending in self._unconfirmed.values():
            transport.publish(pending.item)
        self._set_state(ConnectionState.CONNECTED)

    def _on_lost(self, error: ConnectError) -> None:
        # While a connection is being set up its loss surfaces as a failed request.
        if not self._connected or self._lost is None:
            return
        self._connected = False
        self._lost_error = error
        self._lost.set()

    async def _supervise(self) -> None:
        """Reconnect after every loss, until the client is closed."""
        assert self._lost is not None
        while True:
            await self._lost.wait()
            self._lost.clear()
            error = self._lost_error
            assert error is not None
            old, self._transport = self._transport, None
            if old is not None:
                await old.close()
            if error.code in _FINAL_CLOSINGS:
                await self._shutdown(error)
                return
            log.warning("connection lost: %s", error)
            self._set_state(ConnectionState.RECONNECTING, error)
            attempt = 0
            while True:
                await self._clock.sleep(self._backoff.delay(attempt))
                attempt += 1
                try:
                    await self._connect()
                    break
                except ConnectError as exc:
                    log.info("reconnect attempt %d failed: %s", attempt, exc)
                except BrokerError as exc:
                    if exc.code in _FINAL_REFUSALS:
                        await self._shutdown(exc)
                        return
                    self._report(exc, None)

    async def _shutdown(self, error: FastPortError | None) -> None:
        """Stop everything once; ``error`` is why, when the server ended it for good."""
        if self._closed is not None:
            return
        closed = (
            ClosedError() if error is None else ClosedError(f"Closed by the server: {error.message} [{error.code}]")
        )
        self._closed = closed
        if error is not None:
            self._report(error, None)
        self._connected = False
        current = asyncio.current_task()
        for task in [*self._tasks, *self._background]:
            if task is not current:
                task.cancel()
        for pending in self._unconfirmed.values():
            if not pending.future.done():
                pending.future.set_exception(closed)
        for stream in self._streams:
            stream.put_nowait(None if error is None else closed)
        transport, self._transport = self._transport, None
        if transport is not None:
            await transport.close()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        self._set_state(ConnectionState.CLOSED, error)

    def _check_usable(self) -> None:
        if self._closed is not None:
            raise self._closed
        if not self._started:
            raise FastPortError("not_initialized", "Call init() (or use 'async with') first")

    # ------------------------------------------------------------------ publishing

    async def emit(
        self, topic: str, message: str | bytes, *, attributes: Mapping[str, str] | None = None
    ) -> PublishReceipt:
        """Encrypt and publish ``message``; returns once the broker has stored it.

        ``attributes`` (string keys and values, e.g. headers for tracing) travel beside
        the payload, not encrypted, to gRPC subscribers; the legacy JSON protocol has no
        place for them, so a ``ws://`` client refuses them (``unsupported``) and JSON
        subscribers get messages without them.

        Raises :class:`BrokerError` when the broker refuses it (``invalid_topic``,
        ``payload_too_large``, ``session_suspended`` ...), :class:`PublishTimeoutError`
        when it is not confirmed within ``emit_timeout`` (connection losses included),
        and :class:`ClosedError` when the client is closed first. A temporary refusal
        (``BrokerError.temporary``: ``overloaded``, ``shutting_down`` ...) is retried as
        an unanswered publish is; the timeout error then names it as its cause.
        """
        if not isinstance(topic, str):
            raise TypeError("topic must be a str")
        if isinstance(message, str):
            plaintext = message.encode("utf-8")
        elif isinstance(message, (bytes, bytearray, memoryview)):
            plaintext = bytes(message)
        else:
            raise TypeError("message must be str or bytes")
        attributes = dict(attributes or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
            raise TypeError("attributes must map str to str")
        self._check_usable()
        message_id = uuid.uuid4().hex
        data, hash_ = self._cipher.seal(plaintext, Binding(self.session, topic, message_id))
        if self._endpoint.kind == "ws":
            if attributes:
                raise FastPortError("unsupported", "The legacy JSON protocol has no attributes: use a grpc:// URL")
            try:
                data.encode("utf-8")  # plain text that is not UTF-8 (see crypto.payload_bytes)
            except UnicodeEncodeError:
                raise FastPortError(
                    "unsupported", "The legacy JSON protocol carries text: send binary over grpc://"
                ) from None
        item = OutgoingPublish(topic, message_id, data, hash_, int(time.time() * 1000), attributes)
        future: asyncio.Future[PublishReceipt] = asyncio.get_running_loop().create_future()
        pending = self._unconfirmed[message_id] = _PendingEmit(item, future)
        try:
            deadline = self._clock.monotonic() + self._emit_timeout
            if self._connected and self._transport is not None:
                self._transport.publish(item)
            left = self._emit_timeout
            while True:
                if await self._wait(future, min(self._publish_timeout, left)):
                    return future.result()
                left = deadline - self._clock.monotonic()
                if left <= 0:
                    raise PublishTimeoutError(message_id, self._emit_timeout) from pending.refused
                if self._connected and self._transport is not None:
                    log.debug("no publish result for %s yet; sending it again", message_id)
                    self._transport.publish(item)
        finally:
            del self._unconfirmed[message_id]
            if not future.done():
                future.cancel()

    def _on_publish_result(self, result: PublishResult) -> None:
        pending = self._unconfirmed.get(result.message_id)
        if pending is None or pending.future.done():
            return
        if result.error is None:
            pending.future.set_result(PublishReceipt(result.message_id, result.delivered_to, result.duplicate))
        elif result.error.temporary:
            pending.refused = result.error  # sent again after publish_timeout, or on reconnecting
        else:
            pending.future.set_exception(result.error)

    # ------------------------------------------------------------------ subscribing

    def get(self, topic: str, callback: Handler) -> None:
        """Call ``callback(message)`` (a function or coroutine function) for every
        message on ``topic`` (MQTT wildcards allowed). May be called before
        :meth:`init`. A refusal by the broker is reported to ``on_error``; use
        :meth:`subscribe` to await it instead."""
        if self._closed is not None:
            raise self._closed
        if self._add_handler(topic, callback) and self._connected:
            self._spawn(self._subscribe_reporting(topic))

    async def subscribe(self, topic: str, callback: Handler) -> None:
        """Like :meth:`get`, but waits for the broker's answer and raises
        :class:`BrokerError` (``invalid_topic``, ``limit_exceeded`` ...) if it refuses."""
        await self._register(topic, callback)

    def _register(self, topic: str, callback: Handler) -> asyncio.Future[None]:
        """Register ``callback`` now (what arrives from here on finds it) and return the
        broker's answer to come."""
        if self._closed is not None:
            raise self._closed
        if self._add_handler(topic, callback) and self._connected:
            return asyncio.ensure_future(self._confirm_subscribe(topic, callback))
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        answered.set_result(None)  # registered; the next connection subscribes it
        return answered

    async def _confirm_subscribe(self, topic: str, callback: Handler) -> None:
        try:
            await self._send_subscribe(topic)
        except BrokerError:
            self._remove_handler(topic, callback)
            raise

    async def unsubscribe(self, topic: str, callback: Handler | None = None) -> None:
        """Stop calling ``callback`` (every callback, when None) for ``topic``; the
        broker subscription ends with the last one."""
        if self._remove_handler(topic, callback) and self._connected:
            await self._send_unsubscribe(topic)

    def messages(self, topic: str) -> MessageStream:
        """The messages on ``topic``, for ``async for``. With ``auto_ack``, each one is
        ACKed when the loop asks for the next one or is left (``break``, ``return``, an
        exception): leaving the loop means being done with the message in hand. Messages
        not yet handed out are not ACKed. Without ``auto_ack`` the loop settles each
        message itself (``ack()``/``nack()``). ``await stream.subscribed()`` waits until the
        broker has confirmed the subscription; iterating subscribes too. Use ``async
        with`` (or ``aclose()``) to end the subscription at a known time."""
        return MessageStream(self, topic)

    def _add_handler(self, topic: str, callback: Handler) -> bool:
        """Register; True when ``topic`` is new and needs a broker subscription."""
        if not isinstance(topic, str):
            raise TypeError("topic must be a str")
        if not callable(callback):
            raise TypeError("callback must be callable")
        handlers = self._handlers.setdefault(topic, [])
        handlers.append(callback)
        return len(handlers) == 1

    def _remove_handler(self, topic: str, callback: Handler | None) -> bool:
        """Unregister; True when ``topic`` has no handler left."""
        handlers = self._handlers.get(topic)
        if handlers is None:
            return False
        if callback is None:
            handlers.clear()
        elif callback in handlers:
            handlers.remove(callback)
        if handlers:
            return False
        del self._handlers[topic]
        return True

    async def _send_subscribe(self, topic: str) -> None:
        transport = self._transport
        if transport is None:
            return
        with contextlib.suppress(ConnectError):  # the reconnect re-subscribes every registered topic
            await self._request(transport.subscribe(topic, self._client_id is not None))

    async def _send_unsubscribe(self, topic: str) -> None:
        transport = self._transport
        if transport is None:
            return
        with contextlib.suppress(ConnectError):  # the next connection will not subscribe it anyway
            await self._request(transport.unsubscribe(topic))

    async def _subscribe_reporting(self, topic: str) -> None:
        try:
            await self._send_subscribe(topic)
        except BrokerError as exc:
            self._report(exc, None)

    # ------------------------------------------------------------------ receiving

    def _on_delivery(self, delivery: Delivery) -> None:
        message_id = delivery.message_id
        if message_id in self._seen:
            self._seen.move_to_end(message_id)
            self._ack(delivery.topic, message_id)  # our earlier ACK was lost or crossed this re-send
            return
        if message_id in self._active or self._inbox is None:
            return
        try:
            if delivery.json and not isinstance(self._cipher, PlainText):
                raise NotEncryptedError("The message data is a plain JSON value, not an encrypted string")
            plaintext = self._cipher.open(
                delivery.data, delivery.hash, Binding(self.session, delivery.topic, message_id)
            )
        except CryptoError as exc:
            self._report(exc, delivery)
            return
        self._active.add(message_id)
        message = Message(
            delivery.topic,
            message_id,
            plaintext,
            delivery.timestamp_ms,
            delivery.retry,
            delivery.attributes,
            _settler=self._settle,
        )
        self._inbox.put_nowait((delivery, message))

    async def _dispatch_loop(self) -> None:
        assert self._inbox is not None
        while self._closed is None:
            delivery, message = await self._inbox.get()
            handlers = [
                h for pattern, hs in list(self._handlers.items()) if topic_matches(pattern, message.topic) for h in hs
            ]
            try:
                if not handlers:
                    # Nobody here wants it (any more): not ACKed, so it is not lost if
                    # a handler is registered before the broker re-sends it.
                    log.debug("no handler for %s on %r; not ACKed", message.message_id, message.topic)
                    self._active.discard(message.message_id)
                    continue
                for handler in handlers:
                    result = handler(message)
                    if inspect.isawaitable(result):
                        await result
            except _Abandoned:
                self._active.discard(message.message_id)  # handed over again when re-sent
                continue
            except Exception as exc:
                self._active.discard(message.message_id)
                error = HandlerError("handler_failed", f"A callback for {message.topic!r} raised {exc!r}; not ACKed")
                error.__cause__ = exc
                self._report(error, delivery)
                continue
            if self._auto_ack:
                message.ack()
            # Otherwise it stays "being handled" (re-sends ignored) until settled.

    def _settle(self, message: Message, ack: bool) -> None:
        """``message.ack()`` / ``message.nack()``."""
        self._active.discard(message.message_id)
        if ack:
            self._seen[message.message_id] = None
            if len(self._seen) > self._dedup_size:
                self._seen.popitem(last=False)
            self._ack(message.topic, message.message_id)
        elif self._transport is not None:
            self._transport.nack(message.topic, message.message_id)

    def _ack(self, topic: str, message_id: str) -> None:
        # Also while a connection is being set up: messages kept for a persistent
        # subscriber arrive right after init. Without a connection the ACK is dropped:
        # the broker re-sends, and the id is then ACKed from the de-duplication set.
        if self._transport is not None:
            self._transport.ack(topic, message_id)

    # ------------------------------------------------------------------ helpers

    def _report(self, error: FastPortError, delivery: Delivery | None) -> None:
        if self._on_error is None:
            where = f" ({delivery.topic!r} {delivery.message_id})" if delivery is not None else ""
            log.warning("%s%s", error, where)
        else:
            self._invoke(self._on_error, error, delivery)

    def _invoke(self, callback: Callable[..., Any] | None, *args: Any) -> None:
        """Run an application callback; a coroutine one runs as a task. Its failure is
        logged, never allowed to break the connection."""
        if callback is None:
            return
        try:
            result = callback(*args)
        except Exception:
            log.exception("callback %r failed", callback)
            return
        if inspect.isawaitable(result):
            self._spawn(result)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task failed")

        task = asyncio.ensure_future(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _wait(self, future: asyncio.Future[Any], timeout: float) -> bool:
        """Wait for ``future`` up to ``timeout`` (on the client's clock); True if done."""
        if not future.done():
            sleeper = asyncio.ensure_future(self._clock.sleep(timeout))
            try:
                await asyncio.wait((future, sleeper), return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
        return future.done()

    async def _request(self, request: Coroutine[Any, Any, T]) -> T:
        """A request to the server, bounded by ``request_timeout``: a server that
        accepts the connection but never answers counts as a lost connection."""
        task = asyncio.ensure_future(request)
        if not await self._wait(task, self._request_timeout):
            task.cancel()
            raise ConnectError("timeout", f"No answer from the server within {self._request_timeout:g} s")
        return task.result()
