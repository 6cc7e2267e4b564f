"""The jetstream engine: fastport nodes as front doors on a NATS JetStream cluster.

What each piece does is in its own module (link, streams, consumers, envelope,
notices, sessions, subscriptions, mirror); this one puts them behind the core's
``Engine`` interface (core/engine.py) for one node. docs/engines/jetstream.md has the
mapping and every place where the semantics differ from the embedded engine's.

A publish, in one paragraph: the node waits for the subscriptions made on it before
the publish to be in place (so that "subscribed, then published" on one node is never
missed), counts the subscribers the topic reaches in every node's registry
(``deliveredTo``), and stores the message in the session's stream with headers saying
who published it (envelope.py). JetStream pushes it to every matching subscription's
consumer, on whichever node its subscriber is; that node delivers it to the client,
and on the client's ACK acknowledges it to JetStream and sends a notice to the
publisher's node (notices.py), which counts ``remaining`` down and tells its client.
JetStream re-sends what is not acknowledged after AckWait (the retry interval); the
last attempt not acknowledged within a retry interval is given up by the subscriber's
node (retry limit), a message past its expiry by the publisher's node.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from ...core.clock import Clock, SystemClock
from ...core.connection import Connection, Peer, PublishOutcome
from ...core.delivery import Hash, Message
from ...core.engine import DEFAULT_DEDUP_WINDOW_MS, DEFAULT_SLOW_CONSUMER_TIMEOUT_MS, EngineEvents, GiveUp, SessionLoad
from ...core.errors import BrokerError, CloseReason, ErrorCode, GiveUpReason
from ...core.session import Session, SessionRecord
from ...core.stats import Stats
from ...core.topics import TopicIndex
from .claims import Claim, Claims
from .consumers import Consumer
from .envelope import Envelope, Origin
from .link import ConsumerInUse, NatsLink, NatsOptions
from .mirror import Mirror
from .notices import Kind, Notice, Notices
from .sessions import BUCKET as SESSIONS_BUCKET
from .sessions import SessionsKV, decode_record
from .streams import durable_name, stream_config, stream_name
from .subjects import SessionSubjects
from .subscriptions import BUCKET as SUBSCRIPTIONS_BUCKET
from .subscriptions import Entry, Registry, SubscriptionsKV, entry_key

log = logging.getLogger("fastport.jetstream")

ACK = b"+ACK"
NAK = b"-NAK"
TERM = b"+TERM"
# Results of settled messages a node remembers, for duplicates of ids whose message
# JetStream no longer holds (it removes a message once every consumer acked it).
RECENT_RESULTS = 100_000
# Messages published on this node whose deliveries are not all settled, at most: a
# persistent subscriber away for long keeps its messages pending (in JetStream, where
# they are safe), and its ACKs, when it is back, are told to publishers only while
# their messages are among the latest MAX_PENDING.
MAX_PENDING = 100_000
# How long closing waits for what is still being sent to NATS (consumers deleted...).
CLOSE_WAIT_S = 2.0
# How stale a session's pending counts (read from its stream) may be when shown.
LOAD_REFRESH_S = 1.0
# A client id's durable consumers still in use by its older connection on another node
# are asked for again every TAKE_OVER_PAUSE_S, for TAKE_OVER_WAIT_S at most (claims.py).
TAKE_OVER_PAUSE_S = 0.25
TAKE_OVER_WAIT_S = 10.0


@dataclass(slots=True, eq=False)
class Subscription:
    """One pattern of one connection on this node."""

    pattern: str
    persistent: bool
    consumer: Consumer | None = None  # None while it is being made
    key: str = ""  # its registry entry, once written
    kept: bool = False  # ended, its durable consumer kept for the client id's return


@dataclass(slots=True, eq=False)
class Held:
    """A message delivered to a client and not yet ACKed: every JetStream copy of it
    (one per matching subscription of the client), to acknowledge together."""

    message: Message
    origin: Origin
    msgs: list[Msg]
    attempts: int
    final: asyncio.TimerHandle | None = None  # the give-up of the last attempt


class Client:
    """What the engine keeps for a connection (``Connection.subscriber``)."""

    __slots__ = (
        "conn", "session", "number", "id", "named", "subscriptions", "held", "blocked_since", "last_result",
        "claim", "overtaken",
    )  # fmt: skip

    def __init__(self, conn: Connection, session: Session, node: str, number: int, client_id: str | None) -> None:
        self.conn = conn
        self.session = session
        self.number = number
        self.id = client_id if client_id is not None else f"{node} {number}"
        self.named = client_id is not None
        self.subscriptions: dict[str, Subscription] = {}
        self.held: dict[str, Held] = {}
        self.blocked_since: float | None = None
        # Set once this connection's latest publish has been answered: results go
        # out in publish order.
        self.last_result: asyncio.Future[None] | None = None
        # A client id's claim across nodes (claims.py): its revision once written (None
        # while it is, 0 if it could not be), and the latest claim of another node
        # heard while it was written.
        self.claim: int | None = None
        self.overtaken: Claim | None = None


@dataclass(slots=True, eq=False)
class Pending:
    """A message published on this node whose deliveries are not all settled."""

    message: Message
    publisher: Connection
    remaining: int
    settled: set[str] = field(default_factory=set)  # subscribers ACKed or given up
    stored: bool = False  # confirmed by JetStream
    expiry: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class Load:
    pending_messages: int = 0
    pending_bytes: int = 0
    read_at: float = 0.0


class JetStreamEngine:
    def __init__(
        self,
        options: NatsOptions,
        *,
        replicas: int = 1,
        clock: Clock | None = None,
        dedup_window_ms: int = DEFAULT_DEDUP_WINDOW_MS,
        slow_consumer_timeout_ms: int = DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
    ) -> None:
        self.link = NatsLink(options)
        self.replicas = replicas
        self.clock = clock or SystemClock()
        self.dedup_window_ms = dedup_window_ms
        self.slow_consumer_timeout_ms = slow_consumer_timeout_ms
        self.node = uuid.uuid4().hex[:12]
        self.stats = Stats()
        self.sessions: dict[str, Session] = {}
        self.registry = Registry()
        self._events: EngineEvents | None = None
        self._numbers = iter(range(1, 2**63))
        self._clients: dict[str, TopicIndex[Client]] = {}  # this node's subscribers, by session
        self._connections: dict[int, Connection] = {}  # this node's, in a session, by number
        self._named: dict[tuple[str, str], Connection] = {}  # (session, client id) -> its connection here
        self._opening: dict[str, set[asyncio.Task[None]]] = {}  # subscriptions being made, by session
        self._pending: dict[tuple[str, str], Pending] = {}  # (session, message id)
        self._recent: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._loads: dict[str, Load] = {}
        self._expiries: dict[str, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[object]] = set()
        self._sessions_kv: SessionsKV | None = None
        self._subscriptions_kv: SubscriptionsKV | None = None
        self._session_mirror: Mirror[SessionRecord] | None = None
        self._entry_mirror: Mirror[Entry] | None = None
        self._notices: Notices | None = None
        self._claims: Claims | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def events(self) -> EngineEvents:
        assert self._events is not None, "the engine is not open"
        return self._events

    @property
    def notices(self) -> Notices:
        assert self._notices is not None, "the engine is not open"
        return self._notices

    def ready(self) -> bool:
        """Connected to NATS: what ``/health`` says."""
        return self.link.ready

    async def open(self, events: EngineEvents, stats: Stats) -> Sequence[Session]:
        """Connect (``unavailable`` if NATS cannot be reached), read every session and
        subscription, and follow their changes from then on."""
        self._events = events
        self.stats = stats
        await self.link.open()
        self.link.on_ready(self._nats_ready)
        js = self.link.js
        self._sessions_kv = await self.link.call(lambda: SessionsKV.open(js, self.replicas), "Sessions not read")
        self._subscriptions_kv = await self.link.call(
            lambda: SubscriptionsKV.open(js, self.replicas), "Subscriptions not read"
        )
        sessions = Mirror(js, SESSIONS_BUCKET, decode_record, self._session_changed, self._session_dropped)
        entries = Mirror(js, SUBSCRIPTIONS_BUCKET, Entry.decode, self.registry.add, self.registry.remove)
        self._session_mirror, self._entry_mirror = sessions, entries
        for entry in await entries.start():
            self.registry.add(entry)
        await self._subscriptions_kv.clean_up_after_servers(self.link.nc, entries.values)
        self._notices = Notices(self.link.nc, self.node, self._notice)
        await self._notices.start()
        self._claims = await self.link.call(
            lambda: Claims.open(js, self.link.nc, self.node, self.replicas, self._claimed), "Client ids not read"
        )
        for record in await sessions.start():
            self._add_session(Session(record))
        log.info("jetstream engine: node %s, %d sessions", self.node, len(self.sessions))
        return list(self.sessions.values())

    async def close(self) -> None:
        """Delete this node's connection-bound consumers (their subscriptions end with
        the node); durable ones stay for their subscribers' return."""
        for conn in list(self._connections.values()):
            self.leave(conn, give_up=False)
        if self._background:  # bounded: with NATS away they would retry their whole budget
            _, late = await asyncio.wait(list(self._background), timeout=CLOSE_WAIT_S)
            for task in late:
                task.cancel()
        for handle in self._expiries.values():
            handle.cancel()
        for mirror in (self._session_mirror, self._entry_mirror):
            if mirror is not None:
                await mirror.close()
        if self._subscriptions_kv is not None:
            await self._subscriptions_kv.close()
        if self._notices is not None:
            await self._notices.close()
        if self._claims is not None:
            await self._claims.close()
        await self.link.close()

    def _spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[object]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("jetstream engine: %s", exc, exc_info=exc)

    # ------------------------------------------------------------------ sessions

    def _add_session(self, session: Session) -> None:
        self.sessions[session.name] = session
        if session.expires_at_ms:
            delay = max(0.0, (session.expires_at_ms - self.clock.now_ms()) / 1000)
            self._expiries[session.name] = asyncio.get_running_loop().call_later(delay, self._expire_session, session.name)

    def _forget_session(self, name: str) -> None:
        self.sessions.pop(name, None)
        self.registry.drop_session(name)
        self._loads.pop(name, None)
        handle = self._expiries.pop(name, None)
        if handle is not None:
            handle.cancel()
        for key in [k for k in self._pending if k[0] == name]:
            pending = self._pending.pop(key)
            if pending.expiry is not None:
                pending.expiry.cancel()

    async def create_session(self, session: Session) -> None:
        """The stream, then the record (what other nodes see): a session is never seen
        without its stream. Known here first, so that the record coming back through
        the watch is nothing new."""
        record = session.record()
        self._add_session(session)
        try:
            await self.link.call(
                lambda: self.link.js.add_stream(stream_config(record, self.dedup_window_ms, self.replicas)),
                "Session not stored",
            )
            await self._kv_call(self._sessions_kv_().create(record), "Session not stored")
        except BrokerError:
            self._forget_session(session.name)
            raise

    async def update_session(self, session: Session) -> None:
        suspended = session.suspended
        await self._kv_call(
            self._sessions_kv_().modify(session.name, lambda r: replace(r, suspended=suspended)), "Session not stored"
        )

    async def drop_session(self, session: Session) -> None:
        name = session.name
        stream = stream_name(name)
        self._forget_session(name)
        await self._delete_session_data(name, stream)

    async def _delete_session_data(self, name: str, stream: str) -> None:
        """The session's record, stream (and its consumers) and registry entries; what
        is gone already (another node dropped it first) is no error."""
        try:
            await self._sessions_kv_().delete(name)
        except BrokerError as err:
            if err.code != ErrorCode.SESSION_NOT_FOUND:
                raise

        async def delete_stream() -> bool:
            try:
                return await self.link.js.delete_stream(stream)
            except NotFoundError:
                return False

        await self.link.call(delete_stream, "Session data not deleted")
        assert self._entry_mirror is not None
        for key in [k for k in self._entry_mirror.values if k.startswith(f"{stream}.")]:
            await self._delete_entry(key)

    async def _delete_entry(self, key: str) -> None:
        await self.link.call(lambda: self._subscriptions_kv_().delete(key), "Subscription not removed")

    async def _kv_call(self, work: Awaitable[object], failed: str) -> None:
        """A KV write: BrokerErrors (exists, not found) as they are; no answer from
        JetStream ``unavailable``."""
        try:
            await asyncio.wait_for(work, self.link.options.publish_budget_s)
        except BrokerError:
            raise
        except Exception as exc:
            raise BrokerError(ErrorCode.UNAVAILABLE, f"{failed}: {exc or type(exc).__name__}") from None

    def _sessions_kv_(self) -> SessionsKV:
        assert self._sessions_kv is not None
        return self._sessions_kv

    def _subscriptions_kv_(self) -> SubscriptionsKV:
        assert self._subscriptions_kv is not None
        return self._subscriptions_kv

    def _session_changed(self, record: SessionRecord) -> None:
        """A session created, suspended or resumed on any node (this one's own changes
        come back too, and change nothing)."""
        session = self.sessions.get(record.name)
        if session is None:
            session = Session(record)
            self._add_session(session)
            self.events.session_changed(session, record)
        elif session.suspended != record.suspended:
            self.events.session_changed(session, record)

    def _session_dropped(self, record: SessionRecord) -> None:
        session = self.sessions.get(record.name)
        if session is not None:
            self.events.session_removed(session, CloseReason.SESSION_DROPPED)
            self._forget_session(record.name)

    def _expire_session(self, name: str) -> None:
        """Every node expires the session on time; the first to delete it wins."""
        session = self.sessions.get(name)
        if session is None:
            return
        self.events.session_removed(session, CloseReason.SESSION_EXPIRED)
        self._forget_session(name)
        self._spawn(self._delete_session_data(name, stream_name(name)))

    def load(self, session: str) -> SessionLoad:
        """Subscriptions from the registry; pending counts from the session's stream, read
        again in the background when older than LOAD_REFRESH_S."""
        load = self._loads.setdefault(session, Load())
        if session in self.sessions and time.monotonic() - load.read_at > LOAD_REFRESH_S:
            load.read_at = time.monotonic()
            self._spawn(self._read_load(session, load))
        return SessionLoad(self.registry.size(session), load.pending_messages, load.pending_bytes)

    async def _read_load(self, session: str, load: Load) -> None:
        try:
            info = await self.link.js.stream_info(stream_name(session))
        except Exception:  # shown a little stale: nothing to report
            return
        load.pending_messages, load.pending_bytes = info.state.messages, info.state.bytes

    # ------------------------------------------------------------------ connections

    def join(self, conn: Connection, session: Session, client_id: str | None) -> Connection | None:
        old = self._named.get((session.name, client_id)) if client_id is not None else None
        if old is not None:
            self.leave(old)
        client = Client(conn, session, self.node, next(self._numbers), client_id)
        conn.subscriber = client
        self._connections[client.number] = conn
        if client_id is not None:
            self._named[session.name, client_id] = conn
            for pattern in self.registry.persistent_patterns(session.name, client_id):
                self._subscribe(client, pattern, persistent=True)
            self._spawn(self._claim(client))
        return old

    async def _claim(self, client: Client) -> None:
        """Tell the other nodes that ``client`` holds its client id now: the one holding
        an older connection with it closes that (claims.py). A claim another node made
        later, heard meanwhile, closes this one instead; one that could not be written
        gives way to any claim heard, and is made again when NATS is back."""
        client.claim = None
        try:
            claim = await self.link.call(
                lambda: self._claims_().claim(client.session.name, client.id, client.number), "Client id not claimed"
            )
            client.claim = claim.revision
        except BrokerError as err:
            log.warning(
                "client id %r: other nodes not told (%s); done again when NATS is back",
                client.id,
                err.message,
                extra={"session": client.session.name},
            )
            client.claim = 0
        later = client.overtaken
        if later is not None and later.revision > client.claim and client.conn.subscriber is client:
            self._replaced(client, later.node)

    async def _check_claim(self, client: Client) -> None:
        """NATS is back, and claims told meanwhile were missed: the one stored last for
        ``client``'s id decides (another connection's, later than its own, replaces
        it); its own, if it could not be written, is made now."""
        if client.claim is None:
            return  # being written: compared when it is
        try:
            last = await self.link.call(
                lambda: self._claims_().last(client.session.name, client.id), "Client id not checked"
            )
        except BrokerError as err:
            log.warning("client id %r not checked: %s", client.id, err.message, extra={"session": client.session.name})
            return
        if client.conn.subscriber is not client:
            return
        if last is not None and last.revision > client.claim and (last.node, last.number) != (self.node, client.number):
            self._replaced(client, last.node)
        elif not client.claim:
            await self._claim(client)

    def _claims_(self) -> Claims:
        assert self._claims is not None
        return self._claims

    def _claimed(self, claim: Claim) -> None:
        """Another node took a client id: a connection holding it here with an older
        claim is closed (``replaced``); one whose claim is being written compares
        when it is."""
        conn = self._named.get((claim.session, claim.client_id))
        if conn is None:
            return
        client: Client = conn.subscriber
        if client.claim is None:
            if client.overtaken is None or claim.revision > client.overtaken.revision:
                client.overtaken = claim
        elif claim.revision > client.claim:
            self._replaced(client, claim.node)

    def _replaced(self, client: Client, winner: str) -> None:
        """``client``'s client id was taken by a connection of node ``winner``: it leaves as on a take-over here (persistent subscriptions
        kept), the node closes it, and ``winner`` is told to make the durable consumers
        push to it again, once what this node was still making of them is done (made
        last, they would push here, to nobody)."""
        conn = client.conn
        persistent = any(s.persistent for s in client.subscriptions.values())
        self.leave(conn)
        self.events.replaced(conn)
        log.info("client id %r taken over on another node", client.id, extra={"session": client.session.name})
        if persistent:
            self._spawn(self._hand_over(client, winner))

    async def _hand_over(self, client: Client, winner: str) -> None:
        session, client_id = client.session.name, client.id
        await self._opened(session)
        self.notices.send(winner, Notice(Kind.RETAKE, session, "", client_id))

    def _retake(self, session: str, client_id: str) -> None:
        """The node that held ``client_id`` before has closed its connection: make the
        durable consumers of its persistent subscriptions push here again."""
        conn = self._named.get((session, client_id))
        if conn is not None:
            self._spawn(self._retake_consumers(conn.subscriber))

    async def _retake_consumers(self, client: Client) -> None:
        await self._opened(client.session.name)
        record = client.session.record()
        for sub in list(client.subscriptions.values()):
            if sub.persistent and sub.consumer is not None and not sub.consumer.closed:
                await sub.consumer.retake(self.link, record, sub.pattern)

    def leave(self, conn: Connection, give_up: bool = True) -> None:
        client: Client | None = conn.subscriber
        conn.subscriber = None
        if client is None:
            return
        self._connections.pop(client.number, None)
        session = client.session
        if client.named and self._named.get((session.name, client.id)) is conn:
            del self._named[session.name, client.id]
        keep = client.named and any(s.persistent for s in client.subscriptions.values())
        for sub in list(client.subscriptions.values()):
            self._end(client, sub, delete=not (keep and sub.persistent))
        for held in client.held.values():
            if held.final is not None:
                held.final.cancel()
        if not keep and give_up:
            for message_id in list(client.held):
                self._give_up(client, message_id, GiveUpReason.SUBSCRIBER_GONE)
        client.held.clear()  # a durable's re-sends go to its client when it is back

    def subscribe(self, conn: Connection, pattern: str, persistent: bool) -> None:
        client: Client = conn.subscriber
        existing = client.subscriptions.get(pattern)
        if existing is not None and existing.persistent == persistent:
            return
        limit = client.session.limits.max_subscriptions
        if existing is None and limit and self.registry.size(client.session.name) >= limit:
            raise BrokerError(ErrorCode.LIMIT_EXCEEDED, f"Session has its maximum of {limit} subscriptions")
        if existing is not None:
            self._end(client, existing, delete=True)
        self._subscribe(client, pattern, persistent)

    def unsubscribe(self, conn: Connection, pattern: str) -> None:
        client: Client = conn.subscriber
        sub = client.subscriptions.get(pattern)
        if sub is not None:
            self._end(client, sub, delete=True)

    def _subscribe(self, client: Client, pattern: str, persistent: bool) -> None:
        """Index the subscription on this node now, make its consumer in the background;
        publishes on this node wait for it (see ``_publish``)."""
        sub = Subscription(pattern, persistent)
        client.subscriptions[pattern] = sub
        self._clients.setdefault(client.session.name, TopicIndex()).add(pattern, client)
        entry = Entry(client.session.name, client.id, persistent, pattern)
        self.registry.add(entry)
        opening = self._opening.setdefault(client.session.name, set())
        task = asyncio.ensure_future(self._open(client, sub, entry))
        opening.add(task)
        task.add_done_callback(opening.discard)

    async def _open(self, client: Client, sub: Subscription, entry: Entry) -> None:
        session = client.session

        async def on_message(msg: Msg) -> None:
            self._received(client, sub, msg)

        try:
            consumer = await self._make_consumer(client, sub, on_message)
            sub.key = entry_key(consumer.stream, consumer.name)
            await self.link.call(lambda: self._subscriptions_kv_().put(sub.key, entry), "Subscription not stored")
        except BrokerError as err:
            if isinstance(err, ConsumerInUse) and client.subscriptions.get(sub.pattern) is not sub:
                return  # its connection left while it waited (replaced itself)
            log.error("subscription to %r not made: %s", sub.pattern, err.message, extra={"session": session.name})
            if client.subscriptions.get(sub.pattern) is sub:
                self._end(client, sub, delete=True)
            return
        sub.consumer = consumer
        if client.subscriptions.get(sub.pattern) is not sub:  # ended while being made
            self._spawn(self._close_consumer(sub, delete=not sub.kept))

    async def _make_consumer(
        self, client: Client, sub: Subscription, on_message: Callable[[Msg], Awaitable[None]]
    ) -> Consumer:
        """``sub``'s consumer. A persistent subscription's durable that a client id's
        older connection on another node still listens to cannot be moved here until
        that node has closed it (claims.py): asked for again every TAKE_OVER_PAUSE_S,
        for TAKE_OVER_WAIT_S at most. Meanwhile publishes do not wait for it: it exists
        on the servers, collecting what they publish."""
        durable = durable_name(client.id, sub.pattern) if sub.persistent else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TAKE_OVER_WAIT_S
        while True:
            try:
                return await Consumer.open(self.link, client.session.record(), sub.pattern, on_message, durable=durable)
            except ConsumerInUse:
                if loop.time() > deadline or client.subscriptions.get(sub.pattern) is not sub:
                    raise
            self._opening.get(client.session.name, set()).discard(asyncio.current_task())
            await asyncio.sleep(TAKE_OVER_PAUSE_S)

    async def _opened(self, session: str) -> None:
        """Until the consumers of ``session``'s subscriptions being made now are made."""
        opening = self._opening.get(session)
        if opening:
            await asyncio.gather(*list(opening), return_exceptions=True)

    def _end(self, client: Client, sub: Subscription, delete: bool) -> None:
        """End ``sub`` on this node; ``delete``: for good (its consumer and entry too),
        else a durable kept collecting for the client id's return."""
        if client.subscriptions.get(sub.pattern) is sub:
            del client.subscriptions[sub.pattern]
            sub.kept = not delete
            index = self._clients.get(client.session.name)
            if index is not None:
                index.remove(sub.pattern, client)
            if delete:
                self.registry.remove(Entry(client.session.name, client.id, sub.persistent, sub.pattern))
        if sub.consumer is not None:
            self._spawn(self._close_consumer(sub, delete))

    def _nats_ready(self, ready: bool) -> None:
        """NATS is back: a server that restarted, or was away longer than the inactivity
        threshold, has lost the connection-bound consumers of this node's
        subscriptions (a durable one is stored): make those again. And client ids
        claimed on other nodes meanwhile were not heard of: check each."""
        if not ready:
            return
        for conn in list(self._connections.values()):
            client: Client = conn.subscriber
            if client.named:
                self._spawn(self._check_claim(client))
            for sub in list(client.subscriptions.values()):
                if sub.consumer is not None and not sub.persistent:
                    self._spawn(self._remake(client, sub))

    async def _remake(self, client: Client, sub: Subscription) -> None:
        consumer = sub.consumer
        assert consumer is not None
        try:
            await self.link.js.consumer_info(consumer.stream, consumer.name)
            return  # still there
        except NotFoundError:
            pass
        log.warning("subscription to %r lost its consumer on the NATS servers: made again", sub.pattern)
        await consumer.close(self.link, delete=False)
        if client.subscriptions.get(sub.pattern) is not sub:
            return
        old_key = sub.key
        sub.consumer = None
        await self._open(client, sub, Entry(client.session.name, client.id, sub.persistent, sub.pattern))
        if old_key and old_key != sub.key:
            await self._delete_entry(old_key)

    async def _close_consumer(self, sub: Subscription, delete: bool) -> None:
        consumer = sub.consumer
        if consumer is None:
            return
        await consumer.close(self.link, delete)
        if delete and sub.key:
            await self._delete_entry(sub.key)

    def relay_peers(self, conn: Connection, topic: str) -> list[Peer]:
        client: Client | None = conn.subscriber
        index = self._clients.get(client.session.name) if client is not None else None
        if index is None:
            return []
        return [other.conn.peer for other in index.match(topic) if other.conn is not conn]

    def subscribers(self, session: str, pattern: str) -> list[Connection]:
        index = self._clients.get(session)
        if index is None:
            return []
        return [c.conn for c in index.match(pattern) if pattern in c.subscriptions]

    # ------------------------------------------------------------------ publish

    def publish(
        self,
        conn: Connection,
        message_id: str,
        topic: str,
        payload: bytes,
        hash: Hash,
        timestamp_ms: int,
        json: bool,
        attributes: Mapping[str, str],
        ref: object,
    ) -> None:
        client: Client = conn.subscriber
        session = client.session
        now = self.clock.now_ms()
        expiry = session.message_expiry_ms
        message = Message(
            id=message_id,
            topic=topic,
            payload=payload,
            hash=hash,
            timestamp_ms=timestamp_ms or now,
            json=json,
            session=session.name,
            created_ms=now,
            expires_ms=now + expiry if expiry else 0,
            attributes=attributes,
        )
        previous = client.last_result
        answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client.last_result = answered
        self._spawn(self._publish(client, message, ref, previous, answered))

    def commit(self) -> bool:
        return False  # results come when JetStream has answered

    async def _publish(
        self,
        client: Client,
        message: Message,
        ref: object,
        previous: asyncio.Future[None] | None,
        answered: asyncio.Future[None],
    ) -> None:
        session = client.session
        key = (session.name, message.id)
        mine: Pending | None = None
        try:
            await self._opened(session.name)
            delivered_to = self.registry.count(session.name, message.topic, skip=client.id)
            earlier = self._pending.get(key)
            if earlier is not None and earlier.stored:
                # Pending here: a duplicate, however long ago it was published (past
                # JetStream's duplicate window it would be stored, and sent, again).
                earlier.publisher = client.conn  # ACKs from now on go to the latest publisher
                outcome = PublishOutcome(ref, message.id, earlier.remaining + len(earlier.settled), duplicate=True)
            else:
                if earlier is None and delivered_to:
                    # Before the message is stored: an ACK can come back before its PubAck.
                    mine = self._pending[key] = Pending(message, client.conn, delivered_to)
                    if len(self._pending) > MAX_PENDING:  # the oldest is told no more
                        oldest = next(iter(self._pending))
                        forgotten = self._pending.pop(oldest)
                        if forgotten.expiry is not None:
                            forgotten.expiry.cancel()
                envelope = Envelope(
                    message.id,
                    Origin(self.node, client.number),
                    message.timestamp_ms,
                    message.json,
                    message.hash,
                    message.attributes,
                    delivered_to,
                )
                subject = SessionSubjects.of(session.name).topic(message.topic)
                ack = await self.link.publish(subject, message.payload, envelope.headers())
                if ack.duplicate or earlier is not None:
                    if mine is not None:
                        del self._pending[key]
                        mine = None
                    if earlier is not None:
                        earlier.publisher = client.conn  # ACKs from now on go to the latest publisher
                    original = await self._original_result(session.name, message.id, ack.seq)
                    outcome = PublishOutcome(ref, message.id, original, duplicate=True)
                else:
                    session.counters.published += 1
                    outcome = PublishOutcome(ref, message.id, delivered_to)
                    if mine is not None:
                        mine.stored = True
                        if message.expires_ms:
                            delay = max(0.0, (message.expires_ms - self.clock.now_ms()) / 1000)
                            mine.expiry = asyncio.get_running_loop().call_later(delay, self._expire, key)
                    if not delivered_to:
                        self._remember(key, 0)
        except BrokerError as err:
            if mine is not None and self._pending.get(key) is mine:
                del self._pending[key]
            outcome = PublishOutcome(ref, message.id, error=err)
        if previous is not None:
            await previous
        if not client.conn.closed:
            client.conn.peer.publish_result(outcome)
        answered.set_result(None)

    async def _original_result(self, session: str, message_id: str, seq: int) -> int:
        """What a duplicate is answered with: the original's deliveredTo, from the
        stored message while JetStream holds it, else from this node's memory."""
        pending = self._pending.get((session, message_id))
        if pending is not None:
            return pending.remaining + len(pending.settled)
        if seq:
            try:
                stored = await self.link.js.get_msg(stream_name(session), seq)
                return Envelope.read(stored.headers).delivered_to
            except Exception:  # gone (settled) or unreadable: what this node remembers
                pass
        return self._recent.get((session, message_id), 0)

    def _remember(self, key: tuple[str, str], delivered_to: int) -> None:
        self._recent[key] = delivered_to
        if len(self._recent) > RECENT_RESULTS:
            self._recent.popitem(last=False)

    # ------------------------------------------------------------------ the publisher's node

    def _notice(self, notice: Notice) -> None:
        """A delivery of a message published here was ACKed or given up (or a client
        id taken over from another node: RETAKE)."""
        if notice.kind is Kind.RETAKE:
            self._retake(notice.session, notice.subscriber)
            return
        key = (notice.session, notice.message_id)
        pending = self._pending.get(key)
        if pending is None or notice.subscriber in pending.settled:
            return  # unknown, settled already, or told twice (an ACK re-sent after a lost one)
        pending.settled.add(notice.subscriber)
        reason = GiveUpReason(notice.reason) if notice.kind is Kind.GAVE_UP else None
        self._settle_one(key, pending, reason, notice.dead_lettered)

    def _settle_one(
        self, key: tuple[str, str], pending: Pending, reason: GiveUpReason | None, dead_lettered: bool = False
    ) -> None:
        pending.remaining -= 1
        publisher = pending.publisher
        if not publisher.closed:
            if reason is None:
                publisher.peer.ack_received(pending.message, pending.remaining)
            else:
                publisher.peer.delivery_failed(pending.message, reason, pending.remaining, dead_lettered)
        if pending.remaining <= 0:
            del self._pending[key]
            if pending.expiry is not None:
                pending.expiry.cancel()
            self._remember(key, len(pending.settled))

    def _expire(self, key: tuple[str, str]) -> None:
        """The message expired with deliveries unsettled: each is given up (JetStream
        removes it by max age, telling no one; which subscribers had not ACKed is not
        known here, so the give-ups name none)."""
        pending = self._pending.get(key)
        if pending is None:
            return
        pending.expiry = None
        now = self.clock.now_ms()
        while key in self._pending:
            # The node first (its dead letter), then the publisher: EngineEvents.gave_up.
            notice = GiveUp(key[0], pending.message, "", False, GiveUpReason.EXPIRED, 0, "", now)
            self._settle_one(key, pending, GiveUpReason.EXPIRED, self.events.gave_up(notice))

    # ------------------------------------------------------------------ the subscriber's node

    def _received(self, client: Client, sub: Subscription, msg: Msg) -> None:
        """JetStream pushed a message (a first send or a re-send) to one of ``client``'s
        subscriptions."""
        if client.conn.subscriber is not client:
            return  # left: not ACKed, so a durable re-sends it to the client's next connection
        session = client.session
        try:
            envelope = Envelope.read(msg.headers)
            topic = SessionSubjects.of(session.name).topic_of(msg.subject)
        except (ValueError, KeyError, TypeError):
            self.notices.post(msg.reply, TERM)  # not put there by a fastport node
            return
        if envelope.origin == Origin(self.node, client.number):
            self.notices.post(msg.reply, ACK)  # the publisher's own subscription: skipped
            return
        meta = msg.metadata
        held = client.held.get(envelope.message_id)
        if held is not None and not any(m.metadata.consumer == meta.consumer for m in held.msgs):
            held.msgs.append(msg)  # another subscription of the same client: one delivery
            return
        created_ms = int(meta.timestamp.timestamp() * 1000) if meta.timestamp else self.clock.now_ms()
        expiry = session.message_expiry_ms
        now = self.clock.now_ms()
        if expiry and created_ms + expiry <= now:
            self.notices.post(msg.reply, TERM)  # expired: the publisher's node gives it up
            return
        if held is None:
            message = Message(
                id=envelope.message_id,
                topic=topic,
                payload=msg.data,
                hash=envelope.hash,
                timestamp_ms=envelope.timestamp_ms,
                json=envelope.json,
                session=session.name,
                created_ms=created_ms,
                expires_ms=created_ms + expiry if expiry else 0,
                attributes=envelope.attributes,
            )
            held = Held(message, envelope.origin, [msg], 0)
        else:  # a re-send of the copy it has: the newer one is what to acknowledge
            held.msgs = [msg if m.metadata.consumer == meta.consumer else m for m in held.msgs]
        retry = meta.num_delivered - 1
        if not self._deliver(client, held.message, retry):
            return  # not ACKed: JetStream sends it again after the retry interval
        client.held[envelope.message_id] = held
        held.attempts = meta.num_delivered
        if meta.num_delivered >= session.max_retry_limit + 1:
            if held.final is not None:
                held.final.cancel()
            held.final = asyncio.get_running_loop().call_later(
                session.retry_interval_ms / 1000, self._give_up, client, envelope.message_id, GiveUpReason.RETRY_LIMIT
            )

    def _deliver(self, client: Client, message: Message, retry: int) -> bool:
        conn = client.conn
        try:
            if not conn.peer.deliver(message, retry):
                self._refused(client)
                return False
        except Exception:
            self.stats.delivery_errors += 1
            log.exception("delivering message %r failed", message.id, extra={"session": client.session.name})
            return True
        client.blocked_since = None
        client.session.counters.delivered += 1
        if retry:
            self.stats.resent += 1
        return True

    def _refused(self, client: Client) -> None:
        """The door had no room. A client that has had none for the slow-consumer
        timeout is dropped (JetStream keeps offering, so this is checked on each offer)."""
        now = time.monotonic()
        if client.blocked_since is None:
            client.blocked_since = now
        elif self.slow_consumer_timeout_ms and (now - client.blocked_since) * 1000 >= self.slow_consumer_timeout_ms:
            self.events.slow_consumer(client.conn, self.slow_consumer_timeout_ms)

    def room(self, conn: Connection) -> None:
        client: Client | None = conn.subscriber
        if client is not None:
            client.blocked_since = None  # JetStream re-sends what was refused by itself

    def ack(self, conn: Connection, message_id: str) -> bool:
        client: Client | None = conn.subscriber
        if client is None or not isinstance(message_id, str):
            return False
        held = client.held.pop(message_id, None)
        if held is None:
            return False
        if held.final is not None:
            held.final.cancel()
        for msg in held.msgs:
            self.notices.post(msg.reply, ACK)
        client.session.counters.acked += 1
        self.notices.send(held.origin.node, Notice(Kind.ACKED, client.session.name, message_id, client.id))
        return True

    def nack(self, conn: Connection, message_id: str) -> bool:
        client: Client | None = conn.subscriber
        if client is None or not isinstance(message_id, str):
            return False
        held = client.held.get(message_id)
        if held is None:
            return False
        if held.attempts >= client.session.max_retry_limit + 1:
            # The last attempt: JetStream would send it no more (MaxDeliver), and the
            # give-up would wait out the retry interval. The retry limit applies now.
            if held.final is not None:
                held.final.cancel()
            self._give_up(client, message_id, GiveUpReason.RETRY_LIMIT)
            return True
        for msg in held.msgs:
            self.notices.post(msg.reply, NAK)  # re-sent at once, as a re-send
        return True

    def _give_up(self, client: Client, message_id: str, reason: GiveUpReason) -> None:
        """The node hears of it first (it publishes the dead letter, if the session has
        a dead-letter topic: see ``EngineEvents.gave_up``), then JetStream is told to
        forget this delivery and the publisher's node is told."""
        held = client.held.pop(message_id, None)
        if held is None:
            return
        session = client.session
        dead_lettered = self.events.gave_up(
            GiveUp(
                session=session.name,
                message=held.message,
                subscriber=client.id,
                named=client.named,
                reason=reason,
                attempts=held.attempts,
                address=client.conn.address,
                at_ms=self.clock.now_ms(),
            )
        )
        for msg in held.msgs:
            self.notices.post(msg.reply, TERM)  # JetStream would keep it otherwise
        notice = Notice(Kind.GAVE_UP, session.name, message_id, client.id, reason.value, dead_lettered)
        self.notices.send(held.origin.node, notice)
