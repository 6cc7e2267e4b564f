"""A session's stream and its subscriptions' consumers, derived from the session's record.

One stream per session holds the session's pending messages:

- interest retention: a message stays while a consumer that matched it has not acked
  it, and goes once every one has — fastport's "removed when all deliveries are
  settled";
- the duplicate window is the broker's de-duplication window, publishers' message ids
  travel as ``Nats-Msg-Id``, so a re-published id is stored once (the PubAck says
  ``duplicate``);
- max age is the session's message expiry (0: never);
- at most ``max_pending_messages`` messages and ``max_pending_bytes`` bytes, further
  publishes refused (discard new);
- file storage, 1 or 3 replicas (``--nats-replicas``).

One consumer per subscription (subscriber and pattern; nats-server 2.9 takes one filter
subject per consumer), pushing to a subject the subscriber's node listens on:
AckWait is the session's retry interval, MaxDeliver its retry limit + 1 (the first
delivery is not a re-send) and MaxAckPending its in-flight limit (deliveries past it
wait on the server, in order, uncounted). A persistent subscriber (client id + persistent) gets a
durable consumer named after its client id and pattern, which keeps collecting messages
while no node listens for it; a connection-bound one gets an ephemeral consumer that
the server deletes once no node has listened to it for ``inactive_s`` — normally the
node deletes it when the connection ends, the threshold covers a node that died.
Both start with messages published from now on (deliver policy new), as fastport
delivers only to subscriptions that exist when a message is published.
"""

from __future__ import annotations

from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from ...core.session import DEFAULT_MAX_RETRY_LIMIT, DEFAULT_RETRY_INTERVAL_MS, SessionRecord
from .subjects import ROOT, SessionSubjects, name_token

EPHEMERAL_INACTIVE_S = 30.0


def stream_name(session_name: str) -> str:
    return f"{ROOT}_{name_token(session_name)}"


def durable_name(client_id: str, pattern: str) -> str:
    """The consumer of one pattern of a persistent subscriber: found again by any node
    the subscriber reconnects to. NUL joins the two: neither a client id (printable)
    nor a pattern (refused) contains one."""
    return f"d_{name_token(client_id + chr(0) + pattern)}"


def max_deliveries_advisory(stream: str) -> str:
    """Where the server says a message reached a consumer's MaxDeliver without an ack,
    for every consumer of the stream (the advisory names its consumer): fastport's
    give-up by retry limit."""
    return f"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream}.*"


def stream_config(record: SessionRecord, dedup_window_ms: int, replicas: int) -> StreamConfig:
    limits = record.limits.resolved()
    max_age_s = record.message_expiry_ms / 1000
    # The server refuses a duplicate window longer than max age: past its expiry a
    # message is gone, and so is any use in recognising its id.
    window_s = dedup_window_ms / 1000 if not max_age_s else min(dedup_window_ms / 1000, max_age_s)
    return StreamConfig(
        name=stream_name(record.name),
        description=record.name,
        subjects=[SessionSubjects.of(record.name).stream_subject],
        retention=RetentionPolicy.INTEREST,
        storage=StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=window_s,
        max_age=max_age_s,
        max_msgs=limits.max_pending_messages,
        # Stored bytes count each message's subject and headers too: a little
        # stricter than fastport's payload bytes.
        max_bytes=limits.max_pending_bytes,
        discard=DiscardPolicy.NEW,
    )


def consumer_config(
    record: SessionRecord,
    pattern: str,
    deliver_subject: str,
    durable: str | None = None,
    inactive_s: float = EPHEMERAL_INACTIVE_S,
) -> ConsumerConfig:
    """The consumer of one subscription: durable under ``durable`` (see ``durable_name``),
    else ephemeral (the server names it).

    The name goes in ``durable_name``, never ``name``: with ``name`` nats-py asks the
    server with the filter subject inside the request subject, putting a long filter
    on a protocol line (see subjects.py on line length); this way it stays in the body.
    """
    retry_interval_ms = record.retry_interval_ms or DEFAULT_RETRY_INTERVAL_MS
    return ConsumerConfig(
        durable_name=durable,
        description=pattern,
        filter_subject=SessionSubjects.of(record.name).filter(pattern),
        deliver_subject=deliver_subject,
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=retry_interval_ms / 1000,
        max_deliver=(record.max_retry_limit or DEFAULT_MAX_RETRY_LIMIT) + 1,
        max_ack_pending=record.limits.resolved().max_in_flight,
        inactive_threshold=None if durable else inactive_s,
    )
