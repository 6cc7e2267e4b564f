"""Core unit tests: a Broker with a manual clock and recording peers, no sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

from fastport.core import (
    Broker,
    BrokerConfig,
    BrokerError,
    Connection,
    ErrorCode,
    ManualClock,
    Message,
    PublishOutcome,
    SessionSpec,
)
from fastport.core.delivery import ABSENT, Hash
from fastport.engines.embedded import EmbeddedEngine
from fastport.store.memory import MemoryStore
from fastport.store.sqlite import SqliteStore


@dataclass
class Received:
    topic: str
    message_id: str
    payload: bytes
    retry: int
    attributes: dict[str, str] = field(default_factory=dict)
    hash: Hash = ABSENT


@dataclass
class RecordingPeer:
    """Records everything the core sends one connection."""

    messages: list[Received] = field(default_factory=list)
    results: list[PublishOutcome] = field(default_factory=list)
    acks: list[tuple[str, int]] = field(default_factory=list)
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    closed: tuple[str, str] | None = None
    full: bool = False  # a slow reader: refuse deliveries
    _new_result: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, message: Message, retry: int) -> bool:
        if self.full:
            return False
        self.messages.append(Received(message.topic, message.id, message.payload, retry, dict(message.attributes), message.hash))
        return True

    def publish_result(self, outcome: PublishOutcome) -> None:
        self.results.append(outcome)
        self._new_result.set()

    def ack_received(self, message: Message, remaining: int) -> None:
        self.acks.append((message.id, remaining))

    def delivery_failed(self, message: Message, reason: str, remaining: int) -> None:
        self.failures.append((message.id, reason, remaining))

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


@pytest.fixture(params=["memory", "sqlite"])
def store_factory(request: pytest.FixtureRequest, tmp_path):  # type: ignore[no-untyped-def]
    """Every core test runs against each storage backend."""
    if request.param == "memory":
        return MemoryStore
    if request.param == "sqlite":
        return lambda: SqliteStore(tmp_path / "fastport.db")
    raise AssertionError(request.param)


@pytest.fixture
async def broker(store_factory, clock: ManualClock) -> AsyncIterator[Broker]:  # type: ignore[no-untyped-def]
    engine = EmbeddedEngine(store_factory(), clock, dedup_window_ms=60_000)
    b = Broker(engine, clock, BrokerConfig(max_payload_bytes=1024))
    await b.start()
    try:
        yield b
    finally:
        await b.stop()


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


@pytest.fixture
def client(broker: Broker):  # type: ignore[no-untyped-def]
    """A factory: ``await client()`` is a connection initialized into session "s"."""

    async def make(session: str = "s", password: str = "pw", client_id: str | None = None) -> Client:
        return await Client(broker).init(session, password, client_id)

    return make


async def make_session(broker: Broker, name: str = "s", password: str = "pw", **kw: object) -> str:
    info, secret = await broker.create_session(SessionSpec(name=name, password=password, **kw))  # type: ignore[arg-type]
    return secret


@contextmanager
def refused(code: ErrorCode) -> Iterator[None]:
    """The block must raise BrokerError with exactly this code."""
    with pytest.raises(BrokerError) as info:
        yield
    assert info.value.code is code, info.value
