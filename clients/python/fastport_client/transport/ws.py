"""The WebSocket transport: the legacy JSON protocol (legacy-json.md), so the same
client works against fastport's HTTP door and anything that speaks that protocol.

The protocol has no request ids, so replies are matched on what they carry:
``init_response`` by order (one init at a time), subscribe/unsubscribe responses by
topic, ``publish_response`` by ``messageId`` (this client always sends one). Error
frames without a ``type`` cannot be matched and go to the listener.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import ssl
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from ..errors import BrokerError, ConnectError
from .base import (
    AckReceived,
    ConnectionBase,
    Delivery,
    Endpoint,
    Listener,
    OutgoingPublish,
    PublishResult,
)

log = logging.getLogger("fastport_client.ws")

# Old servers send only a readable message; these are the codes fastport gives them.
_LEGACY_CODES = {
    "Session not found": "session_not_found",
    "Invalid password": "invalid_password",
    "Session is suspended": "session_suspended",
    "Session suspended or invalid": "session_suspended",
    "Not initialized": "not_initialized",
    "Unknown message type": "invalid_frame",
    "Internal Error": "internal",
    "Internal server error": "internal",
}


def _error(frame: dict[str, Any]) -> BrokerError:
    message = str(frame.get("error") or "Request refused")
    code = frame.get("code")
    return BrokerError.from_code(code if isinstance(code, str) and code else _LEGACY_CODES.get(message, "internal"), message)


def _dumps(frame: object) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class WebSocketTransport(ConnectionBase):
    def __init__(
        self,
        endpoint: Endpoint,
        listener: Listener,
        root_certificates: bytes | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        super().__init__(listener)
        self._endpoint = endpoint
        self._root_certificates = root_certificates
        self._open_timeout = open_timeout
        self._ws: ClientConnection | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue()

    async def open(self) -> None:
        e = self._endpoint
        url = f"{'wss' if e.tls else 'ws'}://{e.authority}{e.path}"
        context: ssl.SSLContext | None = None
        if e.tls:
            context = ssl.create_default_context()
            if self._root_certificates is not None:
                context.load_verify_locations(cadata=self._root_certificates.decode("ascii"))
        try:
            # No client-side size limit: the server enforces its own (MAX_PAYLOAD_SIZE).
            self._ws = await websockets.connect(url, ssl=context, max_size=None, open_timeout=self._open_timeout)
        except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise ConnectError("connect_failed", f"Could not open {url}: {exc}") from exc
        self._tasks = [
            asyncio.create_task(self._read(), name="fastport-ws-read"),
            asyncio.create_task(self._write(), name="fastport-ws-write"),
        ]

    # ------------------------------------------------------------------ requests

    def _send(self, frame: dict[str, object]) -> None:
        if not self._done:
            self._outbox.put_nowait(_dumps(frame))

    async def init(self, session: str, password: str, client_id: str | None) -> None:
        waiter = self._requests.add("init")
        frame: dict[str, object] = {"type": "init", "sessionName": session, "password": password}
        if client_id:
            frame["clientId"] = client_id
        self._send(frame)
        await waiter

    async def subscribe(self, topic: str, persistent: bool) -> None:
        waiter = self._requests.add(("subscribe", topic))
        frame: dict[str, object] = {"type": "subscribe", "topic": topic}
        if persistent:
            frame["persistent"] = True
        self._send(frame)
        await waiter

    async def unsubscribe(self, topic: str) -> None:
        waiter = self._requests.add(("unsubscribe", topic))
        self._send({"type": "unsubscribe", "topic": topic})
        await waiter

    def publish(self, item: OutgoingPublish) -> None:
        self._send(
            {
                "type": "publish",
                "topic": item.topic,
                "data": item.data,
                "hash": item.hash,
                "timestamp": item.timestamp_ms,
                "messageId": item.message_id,
            }
        )

    def ack(self, topic: str, message_id: str) -> None:
        self._send({"type": "ack", "topic": topic, "messageId": message_id})

    def nack(self, topic: str, message_id: str) -> None:
        """The legacy protocol has no NACK: the broker re-sends at the next retry interval."""

    # ------------------------------------------------------------------ the socket

    async def _write(self) -> None:
        assert self._ws is not None
        try:
            while True:
                await self._ws.send(await self._outbox.get())
                self._outbox.task_done()
        except websockets.ConnectionClosed:
            pass  # the reader reports why

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for raw in self._ws:
                if isinstance(raw, bytes) or self._done:
                    continue  # file-chunk frames (this client takes no part in file relays), or closing
                try:
                    self._dispatch(raw)
                except (ValueError, TypeError) as exc:
                    log.warning("ignoring a malformed frame (%s): %.80r", exc, raw)
        except websockets.ConnectionClosed:
            pass
        code, reason = self._ws.close_code, self._ws.close_reason or ""
        if code == 4000:  # the session was dropped or expired (legacy-json.md §1)
            closing = "session_expired" if "expired" in reason.lower() else "session_dropped"
            error = ConnectError(closing, f"Server closed the socket: {reason}")
        elif code == 4001:
            error = ConnectError("replaced", f"Server closed the socket: {reason}")
        elif code == 1001:
            error = ConnectError("shutting_down", f"The server is going away: {reason}")
        else:
            error = ConnectError("connection_lost", f"The socket was closed (code {code} {reason})".strip())
        self._finish(error)

    def _dispatch(self, raw: str) -> None:
        frame = json.loads(raw)
        if not isinstance(frame, dict):
            raise ValueError("not a JSON object")
        kind = frame.get("type")
        failed = frame.get("success") is False
        listener = self._listener
        if kind == "message":
            data = frame.get("data")
            if isinstance(data, str) and frame.get("encoding") == "base64":
                # A payload published over gRPC that is not UTF-8: back to its exact bytes.
                data = base64.b64decode(data).decode("utf-8", "surrogateescape")
            listener.on_delivery(
                Delivery(
                    str(frame.get("topic", "")),
                    str(frame.get("messageId", "")),
                    data if isinstance(data, str) else _dumps(data),
                    str(frame.get("hash") or ""),
                    int(frame.get("timestamp") or 0),
                    int(frame.get("retry") or 0),
                    not isinstance(data, str),
                )
            )
        elif kind == "publish_response":
            listener.on_publish_result(
                PublishResult(
                    str(frame.get("messageId") or ""),
                    int(frame.get("deliveredTo") or 0),
                    bool(frame.get("duplicate", False)),
                    _error(frame) if failed else None,
                )
            )
        elif kind == "ack_received":
            listener.on_ack_received(
                AckReceived(
                    str(frame.get("messageId", "")), str(frame.get("topic", "")), int(frame.get("remaining") or 0)
                )
            )
        elif kind == "init_response":
            self._requests.resolve("init", _error(frame) if failed else None)
        elif kind in ("subscribe_response", "unsubscribe_response"):
            key = (kind.removesuffix("_response"), frame.get("topic"))
            if not self._requests.resolve(key, _error(frame) if failed else None) and failed:
                listener.on_server_error(_error(frame))
        elif "error" in frame:
            listener.on_server_error(_error(frame))
        else:
            log.debug("ignoring frame of type %r", kind)

    async def close(self) -> None:
        await self._flush(self._outbox.join)
        self._silence()
        # The reader keeps draining while the close handshake runs: frames left unread
        # would pause the socket's reading and the server's close frame would never
        # be seen, stalling close() for the whole close timeout.
        if self._ws is not None:
            await self._ws.close()
        await self._end_tasks()
