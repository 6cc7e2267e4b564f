"""The sqlite store itself: group commit, confirmation after commit, storage faults,
schema versions and exclusive use of the file."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fastport.core import Broker, ErrorCode, Limits, ManualClock
from fastport.core.delivery import ABSENT
from fastport.engines.embedded import EmbeddedEngine
from fastport.store import sqlite as sqlite_store
from fastport.store.base import Rejected, RememberedId, StoreError
from fastport.store.sqlite import SqliteStore

from ..conformance.support import Client, make_session
from .conftest import read_only


@pytest.fixture
async def broker(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Broker]:
    b = Broker(EmbeddedEngine(SqliteStore(tmp_path / "fastport.db"), clock), clock)
    await b.start()
    await make_session(b)
    try:
        yield b
    finally:
        await b.stop()


def store_of(broker: Broker) -> SqliteStore:
    assert isinstance(broker.engine.store, SqliteStore)
    return broker.engine.store


async def on_writer(store: SqliteStore, sql: str) -> None:
    """Run one statement on the store's own connection, between its transactions."""
    db = store._db
    assert db is not None and store._executor is not None
    await asyncio.get_running_loop().run_in_executor(store._executor, db.execute, sql)


def count_writes(monkeypatch: pytest.MonkeyPatch, where: list[tuple[str, bool]] | None = None) -> list[int]:
    """The store's transactions from now on, as the number of steps in each; ``where``
    gets ("write" or "checkpoint", on the event loop's thread) for each transaction and
    checkpoint, in the order they start."""
    writes: list[int] = []
    write, checkpoint = SqliteStore._write, SqliteStore._run_checkpoint

    def counting(self: SqliteStore, steps: list[object], prune: int, restart: bool = False) -> Rejected:
        writes.append(len(steps))
        if where is not None:
            where.append(("write", threading.current_thread() is threading.main_thread()))
        return write(self, steps, prune, restart)  # type: ignore[arg-type]

    def checkpointing(self: SqliteStore) -> int:
        if where is not None:
            where.append(("checkpoint", threading.current_thread() is threading.main_thread()))
        return checkpoint(self)

    monkeypatch.setattr(SqliteStore, "_write", counting)
    monkeypatch.setattr(SqliteStore, "_run_checkpoint", checkpointing)
    return writes


