"""The ``fastport.v1.Broker`` service: the bidirectional pub/sub stream and unary Publish.

Throughput comes from batching. grpc.aio costs tens of microseconds per stream
message, so a client frame carries many publishes/acks, and everything the core sends
a stream within one event-loop turn is coalesced into one server frame: the peer
appends to a pending frame, and the stream's writer takes whatever has accumulated
each time it is ready to write. While a write is in flight, the next frame grows.

Latency comes from not batching too much: while few streams keep the server busy, a
frame's publishes are handled in slices of ``PUBLISH_SLICE`` with a loop turn in
between, so the results and deliveries of the first slice are on their way while the
rest is handled.

The handlers are registered by hand (not with the generated ``add_*_to_server``) so
that a client frame that does not parse gets an ``invalid_frame`` error item on the
stream instead of an opaque INTERNAL status, and so that server frames can be written
as bytes: a delivered message is encoded once and its bytes are spliced into the frame
of every stream it goes to (see ``message_item``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Callable
from typing import AsyncIterator, TypeVar

import grpc
from fastport_proto.v1 import broker_pb2 as pb
from google.protobuf.message import DecodeError

from ..core import Broker, BrokerError, Connection, ErrorCode, Message, PublishOutcome
from ..core.delivery import ABSENT, NO_ATTRIBUTES
from .errors import abort, client_address
from ..varint import varint

log = logging.getLogger("fastport.rpc")

SERVICE = "fastport.v1.Broker"

# A server frame stops growing past about this many bytes (gRPC clients reject frames
# over their receive limit, 4 MiB by default); what does not fit goes in the next one.
FRAME_BYTES = 1 << 20
# Deliveries for a stream that does not read fast enough are not buffered past this
# many bytes; the broker keeps them in flight, unsent, until the writer has taken the
# queue below half of it and the peer reports room (see engines/embedded/flow.py).
MAX_QUEUED_BYTES = 16 * 1024 * 1024
_ITEM_OVERHEAD = 48
# Publishes of one client frame handled per event-loop turn, when the server is quiet.
# With one publisher and a window of 100, the whole window was handled in one loop turn,
# during which nothing it produced can be written: the publisher waited for all of it
# before sending anything more, and the server then waited for the publisher. In slices
# of 50 the first results leave half-way, the publisher refills its window while the
# second half is handled, and two half-windows travel at once. That costs stream
# messages (twice as many, each with its grpc work), so slices must not be small
# (smaller ones lost to no slicing), and it only pays while the server would otherwise
# wait for this stream (see QUIET_STREAMS) and while results are ready at once: a store
# that answers after its commit (sqlite) gets the frame whole. Figures: bench/README.md,
# "Where the targets stand", gRPC ≥ 1.0× WebSocket.
PUBLISH_SLICE = 50
# Frames are handled in slices only while the last RECENT_FRAMES client frames came from
# at most QUIET_STREAMS streams (a publisher and its subscriber). With ten subscribers
# or ten publishers, the other streams' frames keep the server busy, and slicing only
# multiplied the stream messages (a loss in bench scenarios b and c). Counting streams
# over the last frames, not frames since this stream's last one, matters at start: ten
# subscribers have not ACKed anything yet when the first publishes come, and once a
# publisher's window travels in two halves it stays so.
RECENT_FRAMES = 16
QUIET_STREAMS = 2
_MESSAGES_KEY = b"\x2a"  # ServerFrame.messages: field 5, length-delimited
# The first-send item of the message this door encoded last: the broker hands a
# message to its subscribers one after another, so this one slot makes a fan-out
# encode once here (the WebSocket door keeps its own, web/peer.py). It keeps the last
# message alive until the next one is encoded, no longer.
_last_message: Message | None = None
_last_item = b""
_Request = TypeVar("_Request")


class _BadFrame:
    """What a client frame that failed to parse decodes to."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _lenient(parse: Callable[[bytes], _Request]) -> Callable[[bytes], _Request | _BadFrame]:
    """A request deserializer that turns bytes that do not parse into a ``_BadFrame``:
    the client's error, answered ``invalid_frame``. grpc would log a deserializer's
    exception as a traceback per request, which any client could flood the log with."""

    def decode(data: bytes) -> _Request | _BadFrame:
        try:
            return parse(data)
        except DecodeError as exc:
            return _BadFrame(str(exc) or "undecodable frame")

    return decode


