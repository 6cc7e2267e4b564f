"""The embedded engine's own machinery, beyond the contract: what it keeps and how it
schedules, read from inside; its scheduler task. Runs with the embedded engine's
factories only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from fastport.core import Broker, Limits, ManualClock
from fastport.engines.embedded import EmbeddedEngine

from .support import Client, make_session, only


pytestmark = only("embedded-memory", "embedded-sqlite")


@pytest.fixture
def embedded(broker: Broker) -> EmbeddedEngine:
    assert isinstance(broker.engine, EmbeddedEngine)
    return broker.engine


async def test_one_scheduler_entry_per_session_not_per_message(
    broker: Broker, embedded: EmbeddedEngine, client: Callable[..., Awaitable[Client]], clock: ManualClock
) -> None:
    """Timers scale: thousands of pending deliveries cost no event-loop timers and
    at most a few heap entries."""
    await make_session(broker, retry_interval_ms=1000, limits=Limits(max_in_flight=2000))
    subs = [await client() for _ in range(5)]
    for s in subs:
        s.subscribe("t")
    pub = await client()
    for i in range(2000):
        await pub.publish("t", message_id=str(i))
    assert len(embedded.sessions["s"].retry_queue) == 10_000
    assert len(embedded._timers._heap) <= 2
    clock.advance(1000)
    embedded.run_timers()
    assert all(len(s.peer.messages) == 4000 for s in subs)


async def test_timer_task_resends_when_clock_moves(
    broker: Broker, embedded: EmbeddedEngine, client: Callable[..., Awaitable[Client]], clock: ManualClock
) -> None:
    """The scheduler task (not only run_timers) wakes on its own when time is due."""
    await make_session(broker, retry_interval_ms=1000)
    sub = await client()
    sub.subscribe("t")
    await (await client()).publish("t")
    clock.advance(1000)
    for _ in range(100):
        if len(sub.peer.messages) == 2:
            break
        await asyncio.sleep(0)
    assert [m.retry for m in sub.peer.messages] == [0, 1]
