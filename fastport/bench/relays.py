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

Run: ``python -m fastport.bench.relays ws|grpc [--host H] [--port P]``; logs
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
from typing import Any

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
    parser.add_argument("kind", choices=("ws", "grpc"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = None
    relay = _ws_relay if args.kind == "ws" else _grpc_relay
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(relay(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
