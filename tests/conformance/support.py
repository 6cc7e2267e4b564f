"""What the engine contract suite (tests/conformance) and the store tests build on: a
recording peer, a client with one-line helpers, how each engine is made and driven
(``EngineFactory``: time passing, waiting for the engine's work), and the markers of
where an engine differs (``differs``, ``only``). Imported, not fixtures: fixtures are
in conftest.py.

An engine joins the suite by adding its factory to ``ENGINE_FACTORIES``; every test in
tests/conformance then runs on it, but those marked ``differs`` for it.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Iterator
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

from .jetstream import JetStreamFactory


Settle = Callable[[], Awaitable[None]]  # the ``settle`` fixture
Elapse = Callable[[int], Awaitable[None]]  # the ``elapse`` fixture


class EngineFactory(Protocol):
    """Makes one kind of engine for a test, and drives what a test cannot drive
    through the Broker API: the passing of time, and waiting for the engine's work."""

    def __call__(self, clock: ManualClock, *, dedup_window_ms: int = ..., slow_consumer_timeout_ms: int = ...) -> Engine:
        """A new engine on ``clock`` (not open yet)."""

    async def settle(self, engine: Engine) -> None:
        """Return once ``engine`` has done the work due by now: what was published
        delivered, ACKs and give-ups told, re-sends, give-ups and expiry due done."""

    async def elapse(self, engine: Engine, clock: ManualClock, ms: int) -> None:
        """Let ``ms`` pass on ``clock`` (and in real time for an engine whose timers
        are not the clock's), then ``settle``."""

    async def close(self) -> None:
        """After the test (its engines closed): remove what they left behind."""


@dataclass(frozen=True)
class EmbeddedFactory:
    """The embedded engine on a store made by ``store`` (a fresh one per call). Its
    timers are the clock's: settling is one run of what is due, nothing waits."""

    store: Callable[[], Store]

    def __call__(self, clock: ManualClock, **options: int) -> EmbeddedEngine:
        return EmbeddedEngine(self.store(), clock, **options)

    async def settle(self, engine: Engine) -> None:
        assert isinstance(engine, EmbeddedEngine)
        engine.run_timers()

    async def elapse(self, engine: Engine, clock: ManualClock, ms: int) -> None:
        clock.advance(ms)
        await self.settle(engine)

    async def close(self) -> None:
        pass


# Every engine the contract suite runs on, by name: its factory, given the test's
# request (for the fixtures it needs, such as the run's NATS server) and a directory
# of the test's own for whatever files it keeps.
ENGINE_FACTORIES: dict[str, Callable[[pytest.FixtureRequest, Path], EngineFactory]] = {
    "embedded-memory": lambda _, __: EmbeddedFactory(MemoryStore),
    "embedded-sqlite": lambda _, tmp_path: EmbeddedFactory(lambda: SqliteStore(tmp_path / "fastport.db")),
    "jetstream": lambda request, _: JetStreamFactory(request.getfixturevalue("nats_for_the_run").url),
}


README = Path(__file__).parents[2] / "README.md"


def differs(engine: str, row: str, instead: str) -> pytest.MarkDecorator:
    """This test's behaviour is not ``engine``'s, as the README's engine table says in
    its row ``row``; the test ``instead`` (in test_differences.py, ``@only(engine)``)
    checks what ``engine`` does. Its run on ``engine`` is reported skipped, naming both."""
    return pytest.mark.differs(engine=engine, row=row, instead=instead)


def only(*engines: str) -> pytest.MarkDecorator:
    """A test of what these engines do where they differ (see ``differs``)."""
    return pytest.mark.only(*engines)


def engine_params(metafunc: pytest.Metafunc) -> None:
    """Runs each test that needs an engine once per factory (its conftest's
    ``pytest_generate_tests``), as ``only`` and ``differs`` say. A ``differs`` must
    name a row of the README's engine table and an ``only`` test beside it: the
    skip then says where the difference is documented and where it is checked."""
    if "engine_factory" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("only")
    engines = [name for name in ENGINE_FACTORIES if marker is None or name in marker.args]
    params = []
    for name in engines:
        marks = []
        for mark in metafunc.definition.iter_markers("differs"):
            if mark.kwargs["engine"] != name:
                continue
            row, instead = mark.kwargs["row"], mark.kwargs["instead"]
            if f"| {row} |" not in README.read_text():
                raise pytest.UsageError(f"{metafunc.definition.name}: no row {row!r} in the README's engine table")
            other = getattr(importlib.import_module(f"{__package__}.test_differences"), instead, None)
            if other is None or name not in [a for m in getattr(other, "pytestmark", []) if m.name == "only" for a in m.args]:
                raise pytest.UsageError(f"{metafunc.definition.name}: {instead} is no @only({name!r}) test in test_differences.py")
            marks.append(pytest.mark.skip(reason=f"{name} differs (README engine table: {row}); checked by {instead}"))
        params.append(pytest.param(name, marks=marks, id=name))
    metafunc.parametrize("engine_factory", params, indirect=True)


def register_markers(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "differs(engine, row, instead): a behaviour this engine does not give (support.differs)")
    config.addinivalue_line("markers", "only(*engines): a test of these engines' own behaviour (support.only)")


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


async def _settled() -> None:
    pass


class Client:
    """A connection plus its recording peer, with one-line helpers. ``settle`` (the
    fixture's) is awaited after each publish's result: its deliveries are made."""

    def __init__(self, broker: Broker, settle: Settle = _settled) -> None:
        self.broker = broker
        self.settle = settle
        self.peer = RecordingPeer()
        self.conn: Connection = broker.connect(self.peer)

    async def init(self, session: str = "s", password: str = "pw", client_id: str | None = None) -> Client:
        await self.broker.init(self.conn, session, password, client_id)
        return self

    def subscribe(self, pattern: str, persistent: bool = False) -> None:
        self.broker.subscribe(self.conn, pattern, persistent)

    async def publish(self, topic: str, payload: bytes = b"p", **kw: object) -> PublishOutcome:
        self.broker.publish(self.conn, topic, payload, **kw)  # type: ignore[arg-type]
        outcome = await self.peer.result()
        await self.settle()
        return outcome

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
