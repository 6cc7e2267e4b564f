"""The engine interface: what keeps messages and delivers them, behind the node.

The node (``Broker``) keeps what a front door needs to decide whether a request may
happen: sessions as it sees them (settings, credentials, state, connections,
counters), authentication, limits and validation. Everything about messages and
subscriptions is the engine's: topic matching, storing, delivering, ACKs, re-sends,
expiry, de-duplication, flow control and durability. The embedded engine
(``fastport.engines.embedded``) does all of that in this process; another engine may
do it on a cluster (``fastport.engines.jetstream``). ``fastport.app`` picks one.

Dependencies point inward, as in centrifuge's ``Broker``/``BrokerEventHandler``: this
module defines what the core needs, engines implement it, and the core imports no
engine. The engine calls the node back through ``EngineEvents``.

What crosses the interface: core objects the node owns (``Connection``, ``Session``:
an engine reads a session's settings and adds to its counters, and keeps what it
needs for a connection in ``Connection.subscriber``) and plain values (``Message``,
``SessionRecord``, ``GiveUp``, ``SessionLoad``). Results and notices about one
connection go to that connection's ``Peer`` (``connection.py``), never through the node.

Promises every engine keeps (the conformance suite, tests/conformance, checks them):

- A publish is confirmed (``Peer.publish_result``) only once the message is durable
  as far as the engine promises durability. The results of stored publishes reach
  one publisher in the order it published them; a refusal, or the answer to a
  duplicate, may come before the results of earlier publishes still being stored.
- First sends to one subscriber go in publish order; a re-send (due a retry interval
  after its last send) carries the same message id and a higher ``retry``.
- An ACK settles only the acknowledging subscriber's delivery, and the publisher
  hears of it (``Peer.ack_received``); a give-up is told to the publisher
  (``Peer.delivery_failed``) and to the node (``EngineEvents.gave_up``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .connection import Connection, Peer
    from .delivery import Hash, Message
    from .errors import CloseReason, GiveUpReason
    from .session import Session, SessionRecord
    from .stats import Stats

DEFAULT_DEDUP_WINDOW_MS = 10 * 60 * 1000
DEFAULT_SLOW_CONSUMER_TIMEOUT_MS = 30_000


@dataclass(frozen=True, slots=True)
class SessionLoad:
    """What a session holds in its engine now, for session info and metrics."""

    subscriptions: int
    pending_messages: int  # messages not yet settled by every subscriber
    pending_bytes: int  # their payload bytes


@dataclass(frozen=True, slots=True)
class GiveUp:
    """One delivery given up: what the node counts, logs and publishes to the
    session's dead-letter topic (the message is all there)."""

    session: str
    message: Message
    subscriber: str  # its client id, or the engine's name for a connection-bound subscriber
    named: bool  # whether ``subscriber`` is a client id
    reason: GiveUpReason
    attempts: int  # sends made
    address: str  # its connection's address ("" while it has none), for the log line
    at_ms: int


class EngineEvents(Protocol):
    """How an engine tells the node what happened on its own (implemented by ``Broker``)."""

    def session_changed(self, session: Session, record: SessionRecord) -> None:
        """``session`` was created, suspended or resumed by another node of a cluster:
        it is now as ``record`` says (a session the node does not know yet is new)."""

    def session_removed(self, session: Session, reason: CloseReason) -> None:
        """The engine removed ``session`` (it expired): the node closes its connections,
        which leave it with nothing given up, and forgets it."""

    def gave_up(self, notice: GiveUp) -> bool:
        """A delivery is being given up. Called before the engine settles it and tells
        the publisher (``Peer.delivery_failed``, with what this returns: whether the
        node published the message to the session's dead-letter topic, through
        ``Engine.publish``). So an engine that writes in order has the dead letter
        durable before the settle: after a crash in between, the delivery is given up
        again and the dead letter, whose id is the same every time, is a duplicate."""

    def slow_consumer(self, conn: Connection, timeout_ms: int) -> None:
        """``conn``'s door had no room for its deliveries for ``timeout_ms``: the node
        disconnects it (its deliveries are those of a connection that left)."""

    def replaced(self, conn: Connection) -> None:
        """A connection on another node of a cluster took over ``conn``'s client id;
        ``conn`` has left the engine, and the node closes it as it closes the one
        ``Engine.join`` returns (``CloseReason.REPLACED``)."""


