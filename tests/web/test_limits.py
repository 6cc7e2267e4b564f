"""Limits and misbehaving clients: oversized frames (1009), floods, slow readers and
dead connections never crash the server or disturb other clients."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from fastport.app import App
from fastport.web import websocket as web_socket

from ..support import eventually
from .wire import BASIC, Rest, connect, joined


async def setup(server: App) -> None:
    async with aiohttp.ClientSession() as http:
        status, _ = await Rest(http, server.http_port).create_session("s1", "pw", retryInterval=1000)
        assert status == 200


async def test_frame_over_the_limit_closes_with_1009(start_app) -> None:
    server = await start_app(max_payload=1024)
    await setup(server)
    bystander = await joined(server, "t")
    big = await joined(server)
    frame = '{"type":"publish","topic":"t","data":"%s"}'
    at_limit = frame % ("x" * (1024 - len(frame % "")))
    assert len(at_limit) == 1024
    await big.send_raw(at_limit)
    assert (await big.recv())["success"] is True
    assert (await bystander.recv())["type"] == "message"
    await big.send_raw(frame % ("x" * 1024))
    code, _ = await big.closed()
    assert code == 1009
    await bystander.send({"type": "subscribe", "topic": "still/here"})
    assert (await bystander.recv())["success"] is True
    await bystander.close()


async def test_binary_frame_over_the_limit_closes_with_1009(start_app) -> None:
    server = await start_app(max_payload=1024)
    await setup(server)
    client = await joined(server)
    await client.send_raw(b"\x02" + b"x" * 2000)
    code, _ = await client.closed()
    assert code == 1009


async def test_flood_of_bad_frames(start_app) -> None:
    server = await start_app()
    await setup(server)
    flooder = await connect(server.http_port)
    count = 20_000

    async def flood() -> None:
        for i in range(count):
            await flooder.send_raw("garbage" if i % 2 else '{"type":"nope"}')

    task = asyncio.ensure_future(flood())
    # meanwhile another client is served as usual
    sub = await joined(server, "t")
    pub = await joined(server)
    for i in range(20):
        await pub.send({"type": "publish", "topic": "t", "data": str(i), "messageId": f"m{i}"})
        assert (await pub.recv())["success"] is True
        assert (await sub.recv())["data"] == str(i)
    await task
    replies = [await flooder.recv() for _ in range(count)]
    assert replies[0] == {"error": "Unknown message type", "code": "unknown_type"}
    assert replies[1] == {"error": "Invalid frame", "code": "invalid_frame"}
    assert sum(r["code"] == "invalid_frame" for r in replies) == count // 2
    for client in (flooder, sub, pub):
        await client.close()


async def test_slow_reader_is_not_buffered_without_bound_and_loses_nothing(start_app, clock, monkeypatch) -> None:
    """A subscriber that stops reading: the server stops buffering for it (deliveries
    stay pending in the broker), and once it reads again the re-sends bring the rest."""
    monkeypatch.setattr(web_socket, "MAX_BUFFER_BYTES", 2 * 1024 * 1024)
    server = await start_app(max_payload=64 * 1024)
    await setup(server)
    slow = await joined(server, "t")
    pub = await joined(server)
    count, size = 400, 30_000
    for i in range(count):
        await pub.send({"type": "publish", "topic": "t", "data": f"{i:05d}" + "x" * size, "messageId": f"m{i}"})
    for _ in range(count):
        assert (await pub.recv())["deliveredTo"] == 1
    [peer] = [p for p in server.web.websockets._sockets if p.dropped]
    assert peer.buffered() < 2 * 1024 * 1024 + 64 * 1024 + 256 * 1024
    seen: set[str] = set()
    for _ in range(50):
        while True:
            try:
                message = await slow.recv(timeout=0.3)
            except TimeoutError:
                break
            seen.add(message["messageId"])
            await slow.send({"type": "ack", "topic": "t", "messageId": message["messageId"]})
        if len(seen) == count:
            break
        clock.advance(1000)
    assert len(seen) == count
    acks = {(await pub.recv())["messageId"] for _ in range(count)}
    assert len(acks) == count
    assert server.broker.get_session("s1").pending_messages == 0
    for client in (slow, pub):
        await client.close()


async def test_dead_connection_is_detected_by_ping(start_app, monkeypatch) -> None:
    monkeypatch.setattr(web_socket, "PING_INTERVAL_S", 0.2)
    server = await start_app()
    await setup(server)
    alive = await joined(server, "t")  # the websockets client answers pings by itself
    async with aiohttp.ClientSession() as http:
        dead = await http.ws_connect(f"http://127.0.0.1:{server.http_port}/", autoping=False)
        await dead.send_str('{"type":"init","sessionName":"s1","password":"pw"}')
        # ... and then never reads again, so never answers a ping
        await eventually(lambda: server.broker.get_session("s1").connections == 2)
        await eventually(lambda: server.broker.get_session("s1").connections == 1)
        await dead.close()
    await asyncio.sleep(0.5)  # several ping intervals
    await alive.send({"type": "subscribe", "topic": "still/alive"})
    assert (await alive.recv())["success"] is True
    await alive.close()


async def test_client_ping_is_answered_and_any_frame_is_a_sign_of_life(start_app, monkeypatch) -> None:
    monkeypatch.setattr(web_socket, "PING_INTERVAL_S", 0.2)
    server = await start_app()
    await setup(server)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://127.0.0.1:{server.http_port}/", autoping=False)
        await ws.ping(b"hello")
        msg = await ws.receive(timeout=2)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"hello")
        # Never answers the server's pings, but keeps sending frames: it stays connected.
        for _ in range(10):
            await ws.send_str('{"type":"subscribe","topic":"t"}')
            await asyncio.sleep(0.08)
        assert not ws.closed
        await ws.send_str('{"type":"init","sessionName":"s1","password":"pw"}')
        replies = []
        while not replies or replies[-1].get("type") != "init_response":
            msg = await ws.receive(timeout=2)
            if msg.type is aiohttp.WSMsgType.TEXT:
                replies.append(json.loads(msg.data))
        assert replies[-1]["success"] is True
        await ws.close()


async def test_socket_is_not_dropped_while_its_frame_is_being_handled(start_app, monkeypatch) -> None:
    """A slow init (or a chunk waiting for a congested receiver) holds the socket's
    reader, so the pongs wait unread; that is not silence."""
    monkeypatch.setattr(web_socket, "PING_INTERVAL_S", 0.2)
    server = await start_app()
    await setup(server)
    init = server.broker.init

    async def slow_init(*args, **kwargs):
        await asyncio.sleep(1.0)  # several ping intervals
        return await init(*args, **kwargs)

    monkeypatch.setattr(server.broker, "init", slow_init)
    client = await connect(server.http_port)  # answers pings by itself
    await client.send({"type": "init", "sessionName": "s1", "password": "pw"})
    assert (await client.recv())["success"] is True
    await client.close()


@pytest.mark.parametrize("path", ["/", "/ws"])
async def test_many_clients_one_bad(start_app, path: str) -> None:
    """A client that sends garbage, oversized and binary junk, then vanishes mid-frame,
    leaves the others untouched."""
    server = await start_app(max_payload=4096)
    await setup(server)
    good = [await joined(server, "t") for _ in range(5)]
    reader, writer = await asyncio.open_connection("127.0.0.1", server.http_port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    assert b"101" in await reader.readline()
    writer.write(b"\x81\xfe\x10\x00\x00\x00\x00\x00" + b"{" * 100)  # a masked frame cut short
    writer.close()
    pub = await joined(server)
    await pub.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    assert (await pub.recv())["deliveredTo"] == 5
    for client in good:
        assert (await client.recv())["messageId"] == "m1"
        await client.close()
    await pub.close()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{server.http_port}/health", headers={"Authorization": BASIC}) as r:
            assert r.status == 200
