"""Who is subscribed to what, across every node: the answer ``publish_response``'s
``deliveredTo`` gives.

JetStream's answer to a publish says where the message was stored, not which
consumers will get it, while fastport tells the publisher at once how many
subscribers it was sent to (and counts ``ack_received``'s ``remaining`` down from
that). So every subscription is also an entry in KV bucket ``fastport_subscriptions``,
keyed by its consumer (``<stream>.<consumer>``), and every node mirrors the bucket
into a ``Registry``: one topic index per session, from which a publish counts the
distinct subscribers its topic matches, less the publisher itself.

An entry is written by the node that made the consumer and deleted when the
subscription ends. A node that dies cannot delete its connections' entries: their
ephemeral consumers are deleted by the servers after their inactivity threshold, and
every node, hearing the server's advisory of that, deletes the entry if it is still
there. Until then a dead node's subscribers are counted. A subscription made on
another node while a message is published may or may not be counted, and may or may
not get the message: the two are not one atomic step, as they are in the embedded
engine (README, engine table).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

from ...core.topics import TopicIndex
from .kv import open_bucket
from .subjects import ROOT

log = logging.getLogger("fastport.jetstream")

BUCKET = "fastport_subscriptions"
CONSUMER_DELETED = "$JS.EVENT.ADVISORY.CONSUMER.DELETED.>"


@dataclass(frozen=True, slots=True)
class Entry:
    """One subscription: ``subscriber`` is a client id or, for a connection without
    one, ``<node> <connection>``; ``persistent`` ones (a client id's durable consumer)
    outlive their connection, and are taken up again by whichever node the client id
    comes back to."""

    session: str
    subscriber: str
    persistent: bool
    pattern: str

    def encode(self) -> bytes:
        return orjson.dumps([self.session, self.subscriber, self.persistent, self.pattern])

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        session, subscriber, persistent, pattern = orjson.loads(data)
        return cls(session, subscriber, bool(persistent), pattern)


def entry_key(stream: str, consumer: str) -> str:
    """Stream and consumer names are ``[A-Za-z0-9_-]``: valid KV key tokens."""
    return f"{stream}.{consumer}"


class Registry:
    """Every session's subscriptions as topic indexes of subscriber ids.

    Adding and removing are idempotent: the node that makes a subscription adds it at
    once (its publishes count it from then on) and again when its own write comes back
    through the bucket's watch, and likewise for removals."""

    def __init__(self) -> None:
        self._indexes: dict[str, TopicIndex[str]] = {}
        self._held: set[Entry] = set()

    def add(self, entry: Entry) -> None:
        if entry not in self._held:
            self._held.add(entry)
            self._indexes.setdefault(entry.session, TopicIndex()).add(entry.pattern, entry.subscriber)

    def remove(self, entry: Entry) -> None:
        if entry in self._held:
            self._held.discard(entry)
            index = self._indexes[entry.session]
            index.remove(entry.pattern, entry.subscriber)
            if not index.count:
                del self._indexes[entry.session]

    def size(self, session: str) -> int:
        """Subscriptions of ``session`` on every node (what its subscription limit bounds)."""
        index = self._indexes.get(session)
        return index.count if index is not None else 0

    def persistent_patterns(self, session: str, subscriber: str) -> list[str]:
        """The persistent subscriptions of client id ``subscriber``, to take up again."""
        return [e.pattern for e in self._held if e.persistent and e.session == session and e.subscriber == subscriber]

    def count(self, session: str, topic: str, skip: str | None = None) -> int:
        """How many distinct subscribers of ``session`` ``topic`` reaches, ``skip`` (the
        publisher's own subscriber id) left out."""
        index = self._indexes.get(session)
        if index is None:
            return 0
        matched = index.match(topic)
        return len(matched) - (skip in matched)

    def drop_session(self, session: str) -> None:
        self._indexes.pop(session, None)
        self._held = {e for e in self._held if e.session != session}


class SubscriptionsKV:
    """The subscriptions bucket, as the engine of one node writes it."""

    def __init__(self, kv: KeyValue) -> None:
        self._kv = kv
        self._cleaner: Subscription | None = None

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int) -> SubscriptionsKV:
        return cls(await open_bucket(js, BUCKET, replicas))

    async def put(self, key: str, entry: Entry) -> None:
        await self._kv.put(key, entry.encode())

    async def delete(self, key: str) -> None:
        await self._kv.delete(key)

    async def clean_up_after_servers(self, nc: Client, known: dict[str, Entry]) -> None:
        """Delete the entry of every consumer the servers delete (an ephemeral one
        whose node died, after its inactivity threshold) if ``known`` (the node's
        mirror of the bucket) still has it."""

        async def deleted(msg: Msg) -> None:
            try:
                advisory = orjson.loads(msg.data)
                key = entry_key(advisory["stream"], advisory["consumer"])
            except (ValueError, KeyError, TypeError):
                return
            if advisory["stream"].startswith(f"{ROOT}_") and key in known:
                try:
                    await self.delete(key)
                except Exception as exc:  # the next node hearing the advisory tries too
                    log.warning("subscription %s of a deleted consumer not removed: %s", key, exc)

        self._cleaner = await nc.subscribe(CONSUMER_DELETED, cb=deleted)

    async def close(self) -> None:
        if self._cleaner is not None:
            await self._cleaner.unsubscribe()
