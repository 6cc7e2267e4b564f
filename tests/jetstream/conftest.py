"""Fixtures: real nats-server processes (one server, or a 3-node cluster) and clients.

A machine without nats-server fails these tests loudly, saying how to install it;
only an explicit FASTPORT_SKIP_NATS=1 skips them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from fastport.core.session import Limits, SessionRecord

from .servers import NatsCluster, NatsServer, require_nats_server, start_server


@pytest.fixture(scope="session")
def nats_binary() -> str:
    return require_nats_server()


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


WAIT_S = 10.0  # how long a test waits for an event: a guard against hanging, not a timing expectation
# JetStream API calls wait this long for an answer: a cluster on a machine busy with
# other test runs can take seconds to elect a leader, and a test must not fail for it.
API_TIMEOUT_S = 20.0


async def connect(*urls: str) -> Client:
    """A client that keeps reconnecting (a killed node must not end the test's client)."""
    return await nats.connect(list(urls), max_reconnect_attempts=-1, reconnect_time_wait=0.1)


def jetstream(nc: Client) -> JetStreamContext:
    return nc.jetstream(timeout=API_TIMEOUT_S)


@pytest.fixture
async def nc(nats_server: NatsServer) -> AsyncIterator[Client]:
    client = await connect(nats_server.url)
    yield client
    await client.close()


def record(name: str, **changes: object) -> SessionRecord:
    """A session's record with settings of its own in every field (``changes`` wins)."""
    base = SessionRecord(
        name=name,
        password_hash="scrypt$salt$hash",
        secret_hash="sha256$hash",
        retry_interval_ms=250,
        max_retry_limit=3,
        message_expiry_ms=60_000,
        expires_at_ms=0,
        limits=Limits(max_payload_bytes=1024, max_connections=5, max_subscriptions=7, max_pending_messages=9),
        suspended=False,
        created_at_ms=1_700_000_000_000,
    )
    return dataclasses.replace(base, **changes)
