"""The ``sqlite`` store, the default: nothing confirmed is lost when the process dies.

One SQLite database in WAL mode. Writes are group-committed: everything handed over
within one event-loop turn, or while the previous transaction was committing, goes into
the next transaction, and every publish in it is confirmed by one future when it commits;
writes nobody awaits (settles, re-sends, forgets) wait a moment for a publish to share
its transaction (``UNCONFIRMED_DELAY_S``). A transaction that fails fails the
publishes in it (the core answers ``storage_error``) and the broker carries on; the
fire-and-forget writes in it (settles, retries, subscriptions, deletions) are tried
again with the next transaction. A transaction that fails on the values of a row (an
integer SQLite cannot hold, a string it cannot encode) is not a fault of the database:
the messages whose rows fail are found, each tried alone, and the transaction is
written without them, so that one client's bad value fails its own publish only,
never those of other sessions that shared its transaction.

A message that only connection-bound subscribers (no client id) were given cannot be
delivered after a restart, so only its id is written: the ids of a transaction go into
one row per session (``remembered_ids``), with the time they may be forgotten counted
from the publish, and nothing more is written for them when they settle.

Durability: with ``synchronous=NORMAL`` (the default) a committed transaction survives
the process being killed, but the last ones before a power loss or OS crash may be
lost; ``fsync="full"`` syncs the log at every commit and survives those too.

Where transactions run: what waits on the disk never runs on the event loop. With
``fsync="normal"`` a commit appends to the log and syncs nothing, a write into the page
cache like a socket's, so transactions are written on the event loop, as Redis writes
its append-only file under ``appendfsync everysec``: handing them to a thread cost more
than writing them (the thread waits for the GIL until the loop is idle, then the loop
waits for its answer). What syncs runs on the writer thread: every transaction with
``fsync="full"``, and once per ``CHECKPOINT_INTERVAL_S`` a checkpoint (the log copied
into the database file, both synced). The checkpoint has a connection of its own and
runs beside the transactions (WAL lets one writer and a checkpoint work at once): it
takes tens of milliseconds here, and publishes waiting behind it were the latency tail
at a steady rate. The log starts again from its beginning only at a transaction that
finds all of it copied, which a steady flow of writes beside the checkpoints never does:
once it has grown past ``LOG_RESTART_BYTES``, a checkpoint runs the old way, the next
transaction waiting for it on the writer thread (it copies only what was written since
the last one). A transaction too large to write without stalling the loop also goes to
the writer thread.

The database is locked (``flock``) for as long as the store is open, so a second
broker on the same file stops at start-up instead of corrupting the first one's state.
A database that cannot be written is served read-only: what it holds is loaded and
delivered, and every write, publishes included, fails.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ..core.delivery import ABSENT
from ..core.engine import DEFAULT_DEDUP_WINDOW_MS
from ..core.session import Limits, SessionRecord
from .base import NOTHING_REJECTED, Rejected, RememberedId, StoredDelivery, StoredMessage, StoredState, StoredSubscription, StoreError

if TYPE_CHECKING:
    from ..core.delivery import Message

log = logging.getLogger("fastport.store")

APPLICATION_ID = 0x66707274  # "fprt" in the database header: this file is fastport's
BUSY_TIMEOUT_MS = 5000
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024  # the log is cut back to this after a checkpoint
# How often the log is copied into the database (a checkpoint, with its fsyncs), on the
# writer thread beside the transactions; SQLite's own checkpoints, run inside a commit, are
# off. Commits are as durable either way: a committed transaction is in the log, and the
# log is read back at open. Each checkpoint copies the hot pages once however often they
# were written since, and lets a transaction that finds it all copied start the log from
# its beginning (see LOG_RESTART_BYTES).
CHECKPOINT_INTERVAL_S = 1.0
# A log that has grown past this since it last started from its beginning is restarted:
# the next transaction waits on the writer thread for a checkpoint of what is left (see
# the module's docstring). At a steady 2,000 msg/s the log grows ~5 MB/s.
LOG_RESTART_BYTES = 64 * 1024 * 1024
# A transaction of more rows than this is written on the writer thread even with
# fsync=normal: on the loop, a burst of messages to named subscribers (with payloads)
# would stall it for milliseconds.
INLINE_MAX_ROWS = 2000
# How long a transaction of fire-and-forget writes only (settles, retries, forgets) waits
# for a write that someone awaits before it starts. With a window of publishes, the ACKs
# of one window come a loop turn before the publishes that reopen it: written at once,
# their settles made a transaction of their own that the publishes then waited behind,
# two commits per window instead of one. Nobody waits on these writes: a process killed
# in between loses at most this much more of them (their deliveries are re-sent).
UNCONFIRMED_DELAY_S = 0.002
# Fire-and-forget writes kept for the next transaction while the database fails; past
# this many they are dropped (a restart may then re-deliver what was settled).
MAX_CARRIED_ROWS = 100_000

# MIGRATIONS[n] takes a database from schema version n to n + 1 (0 is an empty file).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE sessions (
            name TEXT PRIMARY KEY,
            password_hash TEXT NOT NULL,
            secret_hash TEXT NOT NULL,
            retry_interval_ms INTEGER NOT NULL,
            max_retry_limit INTEGER NOT NULL,
            message_expiry_ms INTEGER NOT NULL,
            expires_at_ms INTEGER NOT NULL,
            max_payload_bytes INTEGER NOT NULL,
            max_connections INTEGER NOT NULL,
            max_subscriptions INTEGER NOT NULL,
            max_pending_messages INTEGER NOT NULL,
            suspended INTEGER NOT NULL,
            created_at_ms INTEGER NOT NULL
        )""",
        """CREATE TABLE subscriptions (
            session TEXT NOT NULL,
            subscriber TEXT NOT NULL,
            pattern TEXT NOT NULL,
            PRIMARY KEY (session, subscriber, pattern)
        ) WITHOUT ROWID""",
        # seq is publish order. A settled message keeps its row, without the payload,
        # until forget_at_ms: the de-duplication memory of its id.
        """CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            session TEXT NOT NULL,
            id TEXT NOT NULL,
            topic TEXT NOT NULL,
            payload BLOB,
            hash TEXT NOT NULL,
            timestamp_ms INTEGER NOT NULL,
            json INTEGER NOT NULL,
            created_ms INTEGER NOT NULL,
            expires_ms INTEGER NOT NULL,
            delivered_to INTEGER NOT NULL,
            forget_at_ms INTEGER NOT NULL DEFAULT 0,
            UNIQUE (session, id)
        )""",
        "CREATE INDEX messages_forget ON messages (forget_at_ms) WHERE forget_at_ms > 0",
        # Unsettled deliveries to named subscribers (due_ms 0: not sent since stored).
        """CREATE TABLE deliveries (
            session TEXT NOT NULL,
            message_id TEXT NOT NULL,
            subscriber TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            due_ms INTEGER NOT NULL,
            PRIMARY KEY (session, message_id, subscriber)
        ) WITHOUT ROWID""",
    ),
    (
        # The ids of messages no named subscriber was given, one row per transaction and
        # session: nothing of such a message can be delivered after a restart, so all
        # that is kept is its id (and how many it was delivered to) for de-duplication.
        # ids is a JSON array [id, delivered_to, id, delivered_to, ...] (UTF-8).
        """CREATE TABLE remembered_ids (
            forget_at_ms INTEGER NOT NULL,
            session TEXT NOT NULL,
            ids BLOB NOT NULL
        )""",
        "CREATE INDEX remembered_ids_forget ON remembered_ids (forget_at_ms)",
    ),
    (
        # A message's attributes (gRPC headers) as a JSON object; NULL when it has none.
        "ALTER TABLE messages ADD COLUMN attributes BLOB",
    ),
    (
        # A message's hash as published, which the core tells apart (core/delivery.py
        # Hash): its JSON text (a string or null), or NULL when the publish had none.
        # The old column could not tell: its "" (none, null or "") becomes none, which
        # is what the WebSocket door then delivered.
        "ALTER TABLE messages ADD COLUMN hash_json BLOB",
        "UPDATE messages SET hash_json = json_quote(hash) WHERE hash != ''",
        "ALTER TABLE messages DROP COLUMN hash",
    ),
    (
        # The cap on a session's remembered ids (0 = the default).
        "ALTER TABLE sessions ADD COLUMN max_remembered_ids INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # Limits that bound a session's memory and a subscriber's backlog (0 = default).
        "ALTER TABLE sessions ADD COLUMN max_pending_bytes INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE sessions ADD COLUMN max_in_flight INTEGER NOT NULL DEFAULT 0",
    ),
    (
        # Where the session's given-up deliveries are published ('' = nowhere).
        "ALTER TABLE sessions ADD COLUMN dead_letter_topic TEXT NOT NULL DEFAULT ''",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Most rows in one statement of the publish path (a power of two). SQLite's limit on
# parameters per statement lowers it where needed (999 before SQLite 3.32).
_CHUNK = 4096


class _Statement:
    """A write of the publish path, run for many rows at once: one statement per chunk
    of rows. Every call into SQLite lets go of the GIL and must then win it back from
    the event loop, so one call per chunk instead of one per row is what keeps the
    writer thread from slowing the loop down.

    Rows are kept as one flat list of values: no object per row outlives the call
    that added it, which spares the garbage collector on the event loop's side."""

    __slots__ = ("head", "row", "tail", "width", "_sql")

    def __init__(self, head: str, row: str, tail: str = "") -> None:
        self.head = head
        self.row = row
        self.tail = tail
        self.width = row.count("?")
        self._sql: dict[int, str] = {}

    def sql(self, n: int) -> str:
        sql = self._sql.get(n)
        if sql is None:
            sql = self._sql[n] = self.head + ", ".join([self.row] * n) + self.tail
        return sql

    def params(self, values: list[Any]) -> list[Any]:
        return values

    def run(self, db: sqlite3.Connection, values: list[Any], max_params: int) -> None:
        """Chunks as large as allowed, then of halving sizes: few distinct statements to prepare."""
        width = self.width
        at, left, size = 0, len(values) // width, _CHUNK
        while size * width > max_params:
            size //= 2
        while left:
            while size > left:
                size //= 2
            db.execute(self.sql(size), self.params(values[at * width : (at + size) * width]))
            at += size
            left -= size


class _Forget(_Statement):
    """Rows are (forget_at_ms, session, id); a chunk's ids all get its latest forget
    time, a few ms later than their own at most: remembered a little longer, never less."""

    def __init__(self, head: str, row: str, tail: str = "") -> None:
        super().__init__(head, row, tail)
        self.width = 3  # values per row; the statement binds two of them

    def params(self, values: list[Any]) -> list[Any]:
        forget_at = max(values[0::3])
        del values[0::3]  # values is a slice: this chunk's own copy
        values.insert(0, forget_at)
        return values


class _Remember(_Statement):
    """Rows are (forget_at_ms, session, id, delivered_to): the ids of a transaction's
    messages that no named subscriber was given. They are written as one row per
    session, holding all its ids, at the latest forget time among them (remembered a few
    ms longer, never less): one row per transaction instead of a message row, its index
    entry and a later forget ``UPDATE`` per message."""

    def __init__(self) -> None:
        super().__init__("INSERT INTO remembered_ids (forget_at_ms, session, ids) VALUES (?, ?, ?)", "")
        self.width = 4

    def run(self, db: sqlite3.Connection, values: list[Any], max_params: int) -> None:
        sessions = values[1::4]
        if sessions.count(sessions[0]) == len(sessions):  # the common case: one session
            ids: list[Any] = [None] * (len(sessions) * 2)
            ids[0::2] = values[2::4]
            ids[1::2] = values[3::4]
            db.execute(self.head, (max(values[0::4]), sessions[0], orjson.dumps(ids)))
            return
        by_session: dict[str, tuple[list[int], list[Any]]] = {}
        for at in range(0, len(values), 4):
            forget_at, session, message_id, delivered_to = values[at : at + 4]
            times, ids = by_session.setdefault(session, ([], []))
            times.append(forget_at)
            ids += (message_id, delivered_to)
        db.executemany(self.head, [(max(times), session, orjson.dumps(ids)) for session, (times, ids) in by_session.items()])


# In a transaction the rows of the publish path are grouped by statement and run in
# this order, which is the order the core makes them in for any one delivery: stored,
# then (re-)sent, then settled, then its message forgotten. Rows of one statement run
# in the order they came (the last re-send of a delivery wins).
_HOT = (
    _Statement(
        "INSERT OR REPLACE INTO messages (session, id, topic, payload, hash_json, timestamp_ms, json,"
        " created_ms, expires_ms, delivered_to, attributes) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    _Statement(
        "INSERT OR REPLACE INTO deliveries (session, message_id, subscriber, attempts, due_ms) VALUES ",
        "(?, ?, ?, 0, 0)",
    ),
    # An upsert, as a multi-row UPDATE needs a newer SQLite; the row exists: a delivery
    # is sent only after its message is stored, and never after it is settled.
    _Statement(
        "INSERT INTO deliveries (session, message_id, subscriber, attempts, due_ms) VALUES ",
        "(?, ?, ?, ?, ?)",
        " ON CONFLICT (session, message_id, subscriber) DO UPDATE SET"
        " attempts = excluded.attempts, due_ms = excluded.due_ms",
    ),
    _Statement(
        "DELETE FROM deliveries WHERE (session, message_id, subscriber) IN"
        " (SELECT column1, column2, column3 FROM (VALUES ",
        "(?, ?, ?)",
        "))",
    ),
    _Forget(
        "UPDATE messages SET payload = NULL, forget_at_ms = ? WHERE (session, id) IN"
        " (SELECT column1, column2 FROM (VALUES ",
        "(?, ?)",
        "))",
    ),
    _Statement(
        "DELETE FROM deliveries WHERE (session, message_id) IN (SELECT column1, column2 FROM (VALUES ",
        "(?, ?)",
        "))",
    ),
    _Remember(),
)
_MESSAGE, _DELIVERY, _RETRIED, _SETTLED, _FORGOTTEN, _FORGOTTEN_DELIVERIES, _REMEMBERED = range(len(_HOT))
# Rows of these statements confirm a publish: a failed transaction is not retried for them.
_CONFIRMED = (_MESSAGE, _DELIVERY, _REMEMBERED)
# Where the (session, message id) of a publish stands in a row of each of them.
_PUBLISH_KEY = {_MESSAGE: 0, _DELIVERY: 0, _REMEMBERED: 1}
# What a row's values raise when SQLite cannot hold them (at binding, or a constraint).
_ROW_ERRORS = (
    OverflowError,
    ValueError,
    TypeError,
    sqlite3.IntegrityError,
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,
)
# What writing a transaction raises when it fails (on the loop; the writer thread's
# failures come back through its future): the database's errors, a row's value SQLite
# cannot hold (when it is no publish's, see _reject), or a store already closed.
_WRITE_ERRORS = (sqlite3.Error, StoreError, *_ROW_ERRORS)
# Ids whose window has ended are deleted at most this often (in the broker's clock):
# the deletes cost the writer a statement each, and a row kept a little longer is
# harmless (the core ignores ids past their time when it loads them).
PRUNE_INTERVAL_MS = 1000
# The first is written so that the partial index on forget_at_ms (WHERE forget_at_ms > 0) serves it.
_PRUNE = (
    "DELETE FROM messages WHERE forget_at_ms > 0 AND forget_at_ms <= ?",
    "DELETE FROM remembered_ids WHERE forget_at_ms <= ?",
)

# The rows of each statement in _HOT, as one flat list of values each.
_Rows = list[list[Any]]


class _Call:
    """A write that is ordered against everything around it (sessions, subscriptions)."""

    __slots__ = ("fn", "args", "retry")

    def __init__(self, fn: Callable[..., None], args: tuple[Any, ...], retry: bool) -> None:
        self.fn = fn
        self.args = args
        self.retry = retry  # fire-and-forget: try again with the next transaction


class _Batch:
    """The writes of one transaction, in order: hot-path row groups between calls."""

    __slots__ = ("steps", "rows", "future", "newest")

    def __init__(self, steps: list[_Rows | _Call]) -> None:
        self.steps = steps
        self.rows: _Rows | None = None  # the open group, until the next call
        self.future: asyncio.Future[Rejected] | None = None
        self.newest = 0  # latest created_ms of a message here: ids forgotten before it are pruned


def _put_session(db: sqlite3.Connection, r: SessionRecord) -> None:
    lim = r.limits
    db.execute(
        "INSERT OR REPLACE INTO sessions (name, password_hash, secret_hash, retry_interval_ms, max_retry_limit,"
        " message_expiry_ms, expires_at_ms, max_payload_bytes, max_connections, max_subscriptions,"
        " max_pending_messages, max_pending_bytes, max_in_flight, suspended, created_at_ms, max_remembered_ids,"
        " dead_letter_topic) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            r.name,
            r.password_hash,
            r.secret_hash,
            r.retry_interval_ms,
            r.max_retry_limit,
            r.message_expiry_ms,
            r.expires_at_ms,
            lim.max_payload_bytes,
            lim.max_connections,
            lim.max_subscriptions,
            lim.max_pending_messages,
            lim.max_pending_bytes,
            lim.max_in_flight,
            r.suspended,
            r.created_at_ms,
            r.max_remembered_ids,
            r.dead_letter_topic,
        ),
    )