class Engine(Protocol):
    """Messages and subscriptions of every session. Methods that are not coroutines
    never block; what they report later goes to a ``Peer`` or to ``EngineEvents``."""

    async def open(self, events: EngineEvents, stats: Stats) -> Sequence[Session]:
        """Start: load what was kept, start timers; returns the sessions that exist,
        built from their records. ``stats`` is the node's, for the engine to add to.
        ``EngineError`` if the engine cannot be used (the server does not start)."""

    def ready(self) -> bool:
        """Whether the engine can serve now: what ``/health`` says (an engine on a
        cluster is not ready while it cannot reach it)."""

    async def close(self) -> None:
        """Stop timers and make durable everything handed over so far. Called after the
        node has told every connection it is going away."""

    async def create_session(self, session: Session) -> None:
        """Start keeping ``session``; durable before it returns (``BrokerError``
        ``storage_error`` if it could not be made so, and then nothing is kept)."""

    async def update_session(self, session: Session) -> None:
        """``session``'s record changed (suspended or resumed); durable before it
        returns (``storage_error`` otherwise)."""

    async def drop_session(self, session: Session) -> None:
        """Forget ``session`` and everything in it at once (its connections have left);
        its data is deleted before it returns (``storage_error`` otherwise)."""

    def load(self, session: str) -> SessionLoad:
        """What ``session`` holds now."""

    def join(self, conn: Connection, session: Session, client_id: str | None) -> Connection | None:
        """``conn`` (authenticated, within the session's limits, in no session) joins
        ``session``, as ``client_id`` if given. A client id's unsettled deliveries are
        sent to it now, in publish order, as far as flow control lets them go. Returns
        the connection that held ``client_id`` until now: it has left, and the node
        closes it (``CloseReason.REPLACED``)."""

    def leave(self, conn: Connection, give_up: bool = True) -> None:
        """``conn`` leaves its session. A subscriber with a client id and persistent
        subscriptions keeps those and its deliveries; otherwise its subscriptions end
        and its unsettled deliveries are given up (``SUBSCRIBER_GONE``), unless
        ``give_up`` is False (the whole session is going)."""

    def subscribe(self, conn: Connection, pattern: str, persistent: bool) -> None:
        """Subscribe ``conn`` to a valid ``pattern``, from the next publish on; made
        (or unmade) persistent, which needs a client id. ``BrokerError``
        ``limit_exceeded`` past the session's subscription limit."""

    def unsubscribe(self, conn: Connection, pattern: str) -> None:
        """End ``conn``'s subscription to ``pattern``, if it has one. Deliveries made
        already go on."""

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
        """Publish a validated message from ``conn`` (``timestamp_ms`` 0: now).

        Raises ``BrokerError`` ``overloaded`` (and keeps nothing) if the session holds
        as much unsettled data as it may. Otherwise the outcome goes to
        ``conn.peer.publish_result`` with ``ref``: once the message is durable (maybe
        later, see ``commit``), and in publish order with the results of this
        connection's other stored publishes; a publish of an id the session still remembers gets the original's
        result as a duplicate at once and makes nothing new. One delivery is made per
        subscriber whose subscription matches ``topic`` when the message is stored
        (``conn`` itself skipped), and sent in publish order, as far as flow control
        lets it go."""

    def commit(self) -> bool:
        """Make what was published so far durable now if that can be done without
        waiting, so that its results follow at once (a door calls this before it
        yields). False if the results come later."""

    def ack(self, conn: Connection, message_id: str) -> bool:
        """Settle ``conn``'s delivery of ``message_id``; the publisher hears of it
        (``Peer.ack_received``) before this returns. False, doing nothing, for an id
        ``conn`` has no unsettled delivery of (given up already, or ACKed twice)."""

    def nack(self, conn: Connection, message_id: str) -> bool:
        """``conn`` cannot handle ``message_id`` now: re-send it as soon as the engine
        can, as a re-send (it counts towards the retry limit). False like ``ack``."""

    def room(self, conn: Connection) -> None:
        """``conn``'s door has room again after refusing a delivery (``Peer.deliver``
        returned False): what waits goes, in order."""

    def relay_peers(self, conn: Connection, topic: str) -> list[Peer]:
        """The peers of the other connections in ``conn``'s session subscribed to
        ``topic``, for what a door relays untracked (legacy file frames)."""

    def subscribers(self, session: str, pattern: str) -> list[Connection]:
        """The connections of ``session`` subscribed to exactly ``pattern``."""
