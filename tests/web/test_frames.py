"""The WebSocket door takes upgraded connections from aiohttp and parses their frames
with aiohttp's parser into its own sink (``handoff.py``, private aiohttp API): the
start-up guard on those internals, and the frame-level behaviour the door has to keep —
fragments, frames held back while an init waits, the close handshake in both
directions, protocol errors."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import subprocess
import sys
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from fastport.app import App
from fastport.web import handoff, websocket as web_socket

from .wire import compact, connect

# ---------------------------------------------------------------------- the guard


def test_check_aiohttp_accepts_the_installed_aiohttp() -> None:
    handoff.check_aiohttp()


def test_check_aiohttp_refuses_a_changed_post_start(monkeypatch: pytest.MonkeyPatch) -> None:
    def _post_start(self: web.WebSocketResponse, request: web.BaseRequest) -> None:
        raise AssertionError("not called")

    monkeypatch.setattr(web.WebSocketResponse, "_post_start", _post_start)
    with pytest.raises(RuntimeError, match=r"written against \(aiohttp 3\.14.*_post_start"):
        handoff.check_aiohttp()


def test_check_aiohttp_refuses_a_parser_that_bypasses_the_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    class Reader:
        """Parses into a buffer of its own, never calling the queue's feed_data."""

        def __init__(self, queue: object, max_msg_size: int, compress: bool, decode_text: bool) -> None:
            self.queue = queue

        def feed_data(self, data: bytes) -> tuple[bool, bytes]:
            return False, b""

    monkeypatch.setattr(handoff, "WebSocketReader", Reader)
    with pytest.raises(RuntimeError, match="the parser fed"):
        handoff.check_aiohttp()


def test_check_aiohttp_refuses_a_request_handler_without_its_message_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(RequestHandler, "_message_tail")
    with pytest.raises(RuntimeError, match="RequestHandler has no _message_tail"):
        handoff.check_aiohttp()


def test_the_server_does_not_start_on_changed_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web.WebSocketResponse, "_post_start", None)
    with pytest.raises(RuntimeError, match="WebSocket internals"):
        web_socket.WebSocketEndpoint(None, 1024)  # type: ignore[arg-type]


