"""The embedded engine: at-least-once delivery in this process, on a store (memory or SQLite).

Delivery in one paragraph: a publish is written to the store and turned into one
Delivery per matching subscriber (the publishing connection skipped). Each delivery is
re-sent to its subscriber every ``retry_interval_ms`` until that subscriber ACKs it,
it has been re-sent ``max_retry_limit`` times, or the message expires. The publisher
hears of every ACK (``ack_received``) and every give-up (``delivery_failed``). A
message whose deliveries are all settled is forgotten, but its id is remembered for
the de-duplication window.

Timers are per session, in due order, under one scheduler task (``timers.py``); flow
control per subscriber is ``flow.py``; what one session holds is ``sessions.py``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import replace

from ...core.clock import Clock, SystemClock
from ...core.connection import Connection, Peer, PublishOutcome
from ...core.delivery import NO_ATTRIBUTES, Hash
from ...core.engine import (
    DEFAULT_DEDUP_WINDOW_MS,
    DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
    Engine,
    EngineEvents,
    GiveUp,
    SessionLoad,
)
from ...core.errors import BrokerError, CloseReason, ErrorCode, GiveUpReason
from ...core.session import Session
from ...core.stats import Stats
from ...store.base import Rejected, Store, StoredState, StoreError
from ...store.memory import MemoryStore
from .flow import Window
from .sessions import SessionTracker
from .states import DeliveryState
from .timers import Scheduler
from .tracking import Delivery, Subscriber, TrackedMessage

log = logging.getLogger("fastport.broker")

# Longest a congested session keeps a publish result back: publishers are slowed to a
# window per this long, never stopped (an offline persistent subscriber may keep a
# session congested for as long as its messages live).
MAX_HELD_RESULT_MS = 1000

# The states the hot path sets, as module globals: one lookup, not two, per send and ACK.
SCHEDULED, SETTLED = DeliveryState.SCHEDULED, DeliveryState.SETTLED

# What a failed store call raises: the store's own error, the OS's, or a value the
# database cannot take (sqlite3 errors are the store's to translate).
STORE_ERRORS = (StoreError, OSError)

# Why a publish was not stored, as its refusal: the database's state (temporary: it is
# stored once the database can be written again), or a value of this message that
# passed the node's checks but not the database's (permanent: sent again, it would
# fail again, and a client retrying it would retry until its own timeout).
NOT_STORED = (ErrorCode.STORAGE_ERROR, "Message could not be stored")
UNSTORABLE = (ErrorCode.INTERNAL, "Message could not be stored: a value out of the database's range")


class EmbeddedEngine:
    def __init__(
        self,
        store: Store | None = None,
        clock: Clock | None = None,
        *,
        dedup_window_ms: int = DEFAULT_DEDUP_WINDOW_MS,
        slow_consumer_timeout_ms: int = DEFAULT_SLOW_CONSUMER_TIMEOUT_MS,
    ) -> None:
        """``dedup_window_ms``: how long a settled message's id is remembered;
        ``slow_consumer_timeout_ms``: how long a subscriber's door may have no room for
        its deliveries before it is disconnected (0: never)."""
        self.store: Store = store if store is not None else MemoryStore()
        self.clock: Clock = clock or SystemClock()
        self.dedup_window_ms = dedup_window_ms
        self.slow_consumer_timeout_ms = slow_consumer_timeout_ms
        self.sessions: dict[str, SessionTracker] = {}
        self.stats = Stats()  # the node's, once opened
        self._events: EngineEvents | None = None
        self._timers = Scheduler(self.clock, self._run_session)
        self._timer_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        # Publishes waiting for the awaitable the store returned for them. A store that
        # commits in batches returns one per batch: the batch then costs one callback,
        # not a closure and a callback per publish kept alive until the commit.
        self._storing: Awaitable[Rejected] | None = None
        self._stored: list[tuple[TrackedMessage, Sequence[Subscriber], object]] = []

    @property
    def events(self) -> EngineEvents:
        assert self._events is not None, "the engine is not open"
        return self._events

    # ------------------------------------------------------------------ lifecycle

    async def open(self, events: EngineEvents, stats: Stats) -> Sequence[Session]:
        self._events = events
        self.stats = stats
        sessions = self._restore(await self.store.open(self.dedup_window_ms))
        self._timer_task = asyncio.create_task(self._timers.loop(), name="fastport-timers")
        return sessions

    def _restore(self, state: StoredState) -> list[Session]:
        """Rebuild what the store kept. Named subscribers come back offline, with their
        persistent subscriptions and unsettled deliveries; attempts and deadlines are as
        they were, so the timers carry on from there. A message none of whose deliveries
        can resume is settled, and its id kept for the de-duplication window."""
        now = self.clock.now_ms()
        sessions = [Session(record) for record in state.sessions]
        for session in sessions:
            self.sessions[session.name] = SessionTracker(session)
        for stored_sub in state.subscriptions:
            tracker = self.sessions.get(stored_sub.session)
            if tracker is None:
                continue
            sub = tracker.named.get(stored_sub.subscriber)
            if sub is None:
                sub = tracker.named[stored_sub.subscriber] = Subscriber(tracker, stored_sub.subscriber)
            sub.patterns[stored_sub.pattern] = True
            tracker.index.add(stored_sub.pattern, sub)
        # Ids to remember, per session, to be added in forget order: (forget at, id, result).
        recent: dict[str, list[tuple[int, str, int]]] = {name: [] for name in self.sessions}
        for remembered in state.remembered:
            tracker = self.sessions.get(remembered.session)
            if tracker is not None and remembered.forget_at_ms > now:
                recent[tracker.name].append((remembered.forget_at_ms, remembered.id, remembered.delivered_to))
        for stored in state.messages:
            tracker = self.sessions.get(stored.session)
            if tracker is None:
                continue
            message = TrackedMessage(
                id=stored.id,
                topic=stored.topic,
                payload=stored.payload,
                hash=stored.hash,
                timestamp_ms=stored.timestamp_ms,
                json=stored.json,
                tracker=tracker,
                publisher=None,
                created_ms=stored.created_ms,
                expires_ms=stored.expires_ms,
                attributes=stored.attributes or NO_ATTRIBUTES,
            )
            message.committed = True
            for stored_delivery in stored.deliveries:
                sub = tracker.named.get(stored_delivery.subscriber)
                if sub is None:
                    continue  # no persistent subscription: its deliveries ended with its connection
                delivery = Delivery(message, sub)
                delivery.attempts = stored_delivery.attempts
                sub.pending[message.id] = delivery
                message.deliveries.append(delivery)
                if stored_delivery.due_ms:  # sent before the restart: its re-send is due then
                    delivery.due_ms = stored_delivery.due_ms
                    delivery.state = DeliveryState.SCHEDULED
                    tracker.retry_queue[delivery] = delivery.due_ms
            message.remaining = len(message.deliveries)
            if message.deliveries:
                tracker.add_pending(message)
                if message.expires_ms:
                    tracker.expiry_queue.append(message)
            else:
                forget_at = now + self.dedup_window_ms
                recent[tracker.name].append((forget_at, message.id, stored.delivered_to))
                self.store.forget_message(tracker.name, message.id, forget_at)
        for tracker in self.sessions.values():
            # The timer queues are FIFOs in due order; stored order is publish order.
            tracker.retry_queue = OrderedDict(sorted(tracker.retry_queue.items(), key=lambda entry: entry[1]))
            tracker.expiry_queue = deque(sorted(tracker.expiry_queue, key=lambda m: m.expires_ms))
            for forget_at, message_id, delivered_to in sorted(recent[tracker.name], key=lambda entry: entry[0]):
                tracker.recent.add(message_id, forget_at, delivered_to)
            self._timers.arm(tracker)
        return sessions

    def ready(self) -> bool:
        return True  # everything it needs is in this process

    async def close(self) -> None:
        if self._timer_task is not None:
            self._timer_task.cancel()
            try:
                await self._timer_task
            except asyncio.CancelledError:
                pass
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.store.close()

    # ------------------------------------------------------------------ sessions

    async def create_session(self, session: Session) -> None:
        tracker = SessionTracker(session)
        self.sessions[session.name] = tracker
        try:
            await self.store.put_session(session.record())
        except STORE_ERRORS as exc:
            del self.sessions[session.name]
            log.error("storing session %r failed: %s", session.name, exc)
            raise BrokerError(ErrorCode.STORAGE_ERROR, "Session could not be stored") from exc
        self._timers.arm(tracker)

    async def update_session(self, session: Session) -> None:
        try:
            await self.store.put_session(session.record())
        except STORE_ERRORS as exc:
            raise BrokerError(ErrorCode.STORAGE_ERROR, "Session state could not be stored") from exc

    async def drop_session(self, session: Session) -> None:
        self._forget_session(session.name)
        await self._store_delete(session.name)

    def _forget_session(self, name: str) -> None:
        tracker = self.sessions.pop(name, None)
        if tracker is not None:
            tracker.clear()

    async def _store_delete(self, name: str) -> None:
        try:
            await self.store.delete_session(name)
        except STORE_ERRORS as exc:
            log.error("deleting session %r from the store failed: %s", name, exc)
            raise BrokerError(ErrorCode.STORAGE_ERROR, "Session data could not be deleted") from exc

    def load(self, session: str) -> SessionLoad:
        tracker = self.sessions.get(session)
        if tracker is None:
            return SessionLoad(0, 0, 0)
        return SessionLoad(tracker.index.count, len(tracker.messages), tracker.pending_bytes)

    # ------------------------------------------------------------------ connections

    def join(self, conn: Connection, session: Session, client_id: str | None) -> Connection | None:
        tracker = self.sessions[session.name]
        sub = tracker.named.get(client_id) if client_id is not None else None
        old = None
        if sub is None:
            sub = Subscriber(tracker, client_id)
            if client_id is not None:
                tracker.named[client_id] = sub
        elif sub.connection is not None:
            old = sub.connection
            self.leave(old)
        sub.connection = conn
        conn.subscriber = sub
        if sub.pending:
            self._resume(sub)
        return old

    def _resume(self, sub: Subscriber) -> None:
        """A named subscriber is back: send what it has pending, in publish order, as
        far as its window goes; the rest waits its turn."""
        now = self.clock.now_ms()
        window, limit = sub.window, sub.tracker.limits.max_in_flight
        for delivery in sub.pending.values():
            if window.admit(delivery, limit):
                self._send(delivery, now)

    def leave(self, conn: Connection, give_up: bool = True) -> None:
        sub: Subscriber | None = conn.subscriber
        conn.subscriber = None
        if sub is None:
            return
        tracker = sub.tracker
        sub.connection = None
        sub.window = Window()  # what was in flight is in flight to no one: offline
        tracker.blocked.pop(sub, None)
        keep = sub.named and any(sub.patterns.values())
        for pattern, persistent in list(sub.patterns.items()):
            if not (keep and persistent):
                tracker.index.remove(pattern, sub)
                del sub.patterns[pattern]
        if keep:
            return
        if sub.named:
            tracker.named.pop(sub.id, None)
        if give_up:
            for delivery in list(sub.pending.values()):
                self._give_up(delivery, GiveUpReason.SUBSCRIBER_GONE)
        sub.pending.clear()

    def subscribe(self, conn: Connection, pattern: str, persistent: bool) -> None:
        sub: Subscriber = conn.subscriber
        tracker = sub.tracker
        was = sub.patterns.get(pattern)
        if was is None:
            limit = tracker.limits.max_subscriptions
            if limit and tracker.index.count >= limit:
                raise BrokerError(ErrorCode.LIMIT_EXCEEDED, f"Session has its maximum of {limit} subscriptions")
            tracker.index.add(pattern, sub)
        sub.patterns[pattern] = persistent
        if persistent and not was:
            self.store.put_subscription(tracker.name, sub.id, pattern)
        elif was and not persistent:
            self.store.delete_subscription(tracker.name, sub.id, pattern)

    def unsubscribe(self, conn: Connection, pattern: str) -> None:
        sub: Subscriber = conn.subscriber
        tracker = sub.tracker
        was = sub.patterns.pop(pattern, None)
        if was is not None:
            tracker.index.remove(pattern, sub)
            if was:
                self.store.delete_subscription(tracker.name, sub.id, pattern)

    def relay_peers(self, conn: Connection, topic: str) -> list[Peer]:
        sub: Subscriber | None = conn.subscriber
        if sub is None:
            return []
        peers: list[Peer] = []
        for other_sub in sub.tracker.index.match(topic):
            other = other_sub.connection
            if other is not None and other is not conn:
                peers.append(other.peer)
        return peers

    def subscribers(self, session: str, pattern: str) -> list[Connection]:
        tracker = self.sessions.get(session)
        if tracker is None:
            return []
        return [
            sub.connection
            for sub in tracker.index.match(pattern)
            if sub.connection is not None and pattern in sub.patterns
        ]

    # ------------------------------------------------------------------ publish / ack

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
        peer = conn.peer
        own: Subscriber = conn.subscriber
        tracker = own.tracker
        existing = tracker.messages.get(message_id)
        if existing is not None:
            if existing.committed:
                existing.publisher = conn
                peer.publish_result(PublishOutcome(ref, message_id, len(existing.deliveries), duplicate=True))
            else:
                existing.waiters += ((conn, ref),)
            return
        delivered_to = tracker.recent.get(message_id)
        if delivered_to is not None:
            peer.publish_result(PublishOutcome(ref, message_id, delivered_to, duplicate=True))
            return
        if tracker.full(len(payload)):
            limits = tracker.limits
            raise BrokerError(
                ErrorCode.OVERLOADED,
                f"Session holds its maximum of unsettled messages ({limits.max_pending_messages} messages,"
                f" {limits.max_pending_bytes} bytes): publish again once subscribers have caught up",
            )
        now = self.clock.now_ms()
        expiry = tracker.message_expiry_ms
        message = TrackedMessage(
            id=message_id,
            topic=topic,
            payload=payload,
            hash=hash,
            timestamp_ms=timestamp_ms or now,
            json=json,
            tracker=tracker,
            publisher=conn,
            created_ms=now,
            expires_ms=now + expiry if expiry else 0,
            attributes=attributes,
        )
        tracker.add_pending(message)
        targets: Sequence[Subscriber] = tracker.index.match(topic)
        if own.patterns:  # the publisher may be among them: skip it
            targets = [s for s in targets if s.connection is not conn]
        # Client ids among them (none, with nothing allocated, while the session has none).
        named: Sequence[str] = [s.id for s in targets if s.named] if tracker.named else ()
        # Only the id of a message that connection-bound subscribers alone were given
        # outlives a restart (see store/base.py).
        message.durable = bool(named) or not targets
        try:
            written = self.store.add_message(message, named, len(targets))
        except STORE_ERRORS as exc:
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
        return self.store.flush()

    def _on_written(
        self,
        stored: list[tuple[TrackedMessage, Sequence[Subscriber], object]],
        since: float,
        fut: asyncio.Future[Rejected],
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
            if rejected and (message.session, message.id) in rejected:
                # Not the database's state but this message's values (which passed the
                # node's checks): the same publish would fail again, so not temporary.
                self._publish_failed(message, ref, UNSTORABLE)
            else:
                self._commit(message, targets, ref, now)

    def _publish_failed(self, message: TrackedMessage, ref: object, why: tuple[ErrorCode, str] = NOT_STORED) -> None:
        self._remove_pending(message)
        err = BrokerError(*why)
        for conn, r in [(message.publisher, ref), *message.waiters]:
            if conn is not None and not conn.closed:
                conn.peer.publish_result(PublishOutcome(r, message.id, error=err))

    def _commit(self, message: TrackedMessage, targets: Sequence[Subscriber], ref: object, now: int = 0) -> None:
        """The message is stored: create and send its deliveries, answer the publisher.
        ``now`` is the current time when the caller has read the clock already."""
        tracker = message.tracker
        publisher = message.publisher
        if tracker.dropped:
            if publisher is not None and not publisher.closed:
                err = BrokerError(ErrorCode.SESSION_NOT_FOUND, "Session suspended or invalid")
                publisher.peer.publish_result(PublishOutcome(ref, message.id, error=err))
            return
        message.committed = True
        tracker.counters.published += 1
        now = now or self.clock.now_ms()
        deliveries = message.deliveries
        limit = tracker.limits.max_in_flight
        for sub in targets:
            if sub.connection is None and not sub.named:
                continue  # its connection went away while the message was being stored
            delivery = Delivery(message, sub)
            sub.pending[message.id] = delivery
            deliveries.append(delivery)
            if sub.connection is not None and sub.window.admit(delivery, limit):
                self._send(delivery, now)
        message.remaining = len(deliveries)
        if message.expires_ms:
            tracker.expiry_queue.append(message)
            self._timers.wake_at(tracker, message.expires_ms)
        outcome = PublishOutcome(ref, message.id, len(deliveries))
        if publisher is not None and not publisher.closed:
            if tracker.held or tracker.congested():
                due = now + MAX_HELD_RESULT_MS
                tracker.held.append((due, publisher, outcome))
                self._timers.wake_at(tracker, due)
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
        tracker = sub.tracker
        message = delivery.message
        assert sub.connection is not None and message is not None  # only unsettled deliveries are sent
        retry = delivery.attempts
        window = sub.window
        if window.blocked or not self._deliver(sub.connection, message, retry):
            tracker.retry_queue.pop(delivery, None)
            delivery.state = DeliveryState.WAITING
            window.refused(delivery, unsent)
            timeout = self.slow_consumer_timeout_ms
            if timeout and sub not in tracker.blocked:
                tracker.blocked[sub] = now + timeout
                self._timers.wake_at(tracker, now + timeout)
            return False
        due = now + tracker.retry_interval_ms
        delivery.due_ms = due
        delivery.state = SCHEDULED
        queue = tracker.retry_queue
        queue[delivery] = due
        queue.move_to_end(delivery)  # a re-send of a queued delivery goes to the back
        armed = tracker.armed_at
        if armed is None or armed > due:  # wake_at's own test, without the call when it would return
            self._timers.wake_at(tracker, due)
        delivery.attempts = retry + 1
        if sub.named:
            self.store.retried(tracker.name, message.id, sub.id, delivery.attempts, due)
        return True

    def _deliver(self, conn: Connection, message: TrackedMessage, retry: int) -> bool:
        """Hand ``message`` to ``conn``'s door; False if the door had no room.

        A door that fails on one message (a bug) must not stop the caller: the publish
        it answers, or the timer run of every other delivery. The send counts as an
        attempt, so such a delivery is given up at the retry limit."""
        tracker = message.tracker
        try:
            if not conn.peer.deliver(message, retry):
                return False
        except Exception:
            self.stats.delivery_errors += 1
            log.exception(
                "delivering message %r in session %r failed", message.id, tracker.name, extra={"session": tracker.name}
            )
            return True
        tracker.counters.delivered += 1
        if retry:
            self.stats.resent += 1
        return True

    def room(self, conn: Connection) -> None:
        sub: Subscriber | None = conn.subscriber
        if sub is None or conn.closed:
            return
        sub.tracker.blocked.pop(sub, None)
        sub.window.blocked = False
        self._pump(sub, self.clock.now_ms())

    def _pump(self, sub: Subscriber, now: int) -> None:
        """Send what ``sub``'s window lets go now (it is connected)."""
        window, limit = sub.window, sub.tracker.limits.max_in_flight
        while (turn := window.next(limit)) is not None:
            if not self._send(turn[0], now, unsent=turn[1]):
                return

    def ack(self, conn: Connection, message_id: str) -> bool:
        sub: Subscriber | None = conn.subscriber
        if sub is None:
            return False
        delivery = sub.pending.pop(message_id, None) if isinstance(message_id, str) else None
        if delivery is None:
            return False
        message = self._settle(delivery)
        sub.tracker.counters.acked += 1
        publisher = message.publisher
        if publisher is not None and not publisher.closed:
            publisher.peer.ack_received(message, message.remaining)
        if message.remaining == 0:
            self._forget(message)
        if sub.window.waiting:
            self._pump(sub, self.clock.now_ms())
        return True

    def nack(self, conn: Connection, message_id: str) -> bool:
        """A delivery not sent yet (waiting its turn in the window, or for room at the
        door) is left where it is: it goes as soon as it can anyway.

        Due now is the earliest any delivery of the session can be due, so moving the
        delivery to the front keeps the retry queue in due order."""
        sub: Subscriber | None = conn.subscriber
        if sub is None or not isinstance(message_id, str):
            return False
        delivery = sub.pending.get(message_id)
        if delivery is None:
            return False
        if delivery.state is not DeliveryState.SCHEDULED or delivery not in sub.window.in_flight:
            return True
        tracker = sub.tracker
        now = self.clock.now_ms()
        delivery.due_ms = now
        queue = tracker.retry_queue
        queue[delivery] = now
        queue.move_to_end(delivery, last=False)
        self._timers.wake_at(tracker, now)
        return True

    def _settle(self, delivery: Delivery) -> TrackedMessage:
        """Settle an unsettled delivery; returns its message.

        The delivery leaves the retry queue at once and lets go of the message, so that
        nothing of an ACKed message outlives it: no entry waiting for a stale due time
        (at tens of thousands of messages a second, a heap for the garbage collector to
        walk again and again: bench/README.md, as above), and no ``message.deliveries``
        cycle that only the collector could free. The message is freed by reference counting as
        soon as its last delivery settles."""
        message = delivery.message
        assert message is not None
        delivery.state = SETTLED
        delivery.message = None
        sub = delivery.subscriber
        sub.window.settle(delivery)
        tracker = sub.tracker
        tracker.retry_queue.pop(delivery, None)
        message.remaining -= 1
        if sub.named:
            self.store.settle(tracker.name, message.id, sub.id)
        return message

    def _give_up(self, delivery: Delivery, reason: GiveUpReason) -> None:
        message = delivery.message
        assert message is not None  # only unsettled deliveries are given up
        sub = delivery.subscriber
        conn = sub.connection
        # The node hears of it first: its dead letter goes to the store before the
        # settle below (on sqlite, into the same transaction), see EngineEvents.gave_up.
        dead_lettered = self.events.gave_up(
            GiveUp(
                session=sub.tracker.name,
                message=message,
                subscriber=sub.id,
                named=sub.named,
                reason=reason,
                attempts=delivery.attempts,
                address=conn.address if conn is not None else "",
                at_ms=self.clock.now_ms(),
            )
        )
        self._settle(delivery)
        sub.pending.pop(message.id, None)
        publisher = message.publisher
        if publisher is not None and not publisher.closed:
            publisher.peer.delivery_failed(message, reason, message.remaining, dead_lettered)
        if message.remaining == 0:
            self._forget(message)
        if conn is not None and sub.window.waiting:
            self._pump(sub, self.clock.now_ms())

    def _remove_pending(self, message: TrackedMessage) -> bool:
        """Take a settled or failed message out of its session; answer the publishes
        kept back if that ends the congestion. False if it was not there."""
        tracker = message.tracker
        if tracker.remove_pending(message.id) is None:
            return False
        if tracker.held and not tracker.congested():
            self._answer_held(tracker, None)
        return True

    @staticmethod
    def _answer_held(tracker: SessionTracker, now: int | None) -> None:
        """Answer the publishes kept back: all, or (``now``) those due by then."""
        held = tracker.held
        while held and (now is None or held[0][0] <= now):
            _, conn, outcome = held.popleft()
            if not conn.closed:
                conn.peer.publish_result(outcome)

    def _forget(self, message: TrackedMessage) -> None:
        tracker = message.tracker
        if not self._remove_pending(message):
            return
        forget_at = self.clock.now_ms() + self.dedup_window_ms
        tracker.recent.add(message.id, forget_at, len(message.deliveries))
        if message.durable:
            self.store.forget_message(tracker.name, message.id, forget_at)
        armed = tracker.armed_at
        if armed is None or armed > forget_at:  # as in _send
            self._timers.wake_at(tracker, forget_at)

    # ------------------------------------------------------------------ timers

    def run_timers(self) -> None:
        """Do all timer work due by now: re-sends, give-ups, expiry, forgetting ids
        (the scheduler's task does this when work is due; tests call it directly)."""
        self._timers.run_due()

    def _run_session(self, tracker: SessionTracker, now: int) -> None:
        if tracker.expires_at_ms and tracker.expires_at_ms <= now:
            self.events.session_removed(tracker.session, CloseReason.SESSION_EXPIRED)
            self._forget_session(tracker.name)
            task = asyncio.ensure_future(self._store_delete(tracker.name))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return
        queue = tracker.retry_queue
        limit = tracker.max_retry_limit
        while queue:
            delivery, due = next(iter(queue.items()))
            if due > now:
                break
            del queue[delivery]
            if delivery.attempts > limit:
                self._give_up(delivery, GiveUpReason.RETRY_LIMIT)
            elif delivery not in delivery.subscriber.window.in_flight:
                delivery.state = DeliveryState.WAITING  # offline (or waiting): sent when its turn comes
            else:
                self._send(delivery, now)
        expiring = tracker.expiry_queue
        while expiring and expiring[0].expires_ms <= now:
            message = expiring.popleft()
            if message.remaining:
                for delivery in message.deliveries:
                    if delivery.state is not SETTLED:
                        self._give_up(delivery, GiveUpReason.EXPIRED)
        self._answer_held(tracker, now)
        blocked = tracker.blocked
        while blocked:
            sub, deadline = next(iter(blocked.items()))
            if deadline > now:
                break
            del blocked[sub]
            if sub.connection is not None:
                self.events.slow_consumer(sub.connection, self.slow_consumer_timeout_ms)
        tracker.recent.expire(now)


_: type[Engine] = EmbeddedEngine
