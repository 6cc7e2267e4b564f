"""Fixtures: real nats-server processes (one server per test, or a 3-node cluster per
module) and clients. The binary (``nats_binary``) and the run's shared server are in
tests/conftest.py. Helpers are in ``support.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client

from fastport.app import App
from fastport.engines.jetstream.link import NatsLink

from .nodes import start_node
from .servers import NatsCluster, NatsServer, start_server
from .support import connect, link_options


@pytest.fixture
def nats_server(nats_binary: str, tmp_path: Path) -> Iterator[NatsServer]:
    server = start_server(nats_binary, tmp_path / "nats")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def nats_cluster(nats_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsCluster]:
    cluster = NatsCluster.start(nats_binary, tmp_path_factory.mktemp("nats-cluster"))
    yield cluster
    cluster.stop()


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await connect(nats_server.url)
    yield client
    await client.close()


@pytest.fixture
async def links(nats_server: NatsServer) -> AsyncIterator[list[NatsLink]]:
    """Two nodes' connections to one server, with short waits (a test of failure
    should not wait the production budgets out)."""
    nodes = [NatsLink(link_options(nats_server.url)) for _ in range(2)]
    for node in nodes:
        await node.open()
    yield nodes
    for node in nodes:
        await node.close()


@pytest.fixture
async def nodes(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[list[App]]:
    """Two fastport nodes (nodes.py) on one server."""
    apps = [await start_node(tmp_path, "a", nats_server), await start_node(tmp_path, "b", nats_server)]
    yield apps
    for app in apps:
        await app.stop()
