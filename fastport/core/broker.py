"""The node: sessions, connections, authentication, limits and validation.

Every front door drives this one API, so both doors behave the same by construction.
It never touches a socket: it is called with decoded requests and answers through the
``Peer`` of each connection (see ``connection.py``). Whatever concerns messages and
subscriptions once a request is found valid (matching, storing, delivering, ACKs,
re-sends, expiry, de-duplication, flow control) is the engine's (``engine.py``); the
node hears back from it through ``EngineEvents``, which it implements.

Log lines about a session carry ``extra={"session": name, "peer": address}`` (the
team's convention): whoever wants one session's lines (the HTTP door's ``sys/logs``
stream, structured logs) picks them by those attributes, so the core needs to know
nothing about who reads them. They cover what a session's operator needs to see:
connects, disconnects, refused logins and requests, given-up deliveries.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from . import deadletter
from .clock import Clock, SystemClock
from .connection import Connection, Peer, PublishOutcome
from .counters import Counters
from .credentials import hash_password, hash_secret, new_secret_key, verify_nothing
from .delivery import ABSENT, NO_ATTRIBUTES, Hash, Message
from .engine import Engine, GiveUp, SessionLoad
from .errors import BrokerError, CloseReason, ErrorCode, GiveUpReason
from .session import Limits, Session, SessionInfo, SessionRecord, SessionSpec, SessionState
from .stats import Stats
from .throttle import LoginThrottle
from .topics import validate_pattern, validate_topic

log = logging.getLogger("fastport.broker")
# Every refused login and every connection the broker closes (fastport/logs.py).
audit = logging.getLogger("fastport.audit")

DEFAULT_MAX_PAYLOAD = 10 * 1024 * 1024
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
    # What the node has nothing to add to goes from the door straight to the engine's
    # own method, with no call through the node on the ACK path (see ``Engine``):
    # ``ack`` settles this connection's delivery of a message id (False, doing nothing,
    # for an id it has no unsettled delivery of: an ACK may arrive after the delivery was
    # given up, or twice; a door tells the client only if it asked); ``nack`` has it
    # re-sent as soon as the engine can, as a re-send like any other (retry counter,
    # retry limit); ``room``: the door has room again for the connection's deliveries,
    # after refusing one; ``commit`` has the engine make the publishes handed to it so
    # far durable if it can without waiting (a door about to yield calls it, so that
    # their results follow at once; False if they come later).
    ack: Callable[[Connection, str], bool]
    nack: Callable[[Connection, str], bool]
    room: Callable[[Connection], None]
    commit: Callable[[], bool]

    def __init__(self, engine: Engine, clock: Clock | None = None, config: BrokerConfig | None = None) -> None:
        """``engine`` and the node share ``clock`` (the engine is made with it)."""
        self.engine = engine
        self.ack = engine.ack
        self.nack = engine.nack
        self.room = engine.room
        self.commit = engine.commit
        self.clock: Clock = clock or SystemClock()
        self.config = config or BrokerConfig()
        self.sessions: dict[str, Session] = {}
        self._gone = Counters()  # what sessions no longer here had counted (see totals)
        self._closing = False
        self.logins = LoginThrottle(self.clock)  # failed logins, for every door
        # Logins to sessions that do not exist, checked all the same (see _login).
        self._unknown_checks: dict[tuple[str, str], asyncio.Future[bool]] = {}
        self.stats = Stats()
        self._dead_letterers: dict[str, Connection] = {}  # by session name (see _dead_letterer)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the engine: the sessions it kept are the node's."""
        for session in await self.engine.open(self, self.stats):
            self.sessions[session.name] = session

    def ready(self) -> bool:
        """Serving: not shutting down, and the engine can serve (``/health``)."""
        return not self._closing and self.engine.ready()

    async def stop(self) -> None:
        """Tell every client the server is going away, then close the engine."""
        self._closing = True
        for session in self.sessions.values():
            for conn in list(session.connections):
                conn.peer.close(CloseReason.SHUTTING_DOWN, "Server shutting down")
        await self.engine.close()

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
            await self.engine.create_session(session)
        except BrokerError:
            del self.sessions[name]
            raise
        log.info("session %r created", name, extra=_about(name))
        return self._info(session), secret

    async def drop_session(self, name: str) -> None:
        session = self._session(name)
        self._remove_session(session, CloseReason.SESSION_DROPPED, "Session dropped")
        await self.engine.drop_session(session)

    async def set_suspended(self, name: str, suspended: bool) -> SessionInfo:
        session = self._session(name)
        if session.suspended != suspended:
            was = session.state
            session.state = SessionState.SUSPENDED if suspended else SessionState.ACTIVE
            try:
                await self.engine.update_session(session)
            except BrokerError:
                session.state = was
                raise
            log.info("session %r %s", name, "suspended" if suspended else "resumed", extra=_about(name))
        return self._info(session)

    def get_session(self, name: str) -> SessionInfo:
        return self._info(self._session(name))

    def _info(self, session: Session) -> SessionInfo:
        load = self.engine.load(session.name)
        return session.info(load.subscriptions, load.pending_messages)

    def load(self, name: str) -> SessionLoad:
        """What session ``name`` holds in the engine now (for metrics)."""
        return self.engine.load(name)

    def totals(self) -> Counters:
        """The counters of every session since start-up, dropped ones included."""
        total = self._gone.copy()
        for session in self.sessions.values():
            total.add(session.counters)
        return total

    def list_sessions(self) -> list[SessionInfo]:
        return [self._info(s) for s in self.sessions.values()]

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

    def _remove_session(self, session: Session, code: CloseReason, reason: str) -> None:
        """Close ``session``'s connections (nothing of theirs is given up: it all goes)
        and forget it; the engine forgets what it held."""
        session.state = SessionState.DROPPED
        self._gone.add(session.counters)
        self.sessions.pop(session.name, None)
        for conn in list(session.connections):
            self._detach(conn, give_up=False)
            conn.peer.close(code, reason)
            audit.info("disconnected by the server: %s", code.value, extra=_about(session.name, conn.address))
        dead_letterer = self._dead_letterers.pop(session.name, None)
        if dead_letterer is not None and dead_letterer.session is session:
            self.engine.leave(dead_letterer, give_up=False)
        log.info("session %r removed (%s)", session.name, reason, extra=_about(session.name))

    # ------------------------------------------------------------------ engine events

    def session_changed(self, session: Session, record: SessionRecord) -> None:
        """Made or changed on another node: this node serves it as it is now."""
        known = self.sessions.setdefault(session.name, session)
        state = SessionState.SUSPENDED if record.suspended else SessionState.ACTIVE
        if known.state is not state:
            known.state = state
            log.info("session %r %s (on another node)", known.name, state.value, extra=_about(known.name))

    def session_removed(self, session: Session, reason: CloseReason) -> None:
        text = "Session expired" if reason is CloseReason.SESSION_EXPIRED else "Session dropped"
        self._remove_session(session, reason, text)

    def gave_up(self, notice: GiveUp) -> bool:
        """Count a give-up, publish it to the session's dead-letter topic if it has
        one, and log it at most once a second per session (``QuietLog``). True if it
        was dead-lettered."""
        self.stats.gave_up[notice.reason] += 1
        session = self.sessions.get(notice.session)
        if session is None:
            return False
        session.counters.given_up += 1
        dead_lettered = self._dead_letter(session, notice)
        more = session.give_up_log.admit(notice.at_ms)
        if more is not None:
            if dead_lettered:
                fate = f", dead-lettered to {session.dead_letter_topic!r}"
            elif notice.message.topic == session.dead_letter_topic:
                fate = ", a dead letter: dropped"
            else:
                fate = ""
            log.info(
                "delivery of %r on %r given up (%s)%s%s",
                notice.message.id,
                notice.message.topic,
                notice.reason.value,
                fate,
                f" (and {more} more give-ups not logged)" if more else "",
                extra=_about(notice.session, notice.address),
            )
        return dead_lettered

    def _dead_letter(self, session: Session, notice: GiveUp) -> bool:
        """Publish the message of a given-up delivery to ``session``'s dead-letter topic
        (core/deadletter.py), through the engine like any publish but from the node's
        own connection (``_dead_letterer``); False when the session has none, the
        message is on it (a dead letter is never dead-lettered again), or the session
        is full (``overloaded``: the dead letter is dropped, with a log line).

        Not refused while the session is suspended: the dead letter reports a delivery
        made before. Its id is the same whenever this delivery is given up, so a
        give-up repeated after a crash is a duplicate publish, which makes nothing new."""
        topic = session.dead_letter_topic
        message = notice.message
        if not topic or message.topic == topic:
            return False
        attributes = deadletter.dead_letter_attributes(
            message.attributes,
            topic=message.topic,
            message_id=message.id,
            reason=notice.reason.value,
            attempts=notice.attempts,
            client_id=notice.subscriber if notice.named else None,
            time_ms=notice.at_ms,
        )
        try:
            self.engine.publish(
                self._dead_letterer(session),
                deadletter.dead_letter_id(message.id, notice.subscriber),
                topic,
                message.payload,
                message.hash,
                message.timestamp_ms,
                message.json,
                attributes,
                notice.reason,
            )
        except BrokerError as err:
            log.warning(
                "dead letter of %r on %r dropped: %s", message.id, message.topic, err.message, extra=_about(session.name)
            )
            return False
        return True

    def _dead_letterer(self, session: Session) -> Connection:
        """The node's own connection that publishes ``session``'s dead letters: joined
        to the session in the engine, subscribed to nothing, never one of the session's
        connections (no limit counts it, no door serves it)."""
        conn = self._dead_letterers.get(session.name)
        if conn is None or conn.session is not session:
            conn = Connection(_DeadLetterPeer(self.stats, session.name))
            conn.session = session
            self.engine.join(conn, session, None)
            self._dead_letterers[session.name] = conn
        return conn

    def slow_consumer(self, conn: Connection, timeout_ms: int) -> None:
        """Disconnect a subscriber whose door had no room for its deliveries for the
        whole slow-consumer timeout. A persistent subscriber keeps its deliveries."""
        session = conn.session
        if session is None:
            return
        log.warning(
            "slow consumer %s disconnected: its connection took nothing for %d ms",
            conn.client_id or "(no client id)",
            timeout_ms,
            extra=_about(session.name, conn.address),
        )
        self._detach(conn)
        conn.peer.close(CloseReason.SLOW_CONSUMER, f"Slow consumer: nothing could be sent for {timeout_ms} ms")

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
        if conn.session is session and conn.client_id == client_id:
            return self._info(session)
        limit = session.limits.max_connections
        if conn.session is not session and limit and len(session.connections) >= limit:
            raise BrokerError(ErrorCode.LIMIT_EXCEEDED, f"Session has its maximum of {limit} connections")
        if conn.session is not None:
            self._detach(conn)
        conn.session = session
        conn.client_id = client_id
        session.connections.add(conn)
        log.info("connected%s", f" as client id {client_id!r}" if client_id else "", extra=_about(session.name, conn.address))
        old = self.engine.join(conn, session, client_id)
        if old is not None:
            self.replaced(old)
        return self._info(session)

    def replaced(self, old: Connection) -> None:
        """Another connection took over ``old``'s client id (on this node, or on another
        node of a cluster: ``EngineEvents.replaced``); ``old`` has left the engine."""
        session, client_id = old.session, old.client_id
        if session is None:
            return
        self._leave_session(old)
        old.peer.close(CloseReason.REPLACED, "Another connection took over this client id")
        audit.info("client id %r taken over, the older connection closed", client_id, extra=_about(session.name, old.address))

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
        time: concurrent logins with the same password share it (each run takes memory
        and CPU, see bench/README.md: a reconnect storm would otherwise run one per
        client)."""
        check = checks.get(key)
        if check is None:
            check = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, verify, password))
            checks[key] = check
            check.add_done_callback(lambda _: checks.pop(key, None))
        return await asyncio.shield(check)

    def subscribe(self, conn: Connection, pattern: str, persistent: bool = False) -> str:
        session = self._attached(conn)
        try:
            if session.suspended:
                raise BrokerError(ErrorCode.SESSION_SUSPENDED, "Session is suspended")
            pattern = validate_pattern(pattern)
            if persistent and conn.client_id is None:
                raise BrokerError(ErrorCode.INVALID_FIELD, "A persistent subscription needs a client id at init")
            self.engine.subscribe(conn, pattern, persistent)
        except BrokerError as err:
            self._log_refusal(session, conn, "subscribe to", pattern, err)
            raise
        return pattern

    def unsubscribe(self, conn: Connection, pattern: str) -> str:
        self._attached(conn)
        pattern = validate_pattern(pattern)
        self.engine.unsubscribe(conn, pattern)
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

    def _attached(self, conn: Connection) -> Session:
        session = conn.session
        if session is None:
            raise BrokerError(ErrorCode.NOT_INITIALIZED, "Not initialized")
        return session

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

    def _detach(self, conn: Connection, give_up: bool = True) -> None:
        """Take ``conn`` out of its session, in the engine too (see ``Engine.leave``)."""
        if conn.session is not None:
            self.engine.leave(conn, give_up)
            self._leave_session(conn)

    @staticmethod
    def _leave_session(conn: Connection) -> None:
        """The node's part of a connection leaving its session (the engine's is done)."""
        session = conn.session
        conn.session = None
        conn.client_id = None
        if session is not None:
            session.connections.discard(conn)

    def can_relay(self, conn: Connection, topic: str) -> BrokerError | None:
        """Why ``conn`` may not relay frames to ``topic`` (see ``relay_peers``), or None
        when it may: it is initialized, its session runs, the topic is valid. The
        messages are the legacy file relay's (legacy-json.md §3)."""
        session = conn.session
        if session is None:
            return BrokerError(ErrorCode.NOT_INITIALIZED, "Not initialized")
        if session.dropped:
            return BrokerError(ErrorCode.SESSION_NOT_FOUND, "Session Error")
        if session.suspended:
            return BrokerError(ErrorCode.SESSION_SUSPENDED, "Session Invalid or Suspended")
        try:
            validate_topic(topic)
        except BrokerError as err:
            return err
        return None

    def relay_peers(self, conn: Connection, topic: str) -> list[Peer]:
        """Peers of the other connected subscribers of ``topic`` in ``conn``'s session.

        For what a door relays without delivery tracking (the legacy file-chunk
        frames): nothing is stored, retried or ACKed, so the door writes it directly."""
        if conn.session is None:
            return []
        return self.engine.relay_peers(conn, topic)

    def subscribers(self, session: str, pattern: str) -> list[Connection]:
        """The connections of ``session`` subscribed to exactly ``pattern`` (wildcards
        that happen to match it are not)."""
        return self.engine.subscribers(session, pattern)

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
        when the engine has made it durable: see ``Engine.publish``). ``attributes``
        (string keys and values) count towards the payload limit: they travel and are
        stored with every message."""
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
            if session.state is not SessionState.ACTIVE:
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
            self.engine.publish(conn, message_id, topic, payload, hash, timestamp_ms, json, attributes, ref)
        except BrokerError as err:
            if session is not None:
                self._log_refusal(session, conn, "publish to", topic, err)
            conn.peer.publish_result(PublishOutcome(ref, message_id if isinstance(message_id, str) else "", error=err))


class _DeadLetterPeer:
    """The Peer of the node's connection that publishes one session's dead letters
    (``Broker._dead_letterer``): it counts the dead letters stored (the publish ``ref``
    is the give-up's reason; a duplicate is one dead-lettered before) and logs those
    that could not be. It subscribes to nothing and publishes nothing that is ACKed."""

    def __init__(self, stats: Stats, session: str) -> None:
        self._stats = stats
        self._session = session

    def deliver(self, message: Message, retry: int) -> bool:
        return True  # never called: it subscribes to nothing

    def publish_result(self, outcome: PublishOutcome) -> None:
        if outcome.error is not None:
            log.error(
                "dead letter %r could not be stored: %s (lost)",
                outcome.message_id,
                outcome.error.message,
                extra=_about(self._session),
            )
        elif not outcome.duplicate:
            self._stats.dead_lettered[str(outcome.ref)] += 1

    def ack_received(self, message: Message, remaining: int) -> None:
        return None

    def delivery_failed(self, message: Message, reason: GiveUpReason, remaining: int, dead_lettered: bool) -> None:
        return None

    def close(self, code: CloseReason, reason: str) -> None:
        return None
