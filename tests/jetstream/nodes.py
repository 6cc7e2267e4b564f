"""Helpers of the tests that run fastport nodes (``--engine jetstream``, in this
process, real sockets) on the NATS servers of ``servers.py``: starting one, WebSocket
clients, ``/health``, and waiting until every node has seen a change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
from websockets.asyncio.client import connect as ws_connect

from fastport.app import App

from ..support import make_settings
from ..web.wire import WsClient
from .servers import NatsServer
from .support import WAIT_S


async def start_node(tmp_path: Path, name: str, nats: NatsServer) -> App:
    app = App(make_settings(tmp_path / name, engine="jetstream", nats_url=(nats.url,)))
    await app.start()
    return app


async def ws(http_port: int, session: str = "s") -> WsClient:
    client = WsClient(await ws_connect(f"ws://127.0.0.1:{http_port}/"))
    await client.init(session, "pw")
    return client


async def recv_type(client: WsClient, kind: str) -> dict[str, object]:
    while True:
        frame = await client.recv(WAIT_S)
        if frame.get("type") == kind:
            return frame  # type: ignore[no-any-return]


async def health(app: App) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{app.http_port}/health") as resp:
            return resp.status, await resp.json()


async def until_everywhere(nodes: list[App], name: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not all(app.broker is not None and name in app.broker.sessions for app in nodes):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


async def settled_subscriptions(nodes: list[App], count: int) -> None:
    """Every node counts ``count`` subscriptions of session s (made on any node)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not all(app.broker is not None and app.broker.load("s").subscriptions == count for app in nodes):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
