"""Helpers of the storage tests: read-only files, and a broker restartable on its
database (``Node``, fixture ``node``)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fastport.core import Broker, BrokerConfig, ManualClock
from fastport.engines.embedded import EmbeddedEngine
from fastport.store.sqlite import SqliteStore

from ..conformance.support import Client, make_session

DEDUP_WINDOW_MS = 60_000


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make files and directories unwritable, even for root (immutable attribute)."""
    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p in paths:
                p.chmod(0o755 if p.is_dir() else 0o644)
        return
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", *map(str, paths)]).returncode != 0:
        pytest.skip("cannot make a file read-only as root here (no chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


class Node:
    """A broker over one database file, restartable on it."""

    def __init__(self, path: Path, clock: ManualClock) -> None:
        self.path = path
        self.clock = clock
        self.broker: Broker | None = None

    async def start(self) -> Broker:
        engine = EmbeddedEngine(SqliteStore(self.path), self.clock, dedup_window_ms=DEDUP_WINDOW_MS)
        self.broker = Broker(engine, self.clock, BrokerConfig(max_payload_bytes=1024))
        await self.broker.start()
        return self.broker

    async def restart(self) -> Broker:
        """Stop (clients are not disconnected: nothing is settled on the way out) and start again."""
        assert self.broker is not None
        await self.broker.stop()
        return await self.start()

    async def client(self, session: str = "s", client_id: str | None = None) -> Client:
        assert self.broker is not None
        return await Client(self.broker).init(session, "pw", client_id)

    async def persistent_subscriber(self, pattern: str = "t", **session: int) -> Client:
        """Create session "s" and subscribe "dev1" to ``pattern`` persistently."""
        assert self.broker is not None
        await make_session(self.broker, **session)
        sub = await self.client(client_id="dev1")
        sub.subscribe(pattern, persistent=True)
        return sub

    def run_timers(self, advance_ms: int = 0) -> None:
        self.clock.advance(advance_ms)
        assert self.broker is not None
        self.broker.engine.run_timers()

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.path) as db:
            return db.execute(sql).fetchall()


@pytest.fixture
async def node(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Node]:
    n = Node(tmp_path / "fastport.db", clock)
    await n.start()
    try:
        yield n
    finally:
        if n.broker is not None:
            await n.broker.stop()
