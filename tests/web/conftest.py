"""Fixtures for the HTTP door's tests: servers with chosen settings, raw JSON WebSocket
clients and REST calls, written the way deployed clients talk (no fastport client code)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from fastport.app import App
from fastport.core import ManualClock

from ..support import make_settings
from .wire import Rest, WsClient, connect

StartApp = Callable[..., Awaitable[App]]


@pytest.fixture
async def start_app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[StartApp]:
    """Start a server with setting overrides (``start_app(max_payload=1024)``); all are
    stopped at the end."""
    apps: list[App] = []

    async def start(**overrides: Any) -> App:
        server = App(make_settings(tmp_path / f"app{len(apps)}", **overrides), clock=clock)
        await server.start()
        apps.append(server)
        return server

    yield start
    for server in apps:
        await server.stop()


@pytest.fixture
async def rest(app: App) -> AsyncIterator[Rest]:
    async with aiohttp.ClientSession() as http:
        yield Rest(http, app.http_port)


@pytest.fixture
async def session(rest: Rest) -> dict[str, Any]:
    """A session "s1" (password "pw") created over REST; its createSession answer."""
    status, body = await rest.create_session("s1", "pw")
    assert status == 200, body
    return body


@pytest.fixture
async def ws(app: App) -> AsyncIterator[Callable[..., Awaitable[WsClient]]]:
    """Open raw WebSocket clients to the app (``await ws()``, ``await ws("/any/path")``)."""
    clients: list[WsClient] = []

    async def open_client(path: str = "/") -> WsClient:
        client = await connect(app.http_port, path)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


@pytest.fixture
async def joined(ws: Callable[..., Awaitable[WsClient]], session: dict[str, Any]) -> Callable[..., Awaitable[WsClient]]:
    """Open a client already initialized into "s1", optionally subscribed to topics."""

    async def open_joined(*topics: str, path: str = "/") -> WsClient:
        client = await ws(path)
        await client.init("s1", "pw")
        for topic in topics:
            await client.send({"type": "subscribe", "topic": topic})
            assert await client.recv() == {"type": "subscribe_response", "success": True, "topic": topic}
        return client

    return open_joined