def message_item(message: Message, retry: int) -> bytes:
    """``message`` encoded as one item of ``ServerFrame.messages`` (key, length, body).

    In the protobuf encoding the items of a repeated field may stand anywhere in the
    message, so a frame's bytes are its other fields as protobuf serializes them,
    followed by these items. A first send is encoded once per fan-out (the last one
    is cached): a fan-out to N streams costs one encoding and N references
    instead of N copies into N ServerFrames and N serializations, which were where a
    1 -> 10 fan-out spent its time (bench/README.md, "What profiling found", 4.).
    Re-sends carry their own ``retry`` and are encoded each time (they are rare)."""
    global _last_message, _last_item
    if message is _last_message and not retry:
        return _last_item
    msg = pb.Message(
        topic=message.topic,
        message_id=message.id,
        payload=message.payload,
        # proto3 has no null and no absent string: a hash that is none, null or "" is "".
        hash=message.hash if type(message.hash) is str else "",
        timestamp_ms=message.timestamp_ms,
    )
    # Defaults are left out of the constructor: each keyword costs a field lookup by name.
    if retry:
        msg.retry = retry
    if message.json:
        msg.json = True
    if message.attributes:
        msg.attributes.update(message.attributes)
    body = msg.SerializeToString()
    item = _MESSAGES_KEY + varint(len(body)) + body
    if not retry:
        _last_message, _last_item = message, item
    return item


class _Frame:
    """One server frame being filled: protobuf fields, then encoded message items."""

    __slots__ = ("pb", "messages", "size", "results", "acks")

    def __init__(self) -> None:
        self.pb = pb.ServerFrame()
        self.messages: list[bytes] = []
        self.size = 0  # approximate bytes; 0 while empty
        # The per-message repeated fields, looked up once per frame instead of per item.
        self.results = self.pb.publish_results
        self.acks = self.pb.acks_received

    def encode(self) -> bytes:
        if not self.messages:
            return self.pb.SerializeToString()
        return b"".join([self.pb.SerializeToString(), *self.messages])


def _error(err: BrokerError, request_id: int) -> pb.Error:
    """``err`` for the wire, echoing the id of the request that failed."""
    return pb.Error(request_id=request_id, code=err.code.value, message=err.message, temporary=err.temporary)