async def test_publishes_of_one_turn_share_one_transaction(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    writes = count_writes(monkeypatch)
    sub = await Client(broker).init(client_id="dev1")
    sub.subscribe("t", persistent=True)
    pub = await Client(broker).init()
    await asyncio.sleep(0.05)
    writes.clear()
    for i in range(500):
        broker.publish(pub.conn, "t", b"x", message_id=f"m{i}")
    outcomes = [await pub.peer.result() for _ in range(500)]
    assert all(o.error is None and o.delivered_to == 1 for o in outcomes)
    assert writes[0] == 1  # 500 messages (and their deliveries): one group, one transaction
    assert len(writes) <= 2  # then the 500 first sends of the commit's callbacks
    assert len(sub.peer.messages) == 500


async def test_settles_wait_for_the_next_publishes_transaction(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ACKs of a window and the publishes that reopen it, a loop turn apart: one
    transaction, not one for the settles that the publishes would then wait behind."""
    writes = count_writes(monkeypatch)
    sub = await Client(broker).init()
    sub.subscribe("t")
    pub = await Client(broker).init()
    for i in range(10):
        broker.publish(pub.conn, "t", b"x", message_id=f"m{i}")
    assert [(await pub.peer.result()).error for _ in range(10)] == [None] * 10
    await asyncio.sleep(0.05)
    writes.clear()
    sub.ack_all()
    await asyncio.sleep(0)
    for i in range(10, 20):
        broker.publish(pub.conn, "t", b"x", message_id=f"m{i}")
    assert [(await pub.peer.result()).error for _ in range(10)] == [None] * 10
    assert len(writes) == 1


async def test_publish_is_confirmed_only_after_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    write = SqliteStore._write

    def held(self: SqliteStore, steps: list[object], prune: int, restart: bool = False) -> None:
        release.wait(5)
        return write(self, steps, prune, restart)  # type: ignore[arg-type]

    monkeypatch.setattr(SqliteStore, "_write", held)
    broker = Broker(EmbeddedEngine(SqliteStore(tmp_path / "fastport.db", fsync="full"), clock := ManualClock()), clock)  # on the writer thread
    await broker.start()
    await make_session(broker)
    sub = await Client(broker).init()
    sub.subscribe("t")
    pub = await Client(broker).init()
    broker.publish(pub.conn, "t", b"x", message_id="m1")
    await asyncio.sleep(0.1)
    assert pub.peer.results == [] and sub.peer.messages == []
    release.set()
    assert (await pub.peer.result()).delivered_to == 1
    assert sub.peer.ids() == ["m1"]
    await broker.stop()


async def test_normal_fsync_writes_on_the_loop_and_syncs_on_the_writer_thread(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    where: list[tuple[str, bool]] = []
    count_writes(monkeypatch, where)
    store = store_of(broker)
    pub = await Client(broker).init()
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_INTERVAL_S", 3600.0)
    where.clear()
    broker.publish(pub.conn, "t", b"x", message_id="m1")
    assert store.flush() and pub.peer.results == []  # written at once; the result follows
    assert where == [("write", True)]
    assert (await pub.peer.result()).message_id == "m1"

    monkeypatch.setattr(sqlite_store, "INLINE_MAX_ROWS", 5)
    where.clear()
    for i in range(6):
        broker.publish(pub.conn, "t", b"x", message_id=f"big{i}")
    assert not store.flush()  # too large for the loop: the writer thread has it
    [await pub.peer.result() for _ in range(6)]
    assert where[0] == ("write", False)

    monkeypatch.setattr(sqlite_store, "INLINE_MAX_ROWS", 2000)
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_INTERVAL_S", 0.0)
    where.clear()
    await pub.publish("t", message_id="m2")
    assert store._checkpointing is not None
    await store._checkpointing
    # A checkpoint is due: the transaction is still written on the loop (as are those
    # after it, which may start before the checkpoint does), and the checkpoint runs on
    # the writer thread.
    assert where[0] == ("write", True) and ("checkpoint", False) in where
    assert all(on_loop for kind, on_loop in where if kind == "write")


async def test_publishes_are_written_while_a_checkpoint_runs(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint (its syncs take tens of ms) runs beside the transactions: publishes
    are written and confirmed meanwhile, not held behind it."""
    release = threading.Event()
    checkpoint = SqliteStore._run_checkpoint

    def slow(self: SqliteStore) -> int:
        release.wait(5)
        return checkpoint(self)

    monkeypatch.setattr(SqliteStore, "_run_checkpoint", slow)
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_INTERVAL_S", 0.0)
    store = store_of(broker)
    sub = await Client(broker).init(client_id="dev1")
    sub.subscribe("t", persistent=True)
    pub = await Client(broker).init()
    try:
        assert (await pub.publish("t", message_id="m0")).error is None  # its commit starts a checkpoint
        running = store._checkpointing
        assert running is not None and not running.done()
        for i in range(1, 4):
            assert (await pub.publish("t", message_id=f"m{i}")).error is None
        assert not running.done() and store._checkpointing is running  # one at a time
    finally:
        release.set()
    await running
    assert sub.peer.ids() == ["m0", "m1", "m2", "m3"]


async def test_another_writer_holding_the_database_does_not_stall_the_loop(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_INTERVAL_S", 3600.0)
    store = store_of(broker)
    pub = await Client(broker).init()
    other = sqlite3.connect(tmp_path / "fastport.db", isolation_level=None)  # as a sqlite3 shell would
    other.execute("BEGIN IMMEDIATE")
    broker.publish(pub.conn, "t", b"x", message_id="m1")
    started = time.monotonic()
    assert not store.flush()  # handed to the writer thread, which waits for the lock
    assert time.monotonic() - started < 1  # the loop did not wait out the busy timeout (5 s)
    await asyncio.sleep(0.1)
    assert pub.peer.results == []
    other.execute("COMMIT")
    other.close()
    assert (await pub.peer.result()).error is None


async def test_fsync_full_writes_on_the_writer_thread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    where: list[tuple[str, bool]] = []
    b = Broker(EmbeddedEngine(SqliteStore(tmp_path / "fastport.db", fsync="full"), clock := ManualClock()), clock)
    await b.start()
    await make_session(b)
    count_writes(monkeypatch, where)
    pub = await Client(b).init()
    for i in range(3):
        await pub.publish("t", message_id=f"m{i}")
    await b.stop()
    assert where and not any(on_loop for _, on_loop in where)


@pytest.mark.parametrize("interval_s, bounded", [(0.0, True), (3600.0, False)])
async def test_checkpoints_keep_the_log_small(
    broker: Broker, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, interval_s: float, bounded: bool
) -> None:
    """Checkpoints run beside the writes, which keep the log growing; once it is past
    LOG_RESTART_BYTES a transaction waits for a checkpoint and starts it again."""
    monkeypatch.setattr(sqlite_store, "CHECKPOINT_INTERVAL_S", interval_s)
    monkeypatch.setattr(sqlite_store, "LOG_RESTART_BYTES", 100_000)
    store = store_of(broker)
    sub = await Client(broker).init(client_id="dev1")
    sub.subscribe("t", persistent=True)  # payloads are stored
    pub = await Client(broker).init()
    for i in range(40):
        await pub.publish("t", b"x" * 50_000, message_id=f"m{i}")
        if store._checkpointing is not None:  # a publisher slower than a checkpoint
            await store._checkpointing
    log_bytes = (tmp_path / "fastport.db-wal").stat().st_size
    assert (log_bytes < 1_000_000) is bounded, log_bytes


async def test_full_disk_fails_publishes_and_the_broker_carries_on(broker: Broker, tmp_path: Path) -> None:
    store = store_of(broker)
    sub = await Client(broker).init(client_id="dev1")
    sub.subscribe("t", persistent=True)
    pub = await Client(broker).init()
    assert (await pub.publish("t", message_id="before")).error is None
    pages = sqlite3.connect(tmp_path / "fastport.db").execute("PRAGMA page_count").fetchone()[0]
    await on_writer(store, f"PRAGMA max_page_count = {pages}")
    # One transaction: the ACK's writes and 50 publishes that do not fit.
    sub.ack("before")
    for i in range(50):
        broker.publish(pub.conn, "t", b"y" * 1000, message_id=f"big{i}")
    outcomes = [await pub.peer.result() for _ in range(50)]
    assert {o.error.code for o in outcomes if o.error is not None} == {ErrorCode.STORAGE_ERROR}
    assert len([o for o in outcomes if o.error is None]) == 0
    assert list(broker.engine.sessions["s"].messages) == []
    assert pub.peer.acks == [("before", 0)]  # served while the disk is full
    await on_writer(store, "PRAGMA max_page_count = 1073741823")
    retried = await pub.publish("t", message_id="big0")
    assert retried.error is None and not retried.duplicate
    await broker.stop()
    broker.__init__(EmbeddedEngine(SqliteStore(tmp_path / "fastport.db"), broker.clock), broker.clock)  # type: ignore[misc]
    await broker.start()
    back = await Client(broker).init(client_id="dev1")
    assert back.peer.ids() == ["big0"]  # the ACK made during the fault was written with the next transaction


@pytest.mark.parametrize("bad", ["id\ud800", "int"], ids=["not-utf8", "int-overflow"])
async def test_a_row_that_cannot_be_stored_fails_its_own_publish_only(
    broker: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    """Two sessions' publishes in one transaction, one with a value SQLite cannot hold
    (past the core's checks: the store's own defence)."""
    if bad == "int":  # a value the core would refuse, as a door bug could let one through
        bad = "big"
        add = SqliteStore.add_message

        def overflowing(self: SqliteStore, message, named, delivered_to):  # type: ignore[no-untyped-def]
            if message.id == "big":
                message.timestamp_ms = 2**63
            return add(self, message, named, delivered_to)

        monkeypatch.setattr(SqliteStore, "add_message", overflowing)
    writes = count_writes(monkeypatch)
    await make_session(broker, "other")
    kept = await Client(broker).init(client_id="dev1")  # rows in messages and deliveries
    kept.subscribe("t", persistent=True)
    bound = await Client(broker).init("other")  # its rows: remembered ids
    bound.subscribe("t")
    named_other = await Client(broker).init("other", client_id="dev2")
    named_other.subscribe("u", persistent=True)
    pub, other_pub = await Client(broker).init(), await Client(broker).init("other")
    await asyncio.sleep(0.05)
    writes.clear()
    broker.publish(pub.conn, "t", b"x", message_id="mine1")
    broker.publish(other_pub.conn, "t", b"x", message_id="theirs1")
    broker.publish(other_pub.conn, "u", b"x", message_id=bad)
    broker.publish(other_pub.conn, "t", b"x", message_id="theirs2")
    broker.publish(pub.conn, "t", b"x", message_id="mine2")
    mine = [await pub.peer.result() for _ in range(2)]
    theirs = [await other_pub.peer.result() for _ in range(3)]
    assert writes[0] == 1  # they did share one transaction
    assert theirs[1].error is not None and not theirs[1].error.temporary
    assert [(o.message_id, o.error) for o in mine] == [("mine1", None), ("mine2", None)]
    assert [(o.message_id, o.error and o.error.code) for o in theirs] == [
        ("theirs1", None),
        (bad, ErrorCode.INTERNAL),  # permanent: sent again, it would fail again
        ("theirs2", None),
    ]
    assert kept.peer.ids() == ["mine1", "mine2"] and bound.peer.ids() == ["theirs1", "theirs2"]
    assert named_other.peer.ids() == [] and bad not in broker.engine.sessions["other"].messages
    await broker.stop()
    broker.__init__(EmbeddedEngine(SqliteStore(tmp_path / "fastport.db"), broker.clock), broker.clock)  # type: ignore[misc]
    await broker.start()
    assert (await Client(broker).init(client_id="dev1")).peer.ids() == ["mine1", "mine2"]
    assert (await Client(broker).init("other", client_id="dev2")).peer.ids() == []
    assert {"theirs1", "theirs2"} <= set(broker.engine.sessions["other"].recent._results)


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fastport.db"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    store = SqliteStore(path)
    with pytest.raises(StoreError, match=rf"schema version 99, newer than this fastport's \({sqlite_store.SCHEMA_VERSION}\)"):
        await store.open()
    await store.close()


async def test_migrations_bring_an_old_database_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fastport.db"
    b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
    await b.start()
    await make_session(b, "kept")
    await b.stop()
    monkeypatch.setattr(
        sqlite_store, "MIGRATIONS", (*sqlite_store.MIGRATIONS, ("ALTER TABLE sessions ADD COLUMN note TEXT",))
    )
    monkeypatch.setattr(sqlite_store, "SCHEMA_VERSION", len(sqlite_store.MIGRATIONS))
    b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
    await b.start()
    assert [s.name for s in b.list_sessions()] == ["kept"]
    await b.stop()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(sqlite_store.MIGRATIONS),)
        assert "note" in [row[1] for row in db.execute("PRAGMA table_info(sessions)")]


async def test_a_version_1_database_keeps_its_remembered_ids(tmp_path: Path) -> None:
    path = tmp_path / "fastport.db"
    with sqlite3.connect(path) as db:  # as the first release left it
        for statement in sqlite_store.MIGRATIONS[0]:
            db.execute(statement)
        db.execute(
            "INSERT INTO messages (session, id, topic, payload, hash, timestamp_ms, json, created_ms, expires_ms,"
            " delivered_to, forget_at_ms) VALUES ('s', 'old', 't', NULL, '', 1, 0, 1, 0, 3, 5000)"
        )
        db.execute(f"PRAGMA application_id = {sqlite_store.APPLICATION_ID}")
        db.execute("PRAGMA user_version = 1")
    store = SqliteStore(path)
    state = await store.open()
    await store.close()
    assert state.messages == [] and state.remembered == [RememberedId("s", "old", 5000, 3)]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (sqlite_store.SCHEMA_VERSION,)
        assert db.execute("SELECT count(*) FROM remembered_ids").fetchone() == (0,)


async def test_a_version_3_database_keeps_its_hashes(tmp_path: Path) -> None:
    """Version 3 kept a hash as text, "" for none (a null or "" hash was stored as that
    too): "" becomes none, what the WebSocket door delivered it as."""
    path = tmp_path / "fastport.db"
    with sqlite3.connect(path) as db:  # as the version before hashes were kept as given left it
        for migration in sqlite_store.MIGRATIONS[:3]:
            for statement in migration:
                db.execute(statement)
        for message_id, hash in [("none", ""), ("given", "h é")]:
            db.execute(
                "INSERT INTO messages (session, id, topic, payload, hash, timestamp_ms, json, created_ms, expires_ms,"
                " delivered_to) VALUES ('s', ?, 't', x'70', ?, 1, 0, 1, 0, 1)",
                (message_id, hash),
            )
            db.execute("INSERT INTO deliveries VALUES ('s', ?, 'dev1', 0, 0)", (message_id,))
        db.execute(f"PRAGMA application_id = {sqlite_store.APPLICATION_ID}")
        db.execute("PRAGMA user_version = 3")
    store = SqliteStore(path)
    state = await store.open()
    await store.close()
    assert [(m.id, m.hash, m.payload) for m in state.messages] == [("none", ABSENT, b"p"), ("given", "h é", b"p")]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (sqlite_store.SCHEMA_VERSION,)


async def test_a_version_2_database_s_sessions_get_the_default_limits(tmp_path: Path) -> None:
    path = tmp_path / "fastport.db"
    with sqlite3.connect(path) as db:
        for statement in (*sqlite_store.MIGRATIONS[0], *sqlite_store.MIGRATIONS[1]):
            db.execute(statement)
        db.execute("INSERT INTO sessions VALUES ('old', 'h', 'h', 1000, 5, 0, 0, 0, 0, 0, 7, 0, 1)")
        db.execute(f"PRAGMA application_id = {sqlite_store.APPLICATION_ID}")
        db.execute("PRAGMA user_version = 2")
    b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
    await b.start()
    try:
        assert b.get_session("old").limits == Limits(max_pending_messages=7).resolved()
    finally:
        await b.stop()


async def test_a_version_6_database_s_sessions_have_no_dead_letter_topic(tmp_path: Path) -> None:
    path = tmp_path / "fastport.db"
    with sqlite3.connect(path) as db:  # as the version before dead-letter topics left it
        for migration in sqlite_store.MIGRATIONS[:6]:
            for statement in migration:
                db.execute(statement)
        db.execute(
            "INSERT INTO sessions (name, password_hash, secret_hash, retry_interval_ms, max_retry_limit,"
            " message_expiry_ms, expires_at_ms, max_payload_bytes, max_connections, max_subscriptions,"
            " max_pending_messages, suspended, created_at_ms) VALUES ('old', 'h', 'h', 1000, 5, 0, 0, 0, 0, 0, 0, 0, 1)"
        )
        db.execute(f"PRAGMA application_id = {sqlite_store.APPLICATION_ID}")
        db.execute("PRAGMA user_version = 6")
    b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
    await b.start()
    try:
        assert b.get_session("old").dead_letter_topic == ""
        await make_session(b, "new", dead_letter_topic="dead")
    finally:
        await b.stop()
    b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
    await b.start()
    try:
        assert [(s.name, s.dead_letter_topic) for s in b.list_sessions()] == [("old", ""), ("new", "dead")]
    finally:
        await b.stop()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (sqlite_store.SCHEMA_VERSION,)


@pytest.mark.parametrize(
    "prepare, error",
    [
        (lambda path: path.write_bytes(os.urandom(8192)), "file is not a database"),
        (lambda path: sqlite3.connect(path).execute("PRAGMA application_id = 7").close(), "not a fastport database"),
    ],
    ids=["corrupt", "foreign"],
)
async def test_unusable_files_are_refused(tmp_path: Path, prepare, error: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "fastport.db"
    prepare(path)
    store = SqliteStore(path)
    with pytest.raises(StoreError, match=error):
        await store.open()
    await store.close()


async def test_an_empty_database_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fastport.db"
    b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
    await b.start()  # a file this server creates is fine
    await make_session(b, "kept")
    await b.stop()
    path.write_bytes(b"")  # truncated
    store = SqliteStore(path)
    with pytest.raises(StoreError, match="is an empty file .0 bytes. that this server did not create"):
        await store.open()
    await store.close()
    assert path.stat().st_size == 0  # left as it was, for the operator to look at


async def test_one_store_per_file(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "fastport.db")
    await first.open()
    second = SqliteStore(tmp_path / "fastport.db")
    with pytest.raises(StoreError, match="in use by another fastport process"):
        await second.open()
    await second.close()
    await first.close()
    await second.open()
    await second.close()


async def test_fsync_full(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "fastport.db", fsync="full")
    await store.open()
    assert store._db is not None and store._db.execute("PRAGMA synchronous").fetchone() == (2,)
    assert store._db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    await store.close()


@pytest.mark.parametrize("what", ["file", "directory", "both"])
async def test_read_only_database_is_served_but_publishes_fail(tmp_path: Path, what: str) -> None:
    data = tmp_path / "data"
    path = data / "fastport.db"
    b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
    await b.start()
    await make_session(b)
    sub = await Client(b).init(client_id="dev1")
    sub.subscribe("t", persistent=True)
    sub.disconnect()
    assert (await (await Client(b).init()).publish("t", message_id="kept")).error is None
    await b.stop()
    targets = {"file": [path], "directory": [data], "both": [path, data]}[what]
    with read_only(*targets):
        b = Broker(EmbeddedEngine(SqliteStore(path), clock := ManualClock()), clock)
        await b.start()
        try:
            outcome = await (await Client(b).init()).publish("t", message_id="new")
            assert outcome.error is not None and outcome.error.code is ErrorCode.STORAGE_ERROR
            back = await Client(b).init(client_id="dev1")
            assert back.peer.ids() == ["kept"]
        finally:
            await b.stop()
