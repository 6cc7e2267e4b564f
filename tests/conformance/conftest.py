"""The engine contract suite: every test here runs once per engine factory
(support.ENGINE_FACTORIES), through the Broker API, with recording peers, no sockets.

Time passes through ``elapse(ms)`` and a test waits for the engine's work with
``settle()``: on the embedded engine the manual clock and one run of its timers, at
once; on the jetstream engine real time and a bounded wait (tests/conformance/jetstream.py).

Where an engine does not give a behaviour, and the README's engine table says so, the
test is marked ``@differs(engine, row, instead)`` (support.py): its run on that engine
is skipped naming the row, and the test ``instead`` (in test_differences.py, marked
``@only(engine)``) checks what that engine does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from fastport.core import Broker, BrokerConfig, ManualClock

from .support import ENGINE_FACTORIES, Client, Elapse, EngineFactory, Settle, engine_params, register_markers

pytest_configure = register_markers
pytest_generate_tests = engine_params


@pytest.fixture
async def engine_factory(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EngineFactory]:
    factory = ENGINE_FACTORIES[request.param](request, tmp_path)
    yield factory
    await factory.close()


@pytest.fixture
async def broker(engine_factory: EngineFactory, clock: ManualClock) -> AsyncIterator[Broker]:
    b = Broker(engine_factory(clock, dedup_window_ms=60_000), clock, BrokerConfig(max_payload_bytes=1024))
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


@pytest.fixture
def settle(engine_factory: EngineFactory, broker: Broker) -> Settle:
    """``await settle()``: the engine has done the work due by now."""
    return lambda: engine_factory.settle(broker.engine)


@pytest.fixture
def elapse(engine_factory: EngineFactory, broker: Broker, clock: ManualClock) -> Elapse:
    """``await elapse(ms)``: ``ms`` pass, then the engine has done the work due."""
    return lambda ms: engine_factory.elapse(broker.engine, clock, ms)


@pytest.fixture
def client(broker: Broker, settle: Settle) -> Callable[..., Awaitable[Client]]:
    """A factory: ``await client()`` is a connection initialized into session "s",
    whose publishes return once the engine has settled (their deliveries made)."""

    async def make(session: str = "s", password: str = "pw", client_id: str | None = None) -> Client:
        c = await Client(broker, settle).init(session, password, client_id)
        await settle()  # a persistent subscriber's consumers made, what they kept pushed
        return c

    return make
