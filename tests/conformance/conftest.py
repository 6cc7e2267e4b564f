"""The engine contract suite: every test here runs once per engine factory
(support.ENGINE_FACTORIES), through the Broker API, with a manual clock and
recording peers, no sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from fastport.core import Broker, BrokerConfig, ManualClock

from .support import ENGINE_FACTORIES, Client, EngineFactory


@pytest.fixture(params=list(ENGINE_FACTORIES))
def engine_factory(request: pytest.FixtureRequest, tmp_path: Path) -> EngineFactory:
    return ENGINE_FACTORIES[request.param](tmp_path)


@pytest.fixture
async def broker(engine_factory: EngineFactory, clock: ManualClock) -> AsyncIterator[Broker]:
    b = Broker(engine_factory(clock, dedup_window_ms=60_000), clock, BrokerConfig(max_payload_bytes=1024))
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture
def run_timers(engine_factory: EngineFactory, broker: Broker) -> Callable[[], None]:
    """Do the timer work due by now (after ``clock.advance``)."""
    return lambda: engine_factory.run_timers(broker.engine)


@pytest.fixture
def client(broker: Broker) -> Callable[..., Awaitable[Client]]:
    """A factory: ``await client()`` is a connection initialized into session "s"."""

    async def make(session: str = "s", password: str = "pw", client_id: str | None = None) -> Client:
        return await Client(broker).init(session, password, client_id)

    return make
