"""The two baselines ``make bench`` measures beside fastport, with the same generator.

``ws``: a bare aiohttp + orjson WebSocket relay speaking the legacy JSON protocol.
init and subscribe are answered, a publish is forwarded to the topic's other sockets
and answered with publish_response; no sessions, no store, no delivery tracking,
ACKs are read and dropped. It is what "a WebSocket relay in Python" costs, so the
broker's figure divided by it is the price of the broker logic.

``grpc``: a bare grpc.aio relay of the ``fastport.v1.Broker/Connect`` stream with
one item per stream message in both directions (each publish result, each
delivered message its own ServerFrame), the way a stream API is usually first
written. Against it the generator sends one item per ClientFrame too (``--batch 1``).

``picows``: the ``ws`` relay's logic on picows (a Cython asyncio WebSocket library)
instead of aiohttp's WebSocket, with aiohttp still serving plain HTTP on the same
port (issue 16's evaluation of picows for the WebSocket door, bench/README.md).
picows can only listen on a port of its own (``ws_create_server``, which answers
GET requests without a body and nothing else), so a first protocol reads each
connection's request head and hands the connection to picows (a WebSocket upgrade)
or to aiohttp's low-level ``web.Server`` (anything else) with
``transport.set_protocol``. picows has no public way to take over an accepted
connection: ``_picows_protocol`` builds its server protocol the way
``ws_create_server`` does, which is picows' private API.

Run: ``python -m fastport.bench.relays ws|grpc|picows [--host H] [--port P]``; logs
``listening http=H:P`` or ``listening grpc=H:P`` then ``ready`` on stderr, as
``fastport serve`` does, and stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import uuid
from typing import Any, cast

log = logging.getLogger("fastport.bench.relay")


async def _ws_relay(host: str, port: int) -> None:
    import orjson
    from aiohttp import WSMsgType, web

    topics: dict[str, set[web.WebSocketResponse]] = {}
    text = WSMsgType.TEXT

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=10 * 1024 * 1024)
        await ws.prepare(request)
        mine: set[str] = set()
        try:
            async for msg in ws:
                if msg.type != text:
                    continue
                f = orjson.loads(msg.data)
                kind = f.get("type")
                if kind == "publish":
                    topic = f.get("topic")
                    mid = f.get("messageId") or uuid.uuid4().hex
                    out = orjson.dumps(
                        {
                            "type": "message",
                            "topic": topic,
                            "data": f.get("data"),
                            "hash": f.get("hash"),
                            "timestamp": f.get("timestamp"),
                            "messageId": mid,
                        }
                    )
                    n = 0
                    for other in tuple(topics.get(topic, ())):
                        if other is not ws:
                            await other.send_frame(out, text)
                            n += 1
                    await ws.send_frame(
                        orjson.dumps({"type": "publish_response", "success": True, "messageId": mid, "deliveredTo": n}),
                        text,
                    )
                elif kind == "ack":
                    continue
                elif kind == "init":
                    await ws.send_frame(
                        orjson.dumps({"type": "init_response", "success": True, "sessionName": f.get("sessionName")}), text
                    )
                elif kind == "subscribe":
                    topic = f.get("topic")
                    topics.setdefault(topic, set()).add(ws)
                    mine.add(topic)
                    await ws.send_frame(orjson.dumps({"type": "subscribe_response", "success": True, "topic": topic}), text)
                else:
                    await ws.send_frame(orjson.dumps({"error": "Unknown message type"}), text)
        finally:
            for topic in mine:
                topics.get(topic, set()).discard(ws)
        return ws

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()  # type: ignore[union-attr]
    log.info("listening http=%s:%d", bound[0], bound[1])
    try:
        await _until_signalled()
    finally:
        await runner.cleanup()


class _Relay:
    """The legacy JSON relay logic of the picows relay: one topic table, frames in,
    frames out through ``send`` (one write per frame, as the aiohttp relay does)."""

    def __init__(self) -> None:
        self.topics: dict[str, set[Any]] = {}

    def frame(self, me: Any, mine: set[str], raw: bytes, send: Any) -> None:
        import orjson

        f = orjson.loads(raw)
        kind = f.get("type")
        if kind == "publish":
            topic = f.get("topic")
            mid = f.get("messageId") or uuid.uuid4().hex
            out = orjson.dumps(
                {"type": "message", "topic": topic, "data": f.get("data"), "hash": f.get("hash"),
                 "timestamp": f.get("timestamp"), "messageId": mid}
            )
            n = 0
            for other in tuple(self.topics.get(topic, ())):
                if other is not me:
                    send(other, out)
                    n += 1
            send(me, orjson.dumps({"type": "publish_response", "success": True, "messageId": mid, "deliveredTo": n}))
        elif kind == "ack":
            return
        elif kind == "init":
            send(me, orjson.dumps({"type": "init_response", "success": True, "sessionName": f.get("sessionName")}))
        elif kind == "subscribe":
            topic = f.get("topic")
            self.topics.setdefault(topic, set()).add(me)
            mine.add(topic)
            send(me, orjson.dumps({"type": "subscribe_response", "success": True, "topic": topic}))
        else:
            send(me, orjson.dumps({"error": "Unknown message type"}))

    def leave(self, me: Any, mine: set[str]) -> None:
        for topic in mine:
            self.topics.get(topic, set()).discard(me)


# picows allocates each connection's read buffer up front (16 KiB by default) and grows
# it when a read does not fit: 1 KiB keeps an idle connection small and busy ones grow
# theirs once (the figures: bench/README.md, "picows for the WebSocket door?").
READ_BUFFER = 1024


def _picows_protocol(listener_factory: Any) -> asyncio.BaseProtocol:
    """picows' server protocol for one connection, built as ``ws_create_server``
    builds it (picows 2.x; private API: picows has no public hand-off)."""
    from picows import WSAutoPingStrategy, picows

    return picows.WSProtocol(  # type: ignore[attr-defined, no-any-return]
        None, None, False, listener_factory, logging.getLogger("picows.server"), True, 5,
        False, 20, 20, WSAutoPingStrategy.PING_WHEN_IDLE, True, 10 * 1024 * 1024, None, READ_BUFFER,
    )


class _Front(asyncio.Protocol):
    """Reads a connection's first request head, then hands the connection (and what
    was read) to picows for a WebSocket upgrade, or to aiohttp for anything else."""

    MAX_HEAD = 16 * 1024

    def __init__(self, websocket: Any, http: Any) -> None:
        self._websocket = websocket
        self._http = http
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > self.MAX_HEAD:
                self._transport.close()
            return
        head = bytes(self._buf[:end]).lower()
        upgrade = b"\r\nupgrade: websocket" in head or b"\r\nupgrade:websocket" in head
        proto = _picows_protocol(self._websocket) if upgrade else self._http()
        self._transport.set_protocol(proto)
        proto.connection_made(self._transport)
        received = bytes(self._buf)
        if isinstance(proto, asyncio.BufferedProtocol):
            view = memoryview(received)
            while view:
                buf = memoryview(proto.get_buffer(len(view)))
                n = min(len(buf), len(view))
                buf[:n] = view[:n]
                proto.buffer_updated(n)
                view = view[n:]
        else:
            cast(asyncio.Protocol, proto).data_received(received)

    def connection_lost(self, exc: Exception | None) -> None:
        pass  # closed before a request head: nothing was handed over


async def _picows_relay(host: str, port: int) -> None:
    from aiohttp import web
    from picows import WSListener, WSMsgType

    relay = _Relay()
    text = WSMsgType.TEXT
    # Flow control as the aiohttp relay has it (its ``await send_frame`` waits while a
    # receiver's buffer is full, and meanwhile reads nothing more from the sender):
    # a sender whose frame went to a socket with a full buffer stops being read until
    # that socket drains. picows' ``send`` never waits, so without this one publisher
    # fills a slow subscriber's buffer without bound.
    full: dict[Any, set[Any]] = {}  # a socket whose buffer is full -> senders held back
    sender: list[Any] = [None]  # whose frame is being handled

    def send(transport: Any, data: bytes) -> None:
        transport.send(text, data)
        held = full.get(transport)
        if held is not None and sender[0] not in held:
            held.add(sender[0])
            sender[0].underlying_transport.pause_reading()

    class Listener(WSListener):
        def __init__(self) -> None:
            self.transport: Any = None
            self.mine: set[str] = set()

        def on_ws_connected(self, transport: Any) -> None:
            self.transport = transport

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            if frame.msg_type == text:
                sender[0] = transport
                relay.frame(transport, self.mine, frame.get_payload_as_bytes(), send)
            elif frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

        def pause_writing(self) -> None:
            full.setdefault(self.transport, set())

        def resume_writing(self) -> None:
            for held in full.pop(self.transport, ()):
                if not held.is_disconnected:
                    held.underlying_transport.resume_reading()

        def on_ws_disconnected(self, transport: Any) -> None:
            relay.leave(transport, self.mine)
            self.resume_writing()

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "door": "aiohttp"})

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"echo": await request.json()})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_post("/api/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    http = runner.server
    assert http is not None
    server = await asyncio.get_running_loop().create_server(lambda: _Front(lambda request: Listener(), http), host, port)
    bound = server.sockets[0].getsockname()
    log.info("listening http=%s:%d", bound[0], bound[1])
    try:
        await _until_signalled()
    finally:
        server.close()
        await runner.cleanup()


async def _grpc_relay(host: str, port: int) -> None:
    import grpc
    from fastport_proto.v1 import broker_pb2 as pb

    topics: dict[str, set[asyncio.Queue[Any]]] = {}

    async def connect(requests: Any, context: grpc.aio.ServicerContext) -> None:
        out: asyncio.Queue[Any] = asyncio.Queue()
        mine: set[str] = set()

        async def read() -> None:
            async for frame in requests:
                if frame.HasField("init"):
                    out.put_nowait(pb.ServerFrame(init_result=pb.InitResult(request_id=frame.init.request_id, session=frame.init.session)))
                for s in frame.subscribe:
                    topics.setdefault(s.topic, set()).add(out)
                    mine.add(s.topic)
                    out.put_nowait(pb.ServerFrame(subscribe_results=[pb.SubscribeResult(request_id=s.request_id, topic=s.topic)]))
                for p in frame.publish:
                    mid = p.message_id or uuid.uuid4().hex
                    message = pb.ServerFrame(
                        messages=[
                            pb.Message(
                                topic=p.topic, message_id=mid, payload=p.payload, hash=p.hash,
                                timestamp_ms=p.timestamp_ms, json=p.json,
                            )
                        ]
                    )
                    n = 0
                    for q in topics.get(p.topic, ()):
                        if q is not out:
                            q.put_nowait(message)
                            n += 1
                    out.put_nowait(pb.ServerFrame(publish_results=[pb.PublishResult(request_id=p.request_id, message_id=mid, delivered_to=n)]))
            out.put_nowait(None)

        reader = asyncio.ensure_future(read())
        try:
            while (frame := await out.get()) is not None:
                await context.write(frame)
        finally:
            reader.cancel()
            for topic in mine:
                topics.get(topic, set()).discard(out)

    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 << 20)])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "fastport.v1.Broker",
                {
                    "Connect": grpc.stream_stream_rpc_method_handler(
                        connect,
                        request_deserializer=pb.ClientFrame.FromString,
                        response_serializer=pb.ServerFrame.SerializeToString,
                    )
                },
            ),
        )
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    log.info("listening grpc=%s:%d", host, bound)
    try:
        await _until_signalled()
    finally:
        await server.stop(1)


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("ready")
    await stop.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastport.bench.relays", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=("ws", "grpc", "picows"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    relay = {"ws": _ws_relay, "grpc": _grpc_relay, "picows": _picows_relay}[args.kind]
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(relay(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
