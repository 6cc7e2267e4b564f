"""Fixtures: an in-process fastport server on free loopback ports, with a manual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import grpc
import pytest
from fastport_proto.v1 import admin_pb2_grpc, broker_pb2_grpc

from fastport.app import App
from fastport.core import ManualClock

from .jetstream.servers import NatsServer, require_nats_server, start_server
from .support import ServerProcess, Stream, make_settings


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="session")
def nats_binary() -> str:
    """nats-server, or the test fails saying how to install it (FASTPORT_SKIP_NATS=1
    skips instead: tests/jetstream/servers.py)."""
    return require_nats_server()


@pytest.fixture(scope="session")
def nats_for_the_run(nats_binary: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One nats-server (JetStream on, its own store) for the whole run, started when a
    test first asks: for suites whose tests leave it empty behind them
    (tests/conformance), where a server per test would cost more than the tests."""
    server = start_server(nats_binary, tmp_path_factory.mktemp("nats-run"))
    yield server
    server.stop()


@pytest.fixture
async def app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[App]:
    """A running server (both doors, memory store) whose time moves only with ``clock``."""
    server = App(make_settings(tmp_path), clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def channel(app: App) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as ch:
        yield ch


@pytest.fixture
def admin(channel: grpc.aio.Channel) -> admin_pb2_grpc.AdminStub:
    return admin_pb2_grpc.AdminStub(channel)


@pytest.fixture
def broker_stub(channel: grpc.aio.Channel) -> broker_pb2_grpc.BrokerStub:
    return broker_pb2_grpc.BrokerStub(channel)


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[ServerProcess]:
    """A ``fastport serve`` child process (not started: call ``.start()``); killed at the end."""
    proc = ServerProcess(tmp_path / "data")
    try:
        yield proc
    finally:
        proc.kill()


@pytest.fixture
async def streams(broker_stub: broker_pb2_grpc.BrokerStub) -> AsyncIterator[Callable[[], Stream]]:
    """A factory of Connect streams on the in-process server; all closed at the end."""
    opened: list[Stream] = []

    def open_stream() -> Stream:
        s = Stream(broker_stub)
        opened.append(s)
        return s

    yield open_stream
    for s in opened:
        s.close()
