"""Notices between nodes: what a subscriber's node tells a publisher's node (and, on a
client id taken over across nodes, the old holder's node tells the new one).

fastport tells a publisher of every ACK of its message (``ack_received``, with how many
deliveries remain) and of every delivery given up. With the jetstream engine the
subscriber may be on another node than the publisher, so the subscriber's node sends a
notice to the publisher's node (named in the message's ``Fastport-Origin`` header,
envelope.py), on core NATS subject ``fastport.node.<node id>``, which only that node
subscribes to. The publisher's node counts down and tells its client.

Notices are core NATS: at most once. A notice sent while its node has no NATS
connection, or to a node that died, is lost; the publisher's client re-publishes the
message's id after its own timeout and gets a duplicate answer (docs/engines/jetstream.md
and the README's engine table). A notice for the node itself never leaves it.

Sending never waits: notices are queued and one task writes them out in order, so a
subscriber's ACKs reach the publisher's node in the order they were made. What is
queued for one node by the time the task runs leaves as one NATS message (a list of
notices): a client's ACKs come in batches (everything one read brought), and each
NATS message costs nats-server and both nodes a parse and a dispatch (bench/README.md,
"The JetStream engine").
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError

from .subjects import ROOT

log = logging.getLogger("fastport.jetstream")


class Kind(StrEnum):
    ACKED = "acked"  # a subscriber ACKed the message
    GAVE_UP = "gave_up"  # a delivery of the message was given up (``reason``)
    # Not about a message: the receiving node took client id ``subscriber`` over from
    # the sender, which has closed its connection; the durable consumers of its
    # persistent subscriptions may still push to the sender, so the receiver makes
    # them push to itself again (engine.py, claims.py).
    RETAKE = "retake"


@dataclass(frozen=True, slots=True)
class Notice:
    """About one message published on the receiving node."""

    kind: Kind
    session: str
    message_id: str  # "" for RETAKE
    subscriber: str = ""  # the subscriber that ACKed, or whose delivery was given up (RETAKE: the client id)
    reason: str = ""  # GAVE_UP: retry_limit, expired or subscriber_gone
    dead_lettered: bool = False  # GAVE_UP: published to the session's dead-letter topic

    def fields(self) -> list[object]:
        return [self.kind.value, self.session, self.message_id, self.subscriber, self.reason, self.dead_lettered]

    @classmethod
    def of(cls, fields: Any) -> Notice:
        """From ``fields()`` as JSON gave them back."""
        kind, session, message_id, subscriber, reason, dead_lettered = fields
        return cls(Kind(kind), session, message_id, subscriber, reason, bool(dead_lettered))


def encode(notices: list[Notice]) -> bytes:
    """Several notices for one node, as one NATS message."""
    return orjson.dumps([n.fields() for n in notices])


def decode(data: bytes) -> list[Notice]:
    return [Notice.of(fields) for fields in orjson.loads(data)]


def node_subject(node: str) -> str:
    """The subject only ``node`` listens on. Session subjects are ``fastport.<26
    base32 characters>...``, so ``fastport.node`` is never one of them."""
    return f"{ROOT}.node.{node}"


class Notices:
    """One node's end of the notices: it receives its own and sends the others'."""

    def __init__(self, nc: Client, node: str, handle: Callable[[Notice], None]) -> None:
        self._nc = nc
        self.node = node
        self._handle = handle
        self._queue: deque[tuple[str, bytes | Notice]] = deque()
        self._wake = asyncio.Event()
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self.lost = 0  # what could not be sent (no NATS connection)

    async def start(self) -> None:
        self._sub = await self._nc.subscribe(node_subject(self.node), cb=self._received)
        self._task = asyncio.create_task(self._send_queued(), name="fastport-notices")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sub is not None and not self._nc.is_closed:
            await self._sub.unsubscribe()

    def send(self, node: str, notice: Notice) -> None:
        """Tell ``node``; at once if that is this node."""
        if node == self.node:
            self._handle(notice)
            return
        self._queue.append((node_subject(node), notice))
        self._wake.set()

    def post(self, subject: str, data: bytes) -> None:
        """Send ``data`` on core NATS, before the notices queued after it: also how the
        node acknowledges JetStream deliveries, so that an ACK goes out before the
        notice that tells the publisher of it."""
        self._queue.append((subject, data))
        self._wake.set()

    async def _send_queued(self) -> None:
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                # Everything queued now: data in order, the notices gathered per node
                # and sent after it (each node's in the order they were made).
                batches: dict[str, list[Notice]] = {}
                while queue:
                    subject, item = queue.popleft()
                    if isinstance(item, Notice):
                        batches.setdefault(subject, []).append(item)
                    else:
                        await self._publish(subject, item)
                for subject, notices in batches.items():
                    await self._publish(subject, encode(notices))

    async def _publish(self, subject: str, data: bytes) -> None:
        try:
            await self._nc.publish(subject, data)
        except NatsError as exc:  # reconnecting with a full buffer, or closed
            self.lost += 1
            if self.lost == 1 or self.lost % 1000 == 0:
                log.warning("messages to NATS lost (%d so far): %s", self.lost, exc)

    async def _received(self, msg: Msg) -> None:
        try:
            notices = decode(msg.data)
        except (ValueError, TypeError) as exc:
            log.warning("notices that do not parse, ignored: %s", exc)
            return
        for notice in notices:
            self._handle(notice)
