"""JetStream KV buckets as fastport uses them: made once, watched by every node.

A bucket holds what every node must agree on (sessions.py: the sessions;
subscriptions.py: who is subscribed to what). Every node watches each bucket it uses
and applies what changes (mirror.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

WATCH_HEARTBEAT_S = 1.0


def kv_stream(bucket: str) -> str:
    """The stream holding ``bucket``, as nats-py (like every NATS client) lays it out."""
    return f"KV_{bucket}"


def _prefix(bucket: str) -> str:
    return f"$KV.{bucket}."


@dataclass(frozen=True, slots=True)
class Change:
    """One key's value as a watcher sees it; None once the key was deleted.
    ``revision`` orders the changes of one key."""

    key: str
    value: bytes | None
    revision: int


async def open_bucket(js: JetStreamContext, bucket: str, replicas: int, ttl_s: float = 0.0) -> KeyValue:
    """Bind to ``bucket``, or create it if this is the first node ever.

    Binding first keeps a node's start-up to one read, not a cluster-wide write, and
    leaves the bucket as the first node made it (``replicas`` applies then). One
    revision per key is kept (history 1): a value is the whole truth about its key,
    older ones are of no use. File storage: it survives a restart of the whole NATS
    cluster. ``ttl_s``: how long a value is kept (0: until it is replaced or deleted).
    """
    try:
        return await js.key_value(bucket)
    except BucketNotFoundError:
        config = KeyValueConfig(bucket=bucket, history=1, replicas=replicas, storage=StorageType.FILE, ttl=ttl_s or None)
        return await js.create_key_value(config)


async def watch_bucket(js: JetStreamContext, bucket: str) -> AsyncIterator[Change | None]:
    """Every key's value, then None once (caught up: the node may serve), then every
    change as it happens, until the caller stops iterating.

    An ordered consumer of the bucket's stream, as nats-py's own KV watcher, but with a
    heartbeat every WATCH_HEARTBEAT_S: the consumer lives on one NATS server, and when
    that server dies the client notices the missing heartbeats (two in a row) and
    re-creates the consumer after the last change it saw. nats-py's watcher (5 s
    heartbeats, no way to ask for others) notices far later (docs/engines/jetstream.md).
    """
    prefix = _prefix(bucket)
    sub = await js.subscribe(
        f"{prefix}>",
        stream=kv_stream(bucket),
        ordered_consumer=True,
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
        idle_heartbeat=WATCH_HEARTBEAT_S,
    )
    try:
        info = await sub.consumer_info()
        caught_up = info.num_pending == 0 and (info.delivered is None or info.delivered.consumer_seq == 0)
        if caught_up:  # an empty bucket: nothing will say "the last one" otherwise
            yield None
        async for msg in sub.messages:
            meta = msg.metadata
            gone = (msg.headers or {}).get(KV_OP) in (KV_DEL, KV_PURGE)
            yield Change(msg.subject[len(prefix) :], None if gone else msg.data, meta.sequence.stream)
            if not caught_up and meta.num_pending == 0:
                caught_up = True
                yield None
    finally:
        await sub.unsubscribe()