def test_check_aiohttp_with_the_pure_python_parser() -> None:
    """aiohttp falls back to its Python parser without its C extensions."""
    code = (
        "from fastport.web import handoff as w; w.check_aiohttp(); "
        "print(w.WebSocketReader.__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "AIOHTTP_NO_EXTENSIONS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "aiohttp._websocket.reader_py"


# ---------------------------------------------------------------------- a raw client


def _frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked client frame (payloads under 126 bytes)."""
    mask = os.urandom(4)
    head = bytes([(0x80 if fin else 0) | rsv | opcode, 0x80 | len(payload)])
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def _text(obj: object) -> bytes:
    return _frame(0x1, compact(obj).encode())


class RawClient:
    """A WebSocket client that writes frames exactly as given (several in one write)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    async def recv(self) -> tuple[int, bytes]:
        """The next frame from the server: (opcode, payload)."""
        b0, b1 = await asyncio.wait_for(self.reader.readexactly(2), 5)
        length = b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return b0 & 0x0F, await self.reader.readexactly(length)

    async def eof(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 5) == b""

    def close(self) -> None:
        self.writer.close()


@pytest.fixture
async def s1(rest) -> None:  # type: ignore[no-untyped-def]
    status, _ = await rest.create_session("s1", "pw")
    assert status == 200


# ---------------------------------------------------------------------- frames


async def test_an_upgraded_connection_is_the_doors_alone(app: App, s1: None) -> None:
    """Once upgraded, the transport talks to the door's protocol and aiohttp's server
    has let go of the connection (its handler, request and tasks)."""
    client = await connect(app.http_port)
    await client.init("s1", "pw")
    [peer] = app.web.websockets._sockets
    assert peer._transport.get_protocol() is peer
    server = app.web._runner.server  # type: ignore[union-attr]
    for _ in range(100):
        if peer._transport not in server._connections.values():
            break
        await asyncio.sleep(0.01)
    assert peer._transport not in server._connections.values()
    await client.send({"type": "subscribe", "topic": "still/read"})
    assert (await client.recv())["success"] is True
    await client.close()
    for _ in range(100):
        if not app.web.websockets._sockets:
            break
        await asyncio.sleep(0.01)
    assert not app.web.websockets._sockets


async def test_a_fragmented_message_is_one_frame(app: App, s1: None) -> None:
    client = await connect(app.http_port)
    await client.init("s1", "pw")
    await client.conn.send(['{"type":"subs', 'cribe","top', 'ic":"a/b"}'])
    assert await client.recv() == {"type": "subscribe_response", "success": True, "topic": "a/b"}
    await client.close()


async def test_frames_behind_a_waiting_init_are_handled_after_it_in_order(
    app: App, s1: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    init = app.broker.init

    async def slow_init(*args, **kwargs):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.3)
        return await init(*args, **kwargs)

    monkeypatch.setattr(app.broker, "init", slow_init)
    client = await RawClient.open(app.http_port)
    client.writer.write(
        _text({"type": "init", "sessionName": "s1", "password": "pw"})
        + _text({"type": "subscribe", "topic": "t"})
        + _frame(0x9, b"p1")
        + _text({"type": "publish", "topic": "t", "data": "x", "messageId": "m1"})
    )
    replies = [await client.recv() for _ in range(4)]
    assert [op for op, _ in replies] == [0x1, 0x1, 0xA, 0x1]
    assert b"init_response" in replies[0][1]
    assert b"subscribe_response" in replies[1][1]
    assert replies[2][1] == b"p1"
    assert b"publish_response" in replies[3][1]  # a publisher does not get its own message
    client.close()


async def test_a_client_close_is_answered_at_once(app: App, s1: None) -> None:
    client = await RawClient.open(app.http_port)
    client.writer.write(_text({"type": "init", "sessionName": "s1", "password": "pw"}))
    assert b"init_response" in (await client.recv())[1]
    started = time.monotonic()
    client.writer.write(_frame(0x8, struct.pack("!H", 4321) + b"bye"))
    opcode, payload = await client.recv()
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (0x8, 1000)
    assert await client.eof()
    assert time.monotonic() - started < 1.0  # not the close timeout
    for _ in range(100):
        if app.broker.get_session("s1").connections == 0:
            break
        await asyncio.sleep(0.01)
    assert app.broker.get_session("s1").connections == 0
    client.close()


async def test_a_server_close_waits_for_the_clients_close_frame(app: App, s1: None, rest) -> None:  # type: ignore[no-untyped-def]
    client = await RawClient.open(app.http_port)
    client.writer.write(_text({"type": "init", "sessionName": "s1", "password": "pw"}))
    assert b"init_response" in (await client.recv())[1]
    status, _ = await rest.post("/api/dropSession", {"sessionName": "s1"})
    assert status == 200
    opcode, payload = await client.recv()
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (0x8, 4000)
    client.writer.write(_frame(0x8, struct.pack("!H", 4000)))
    assert await client.eof()
    client.close()


@pytest.mark.parametrize(
    "frame",
    [
        _frame(0x1, b"{}", rsv=0x20),  # a reserved bit
        _frame(0x3, b""),  # an unknown opcode
        _frame(0x0, b"{}"),  # a continuation of nothing
        _frame(0x9, b"x", fin=False),  # a fragmented control frame
    ],
    ids=["reserved-bit", "opcode", "continuation", "fragmented-ping"],
)
async def test_a_protocol_error_closes_with_1002(app: App, s1: None, frame: bytes) -> None:
    client = await RawClient.open(app.http_port)
    client.writer.write(_text({"type": "init", "sessionName": "s1", "password": "pw"}))
    assert b"init_response" in (await client.recv())[1]
    client.writer.write(frame)
    opcode, payload = await client.recv()
    assert (opcode, struct.unpack("!H", payload[:2])[0]) == (0x8, 1002)
    assert await client.eof()
    client.close()
    async with aiohttp.ClientSession() as http:  # the server is still there for others
        async with http.ws_connect(f"http://127.0.0.1:{app.http_port}/") as ws:
            await ws.send_str('{"type":"init","sessionName":"s1","password":"pw"}')
            assert "init_response" in (await ws.receive(timeout=5)).data
