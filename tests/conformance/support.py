"""What the engine contract suite (tests/conformance) and the store tests build on: a
recording peer, a client with one-line helpers, and how each engine is made and
driven (``EngineFactory``). Imported, not fixtures: fixtures are in conftest.py.

An engine joins the suite by adding its factory to ``ENGINE_FACTORIES``; every test in
tests/conformance then runs on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pytest

from fastport.core import Broker, BrokerError, Connection, Engine, ErrorCode, ManualClock, Message, PublishOutcome, SessionSpec
from fastport.core.delivery import ABSENT, Hash
from fastport.engines.embedded import EmbeddedEngine
from fastport.store.base import Store
from fastport.store.memory import MemoryStore
from fastport.store.sqlite import SqliteStore


class EngineFactory(Protocol):
    """Makes one kind of engine for a test, and drives what a test cannot drive
    through the Broker API."""

    def __call__(self, clock: ManualClock, *, dedup_window_ms: int = ..., slow_consumer_timeout_ms: int = ...) -> Engine:
        """A new engine on ``clock`` (not open yet)."""

    def run_timers(self, engine: Engine) -> None:
        """Do the timer work due by the clock's time now (re-sends, give-ups, expiry)
        before returning."""


@dataclass(frozen=True)
class EmbeddedFactory:
    """The embedded engine on a store made by ``store`` (a fresh one per call)."""

    store: Callable[[], Store]

    def __call__(self, clock: ManualClock, **options: int) -> EmbeddedEngine:
        return EmbeddedEngine(self.store(), clock, **options)

    def run_timers(self, engine: Engine) -> None:
        assert isinstance(engine, EmbeddedEngine)
        engine.run_timers()


# Every engine the contract suite runs on, by name: its factory, given a directory of
# the test's own for whatever files it keeps.
ENGINE_FACTORIES: dict[str, Callable[[Path], EngineFactory]] = {
    "embedded-memory": lambda _: EmbeddedFactory(MemoryStore),
    "embedded-sqlite": lambda tmp_path: EmbeddedFactory(lambda: SqliteStore(tmp_path / "fastport.db")),
}


@dataclass
class Received:
    topic: str
    message_id: str
    payload: bytes
    retry: int
    attributes: dict[str, str] = field(default_factory=dict)
    hash: Hash = ABSENT
    timestamp_ms: int = 0


@dataclass
class RecordingPeer:
    """Records everything the core sends one connection."""

    messages: list[Received] = field(default_factory=list)
    results: list[PublishOutcome] = field(default_factory=list)
    acks: list[tuple[str, int]] = field(default_factory=list)
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)  # ids of failures that were dead-lettered
    closed: tuple[str, str] | None = None
    full: bool = False  # a slow reader: refuse deliveries
    _new_result: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, message: Message, retry: int) -> bool:
        if self.full:
            return False
        self.messages.append(
            Received(
                message.topic, message.id, message.payload, retry, dict(message.attributes), message.hash, message.timestamp_ms
            )
        )
        return True

    def publish_result(self, outcome: PublishOutcome) -> None:
        self.results.append(outcome)
        self._new_result.set()

    def ack_received(self, message: Message, remaining: int) -> None:
        self.acks.append((message.id, remaining))

    def delivery_failed(self, message: Message, reason: str, remaining: int, dead_lettered: bool) -> None:
        self.failures.append((message.id, reason, remaining))
        if dead_lettered:
            self.dead_lettered.append(message.id)

    def close(self, code: str, reason: str) -> None:
        self.closed = (code, reason)

    async def result(self, timeout: float = 5.0) -> PublishOutcome:
        """The oldest publish outcome not yet taken (waits for the store to commit)."""
        async with asyncio.timeout(timeout):
            while not self.results:
                self._new_result.clear()
                await self._new_result.wait()
        return self.results.pop(0)

    def ids(self) -> list[str]:
        return [m.message_id for m in self.messages]


class Client:
    """A connection plus its recording peer, with one-line helpers."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.peer = RecordingPeer()
        self.conn: Connection = broker.connect(self.peer)

    async def init(self, session: str = "s", password: str = "pw", client_id: str | None = None) -> Client:
        await self.broker.init(self.conn, session, password, client_id)
        return self

    def subscribe(self, pattern: str, persistent: bool = False) -> None:
        self.broker.subscribe(self.conn, pattern, persistent)

    async def publish(self, topic: str, payload: bytes = b"p", **kw: object) -> PublishOutcome:
        self.broker.publish(self.conn, topic, payload, **kw)  # type: ignore[arg-type]
        return await self.peer.result()

    def ack(self, message_id: str) -> bool:
        return self.broker.ack(self.conn, message_id)

    def nack(self, message_id: str) -> bool:
        return self.broker.nack(self.conn, message_id)

    def ack_all(self) -> None:
        for m in self.peer.messages:
            self.broker.ack(self.conn, m.message_id)

    def disconnect(self) -> None:
        self.broker.disconnect(self.conn)


async def make_session(broker: Broker, name: str = "s", password: str = "pw", **kw: object) -> str:
    info, secret = await broker.create_session(SessionSpec(name=name, password=password, **kw))  # type: ignore[arg-type]
    return secret


@contextmanager
def refused(code: ErrorCode) -> Iterator[None]:
    """The block must raise BrokerError with exactly this code."""
    with pytest.raises(BrokerError) as info:
        yield
    assert info.value.code is code, info.value
