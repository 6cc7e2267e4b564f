"""A minimal WebSocket client for the load generator, written on asyncio.Protocol.

Why not a WebSocket library: a library sends each frame with its own write (and
often its own await), so the generator would spend more per message than the
server it measures. Here every batch of frames (all the acks for what one read
brought in, all the publishes a window opening allows) goes out in one
``transport.write``, and everything one read brings in is parsed in one loop.

Only what the generator needs is implemented: the client handshake, masked text
frames out, unmasked text/binary/ping/close frames in (fragmented ones reassembled).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import struct
from collections.abc import Callable
from typing import cast

try:
    from aiohttp._websocket.helpers import websocket_mask
except ImportError:  # pragma: no cover - aiohttp always ships it

    def websocket_mask(mask: bytes, data: bytearray) -> None:
        for i in range(len(data)):
            data[i] ^= mask[i & 3]


_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_LEN16 = struct.Struct("!BBH")
_LEN64 = struct.Struct("!BBQ")
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def encode_frame(payload: bytes, mask: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final client frame (clients must mask, RFC 6455 §5.3)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = _LEN16.pack(0x80 | opcode, 0x80 | 126, n)
    else:
        head = _LEN64.pack(0x80 | opcode, 0x80 | 127, n)
    body = bytearray(payload)
    websocket_mask(mask, body)
    return head + mask + body


class WsClient(asyncio.Protocol):
    """One connection. ``on_frames`` gets every text frame a read brought in, as a list."""

    def __init__(self, host: str, port: int, path: str, on_frames: Callable[[list[bytearray]], None]) -> None:
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {{key}}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self._key = base64.b64encode(os.urandom(16))
        self.on_frames = on_frames
        self.mask = os.urandom(4)
        self.transport: asyncio.Transport | None = None
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._upgraded = False
        self._buf = bytearray()
        self._partial: bytearray | None = None

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream connection's: uvloop's has every asyncio.Transport method without
        # subclassing it, so it is cast, not checked.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self._request.replace("{key}", self._key.decode()).encode())

    def connection_lost(self, exc: Exception | None) -> None:
        reason = str(exc) if exc else "connection closed"
        if not self.open.done():
            self.open.set_exception(ConnectionError(reason))
        if not self.closed.done():
            self.closed.set_result(reason)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            response = bytes(buf[:end]).decode("latin-1")
            del buf[: end + 4]
            accept = base64.b64encode(hashlib.sha1(self._key + _GUID).digest()).decode()
            if " 101 " not in response.split("\r\n", 1)[0] or accept not in response:
                self.open.set_exception(ConnectionError(f"WebSocket upgrade refused: {response.splitlines()[0]!r}"))
                self.transport.close()  # type: ignore[union-attr]
                return
            self._upgraded = True
            self.open.set_result(None)
        texts: list[bytearray] = []
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            mask = None
            if b1 & 0x80:  # servers do not mask, but be lenient
                mask = bytes(buf[pos + head : pos + head + 4])
                head += 4
            end = pos + head + length
            if end > n:
                break
            payload = buf[pos + head : end]
            pos = end
            if mask is not None:
                websocket_mask(mask, payload)
            opcode = b0 & 0x0F
            if opcode == OP_TEXT or opcode == OP_BINARY:
                if b0 & 0x80:
                    if opcode == OP_TEXT:
                        texts.append(payload)
                else:
                    self._partial = payload if opcode == OP_TEXT else None
            elif opcode == OP_CONT:
                if self._partial is not None:
                    self._partial += payload
                    if b0 & 0x80:
                        texts.append(self._partial)
                        self._partial = None
            elif opcode == OP_PING:
                self.transport.write(encode_frame(bytes(payload), self.mask, OP_PONG))  # type: ignore[union-attr]
            elif opcode == OP_CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.closed.done():
                    self.closed.set_result(f"closed by server ({code} {bytes(payload[2:]).decode(errors='replace')})")
                self.transport.write(encode_frame(bytes(payload[:2]), self.mask, OP_CLOSE))  # type: ignore[union-attr]
                self.transport.close()  # type: ignore[union-attr]
                break
        if pos:
            del buf[:pos]
        if texts:
            self.on_frames(texts)

    # -- sending --

    def send(self, payloads: list[bytes]) -> None:
        """Send text frames, all in one write."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        mask = self.mask
        transport.write(b"".join([encode_frame(p, mask) for p in payloads]))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_frame(b"\x03\xe8", self.mask, OP_CLOSE))
            self.transport.close()


async def connect(host: str, port: int, path: str, on_frames: Callable[[list[bytearray]], None]) -> WsClient:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: WsClient(host, port, path, on_frames), host, port)
    await client.open
    return client
