"""The gRPC transport: one ``Broker.Connect`` stream per connection.

Batching is the point of this door: gRPC pays its per-message cost once per frame, so
everything queued within one event-loop turn (publishes of concurrent emits, ACKs of
messages just handled, the subscribes of a reconnect) goes out as one ClientFrame. The
server processes a frame's items in field order (init, subscribe, unsubscribe, publish,
ack), so an item that must go before something already in the frame starts a new one:
the order the client asked for is always the order the server sees.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

import grpc
from fastport_proto.v1 import broker_pb2 as pb
from fastport_proto.v1 import broker_pb2_grpc

from ..crypto import payload_bytes
from ..errors import BrokerError, ConnectError
from .base import (
    AckReceived,
    ConnectionBase,
    Delivery,
    DeliveryFailed,
    Endpoint,
    Listener,
    OutgoingPublish,
    PublishResult,
)

log = logging.getLogger("fastport_client.grpc")

_INIT, _SUBSCRIBE, _UNSUBSCRIBE, _PUBLISH, _ACK, _NACK = 1, 2, 3, 4, 5, 6
# Keep frames well under the server's receive limit; one payload may still exceed it.
FRAME_BYTES = 1 << 20
_ITEM_OVERHEAD = 48
# Messages may be as large as the server allows (10 MiB by default, configurable).
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


def _broker_error(err: pb.Error) -> BrokerError:
    return BrokerError(err.code or "internal", err.message or err.code or "Request refused", temporary=err.temporary)


class GrpcTransport(ConnectionBase):
    def __init__(self, endpoint: Endpoint, listener: Listener, root_certificates: bytes | None = None) -> None:
        super().__init__(listener)
        self._endpoint = endpoint
        self._root_certificates = root_certificates
        self._channel: grpc.aio.Channel | None = None
        self._call: grpc.aio.StreamStreamCall[pb.ClientFrame, pb.ServerFrame] | None = None
        self._ids = itertools.count(1)
        self._outbox: list[pb.ClientFrame] = []
        self._last_field = 0  # highest item kind in the newest outbox frame
        self._frame_bytes = 0
        self._wake = asyncio.Event()
        self._written = asyncio.Event()  # set while nothing is waiting to be written
        self._written.set()
        self._closing: pb.Closing | None = None
        self._answered = False  # a frame came back: the server was reached

    async def open(self) -> None:
        target = self._endpoint.authority
        if self._endpoint.tls:
            creds = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
            self._channel = grpc.aio.secure_channel(target, creds, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        # Not waiting for the channel to be ready: a server that is down fails the
        # stream at once (UNAVAILABLE) instead of stalling until a timeout.
        self._call = broker_pb2_grpc.BrokerStub(self._channel).Connect()
        self._tasks = [
            asyncio.create_task(self._read(), name="fastport-grpc-read"),
            asyncio.create_task(self._write(), name="fastport-grpc-write"),
        ]

    # ------------------------------------------------------------------ requests

    def _frame(self, kind: int, size: int = _ITEM_OVERHEAD) -> pb.ClientFrame:
        """The frame to add an item of ``kind`` to, starting a new one when the item
        must not be reordered before what is there, or the frame is full."""
        if (
            not self._outbox
            or kind < self._last_field
            or (kind == _INIT and self._last_field)
            or self._frame_bytes + size > FRAME_BYTES
        ):
            self._outbox.append(pb.ClientFrame())
            self._frame_bytes = 0
        self._last_field = kind
        self._frame_bytes += size
        self._wake.set()
        self._written.clear()
        return self._outbox[-1]

    async def init(self, session: str, password: str, client_id: str | None) -> None:
        request_id = next(self._ids)
        waiter = self._requests.add(("init", request_id))
        self._frame(_INIT).init.CopyFrom(
            pb.Init(request_id=request_id, session=session, password=password, client_id=client_id or "")
        )
        await waiter

    async def subscribe(self, topic: str, persistent: bool) -> None:
        request_id = next(self._ids)
        waiter = self._requests.add(("subscribe", request_id))
        self._frame(_SUBSCRIBE).subscribe.add(request_id=request_id, topic=topic, persistent=persistent)
        await waiter

    async def unsubscribe(self, topic: str) -> None:
        request_id = next(self._ids)
        waiter = self._requests.add(("unsubscribe", request_id))
        self._frame(_UNSUBSCRIBE).unsubscribe.add(request_id=request_id, topic=topic)
        await waiter

    def publish(self, item: OutgoingPublish) -> None:
        if self._done:
            return
        payload = payload_bytes(item.data)
        self._frame(_PUBLISH, len(payload) + len(item.topic) + _ITEM_OVERHEAD).publish.add(
            topic=item.topic,
            payload=payload,
            hash=item.hash,
            timestamp_ms=item.timestamp_ms,
            message_id=item.message_id,
            attributes=item.attributes,
        )

    def ack(self, topic: str, message_id: str) -> None:
        if not self._done:
            self._frame(_ACK).ack.add(message_id=message_id, topic=topic)

    def nack(self, topic: str, message_id: str) -> None:
        if not self._done:
            self._frame(_NACK).nack.add(message_id=message_id, topic=topic)

    # ------------------------------------------------------------------ the stream

    async def _write(self) -> None:
        assert self._call is not None
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                frames, self._outbox, self._last_field = self._outbox, [], 0
                for frame in frames:
                    await self._call.write(frame)
                if not self._outbox:
                    self._written.set()
        except (grpc.RpcError, asyncio.InvalidStateError) as exc:
            log.debug("write ended: %s", exc)  # the reader reports why the stream ended

    async def _read(self) -> None:
        assert self._call is not None
        error: ConnectError
        try:
            while True:
                frame = await self._call.read()
                if not isinstance(frame, pb.ServerFrame):  # grpc.aio.EOF: the stream ended
                    break
                self._answered = True
                self._dispatch(frame)
        except grpc.aio.AioRpcError as exc:
            unreachable = exc.code() == grpc.StatusCode.UNAVAILABLE and not self._answered
            code = "connect_failed" if unreachable else "connection_lost"
            error = ConnectError(code, f"gRPC stream ended: {exc.code().name} {exc.details() or ''}".strip())
        except Exception as exc:  # a bug must not leave the client waiting on a dead stream
            log.exception("reading the stream failed")
            error = ConnectError("connection_lost", f"Reading the stream failed: {exc!r}")
        else:
            closing = self._closing
            if closing is not None:
                error = ConnectError(closing.code or "closed_by_server", closing.message or "Server closed the stream")
            else:
                error = ConnectError("connection_lost", "The server ended the stream")
        self._finish(error)

    def _dispatch(self, frame: pb.ServerFrame) -> None:
        """Hand one server frame to the requests waiting on it and to the listener,
        in the order the server filled it."""
        listener = self._listener
        resolve = self._requests.resolve
        if frame.HasField("init_result"):
            r = frame.init_result
            resolve(("init", r.request_id), _broker_error(r.error) if r.HasField("error") else None)
        for s in frame.subscribe_results:
            resolve(("subscribe", s.request_id), _broker_error(s.error) if s.HasField("error") else None)
        for u in frame.unsubscribe_results:
            resolve(("unsubscribe", u.request_id), _broker_error(u.error) if u.HasField("error") else None)
        for p in frame.publish_results:
            listener.on_publish_result(
                PublishResult(
                    p.message_id, p.delivered_to, p.duplicate, _broker_error(p.error) if p.HasField("error") else None
                )
            )
        for m in frame.messages:
            # Surrogate escapes keep a payload that is not UTF-8 exact (plain-text binary).
            data = m.payload.decode("utf-8", "surrogateescape")
            attributes = dict(m.attributes) if m.attributes else {}
            listener.on_delivery(
                Delivery(m.topic, m.message_id, data, m.hash, m.timestamp_ms, m.retry, m.json, attributes)
            )
        for a in frame.acks_received:
            listener.on_ack_received(AckReceived(a.message_id, a.topic, a.remaining))
        for f in frame.delivery_failures:
            listener.on_delivery_failed(DeliveryFailed(f.message_id, f.topic, f.reason, f.remaining, f.dead_lettered))
        for e in frame.errors:
            listener.on_server_error(_broker_error(e))
        if frame.HasField("closing"):
            self._closing = frame.closing

    async def close(self) -> None:
        await self._flush(self._written.wait)
        self._silence()
        if self._call is not None:
            self._call.cancel()
        await self._end_tasks()
        if self._channel is not None:
            await self._channel.close()