class StreamPeer:
    """The core's view of one Connect stream: coalesces events into server frames."""

    def __init__(self) -> None:
        self._frames: deque[_Frame] = deque([_Frame()])
        self._queued = 0  # bytes of messages waiting across all frames
        self._ready = asyncio.Event()
        self._refused = False  # a delivery was refused: call on_room when there is room
        self.closed = False
        self.answered = 0  # publish results so far (see BrokerService._handle)
        self.on_room: Callable[[], None] | None = None
        # The stream's handler task and, once the broker drops a slow consumer, why:
        # such a stream is not drained (its client does not read), it is ended at once.
        self.task: asyncio.Task[None] | None = None
        self.dropped: BrokerError | None = None

    def _frame(self, size: int) -> _Frame:
        frame = self._frames[-1]
        if frame.size + size > FRAME_BYTES and frame.size:
            frame = _Frame()
            self._frames.append(frame)
        frame.size += size
        self._ready.set()
        return frame

    # -- Peer interface (called by the core) --

    def deliver(self, message: Message, retry: int) -> bool:
        if self.closed or self._queued >= MAX_QUEUED_BYTES:
            self._refused = True
            return False
        item = message_item(message, retry)
        self._queued += len(item)
        self._frame(len(item)).messages.append(item)
        return True

    def publish_result(self, outcome: PublishOutcome) -> None:
        if self.closed:
            return
        self.answered += 1
        request_id = outcome.ref if isinstance(outcome.ref, int) else 0
        result = self._frame(_ITEM_OVERHEAD).results.add(
            request_id=request_id,
            message_id=outcome.message_id,
            delivered_to=outcome.delivered_to,
        )
        if outcome.duplicate:
            result.duplicate = True
        if outcome.error is not None:
            result.error.CopyFrom(_error(outcome.error, request_id))

    def ack_received(self, message: Message, remaining: int) -> None:
        if not self.closed:
            self._frame(_ITEM_OVERHEAD).acks.add(message_id=message.id, topic=message.topic, remaining=remaining)

    def delivery_failed(self, message: Message, reason: str, remaining: int, dead_lettered: bool) -> None:
        if not self.closed:
            self._frame(_ITEM_OVERHEAD).pb.delivery_failures.add(
                message_id=message.id, topic=message.topic, reason=reason, remaining=remaining, dead_lettered=dead_lettered
            )

    def close(self, code: str, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if code == ErrorCode.SLOW_CONSUMER and self.task is not None:
            self.dropped = BrokerError(ErrorCode.SLOW_CONSUMER, reason)
            self.task.cancel()
            return
        self._frame(_ITEM_OVERHEAD).pb.closing.CopyFrom(pb.Closing(code=code, message=reason))

    # -- used by the stream handler --

    def item(self) -> pb.ServerFrame:
        """The frame to add a direct reply (init/subscribe result, error) to."""
        return self._frame(_ITEM_OVERHEAD).pb

    def init_item(self) -> pb.ServerFrame:
        """The frame to put an init result in: a frame holds one, so a second init
        answered before the first was written goes into a new frame."""
        if self._frames[-1].pb.HasField("init_result"):
            self._frames.append(_Frame())
        return self.item()

    def finish(self) -> None:
        """No more input: end the stream once everything queued is written."""
        self.closed = True
        self._ready.set()

    async def next_frame(self) -> bytes | None:
        """The next frame to write, encoded, or None when the stream is over."""
        while True:
            frames = self._frames
            if len(frames) > 1 or frames[0].size:
                frame = frames.popleft()
                if not frames:
                    frames.append(_Frame())
                self._queued -= sum(map(len, frame.messages))
                if self._refused and self._queued < MAX_QUEUED_BYTES // 2 and self.on_room is not None:
                    self._refused = False
                    self.on_room()
                return frame.encode()
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()


class _OneShotPeer:
    """Peer of a unary Publish: only the publish result matters."""

    def __init__(self) -> None:
        self.result: asyncio.Future[PublishOutcome] = asyncio.get_running_loop().create_future()

    def deliver(self, message: Message, retry: int) -> bool:
        return True  # never called: a one-shot publisher has no subscriptions

    def publish_result(self, outcome: PublishOutcome) -> None:
        if not self.result.done():
            self.result.set_result(outcome)

    def ack_received(self, message: Message, remaining: int) -> None:
        return None

    def delivery_failed(self, message: Message, reason: str, remaining: int, dead_lettered: bool) -> None:
        return None

    def close(self, code: str, reason: str) -> None:
        if not self.result.done():
            self.result.set_exception(BrokerError(ErrorCode.SHUTTING_DOWN, reason))


def _publish(broker: Broker, conn: Connection, p: pb.Publish) -> None:
    """One Publish item onto the core; its result comes back through the peer."""
    broker.publish(
        conn,
        p.topic,
        p.payload,
        hash=p.hash or ABSENT,  # proto3's "" is an unset field: no hash
        timestamp_ms=p.timestamp_ms,
        message_id=p.message_id,
        json=p.json,
        ref=p.request_id,
        # A protobuf map is copied only when there is something in it (the common case
        # has no attributes and costs one len()).
        attributes=dict(p.attributes) if p.attributes else NO_ATTRIBUTES,
    )


def _ack_result(peer: StreamPeer, item: pb.Ack | pb.Nack, known: bool) -> None:
    """The answer to an ACK or NACK that asked for one: an error for an id with no
    unsettled delivery to this stream (settled already, given up, never delivered here)."""
    result = peer.item().ack_results.add(request_id=item.request_id, message_id=item.message_id)
    if not known:
        err = BrokerError(ErrorCode.UNKNOWN_MESSAGE, f"No unsettled delivery of {item.message_id!r} on this stream")
        result.error.CopyFrom(_error(err, item.request_id))


class BrokerService:
    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._recent: deque[StreamPeer] = deque(maxlen=RECENT_FRAMES)  # whose frames came last

    def handler(self) -> grpc.GenericRpcHandler:
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Connect": grpc.stream_stream_rpc_method_handler(
                    self.connect,
                    request_deserializer=_lenient(pb.ClientFrame.FromString),
                    response_serializer=None,  # frames are written already encoded (bytes)
                ),
                "Publish": grpc.unary_unary_rpc_method_handler(
                    self.publish,
                    request_deserializer=_lenient(pb.PublishRequest.FromString),
                    response_serializer=pb.PublishResult.SerializeToString,
                ),
            },
        )

    async def connect(
        self, requests: AsyncIterator[pb.ClientFrame | _BadFrame], context: grpc.aio.ServicerContext
    ) -> None:
        peer = StreamPeer()
        conn = self._broker.connect(peer, client_address(context))
        peer.on_room = functools.partial(self._broker.room, conn)
        peer.task = asyncio.current_task()
        reader = asyncio.create_task(self._read(requests, conn, peer))
        try:
            while (frame := await peer.next_frame()) is not None:
                try:
                    await context.write(frame)
                except Exception as exc:  # grpc's ExecuteBatchError, not public
                    # The call ended while a frame was being written (the client
                    # cancelled or went away): a normal end, not a server error.
                    log.debug("stream ended by the client while written to: %r", exc)
                    return
        except asyncio.CancelledError:
            if peer.dropped is None:
                raise
            await abort(context, peer.dropped)  # a client that does not read sees the status
        finally:
            reader.cancel()
            self._broker.disconnect(conn)

    async def _read(
        self, requests: AsyncIterator[pb.ClientFrame | _BadFrame], conn: Connection, peer: StreamPeer
    ) -> None:
        recent = self._recent
        try:
            async for frame in requests:
                if isinstance(frame, _BadFrame):
                    self._broker.stats.frame_error("grpc", ErrorCode.INVALID_FRAME.value)
                    peer.item().errors.add(code=ErrorCode.INVALID_FRAME.value, message=f"Invalid frame: {frame.reason}")
                    continue
                recent.append(peer)
                await self._handle(frame, conn, peer, len(set(recent)) <= QUIET_STREAMS)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the stream broke; the writer ends with it
            log.debug("stream read ended: %s", exc)
        finally:
            peer.finish()

    async def _handle(self, frame: pb.ClientFrame, conn: Connection, peer: StreamPeer, quiet: bool) -> None:
        """Handle one client frame; ``quiet``: in slices of PUBLISH_SLICE publishes."""
        broker = self._broker
        if frame.HasField("init"):
            init = frame.init
            error = None
            try:
                await broker.init(conn, init.session, init.password, init.client_id or None)
            except BrokerError as err:
                error = _error(err, init.request_id)
            result = peer.init_item().init_result
            result.request_id = init.request_id
            result.session = init.session
            if error is not None:
                result.error.CopyFrom(error)
        for sub in frame.subscribe:
            try:
                broker.subscribe(conn, sub.topic, sub.persistent)
                peer.item().subscribe_results.add(request_id=sub.request_id, topic=sub.topic)
            except BrokerError as err:
                error = _error(err, sub.request_id)
                peer.item().subscribe_results.add(request_id=sub.request_id, topic=sub.topic, error=error)
        for unsub in frame.unsubscribe:
            try:
                broker.unsubscribe(conn, unsub.topic)
                peer.item().unsubscribe_results.add(request_id=unsub.request_id, topic=unsub.topic)
            except BrokerError as err:
                error = _error(err, unsub.request_id)
                peer.item().unsubscribe_results.add(request_id=unsub.request_id, topic=unsub.topic, error=error)
        publishes = frame.publish
        start, n = 0, len(publishes)
        while start < n:
            end = min(start + PUBLISH_SLICE, n) if quiet else n
            answered = peer.answered
            for p in publishes[start:end]:
                _publish(broker, conn, p)
            start = end
            if start < n:
                if peer.answered == answered and not broker.commit():
                    # The store answers later, from its writer thread: a pause would only
                    # split its batch of writes in two, and nothing would be sent meanwhile.
                    quiet = False
                else:
                    await asyncio.sleep(0)  # let the writers send this slice's results
        for items, settle in ((frame.ack, broker.ack), (frame.nack, broker.nack)):
            for item in items:
                known = settle(conn, item.message_id)
                if item.request_id:
                    _ack_result(peer, item, known)

    async def publish(
        self, request: pb.PublishRequest | _BadFrame, context: grpc.aio.ServicerContext
    ) -> pb.PublishResult:
        if isinstance(request, _BadFrame):
            await abort(context, BrokerError(ErrorCode.INVALID_FRAME, f"Invalid frame: {request.reason}"))
            raise AssertionError("abort returns only by raising")
        peer = _OneShotPeer()
        conn = self._broker.connect(peer, client_address(context))
        try:
            await self._broker.init(conn, request.session, request.password)
            p = request.publish
            _publish(self._broker, conn, p)
            outcome = await peer.result
        except BrokerError as err:
            await abort(context, err)
        finally:
            self._broker.disconnect(conn)
        if outcome.error is not None:
            await abort(context, outcome.error)
        return pb.PublishResult(
            request_id=p.request_id,
            message_id=outcome.message_id,
            delivered_to=outcome.delivered_to,
            duplicate=outcome.duplicate,
        )
