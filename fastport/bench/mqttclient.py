"""A minimal MQTT 3.1.1 QoS 1 client for the load generator, on asyncio.Protocol.

Why not a client library: the Mosquitto baseline is only fair when Mosquitto, not
the generator, is the busy process. paho-mqtt (the first generator) reads each
packet with several ``recv`` calls and sends each with its own ``send``, and was the
busier side; the MQTT codec libraries cost as much per packet as Mosquitto spends per
message (the figures: bench/README.md, "The Mosquitto baseline"). So, as
``wsclient.py`` does for WebSocket, everything one read brings in is parsed in one
loop, and a batch (the PUBACKs for what one read brought, the publishes a window
opening allows) leaves in one ``transport.write``.

Only what the generator needs is implemented (MQTT 3.1.1, OASIS standard): CONNECT
(clean session, no keep-alive: runs are short) and CONNACK, SUBSCRIBE at QoS 1 and
SUBACK, PUBLISH at QoS 1 both ways, PUBACK both ways, DISCONNECT. Anything else the
broker sends is a protocol error for this client and ends the connection.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from ..varint import varint

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, DISCONNECT = 1, 2, 3, 4, 8, 9, 14
QOS1_PUBLISH = 0x32  # PUBLISH, QoS 1, no DUP, no RETAIN
DUP = 0x08
SUBACK_FAILURE = 0x80
MAX_PACKET_ID = 0xFFFF


def utf8(text: str) -> bytes:
    """A length-prefixed UTF-8 string (§1.5.3)."""
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def packet(first: int, body: bytes) -> bytes:
    """A whole packet: fixed header byte, Remaining Length, body."""
    return bytes((first,)) + varint(len(body)) + body


def connect_packet(client_id: str) -> bytes:
    # Protocol name, level 4 (3.1.1), flags: clean session only, keep-alive 0 (off).
    return packet(CONNECT << 4, utf8("MQTT") + b"\x04\x02\x00\x00" + utf8(client_id))


def subscribe_packet(packet_id: int, topic: str) -> bytes:
    return packet((SUBSCRIBE << 4) | 0x02, packet_id.to_bytes(2, "big") + utf8(topic) + b"\x01")


def publish_packet(topic_field: bytes, packet_id: int, payload: bytes) -> bytes:
    """A QoS 1 PUBLISH; ``topic_field`` is ``utf8(topic)``, encoded once by the caller."""
    body_len = len(topic_field) + 2 + len(payload)
    return b"%c%s%s%s%s" % (QOS1_PUBLISH, varint(body_len), topic_field, packet_id.to_bytes(2, "big"), payload)


def puback_packet(packet_id: int) -> bytes:
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


class ProtocolError(Exception):
    pass


class Publish:
    """One received QoS 1 PUBLISH."""

    __slots__ = ("packet_id", "topic", "payload", "dup")

    def __init__(self, packet_id: int, topic: bytes, payload: bytes, dup: bool) -> None:
        self.packet_id = packet_id
        self.topic = topic
        self.payload = payload
        self.dup = dup


class MqttClient(asyncio.Protocol):
    """One connection. ``on_publish`` gets every PUBLISH a read brought in, as a list,
    and answers them (``puback``) itself; ``on_puback`` gets the packet ids of every
    PUBACK a read brought in. Both run once per read, so their replies go out in one
    write."""

    def __init__(
        self,
        on_publish: Callable[[list[Publish]], None],
        on_puback: Callable[[list[int]], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        self.on_publish = on_publish
        self.on_puback = on_puback
        self.transport: asyncio.Transport | None = None
        self.connected: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[str] = loop.create_future()
        self._suback: asyncio.Future[int] | None = None
        self._buf = bytearray()

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's are not asyncio.Transport subclasses
        self.send([connect_packet(f"fastport-bench-{os.getpid()}-{id(self):x}")])

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(str(exc) if exc else "connection closed")

    def _end(self, reason: str) -> None:
        for fut in (self.connected, self._suback):
            if fut is not None and not fut.done():
                fut.set_exception(ConnectionError(reason))
        if not self.closed.done():
            self.closed.set_result(reason)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        publishes: list[Publish] = []
        pubacks: list[int] = []
        pos = 0
        n = len(buf)
        try:
            while n - pos >= 2:
                first = buf[pos]
                # Remaining Length: one byte below 128 (every PUBACK, most PUBLISHes here).
                length = buf[pos + 1]
                head = 2
                if length & 0x80:
                    length = 0
                    shift = 0
                    for k in range(1, 5):
                        if pos + k >= n:
                            length = -1
                            break
                        b = buf[pos + k]
                        length |= (b & 0x7F) << shift
                        shift += 7
                        if not b & 0x80:
                            head = k + 1
                            break
                    else:
                        raise ProtocolError("Remaining Length longer than 4 bytes")
                    if length < 0:
                        break
                end = pos + head + length
                if end > n:
                    break
                kind = first >> 4
                if kind == PUBACK:
                    pubacks.append((buf[pos + 2] << 8) | buf[pos + 3])
                elif kind == PUBLISH:
                    if (first >> 1) & 3 != 1:
                        raise ProtocolError(f"PUBLISH at QoS {(first >> 1) & 3}; this client subscribes at QoS 1 only")
                    t = pos + head
                    topic_end = t + 2 + ((buf[t] << 8) | buf[t + 1])
                    publishes.append(
                        Publish((buf[topic_end] << 8) | buf[topic_end + 1], bytes(buf[t + 2 : topic_end]),
                                bytes(buf[topic_end + 2 : end]), bool(first & DUP))
                    )
                else:
                    self._control(kind, bytes(buf[pos + head : end]))
                pos = end
        except ProtocolError as exc:
            self._fail(str(exc))
            return
        if pos:
            del buf[:pos]
        if pubacks:
            self.on_puback(pubacks)
        if publishes:
            self.on_publish(publishes)

    def _control(self, kind: int, body: bytes) -> None:
        if kind == CONNACK:
            if len(body) != 2 or body[1] != 0:
                raise ProtocolError(f"connection refused (CONNACK return code {body[1:2].hex() or '?'})")
            if not self.connected.done():
                self.connected.set_result(None)
        elif kind == SUBACK:
            if self._suback is not None and not self._suback.done():
                self._suback.set_result(body[2] if len(body) > 2 else SUBACK_FAILURE)
        else:
            raise ProtocolError(f"unexpected MQTT packet type {kind}")

    def _fail(self, reason: str) -> None:
        self._end(f"mqtt: {reason}")
        if self.transport is not None:
            self.transport.close()

    # -- requests --

    async def subscribe(self, topic: str, timeout: float) -> int:
        """Subscribe at QoS 1; returns the granted QoS (0x80: refused)."""
        assert self.transport is not None
        self._suback = asyncio.get_running_loop().create_future()
        self.transport.write(subscribe_packet(1, topic))
        return await asyncio.wait_for(self._suback, timeout)

    def send(self, packets: list[bytes]) -> None:
        """Send packets, all in one write."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(b"".join(packets))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(packet(DISCONNECT << 4, b""))
            self.transport.close()


async def connect(
    host: str,
    port: int,
    on_publish: Callable[[list[Publish]], None],
    on_puback: Callable[[list[int]], None],
    timeout: float,
) -> MqttClient:
    """Connect and wait for the broker's CONNACK."""
    loop = asyncio.get_running_loop()
    _, client = await asyncio.wait_for(
        loop.create_connection(lambda: MqttClient(on_publish, on_puback), host, port), timeout
    )
    await asyncio.wait_for(client.connected, timeout)
    return client