def _delete_session(db: sqlite3.Connection, name: str) -> None:
    for table in ("deliveries", "messages", "remembered_ids", "subscriptions"):
        db.execute(f"DELETE FROM {table} WHERE session = ?", (name,))
    db.execute("DELETE FROM sessions WHERE name = ?", (name,))


def _put_subscription(db: sqlite3.Connection, session: str, subscriber: str, pattern: str) -> None:
    db.execute("INSERT OR IGNORE INTO subscriptions (session, subscriber, pattern) VALUES (?, ?, ?)", (session, subscriber, pattern))


def _delete_subscription(db: sqlite3.Connection, session: str, subscriber: str, pattern: str) -> None:
    db.execute(
        "DELETE FROM subscriptions WHERE session = ? AND subscriber = ? AND pattern = ?", (session, subscriber, pattern)
    )


def _checkpoint(db: sqlite3.Connection) -> int:
    """Copy the log into the database (``PASSIVE``: waits for no reader or writer);
    returns the log's size in pages."""
    row = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[1]) if row else 0


def _rows_in(steps: list[_Rows | _Call]) -> int:
    return sum(
        sum(len(values) // st.width for st, values in zip(_HOT, step)) if isinstance(step, list) else 1
        for step in steps
    )


class SqliteStore:
    def __init__(self, path: Path | str, *, fsync: str = "normal") -> None:
        if fsync not in ("normal", "full"):
            raise ValueError(f"fsync must be normal or full, not {fsync!r}")
        self.path = Path(path)
        self.fsync = fsync
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._max_params = 999
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._batch: _Batch | None = None  # collecting; flushed when the writer is free
        self._writing: asyncio.Future[Rejected] | None = None  # the transaction on the writer thread
        self._checkpointed_at = 0.0  # loop time the last checkpoint started
        self._checkpointing: asyncio.Future[int] | None = None  # the checkpoint on the writer thread
        self._checkpointer: sqlite3.Connection | None = None  # its connection (writer thread only)
        self._restart = False  # the next transaction restarts the log, after a checkpoint
        self._page_size = 4096
        self._busy_ms = BUSY_TIMEOUT_MS  # the connection's busy_timeout (see _busy_timeout)
        self._carried: list[_Rows | _Call] = []
        self._closed = False
        self._dedup_window_ms = DEFAULT_DEDUP_WINDOW_MS
        self._pruned_at = 0  # the last prune's time (broker clock, ms)

    # ------------------------------------------------------------------ open / close

    async def open(self, dedup_window_ms: int = DEFAULT_DEDUP_WINDOW_MS) -> StoredState:
        """Open the database; ``dedup_window_ms`` is counted from publish for the ids of
        messages that no named subscriber was given (see remembered_ids)."""
        self._dedup_window_ms = dedup_window_ms
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="fastport-sqlite")
        try:
            return await self._loop.run_in_executor(self._executor, self._open)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"database {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Write everything handed over so far, then close the database."""
        self._closed = True
        if self._carried:
            self._current()
        while self._writing is not None or self._batch is not None:
            if self._writing is None:
                self._flush()
            if self._writing is not None:
                await asyncio.wait([self._writing])
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
            self._executor.shutdown()
            self._executor = None

    def _open(self) -> StoredState:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size == 0:
            # SQLite would take it for a new database: every session silently gone.
            raise StoreError(
                f"database {self.path} is an empty file (0 bytes) that this server did not create:"
                " it may have been truncated. Restore it from a backup, or delete it to start"
                " with an empty database"
            )
        db = self._db = self._connect()
        self._lock()
        self._max_params = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._page_size = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute(f"PRAGMA synchronous = {self.fsync.upper()}")
        db.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
        db.execute("PRAGMA wal_autocheckpoint = 0")  # see CHECKPOINT_INTERVAL_S
        self._migrate(db)
        return self._load(db)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError:
            db.close()
            if not self.path.exists():
                raise
            # A read-only directory: SQLite cannot make the log files next to the
            # database, but the file can still be read as it is.
            db = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True, check_same_thread=False)
            db.isolation_level = None
            mode = "wal"
        if mode != "wal":
            log.warning("database %s: journal mode is %s, not wal", self.path, mode)
        return db

    def _lock(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(f"database {self.path} is in use by another fastport process") from None
        self._lock_fd = fd

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Bring the schema up to SCHEMA_VERSION, or refuse a database that is not ours or
        is newer. The version is rewritten even when current: that is the write test."""
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id not in (0, APPLICATION_ID):
            raise StoreError(f"database {self.path} is not a fastport database (application id {app_id:#x})")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database {self.path} has schema version {version}, newer than this fastport's"
                f" ({SCHEMA_VERSION}): run a newer fastport or restore a backup"
            )
        try:
            db.execute("BEGIN IMMEDIATE")
            for step in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if exc.sqlite_errorname != "SQLITE_READONLY" or version != SCHEMA_VERSION:
                raise
            log.error("database %s cannot be written (%s): serving it read-only, publishes will fail", self.path, exc)
            return
        if version != SCHEMA_VERSION:
            log.info("database %s: schema version %d -> %d", self.path, version, SCHEMA_VERSION)

    def _load(self, db: sqlite3.Connection) -> StoredState:
        state = StoredState()
        for row in db.execute(
            "SELECT name, password_hash, secret_hash, retry_interval_ms, max_retry_limit, message_expiry_ms,"
            " expires_at_ms, max_payload_bytes, max_connections, max_subscriptions, max_pending_messages,"
            " max_pending_bytes, max_in_flight, suspended, created_at_ms, max_remembered_ids, dead_letter_topic FROM sessions"
            " ORDER BY created_at_ms"
        ):
            state.sessions.append(
                SessionRecord(
                    name=row[0],
                    password_hash=row[1],
                    secret_hash=row[2],
                    retry_interval_ms=row[3],
                    max_retry_limit=row[4],
                    message_expiry_ms=row[5],
                    expires_at_ms=row[6],
                    limits=Limits(*row[7:13]),
                    suspended=bool(row[13]),
                    created_at_ms=row[14],
                    max_remembered_ids=row[15],
                    dead_letter_topic=row[16],
                )
            )
        for row in db.execute("SELECT session, subscriber, pattern FROM subscriptions"):
            state.subscriptions.append(StoredSubscription(*row))
        deliveries: dict[tuple[str, str], list[StoredDelivery]] = {}
        for session, message_id, subscriber, attempts, due_ms in db.execute(
            "SELECT session, message_id, subscriber, attempts, due_ms FROM deliveries"
        ):
            deliveries.setdefault((session, message_id), []).append(StoredDelivery(subscriber, attempts, due_ms))
        remembered = state.remembered
        for forget_at_ms, session, ids in db.execute("SELECT forget_at_ms, session, ids FROM remembered_ids"):
            values = orjson.loads(ids)
            remembered += (RememberedId(session, i, forget_at_ms, n) for i, n in zip(values[0::2], values[1::2]))
        for row in db.execute(
            "SELECT session, id, topic, payload, hash_json, timestamp_ms, json, created_ms, expires_ms, delivered_to,"
            " forget_at_ms, attributes FROM messages ORDER BY seq"
        ):
            if row[10]:
                remembered.append(RememberedId(row[0], row[1], row[10], row[9]))
                continue
            state.messages.append(
                StoredMessage(
                    session=row[0],
                    id=row[1],
                    topic=row[2],
                    payload=row[3] or b"",
                    hash=ABSENT if row[4] is None else orjson.loads(row[4]),
                    timestamp_ms=row[5],
                    json=bool(row[6]),
                    created_ms=row[7],
                    expires_ms=row[8],
                    delivered_to=row[9],
                    deliveries=deliveries.get((row[0], row[1]), []),
                    attributes=orjson.loads(row[11]) if row[11] else {},
                )
            )
        return state

    def _close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ batching

    def _current(self) -> _Batch:
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch(self._carried)
            self._carried = []
            if self._writing is None:
                assert self._loop is not None
                self._loop.call_later(UNCONFIRMED_DELAY_S, self._flush)
        return batch

    def _rows(self) -> tuple[_Batch, _Rows]:
        batch = self._current()
        rows = batch.rows
        if rows is None:
            rows = batch.rows = [[] for _ in _HOT]
            batch.steps.append(rows)
        return batch, rows

    def _call(self, fn: Callable[..., None], *args: Any, retry: bool = True) -> _Batch:
        batch = self._current()
        batch.steps.append(_Call(fn, args, retry))
        batch.rows = None
        return batch

    def _confirmed(self, batch: _Batch) -> asyncio.Future[Rejected]:
        if batch.future is None:
            assert self._loop is not None
            batch.future = self._loop.create_future()
            if batch is self._batch and self._writing is None:
                self._loop.call_soon(self._flush)
        return batch.future

    def flush(self) -> bool:
        """Write what was handed over now if that can be done on the event loop; True
        if nothing handed over is left unwritten."""
        batch = self._batch
        if batch is not None:
            if self._writing is not None or not self._inline(batch):
                return False  # left as it is, to be joined by more writes
            self._flush(inline=True)
        return self._writing is None

    def _inline(self, batch: _Batch) -> bool:
        """Whether ``batch`` is written on the event loop (see the module's docstring)."""
        return self.fsync == "normal" and not self._restart and _rows_in(batch.steps) <= INLINE_MAX_ROWS

    def _checkpoint(self) -> None:
        """Start a checkpoint on the writer thread when one is due and none is running.
        Transactions go on meanwhile (on the loop, or after it on the writer thread)."""
        loop, executor = self._loop, self._executor
        assert loop is not None and executor is not None
        if self._checkpointing is None and loop.time() - self._checkpointed_at >= CHECKPOINT_INTERVAL_S:
            self._checkpointed_at = loop.time()
            running = self._checkpointing = loop.run_in_executor(executor, self._run_checkpoint)
            running.add_done_callback(self._checkpointed)

    def _checkpointed(self, running: asyncio.Future[int]) -> None:
        self._checkpointing = None
        if not running.cancelled() and running.exception() is None:
            if running.result() * self._page_size >= LOG_RESTART_BYTES:
                self._restart = True

    def _run_checkpoint(self) -> int:
        """On the writer thread: copy the log into the database, on the checkpoint's own
        connection (``PASSIVE`` waits for no reader or writer). Returns the log's size
        in pages (0 when the checkpoint failed)."""
        try:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            return _checkpoint(self._checkpointer)
        except sqlite3.Error as exc:  # the transactions are committed all the same
            log.warning("database %s: checkpoint failed: %s", self.path, exc)
            return 0

    def _flush(self, inline: bool | None = None) -> None:
        """Write the collected batch unless a transaction is on the writer thread;
        ``inline``: whether it goes on the loop, if the caller has found that out already."""
        batch = self._batch
        if batch is None or self._writing is not None:
            return
        self._batch = None
        loop, executor = self._loop, self._executor
        assert loop is not None and executor is not None
        prune = 0
        if batch.newest - self._pruned_at >= PRUNE_INTERVAL_MS:
            prune = self._pruned_at = batch.newest
        if inline is None:
            inline = self._inline(batch)
        if inline:
            self._busy_timeout(0)
            try:
                rejected = self._write(batch.steps, prune)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorname != "SQLITE_BUSY":
                    self._written(batch, exc, None)
                    return
                # Another process holds the database's write lock (a sqlite3 shell, say):
                # the transaction waits for it on the writer thread, not here.
            except _WRITE_ERRORS as exc:
                self._written(batch, exc, None)
                return
            else:
                self._written(batch, None, rejected)
                return
        self._busy_timeout(BUSY_TIMEOUT_MS)
        restart, self._restart = self._restart, False
        writing = self._writing = loop.run_in_executor(executor, self._write, batch.steps, prune, restart)
        writing.add_done_callback(
            lambda done: self._written(batch, done.exception(), None if done.exception() else done.result())
        )

    def _busy_timeout(self, ms: int) -> None:
        """How long a transaction waits for another process's lock: not at all on the
        loop, up to BUSY_TIMEOUT_MS on the writer thread. Set between transactions."""
        if self._busy_ms != ms and self._db is not None:
            self._db.execute(f"PRAGMA busy_timeout = {ms}")
            self._busy_ms = ms

    def _write(self, steps: list[_Rows | _Call], prune: int, restart: bool = False) -> Rejected:
        """One transaction (on the loop or the writer thread, see the module's docstring);
        ids forgotten by ``prune`` (ms) are deleted; ``restart``: after a checkpoint of
        what is left of the log (writer thread), so that the transaction restarts it.
        Returns the publishes left out because their rows cannot be written."""
        db = self._db
        if db is None:
            raise StoreError("the store is closed")
        rejected = NOTHING_REJECTED
        if restart:
            try:
                _checkpoint(db)
            except sqlite3.Error as exc:  # the transaction is written all the same
                log.warning("database %s: checkpoint failed: %s", self.path, exc)
        try:
            self._transaction(db, steps, prune)
        except _ROW_ERRORS:
            rejected = self._reject(db, steps)
            if not rejected:
                raise  # not a publish's row: the transaction fails as a whole
            self._transaction(db, steps, prune)
        return rejected

    def _transaction(self, db: sqlite3.Connection, steps: list[_Rows | _Call], prune: int) -> None:
        try:
            db.execute("BEGIN")
            for step in steps:
                if isinstance(step, _Call):
                    step.fn(db, *step.args)
                    continue
                for statement, rows in zip(_HOT, step):
                    if rows:
                        statement.run(db, rows, self._max_params)
            if prune:
                for sql in _PRUNE:
                    db.execute(sql, (prune,))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                try:
                    db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise

    def _reject(self, db: sqlite3.Connection, steps: list[_Rows | _Call]) -> Rejected:
        """Find the publishes whose rows cannot be written, each row tried alone in a
        transaction that is then rolled back, and take all their rows out of ``steps``."""
        rejected: set[tuple[str, str]] = set()
        db.execute("BEGIN")
        try:
            for step in steps:
                if isinstance(step, _Call):
                    continue
                for index in (_MESSAGE, _REMEMBERED):
                    statement, values, key = _HOT[index], step[index], _PUBLISH_KEY[index]
                    for at in range(0, len(values), statement.width):
                        row = values[at : at + statement.width]
                        try:
                            statement.run(db, row, self._max_params)
                        except _ROW_ERRORS as exc:
                            session, message_id = row[key], row[key + 1]
                            rejected.add((session, message_id))
                            log.error(
                                "message %r of session %r cannot be stored: %s",
                                message_id,
                                session,
                                exc,
                                extra={"session": session},
                            )
        finally:
            db.execute("ROLLBACK")
        for step in steps:
            if isinstance(step, _Call):
                continue
            for index, key in _PUBLISH_KEY.items():
                values, width = step[index], _HOT[index].width
                step[index] = [
                    value
                    for at in range(0, len(values), width)
                    if (values[at + key], values[at + key + 1]) not in rejected
                    for value in values[at : at + width]
                ]
        return frozenset(rejected)

    def _written(self, batch: _Batch, exc: BaseException | None, rejected: Rejected | None) -> None:
        self._writing = None
        fut = batch.future
        if exc is None:
            if fut is not None and not fut.done():
                fut.set_result(rejected or NOTHING_REJECTED)
            self._checkpoint()
        else:
            if fut is not None and not fut.done():
                fut.set_exception(exc)
            self._carry(batch.steps, exc)
        if self._batch is not None:
            self._flush()

    def _carry(self, steps: list[_Rows | _Call], exc: BaseException) -> None:
        """Keep a failed transaction's fire-and-forget writes for the next one."""
        kept: list[_Rows | _Call] = []
        for step in steps:
            if isinstance(step, _Call):
                if step.retry:
                    kept.append(step)
            else:
                kept.append([[] if i in _CONFIRMED else rows for i, rows in enumerate(step)])
        count = _rows_in(kept)
        if self._closed or count > MAX_CARRIED_ROWS:
            log.error("storage write failed: %s; %d writes lost (a restart may re-deliver)", exc, count)
            return
        log.error("storage write failed: %s; %d writes kept for the next try", exc, count)
        if self._batch is not None:
            self._batch.steps[:0] = kept
        else:
            self._carried = kept

    # ------------------------------------------------------------------ the Store API

    async def put_session(self, record: SessionRecord) -> None:
        if self._closed:
            raise StoreError("the store is closed")
        await asyncio.shield(self._confirmed(self._call(_put_session, record, retry=False)))

    async def delete_session(self, name: str) -> None:
        if self._closed:
            raise StoreError("the store is closed")
        await asyncio.shield(self._confirmed(self._call(_delete_session, name)))

    def add_message(self, message: Message, named: Sequence[str], delivered_to: int) -> Awaitable[Rejected] | None:
        if self._closed:
            raise StoreError("the store is closed")
        batch, rows = self._rows()
        if message.created_ms > batch.newest:
            batch.newest = message.created_ms
        session = message.session
        if delivered_to and not named:
            # Only its id outlives a restart (see remembered_ids), counted from now: this
            # message's deliveries end with their connections.
            rows[_REMEMBERED] += (message.created_ms + self._dedup_window_ms, session, message.id, delivered_to)
            return self._confirmed(batch)
        rows[_MESSAGE] += (
            session,
            message.id,
            message.topic,
            # Only a named subscriber can be delivered to after a restart; with none
            # (a message to nobody), the id is kept for de-duplication, not the payload.
            message.payload if named else None,
            None if message.hash is ABSENT else orjson.dumps(message.hash),
            message.timestamp_ms,
            message.json,
            message.created_ms,
            message.expires_ms,
            delivered_to,
            orjson.dumps(dict(message.attributes)) if message.attributes and named else None,
        )
        for sub in named:
            rows[_DELIVERY] += (session, message.id, sub)
        return self._confirmed(batch)

    def settle(self, session: str, message_id: str, subscriber: str) -> None:
        if not self._closed:
            self._rows()[1][_SETTLED] += (session, message_id, subscriber)

    def retried(self, session: str, message_id: str, subscriber: str, attempts: int, due_ms: int) -> None:
        if not self._closed:
            self._rows()[1][_RETRIED] += (session, message_id, subscriber, attempts, due_ms)

    def forget_message(self, session: str, message_id: str, forget_at_ms: int) -> None:
        if self._closed:
            return
        rows = self._rows()[1]
        rows[_FORGOTTEN] += (forget_at_ms, session, message_id)
        # Normally settled one by one already; not so for a delivery whose subscriber
        # lost its persistent subscriptions, or whose settle write failed. A message
        # without deliveries may come from the store with rows of subscribers that have
        # no persistent subscription any more: those are deleted.
        rows[_FORGOTTEN_DELIVERIES] += (session, message_id)

    def put_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        if not self._closed:
            self._call(_put_subscription, session, subscriber, pattern)

    def delete_subscription(self, session: str, subscriber: str, pattern: str) -> None:
        if not self._closed:
            self._call(_delete_subscription, session, subscriber, pattern)
