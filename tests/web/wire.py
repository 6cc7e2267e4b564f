"""Raw clients for the HTTP door: JSON text over a plain WebSocket (the ``websockets``
library) and REST over aiohttp, with nothing of fastport's own client code."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from fastport.app import App

from ..support import ADMIN_PASS, ADMIN_TOKEN, ADMIN_USER

BASIC = "Basic " + base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASS}".encode()).decode()
BEARER = f"Bearer {ADMIN_TOKEN}"
TIMEOUT = 5.0


def compact(obj: Any) -> str:
    """JSON as JSON.stringify writes it."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


class WsClient:
    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    async def send(self, obj: Any) -> None:
        await self.conn.send(compact(obj))

    async def send_raw(self, data: str | bytes) -> None:
        await self.conn.send(data)

    async def recv_raw(self, timeout: float = TIMEOUT) -> str | bytes:
        return await asyncio.wait_for(self.conn.recv(), timeout)

    async def recv_text(self, timeout: float = TIMEOUT) -> str:
        data = await self.recv_raw(timeout)
        assert isinstance(data, str), f"expected a text frame, got {data!r}"
        return data

    async def recv(self, timeout: float = TIMEOUT) -> Any:
        return json.loads(await self.recv_text(timeout))

    async def silent(self, wait: float = 0.2) -> bool:
        """True when nothing arrives within ``wait`` seconds."""
        try:
            data = await asyncio.wait_for(self.conn.recv(), wait)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected frame {data!r}")

    async def init(self, session: str, password: str, **extra: Any) -> None:
        await self.send({"type": "init", "sessionName": session, "password": password, **extra})
        assert await self.recv_text() == compact({"type": "init_response", "success": True, "sessionName": session})

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int, str]:
        """Wait for the server to close the socket; its close code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.conn.recv(), timeout)
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "closed without a close frame"
            return exc.rcvd.code, exc.rcvd.reason

    async def close(self) -> None:
        await self.conn.close()


async def connect(port: int, path: str = "/", subprotocols: list[str] | None = None) -> WsClient:
    """A raw client; ``subprotocols`` are offered in ``Sec-WebSocket-Protocol`` (the
    client refuses the connection unless the server selects one of them)."""
    conn = await ws_connect(
        f"ws://127.0.0.1:{port}{path}",
        max_size=None,
        ping_interval=None,
        subprotocols=subprotocols,  # type: ignore[arg-type]  # plain strings are what goes on the wire
    )
    return WsClient(conn)


class Rest:
    def __init__(self, http: aiohttp.ClientSession, port: int) -> None:
        self.http = http
        self.base = f"http://127.0.0.1:{port}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        auth: str | None = BASIC,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        hdrs = dict(headers or {})
        if auth is not None:
            hdrs["Authorization"] = auth
        if body is not None:
            data = compact(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        async with self.http.request(method, self.base + path, data=data, headers=hdrs) as resp:
            text = await resp.text()
            assert resp.content_type == "application/json", (resp.status, text)
            return resp.status, json.loads(text) if text else None, resp

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, parsed, _ = await self.call("POST", path, body, **kw)
        return status, parsed

    async def create_session(self, name: str, password: str, **settings: Any) -> tuple[int, Any]:
        return await self.post("/api/createSession", {"sessionName": name, "password": password, **settings})


async def joined(server: App, *topics: str) -> WsClient:
    client = await connect(server.http_port)
    await client.init("s1", "pw")
    for topic in topics:
        await client.send({"type": "subscribe", "topic": topic})
        assert (await client.recv())["success"] is True
    return client


async def tick(clock, ms: int) -> None:
    """Move the clock and let the broker's timer task run."""
    clock.advance(ms)
    for _ in range(10):  # the timer task wakes through a few loop iterations
        await asyncio.sleep(0)


async def make_session(rest, **settings: object) -> None:
    status, body = await rest.create_session("r", "pw", **settings)
    assert status == 200, body


async def open_joined(ws, *topics: str):
    client = await ws()
    await client.init("r", "pw")
    for topic in topics:
        await client.send({"type": "subscribe", "topic": topic})
        assert (await client.recv())["success"] is True
    return client


async def scrape(app: App) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{app.http_port}/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=")
            text = await resp.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
