"""The broker: sessions, subscriptions, publishing and at-least-once delivery.

Every front door drives this one API, so both doors behave the same by construction.
It never touches a socket: it is called with decoded requests and answers through the
``Peer`` of each connection (see ``connection.py``).

Delivery in one paragraph: a publish is validated, written to the store, and turned
into one Delivery per matching subscriber (the publishing connection skipped). Each
delivery is re-sent to its subscriber every ``retry_interval_ms`` until that
subscriber ACKs it, it has been re-sent ``max_retry_limit`` times, or the message
expires. The publisher hears of every ACK (``ack_received``) and every give-up
(``delivery_failed``). A message whose deliveries are all settled is forgotten, but
its id is remembered for the de-duplication window.

Timers: all deliveries of a session share one retry interval, so a session's retry
queue is in due order by construction (a FIFO), and so is its expiry queue. One heap
holds each session's earliest due time, and one task sleeps until the heap's head.
Nothing per message is scheduled with the event loop.

Log lines about a session carry ``extra={"session": name, "peer": address}`` (the
team's convention): whoever wants one session's lines (the HTTP door's ``sys/logs``
stream, structured logs) picks them by those attributes, so the core needs to know
nothing about who reads them. They cover what a session's operator needs to see:
connects, disconnects, refused logins and requests, given-up deliveries.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from . import deadletter
from .clock import Clock, SystemClock
from .connection import Connection, Peer, PublishOutcome, Subscriber
from .counters import Counters
from .credentials import hash_password, hash_secret, new_secret_key, verify_nothing
from .delivery import ABSENT, NO_ATTRIBUTES, Delivery, Hash, Message
from .errors import BrokerError, ErrorCode
from .flow import Window
from .session import Limits, Session, SessionInfo, SessionRecord, SessionSpec
from .stats import Stats
from .throttle import LoginThrottle
from .topics import validate_pattern, validate_topic

if TYPE_CHECKING:
    from ..store.base import Rejected, Store, StoredState

log = logging.getLogger("fastport.broker")
# Every refused login and every connection the broker closes (fastport/logs.py).
audit = logging.getLogger("fastport.audit")

DEFAULT_MAX_PAYLOAD = 10 * 1024 * 1024
DEFAULT_DEDUP_WINDOW_MS = 10 * 60 * 1000
DEFAULT_SLOW_CONSUMER_TIMEOUT_MS = 30_000
# Longest a congested session keeps a publish result back: publishers are slowed to a
# window per this long, never stopped (an offline persistent subscriber may keep a
# session congested for as long as its messages live).
MAX_HELD_RESULT_MS = 1000
MAX_NAME_LENGTH = 256
MAX_MESSAGE_ID_LENGTH = 256
MAX_RETRY_INTERVAL_MS = 24 * 3600 * 1000
MAX_RETRY_LIMIT = 1_000_000
# Integers the core keeps must fit a signed 64-bit integer: the store (SQLite INTEGER)
# and the gRPC door (int64 fields) hold nothing larger, and a value that fails there
# would fail far from the client that sent it (a neighbour's commit, a subscriber's send).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Each session limit and its largest value (the uint32 ones are uint32 in the protos).
LIMITS: dict[str, int] = {f.name: 2**53 for f in fields(Limits)} | {
    name: 2**32 - 1 for name in ("max_connections", "max_subscriptions", "max_pending_messages", "max_in_flight")
}


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD
    dedup_window_ms: int = DEFAULT_DEDUP_WINDOW_MS
    # A subscriber whose door has had no room for its deliveries this long is
    # disconnected (0: never).
    slow_consumer_timeout_ms: int = DEFAULT_SLOW_CONSUMER_TIMEOUT_MS


# Marks a session whose timer work is running, so nothing re-arms it meanwhile.
_RUNNING = -1

# Why a delivery was given up (DeliveryFailed.reason on the wire).
RETRY_LIMIT = "retry_limit"
EXPIRED = "expired"
SUBSCRIBER_GONE = "subscriber_gone"


def _about(session: str, address: str = "") -> dict[str, str]:
    """The ``extra`` of a log line about ``session`` (see the module docstring)."""
    return {"session": session, "peer": address}


def _check_name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise BrokerError(ErrorCode.INVALID_FIELD, f"{what} must be a non-empty string")
    if len(value) > MAX_NAME_LENGTH or not value.isprintable():
        raise BrokerError(ErrorCode.INVALID_FIELD, f"{what} must be at most {MAX_NAME_LENGTH} printable characters")
    return value


def _attributes_size(attributes: Mapping[str, str]) -> int:
    """Bytes of ``attributes`` (UTF-8 keys and values), once they are checked: keys are
    non-empty strings, values strings, and no key is one of the broker's own
    (``deadletter.RESERVED_PREFIX``)."""
    size = 0
    for key, value in attributes.items():
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise BrokerError(ErrorCode.INVALID_FIELD, "attributes must map non-empty string keys to strings")
        if key.startswith(deadletter.RESERVED_PREFIX):
            raise BrokerError(
                ErrorCode.INVALID_FIELD, f"attribute keys starting with {deadletter.RESERVED_PREFIX!r} are the broker's"
            )
        size += len(key.encode()) + len(value.encode())
    return size


# What a failed login is refused with (see Broker._login).
_LOGIN_FAILURES = frozenset(
    (ErrorCode.SESSION_NOT_FOUND, ErrorCode.INVALID_PASSWORD, ErrorCode.INVALID_CREDENTIALS, ErrorCode.TOO_MANY_ATTEMPTS)
)


def _session_not_found() -> BrokerError:
    return BrokerError(ErrorCode.SESSION_NOT_FOUND, "Session not found")


def _check_range(value: int, what: str, upper: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= upper:
        raise BrokerError(ErrorCode.INVALID_FIELD, f"{what} must be an integer from 0 to {upper}")
    return value


class Broker:
    def __init__(
        self,
        store: Store | None = None,
        clock: Clock | None = None,
        config: BrokerConfig | None = None,
    ) -> None:
        if store is None:
            from ..store.memory import MemoryStore

            store = MemoryStore()
        self.store: Store = store
        self.clock: Clock = clock or SystemClock()
        self.config = config or BrokerConfig()
        self.sessions: dict[str, Session] = {}
        self._gone = Counters()  # what sessions no longer here had counted (see totals)
        self._heap: list[tuple[int, int, Session]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._timer_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closing = False
        self.logins = LoginThrottle(self.clock)  # failed logins, for every door
        # Logins to sessions that do not exist, checked all the same (see _login).
        self._unknown_checks: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self.stats = Stats()
        # Publishes waiting for the awaitable the store returned for them. A store that
        # commits in batches returns one per batch: the batch then costs one callback,
        # not a closure and a callback per publish kept alive until the commit.
        self._storing: Awaitable[Rejected] | None = None
        self._stored: list[tuple[Message, Sequence[Subscriber], object]] = []

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load what the store kept and start the timer task."""
        self._restore(await self.store.open(self.config.dedup_window_ms))
        self._timer_task = asyncio.create_task(self._timer_loop(), name="fastport-timers")

    def _restore(self, state: StoredState) -> None:
        """Rebuild what the store kept. Named subscribers come back offline, with their
        persistent subscriptions and unsettled deliveries; attempts and deadlines are as
        they were, so the timers carry on from there. A message none of whose deliveries
        can resume is settled, and its id kept for the de-duplication window."""
        now = self.clock.now_ms()
        for record in state.sessions:
            session = Session(record)
            self.sessions[session.name] = session
        for stored_sub in state.subscriptions:
            session = self.sessions.get(stored_sub.session)
            if session is None:
                continue
            sub = session.named.get(stored_sub.subscriber)
            if sub is None:
                sub = session.named[stored_sub.subscriber] = Subscriber(session, stored_sub.subscriber)
            sub.patterns[stored_sub.pattern] = True
            session.index.add(stored_sub.pattern, sub)
        # Ids to remember, per session, to be added in forget order: (forget at, id, result).
        recent: dict[str, list[tuple[int, str, int]]] = {name: [] for name in self.sessions}
        for remembered in state.remembered:
            session = self.sessions.get(remembered.session)
            if session is not None and remembered.forget_at_ms > now:
                recent[session.name].append((remembered.forget_at_ms, remembered.id, remembered.delivered_to))
        for stored in state.messages:
            session = self.sessions.get(stored.session)
            if session is None:
                continue
            message = Message(
                id=stored.id,
                topic=stored.topic,
                payload=stored.payload,
                hash=stored.hash,
                timestamp_ms=stored.timestamp_ms,
                json=stored.json,
                session=session,
                publisher=None,
                created_ms=stored.created_ms,
                expires_ms=stored.expires_ms,
                attributes=stored.attributes or NO_ATTRIBUTES,
            )
            message.committed = True
            for stored_delivery in stored.deliveries:
                sub = session.named.get(stored_delivery.subscriber)
                if sub is None:
                    continue  # no persistent subscription: its deliveries ended with its connection
                delivery = Delivery(message, sub)
                delivery.attempts = stored_delivery.attempts
                delivery.due_ms = stored_delivery.due_ms
                sub.pending[message.id] = delivery
                message.deliveries.append(delivery)
                if delivery.due_ms:
                    session.retry_queue[delivery] = delivery.due_ms
            message.remaining = len(message.deliveries)
            if message.deliveries:
                session.add_pending(message)
                if message.expires_ms:
                    session.expiry_queue.append(message)
            else:
                forget_at = now + self.config.dedup_window_ms
                recent[session.name].append((forget_at, message.id, stored.delivered_to))
                self.store.forget_message(message, forget_at)
        for session in self.sessions.values():
            # The timer queues are FIFOs in due order; stored order is publish order.
            session.retry_queue = OrderedDict(sorted(session.retry_queue.items(), key=lambda entry: entry[1]))
            session.expiry_queue = deque(sorted(session.expiry_queue, key=lambda m: m.expires_ms))
            for forget_at, message_id, delivered_to in sorted(recent[session.name], key=lambda entry: entry[0]):
                session.recent.add(message_id, forget_at, delivered_to)
            self._arm(session)

    async def stop(self) -> None:
        """Tell every client the server is going away, stop timers, flush the store."""
        self._closing = True
        for session in self.sessions.values():
            for conn in list(session.connections):
                conn.peer.close(ErrorCode.SHUTTING_DOWN.value, "Server shutting down")
        if self._timer_task is not None:
            self._timer_task.cancel()
            try:
                await self._timer_task
            except asyncio.CancelledError:
                pass
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.store.close()

    # ------------------------------------------------------------------ admin

    async def create_session(self, spec: SessionSpec) -> tuple[SessionInfo, str]:
        """Create a session; returns its info and its secret key (shown only now)."""
        name = _check_name(spec.name, "sessionName")
        if not isinstance(spec.password, str) or not spec.password:
            raise BrokerError(ErrorCode.INVALID_FIELD, "password must be a non-empty string")
        _check_range(spec.retry_interval_ms, "retryInterval", MAX_RETRY_INTERVAL_MS)
        _check_range(spec.max_retry_limit, "maxRetryLimit", MAX_RETRY_LIMIT)
        _check_range(spec.message_expiry_ms, "messageExpiryTime", 2**53)
        _check_range(spec.session_expiry_ms, "sessionExpiry", 2**53)
        _check_range(spec.max_remembered_ids, "maxRememberedIds", 2**53)
        for field_name, upper in LIMITS.items():
            _check_range(getattr(spec.limits, field_name), field_name, upper)
        if not isinstance(spec.dead_letter_topic, str):
            raise BrokerError(ErrorCode.INVALID_FIELD, "deadLetterTopic must be a string")
        if spec.dead_letter_topic:
            validate_topic(spec.dead_letter_topic)
        if name in self.sessions:
            raise BrokerError(ErrorCode.SESSION_EXISTS, "Session already exists")
        secret = new_secret_key()
        # scrypt takes tens of ms: keep it off the event loop.
        password_hash = await asyncio.get_running_loop().run_in_executor(None, hash_password, spec.password)
        if name in self.sessions:
            raise BrokerError(ErrorCode.SESSION_EXISTS, "Session already exists")
        now = self.clock.now_ms()
        record = SessionRecord(
            name=name,
            password_hash=password_hash,
            secret_hash=hash_secret(secret),
            retry_interval_ms=spec.retry_interval_ms,
            max_retry_limit=spec.max_retry_limit,
            message_expiry_ms=spec.message_expiry_ms,
            expires_at_ms=now + spec.session_expiry_ms if spec.session_expiry_ms else 0,
            limits=spec.limits.resolved(),
            suspended=False,
            created_at_ms=now,
            max_remembered_ids=spec.max_remembered_ids,
            dead_letter_topic=spec.dead_letter_topic,
        )
        session = Session(record)
        self.sessions[name] = session
        try:
            await self.store.put_session(session.record())
        except Exception as exc:
            del self.sessions[name]
            log.error("storing session %r failed: %s", name, exc)
            raise BrokerError(ErrorCode.STORAGE_ERROR, "Session could not be stored") from exc
        self._arm(session)
        log.info("session %r created", name, extra=_about(name))
        return session.info(), secret

    async def drop_session(self, name: str) -> None:
        session = self._session(name)
        self._remove_session(session, "session_dropped", "Session dropped")
        await self._store_delete(name)

    async def set_suspended(self, name: str, suspended: bool) -> SessionInfo:
        session = self._session(name)
        if session.suspended != suspended:
            session.suspended = suspended
            try:
                await self.store.put_session(session.record())
            except Exception as exc:
                session.suspended = not suspended
                raise BrokerError(ErrorCode.STORAGE_ERROR, "Session state could not be stored") from exc
            log.info("session %r %s", name, "suspended" if suspended else "resumed", extra=_about(name))
        return session.info()

    def get_session(self, name: str) -> SessionInfo:
        return self._session(name).info()

    def totals(self) -> Counters:
        """The counters of every session since start-up, dropped ones included."""
        total = self._gone.copy()
        for session in self.sessions.values():
            total.add(session.counters)
        return total

    def list_sessions(self) -> list[SessionInfo]:
        return [s.info() for s in self.sessions.values()]

    async def check_owner(self, name: str, password: str, secret_key: str, address: str = "") -> None:
        """Accept a session's own password + secret key in place of admin rights.
        ``address``: the client's, as failed attempts are throttled by."""

        async def check(session: Session) -> bool:
            if not isinstance(secret_key, str):
                return False
            return await asyncio.get_running_loop().run_in_executor(None, session.check_secret, password, secret_key)

        await self._login(address, name, password, check, ErrorCode.INVALID_CREDENTIALS, "Invalid credentials")

    def _session(self, name: str) -> Session:
        session = self.sessions.get(name) if isinstance(name, str) else None
        if session is None:
            raise _session_not_found()
        return session

    def _remove_session(self, session: Session, code: str, reason: str) -> None:
        session.dropped = True
        self._gone.add(session.counters)
        self.sessions.pop(session.name, None)
        for conn in list(session.connections):
            self._detach(conn, notify=False)
            conn.peer.close(code, reason)
            audit.info("disconnected by the server: %s", code, extra=_about(session.name, conn.address))
        session.named.clear()
        session.messages.clear()
        session.pending_bytes = 0
        session.held.clear()
        session.retry_queue.clear()
        session.expiry_queue.clear()
        session.blocked.clear()
        session.recent.clear()
        log.info("session %r removed (%s)", session.name, reason, extra=_about(session.name))

    async def _store_delete(self, name: str) -> None:
        try:
            await self.store.delete_session(name)
        except Exception as exc:
            log.error("deleting session %r from the store failed: %s", name, exc)
            raise BrokerError(ErrorCode.STORAGE_ERROR, "Session data could not be deleted") from exc

    # ------------------------------------------------------------------ connections

    def connect(self, peer: Peer, address: str = "") -> Connection:
        """A new client connection; ``address`` names the client in log lines."""
        self.stats.connections += 1
        return Connection(peer, address)

    async def init(
        self, conn: Connection, session_name: str, password: str, client_id: str | None = None
    ) -> SessionInfo:
        """Authenticate ``conn`` into a session. On failure the connection stays as it was."""
        try:
            return await self._join(conn, session_name, password, client_id)
        except BrokerError as err:
            if err.code not in _LOGIN_FAILURES:  # those are audited by LoginThrottle
                name = session_name if isinstance(session_name, str) else ""
                log.info("init refused: %s (%s)", err.message, err.code.value, extra=_about(name, conn.address))
            raise

    async def _join(self, conn: Connection, session_name: str, password: str, client_id: str | None) -> SessionInfo:
        if self._closing:
            raise BrokerError(ErrorCode.SHUTTING_DOWN, "Server shutting down")

        async def check(session: Session) -> bool:
            return session.knows_password(password) or await self._shared_check(
                session.checks, session.password_digest(password), session.check_password, password
            )

        session = await self._login(
            conn.address, session_name, password, check, ErrorCode.INVALID_PASSWORD, "Invalid password"
        )
        if session.dropped:
            raise BrokerError(ErrorCode.SESSION_NOT_FOUND, "Session not found")
        if session.suspended:
            raise BrokerError(ErrorCode.SESSION_SUSPENDED, "Session is suspended")
        if client_id is not None:
            _check_name(client_id, "clientId")
        if conn.closed:
            raise BrokerError(ErrorCode.NOT_INITIALIZED, "Connection closed")
        current = conn.subscriber
        if conn.session is session and current is not None and (current.id if current.named else None) == client_id:
            return session.info()
        limit = session.limits.max_connections
        if conn.session is not session and limit and len(session.connections) >= limit:
            raise BrokerError(ErrorCode.LIMIT_EXCEEDED, f"Session has its maximum of {limit} connections")
        if conn.session is not None:
            self._detach(conn)
        conn.session = session
        session.connections.add(conn)
        sub = session.named.get(client_id) if client_id is not None else None
        if sub is None:
            sub = Subscriber(session, client_id)
            if client_id is not None:
                session.named[client_id] = sub
        elif sub.connection is not None:
            old = sub.connection
            self._detach(old)
            old.peer.close("replaced", "Another connection took over this client id")
            audit.info("client id %r taken over, the older connection closed", client_id, extra=_about(session.name, old.address))
        sub.connection = conn
        conn.subscriber = sub
        log.info("connected%s", f" as client id {client_id!r}" if client_id else "", extra=_about(session.name, conn.address))
        if sub.pending:
            self._resume(sub)
        return session.info()

    async def _login(
        self,
        address: str,
        name: object,
        password: object,
        check: Callable[[Session], Awaitable[bool]],
        wrong: ErrorCode,
        wrong_text: str,
    ) -> Session:
        """The session ``name`` if ``check`` accepts the credentials for it.

        Failures are throttled per (client address, session) (``LoginThrottle``):
        while an address must wait, it is refused with ``too_many_attempts`` unchecked.
        A session that does not exist costs what a wrong password costs (a scrypt run
        against nothing), so timing tells no more than the legacy protocol's error
        texts ("Session not found", "Invalid password"), which clients rely on."""
        scope = name if isinstance(name, str) else repr(name)
        self.logins.check(address, scope)
        session = self.sessions.get(name) if isinstance(name, str) else None
        try:
            if not isinstance(password, str) or not password:
                raise BrokerError(wrong, wrong_text) if session is not None else _session_not_found()
            if session is None:
                await self._shared_check(self._unknown_checks, (scope, password), verify_nothing, password)
                raise _session_not_found()
            if not await check(session):
                raise BrokerError(wrong, wrong_text)
        except BrokerError as err:
            self.logins.failed(address, scope, err.message)
            raise
        self.logins.succeeded(address, scope)
        return session

    @staticmethod
    async def _shared_check(
        checks: dict[Any, asyncio.Future[bool]], key: object, verify: Callable[[str], bool], password: str
    ) -> bool:
        """``verify(password)`` (scrypt) off the event loop, one run per ``key`` at a
        time: concurrent logins with the same password share it (each run takes 16 MiB
        and tens of ms of CPU, so a reconnect storm would otherwise run one per client)."""
        check = checks.get(key)
        if check is None:
            check = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, verify, password))
            checks[key] = check
            check.add_done_callback(lambda _: checks.pop(key, None))
        return await asyncio.shield(check)

    def _resume(self, sub: Subscriber) -> None:
        """A named subscriber is back: send what it has pending, in publish order, as
        far as its window goes; the rest waits its turn."""
        now = self.clock.now_ms()
        window, limit = sub.window, sub.session.limits.max_in_flight
        for delivery in sub.pending.values():
            if window.admit(delivery, limit):
                self._send(delivery, now)

    def subscribe(self, conn: Connection, pattern: str, persistent: bool = False) -> str:
        session, sub = self._attached(conn)
        try:
            return self._subscribe(session, sub, pattern, persistent)
        except BrokerError as err:
            self._log_refusal(session, conn, "subscribe to", pattern, err)
            raise

    def _subscribe(self, session: Session, sub: Subscriber, pattern: str, persistent: bool) -> str:
        if session.suspended:
            raise BrokerError(ErrorCode.SESSION_SUSPENDED, "Session is suspended")
        pattern = validate_pattern(pattern)
        if persistent and not sub.named:
            raise BrokerError(ErrorCode.INVALID_FIELD, "A persistent subscription needs a client id at init")
        was = sub.patterns.get(pattern)
        if was is None:
            limit = session.limits.max_subscriptions
            if limit and session.index.count >= limit:
                raise BrokerError(ErrorCode.LIMIT_EXCEEDED, f"Session has its maximum of {limit} subscriptions")
            session.index.add(pattern, sub)
        sub.patterns[pattern] = persistent
        if persistent and not was:
            self.store.put_subscription(session.name, sub.id, pattern)
        elif was and not persistent:
            self.store.delete_subscription(session.name, sub.id, pattern)
        return pattern

    def unsubscribe(self, conn: Connection, pattern: str) -> str:
        session, sub = self._attached(conn)
        pattern = validate_pattern(pattern)
        was = sub.patterns.pop(pattern, None)
        if was is not None:
            session.index.remove(pattern, sub)
            if was:
                self.store.delete_subscription(session.name, sub.id, pattern)
        return pattern

    def _log_refusal(self, session: Session, conn: Connection, what: str, topic: str, err: BrokerError) -> None:
        """Log a refused subscribe or publish, at most once a second per session
        (``QuietLog``)."""
        more = session.refusal_log.admit(self.clock.now_ms())
        if more is None:
            return
        log.info(
            "%s %r refused: %s%s",
            what,
            topic,
            err.message,
            f" (and {more} more refusals not logged)" if more else "",
            extra=_about(session.name, conn.address),
        )

    def _attached(self, conn: Connection) -> tuple[Session, Subscriber]:
        session, sub = conn.session, conn.subscriber
        if session is None or sub is None:
            raise BrokerError(ErrorCode.NOT_INITIALIZED, "Not initialized")
        return session, sub

    def disconnect(self, conn: Connection) -> None:
        """The client is gone. Safe to call more than once."""
        if conn.closed:
            return
        conn.closed = True
        self.stats.connections -= 1
        session = conn.session
        if session is not None:
            self._detach(conn)
            log.info("disconnected", extra=_about(session.name, conn.address))

    def _detach(self, conn: Connection, notify: bool = True) -> None:
        """Take ``conn`` out of its session. Its subscriber survives only if named with
        persistent subscriptions; otherwise its subscriptions and deliveries end here."""
        session, sub = conn.session, conn.subscriber
        conn.session = None
        conn.subscriber = None
        if session is None:
            return
        session.connections.discard(conn)
        if sub is None:
            return
        sub.connection = None
        sub.window = Window()  # what was in flight is in flight to no one: offline
        session.blocked.pop(sub, None)
        keep = sub.named and any(sub.patterns.values())
        for pattern, persistent in list(sub.patterns.items()):
            if not (keep and persistent):
                session.index.remove(pattern, sub)
                del sub.patterns[pattern]
        if keep:
            return
        if sub.named:
            session.named.pop(sub.id, None)
        if notify:
            for delivery in list(sub.pending.values()):
                self._give_up(delivery, SUBSCRIBER_GONE)
        sub.pending.clear()

    def relay_peers(self, conn: Connection, topic: str) -> list[Peer]:
        """Peers of the other connected subscribers of ``topic`` in ``conn``'s session.

        For what a door relays without delivery tracking (the legacy file-chunk
        frames): nothing is stored, retried or ACKed, so the door writes it directly."""
        session = conn.session
        if session is None:
            return []
        peers: list[Peer] = []
        for sub in session.index.match(topic):
            other = sub.connection
            if other is not None and other is not conn:
                peers.append(other.peer)
        return peers

    # ------------------------------------------------------------------ publish / ack

    def publish(
        self,
        conn: Connection,
        topic: str,
        payload: bytes,
        *,
        hash: Hash = ABSENT,
        timestamp_ms: int = 0,
        message_id: str = "",
        json: bool = False,
        ref: object = None,
        attributes: Mapping[str, str] = NO_ATTRIBUTES,
    ) -> None:
        """Publish; the outcome arrives at ``conn.peer.publish_result`` (maybe later,
        when the store has committed it). ``attributes`` (string keys and values) count
        towards the payload limit: they travel and are stored with every message."""
        peer = conn.peer
        session = conn.session
        try:
            if session is None:
                raise BrokerError(ErrorCode.NOT_INITIALIZED, "Not initialized")
            if not message_id:
                message_id = uuid.uuid4().hex
            elif not isinstance(message_id, str) or len(message_id) > MAX_MESSAGE_ID_LENGTH:
                raise BrokerError(
                    ErrorCode.INVALID_FIELD, f"messageId must be a string of at most {MAX_MESSAGE_ID_LENGTH} characters"
                )
            if session.suspended or session.dropped:
                raise BrokerError(ErrorCode.SESSION_SUSPENDED, "Session suspended or invalid")
            validate_topic(topic)
            if type(timestamp_ms) is not int or not INT64_MIN <= timestamp_ms <= INT64_MAX:
                raise BrokerError(ErrorCode.INVALID_FIELD, "timestamp must be an integer within int64")
            limit = session.limits.max_payload_bytes or self.config.max_payload_bytes
            size = len(payload)
            if attributes:
                size += _attributes_size(attributes)
            if size > limit:
                raise BrokerError(ErrorCode.PAYLOAD_TOO_LARGE, f"Payload larger than {limit} bytes")
            existing = session.messages.get(message_id)
            if existing is not None:
                if existing.committed:
                    existing.publisher = conn
                    peer.publish_result(PublishOutcome(ref, message_id, len(existing.deliveries), duplicate=True))
                else:
                    existing.waiters += ((conn, ref),)
                return
            delivered_to = session.recent.get(message_id)
            if delivered_to is not None:
                peer.publish_result(PublishOutcome(ref, message_id, delivered_to, duplicate=True))
                return
            if session.full(len(payload)):
                limits = session.limits
                raise BrokerError(
                    ErrorCode.OVERLOADED,
                    f"Session holds its maximum of unsettled messages ({limits.max_pending_messages} messages,"
                    f" {limits.max_pending_bytes} bytes): publish again once subscribers have caught up",
                )
        except BrokerError as err:
            if session is not None:
                self._log_refusal(session, conn, "publish to", topic, err)
            peer.publish_result(PublishOutcome(ref, message_id if isinstance(message_id, str) else "", error=err))
            return

        now = self.clock.now_ms()
        expiry = session.message_expiry_ms
        message = Message(
            id=message_id,
            topic=topic,
            payload=payload,
            hash=hash,
            timestamp_ms=timestamp_ms or now,
            json=json,
            session=session,
            publisher=conn,
            created_ms=now,
            expires_ms=now + expiry if expiry else 0,
            attributes=attributes,
        )
        session.add_pending(message)
        targets: Sequence[Subscriber] = session.index.match(topic)
        own = conn.subscriber
        if own is not None and own.patterns:  # the publisher may be among them: skip it
            targets = [s for s in targets if s.connection is not conn]
        try:
            written = self.store.add_message(message, targets)
        except Exception as exc:
            log.error("storing message %r failed: %s", message.id, exc)
            self._publish_failed(message, ref)
            return
        if written is None:
            self._commit(message, targets, ref, now)
        elif written is self._storing:
            self._stored.append((message, targets, ref))
        else:
            self._storing = written
            self._stored = [(message, targets, ref)]
            callback = functools.partial(self._on_written, self._stored, time.perf_counter())
            asyncio.ensure_future(written).add_done_callback(callback)

    def commit(self) -> bool:
        """Have the store write the publishes handed to it so far, if it can do that on
        the event loop: a door about to yield calls this so that their results follow
        at once. False if they come later, when a store's writer thread has committed
        them."""
        return self.store.flush()

    def _on_written(
        self, stored: list[tuple[Message, Sequence[Subscriber], object]], since: float, fut: asyncio.Future[Rejected]
    ) -> None:
        """The store has written (or failed to write) these publishes, in publish order.
        A publish the store rejected (a value it cannot hold) fails alone."""
        self.stats.commit_took(time.perf_counter() - since)
        if stored is self._stored:
            self._storing = None
        exc = None if fut.cancelled() else fut.exception()
        if fut.cancelled() or exc is not None:
            log.error("storing %d messages failed: %s", len(stored), exc)  # one line, however many
            for message, _, ref in stored:
                self._publish_failed(message, ref)
            return
        rejected = fut.result()
        now = self.clock.now_ms()
        for message, targets, ref in stored:
            if rejected and (message.session.name, message.id) in rejected:
                self._publish_failed(message, ref)
            else:
                self._commit(message, targets, ref, now)

    def _publish_failed(self, message: Message, ref: object) -> None:
        self._remove_pending(message)
        err = BrokerError(ErrorCode.STORAGE_ERROR, "Message could not be stored")
        for conn, r in [(message.publisher, ref), *message.waiters]:
            if conn is not None and not conn.closed:
                conn.peer.publish_result(PublishOutcome(r, message.id, error=err))

    def _commit(self, message: Message, targets: Sequence[Subscriber], ref: object, now: int = 0) -> None:
        """The message is stored: create and send its deliveries, answer the publisher.
        ``now`` is the current time when the caller has read the clock already."""
        session = message.session
        publisher = message.publisher
        if session.dropped:
            if publisher is not None and not publisher.closed:
                err = BrokerError(ErrorCode.SESSION_NOT_FOUND, "Session suspended or invalid")
                publisher.peer.publish_result(PublishOutcome(ref, message.id, error=err))
            return
        message.committed = True
        session.counters.published += 1
        now = now or self.clock.now_ms()
        deliveries = message.deliveries
        limit = session.limits.max_in_flight
        for sub in targets:
            if sub.connection is None and not sub.named:
                continue  # its connection went away while the message was being stored
            delivery = Delivery(message, sub)
            sub.pending[message.id] = delivery
            deliveries.append(delivery)
            if sub.connection is not None and sub.window.admit(delivery, limit):
                self._send(delivery, now)
        message.remaining = len(deliveries)
        # A door's encoded form of the message (see Message.wire) is shared by the sends
        # of this fan-out; re-sends are encoded anew. Dropping it here keeps it from
        # staying in memory with every unacknowledged message (~450 B each).
        message.wire = None
        if message.expires_ms:
            session.expiry_queue.append(message)
            self._wake_at(session, message.expires_ms)
        outcome = PublishOutcome(ref, message.id, len(deliveries))
        if publisher is not None and not publisher.closed:
            if session.held or session.congested():
                due = now + MAX_HELD_RESULT_MS
                session.held.append((due, publisher, outcome))
                self._wake_at(session, due)
            else:
                publisher.peer.publish_result(outcome)
        if message.waiters:
            for conn, r in message.waiters:
                if not conn.closed:
                    conn.peer.publish_result(replace(outcome, ref=r, duplicate=True))
            message.waiters = ()
        if not deliveries:
            self._forget(message)

    def _send(self, delivery: Delivery, now: int, unsent: bool = False) -> bool:
        """(Re-)send one in-flight delivery; its next deadline is one retry interval
        after the door took it. A send the door refuses (no room: a slow reader) uses
        no attempt and has no deadline: it waits, unsent, until the door has room
        (``room``), and so does every send to that subscriber meanwhile. ``unsent``:
        the delivery is the first of those. False if refused."""
        sub = delivery.subscriber
        session = sub.session
        message = delivery.message
        assert sub.connection is not None and message is not None  # only unsettled deliveries are sent
        retry = delivery.attempts
        window = sub.window
        if window.blocked or not self._deliver(sub.connection, message, retry):
            session.retry_queue.pop(delivery, None)
            delivery.due_ms = 0
            window.refused(delivery, unsent)
            timeout = self.config.slow_consumer_timeout_ms
            if timeout and sub not in session.blocked:
                session.blocked[sub] = now + timeout
                self._wake_at(session, now + timeout)
            return False
        due = now + session.retry_interval_ms
        delivery.due_ms = due
        queue = session.retry_queue
        queue[delivery] = due
        queue.move_to_end(delivery)  # a re-send of a queued delivery goes to the back
        self._wake_at(session, due)
        delivery.attempts = retry + 1
        if sub.named:
            self.store.retried(message, sub, delivery.attempts, due)
        return True

    def _deliver(self, conn: Connection, message: Message, retry: int) -> bool:
        """Hand ``message`` to ``conn``'s door; False if the door had no room.

        A door that fails on one message (a bug) must not stop the caller: the publish
        it answers, or the timer run of every other delivery. The send counts as an
        attempt, so such a delivery is given up at the retry limit."""
        session = message.session
        try:
            if not conn.peer.deliver(message, retry):
                return False
        except Exception:
            self.stats.delivery_errors += 1
            log.exception(
                "delivering message %r in session %r failed", message.id, session.name, extra={"session": session.name}
            )
            return True
        session.counters.delivered += 1
        if retry:
            self.stats.resent += 1
        return True

    def room(self, conn: Connection) -> None:
        """The door has room again for ``conn``'s deliveries, after refusing one: send
        the unsent ones, in order, then what waits, as far as the window goes."""
        sub = conn.subscriber
        if sub is None or conn.closed:
            return
        sub.session.blocked.pop(sub, None)
        sub.window.blocked = False
        self._pump(sub, self.clock.now_ms())

    def _pump(self, sub: Subscriber, now: int) -> None:
        """Send what ``sub``'s window lets go now (it is connected)."""
        window, limit = sub.window, sub.session.limits.max_in_flight
        while (turn := window.next(limit)) is not None:
            if not self._send(turn[0], now, unsent=turn[1]):
                return

    def _pending(self, conn: Connection, message_id: str) -> Delivery | None:
        """This connection's unsettled delivery of ``message_id``, if any."""
        sub = conn.subscriber
        if sub is None or not isinstance(message_id, str):
            return None
        return sub.pending.get(message_id)

    def ack(self, conn: Connection, message_id: str) -> bool:
        """Settle this connection's delivery of ``message_id``. False for an id it has no
        unsettled delivery of (an ACK may arrive after the delivery was given up, or
        twice): nothing happens then, and a door tells the client only if it asked."""
        delivery = self._pending(conn, message_id)
        if delivery is None:
            return False
        del delivery.subscriber.pending[message_id]
        message = self._settle(delivery)
        delivery.subscriber.session.counters.acked += 1
        publisher = message.publisher
        if publisher is not None and not publisher.closed:
            publisher.peer.ack_received(message, message.remaining)
        if message.remaining == 0:
            self._forget(message)
        sub = delivery.subscriber
        if sub.window.waiting:
            self._pump(sub, self.clock.now_ms())
        return True

    def nack(self, conn: Connection, message_id: str) -> bool:
        """The subscriber cannot handle ``message_id`` now: make its delivery due at
        once, so the timers re-send it on their next run instead of a retry interval
        later. It stays a re-send like any other (retry counter, retry limit). False,
        like :meth:`ack`, for an id this connection has no unsettled delivery of. A
        delivery not sent yet (waiting its turn in the window, or for room at the
        door) is left where it is: it goes as soon as it can anyway.

        Due now is the earliest any delivery of the session can be due, so moving the
        delivery to the front keeps the retry queue in due order."""
        delivery = self._pending(conn, message_id)
        if delivery is None:
            return False
        if not delivery.due_ms or delivery not in delivery.subscriber.window.in_flight:
            return True
        session = delivery.subscriber.session
        now = self.clock.now_ms()
        delivery.due_ms = now
        queue = session.retry_queue
        queue[delivery] = now
        queue.move_to_end(delivery, last=False)
        self._wake_at(session, now)
        return True

    def _settle(self, delivery: Delivery) -> Message:
        """Settle an unsettled delivery; returns its message.

        The delivery leaves the retry queue at once and lets go of the message, so that
        nothing of an ACKed message outlives it: no entry waiting for a stale due time
        (at tens of thousands of messages a second, hundreds of MB for the garbage
        collector to walk again and again), and no ``message.deliveries`` cycle that
        only the collector could free. The message is freed by reference counting as
        soon as its last delivery settles."""
        message = delivery.message
        assert message is not None
        delivery.settled = True
        delivery.message = None
        sub = delivery.subscriber
        sub.window.settle(delivery)
        sub.session.retry_queue.pop(delivery, None)
        message.remaining -= 1
        self.store.settle(message, delivery.subscriber)
        return message

    def _give_up(self, delivery: Delivery, reason: str) -> None:
        self.stats.gave_up[reason] += 1
        message = self._settle(delivery)
        sub = delivery.subscriber
        sub.pending.pop(message.id, None)
        sub.session.counters.given_up += 1
        more = sub.session.give_up_log.admit(self.clock.now_ms())
        if more is not None:
            address = sub.connection.address if sub.connection is not None else ""
            log.info(
                "delivery of %r on %r given up (%s)%s",
                message.id,
                message.topic,
                reason,
                f" (and {more} more give-ups not logged)" if more else "",
                extra=_about(sub.session.name, address),
            )
        publisher = message.publisher
        if publisher is not None and not publisher.closed:
            publisher.peer.delivery_failed(message, reason, message.remaining)
        if message.remaining == 0:
            self._forget(message)
        if sub.connection is not None and sub.window.waiting:
            self._pump(sub, self.clock.now_ms())

    def _remove_pending(self, message: Message) -> bool:
        """Take a settled or failed message out of its session; answer the publishes
        kept back if that ends the congestion. False if it was not there."""
        session = message.session
        if session.remove_pending(message.id) is None:
            return False
        if session.held and not session.congested():
            self._answer_held(session, None)
        return True

    @staticmethod
    def _answer_held(session: Session, now: int | None) -> None:
        """Answer the publishes kept back: all, or (``now``) those due by then."""
        held = session.held
        while held and (now is None or held[0][0] <= now):
            _, conn, outcome = held.popleft()
            if not conn.closed:
                conn.peer.publish_result(outcome)

    def _forget(self, message: Message) -> None:
        session = message.session
        if not self._remove_pending(message):
            return
        forget_at = self.clock.now_ms() + self.config.dedup_window_ms
        session.recent.add(message.id, forget_at, len(message.deliveries))
        self.store.forget_message(message, forget_at)
        self._wake_at(session, forget_at)

    # ------------------------------------------------------------------ timers

    def _arm(self, session: Session) -> None:
        """Make sure the scheduler wakes for ``session``'s earliest due work."""
        due = session.next_due()
        if due is not None:
            self._wake_at(session, due)

    def _wake_at(self, session: Session, due: int) -> None:
        """Make sure the scheduler wakes for ``session`` by ``due``. O(1) when it
        already will, which is the common case on the publish path."""
        armed = session.armed_at
        if armed is not None and armed <= due:
            return
        session.armed_at = due
        heapq.heappush(self._heap, (due, next(self._seq), session))
        if self._heap[0][2] is session:
            self._wake.set()

    async def _timer_loop(self) -> None:
        while True:
            self._wake.clear()
            await self.clock.wait(self._wake, self._heap[0][0] if self._heap else None)
            try:
                self.run_timers()
            except Exception:
                log.exception("timer run failed")

    def run_timers(self) -> None:
        """Do all timer work due by now: re-sends, give-ups, expiry, forgetting ids."""
        now = self.clock.now_ms()
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, _, session = heapq.heappop(heap)
            if session.armed_at != due or session.dropped:
                continue  # superseded by an earlier entry, or the session is gone
            session.armed_at = _RUNNING  # work queued during the run is picked up below
            try:
                self._run_session(session, now)
            except Exception:  # a bug: the other sessions' work, and this one's next run, go on
                log.exception("timer work of session %r failed", session.name, extra={"session": session.name})
            finally:
                session.armed_at = None
            if not session.dropped:
                self._arm(session)

    def _run_session(self, session: Session, now: int) -> None:
        if session.expires_at_ms and session.expires_at_ms <= now:
            self._remove_session(session, "session_expired", "Session expired")
            task = asyncio.ensure_future(self._store_delete(session.name))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        queue = session.retry_queue
        limit = session.max_retry_limit
        while queue:
            delivery, due = next(iter(queue.items()))
            if due > now:
                break
            del queue[delivery]
            if delivery.attempts > limit:
                self._give_up(delivery, RETRY_LIMIT)
            elif delivery not in delivery.subscriber.window.in_flight:
                delivery.due_ms = 0  # offline (or waiting): sent when its turn comes
            else:
                self._send(delivery, now)
        expiring = session.expiry_queue
        while expiring and expiring[0].expires_ms <= now:
            message = expiring.popleft()
            if message.remaining:
                for delivery in message.deliveries:
                    if not delivery.settled:
                        self._give_up(delivery, EXPIRED)
        self._answer_held(session, now)
        blocked = session.blocked
        while blocked:
            sub, deadline = next(iter(blocked.items()))
            if deadline > now:
                break
            del blocked[sub]
            self._drop_slow_consumer(sub)
        session.recent.expire(now)

    def _drop_slow_consumer(self, sub: Subscriber) -> None:
        """Disconnect a subscriber whose door had no room for its deliveries for the
        whole slow-consumer timeout. A persistent subscriber keeps its deliveries."""
        conn = sub.connection
        if conn is None:
            return
        timeout = self.config.slow_consumer_timeout_ms
        log.warning(
            "slow consumer %s disconnected: its connection took nothing for %d ms",
            sub.id,
            timeout,
            extra=_about(sub.session.name, conn.address),
        )
        self._detach(conn)
        conn.peer.close(ErrorCode.SLOW_CONSUMER.value, f"Slow consumer: nothing could be sent for {timeout} ms")
