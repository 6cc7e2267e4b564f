"""Streams and consumers made from a session's record (engines/jetstream/streams.py) on a
real nats-server 2.9: the JetStream behaviours the engine relies on, through the
engine's own configurations."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import Header, PubAck, RetentionPolicy
from nats.js.errors import NotFoundError, ServiceUnavailableError

from fastport.core import BrokerError, ErrorCode
from fastport.core.session import Limits, SessionRecord
from fastport.engines.jetstream.streams import (
    consumer_config,
    durable_name,
    max_deliveries_advisory,
    stream_config,
    stream_name,
)
from fastport.engines.jetstream.subjects import MAX_SUBJECT_BYTES, SessionSubjects

from .support import WAIT_S, connect, jetstream, record, until_answered
from .servers import NatsCluster

DEDUP_MS = 60_000


async def open_session(js: JetStreamContext, r: SessionRecord, replicas: int = 1) -> SessionSubjects:
    await js.add_stream(stream_config(r, DEDUP_MS, replicas))
    return SessionSubjects.of(r.name)


async def subscribe(
    nc: Client, r: SessionRecord, pattern: str, durable: str | None = None, inactive_s: float = 30.0
) -> Subscription:
    """What a node does for one subscription: listen on a subject of its own, then
    create the consumer that pushes there."""
    sub = await nc.subscribe(nc.new_inbox())
    await jetstream(nc).add_consumer(
        stream_name(r.name), consumer_config(r, pattern, sub.subject, durable=durable, inactive_s=inactive_s)
    )
    return sub


async def publish(js: JetStreamContext, subjects: SessionSubjects, topic: str, msg_id: str, data: bytes = b"") -> PubAck:
    return await js.publish(subjects.topic(topic), data, headers={Header.MSG_ID: msg_id})


async def stored(js: JetStreamContext, r: SessionRecord) -> int:
    return (await js.stream_info(stream_name(r.name))).state.messages


async def next_msg(sub: Subscription) -> Msg:
    return await sub.next_msg(timeout=WAIT_S)


async def test_the_stream_keeps_the_sessions_settings(nc: Client) -> None:
    js = jetstream(nc)
    r = record("settings", message_expiry_ms=0)
    await open_session(js, r)
    config = (await js.stream_info(stream_name(r.name))).config
    assert config.retention == RetentionPolicy.INTEREST
    assert config.duplicate_window == DEDUP_MS / 1000
    assert config.max_age == 0 and config.max_msgs == r.limits.max_pending_messages
    assert config.max_bytes == r.limits.resolved().max_pending_bytes  # 0: the default
    assert config.description == r.name
    short = record("short expiry", message_expiry_ms=2_000)
    await open_session(js, short)
    config = (await js.stream_info(stream_name(short.name))).config
    assert config.max_age == 2.0 and config.duplicate_window == 2.0


async def test_a_republished_message_id_is_stored_and_delivered_once(nc: Client) -> None:
    js = jetstream(nc)
    r = record("dedup")
    subjects = await open_session(js, r)
    sub = await subscribe(nc, r, "t")
    first = await publish(js, subjects, "t", "id é 1", b"one")
    again = await publish(js, subjects, "t", "id é 1", b"one")
    other = await publish(js, subjects, "t", "id é 2", b"two")
    assert not first.duplicate and again.duplicate and again.seq == first.seq
    assert other.seq == first.seq + 1
    received = [await next_msg(sub), await next_msg(sub)]
    assert [m.data for m in received] == [b"one", b"two"]
    assert [m.headers and m.headers[Header.MSG_ID] for m in received] == ["id é 1", "id é 2"]


@pytest.mark.parametrize(
    ("limit", "refusal"),
    [({"max_pending_messages": 2}, "maximum messages exceeded"), ({"max_pending_bytes": 2500}, "maximum bytes exceeded")],
)
async def test_a_session_past_its_pending_limits_refuses_publishes(
    nc: Client, limit: dict[str, int], refusal: str
) -> None:
    js = jetstream(nc)
    r = record("limit", limits=dataclasses.replace(record("limit").limits, **limit))
    subjects = await open_session(js, r)
    await subscribe(nc, r, "t")
    for i in range(2):
        await publish(js, subjects, "t", f"m{i}", b"p" * 1000)
    with pytest.raises(ServiceUnavailableError, match=refusal):
        await publish(js, subjects, "t", "m2", b"p" * 1000)


async def test_at_most_the_in_flight_limit_is_outstanding_to_a_subscriber(nc: Client) -> None:
    js = jetstream(nc)
    r = record("in flight", retry_interval_ms=60_000, limits=dataclasses.replace(record("x").limits, max_in_flight=2))
    subjects = await open_session(js, r)
    sub = await subscribe(nc, r, "t")
    for i in range(3):
        await publish(js, subjects, "t", f"m{i}")
    first, second = await next_msg(sub), await next_msg(sub)
    consumer = first.metadata.consumer or ""
    deadline = time.monotonic() + WAIT_S
    while (info := await js.consumer_info(stream_name(r.name), consumer)).num_ack_pending < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    assert info.num_pending == 1 and sub.pending_msgs == 0  # the third waits on the server
    await first.ack_sync()
    third = await next_msg(sub)
    assert third.data == b"" and third.metadata.sequence.stream == second.metadata.sequence.stream + 1
    assert third.metadata.num_delivered == 1


async def test_an_unacked_delivery_is_resent_after_the_retry_interval_with_its_count(nc: Client) -> None:
    js = jetstream(nc)
    r = record("resend", retry_interval_ms=200, max_retry_limit=5)
    subjects = await open_session(js, r)
    sub = await subscribe(nc, r, "t")
    await publish(js, subjects, "t", "m1")
    first = await next_msg(sub)
    resent = await next_msg(sub)
    assert first.metadata.num_delivered == 1 and resent.metadata.num_delivered == 2  # re-send counter + 1
    assert resent.metadata.sequence.stream == first.metadata.sequence.stream
    await resent.ack_sync()
    assert await stored(js, r) == 0


async def test_the_retry_limit_gives_up_with_an_advisory(nc: Client) -> None:
    js = jetstream(nc)
    r = record("give up", retry_interval_ms=100, max_retry_limit=1)
    subjects = await open_session(js, r)
    advisories = await nc.subscribe(max_deliveries_advisory(stream_name(r.name)))
    sub = await subscribe(nc, r, "t")
    ack = await publish(js, subjects, "t", "m1")
    deliveries = [await next_msg(sub), await next_msg(sub)]  # the delivery and one re-send
    assert [m.metadata.num_delivered for m in deliveries] == [1, 2]
    advisory = json.loads((await next_msg(advisories)).data)
    assert advisory["stream_seq"] == ack.seq and advisory["deliveries"] == 2
    assert advisory["consumer"] == deliveries[0].metadata.consumer
    # On 2.9 the message stays stored after the give-up (interest retention counts it
    # unacknowledged): the engine acks (or terms) it once it has told the publisher.
    assert await stored(js, r) == 1
    await deliveries[-1].ack_sync()
    assert await stored(js, r) == 0


async def test_a_message_goes_once_every_matching_subscription_has_acked_it(nc: Client) -> None:
    js = jetstream(nc)
    r = record("interest")
    subjects = await open_session(js, r)
    one, hash_, _unmatched = [await subscribe(nc, r, p) for p in ("a/+", "a/#", "b")]
    await publish(js, subjects, "a/x", "m1")
    await (await next_msg(one)).ack_sync()
    assert await stored(js, r) == 1
    await (await next_msg(hash_)).ack_sync()
    assert await stored(js, r) == 0


async def test_a_consumer_receives_exactly_its_patterns_topics(nc: Client) -> None:
    js = jetstream(nc)
    r = record("filter")
    subjects = await open_session(js, r)
    sub = await subscribe(nc, r, "a/#")
    for i, topic in enumerate(["a", "ab", "b/a", "a/b/c", "a/"]):
        await publish(js, subjects, topic, f"m{i}")
    received = [await next_msg(sub) for _ in range(3)]
    assert [subjects.topic_of(m.subject) for m in received] == ["a", "a/b/c", "a/"]
    for m in received:
        await m.ack_sync()
    info = await js.consumer_info(stream_name(r.name), received[0].metadata.consumer or "")
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_the_longest_subject_is_published_and_delivered(nc: Client) -> None:
    """A 4-byte-character topic whose subject is exactly MAX_SUBJECT_BYTES, with a
    payload as large as the server takes (as many size digits as can be), goes through
    and the connection stays up."""
    js = jetstream(nc)
    r = record("long")
    subjects = await open_session(js, r)
    room = MAX_SUBJECT_BYTES - len(subjects.topic("x").encode()) + 1
    topic = "\U0001f600" * (room // 4) + "x" * (room % 4)
    assert len(subjects.topic(topic).encode()) == MAX_SUBJECT_BYTES
    with pytest.raises(BrokerError) as err:
        subjects.topic(topic + "x")
    assert err.value.code == ErrorCode.INVALID_TOPIC
    sub = await subscribe(nc, r, "#")
    payload = b"p" * (nc.max_payload - 1024)  # headers count too: leave them room
    await publish(js, subjects, topic, "m" * 256, payload)
    msg = await next_msg(sub)
    assert subjects.topic_of(msg.subject) == topic and msg.data == payload
    await msg.ack_sync()
    assert nc.is_connected


async def test_an_ephemeral_consumer_nobody_listens_to_is_deleted_and_frees_its_messages(nc: Client) -> None:
    js = jetstream(nc)
    r = record("ephemeral", retry_interval_ms=60_000)
    subjects = await open_session(js, r)
    sub = await subscribe(nc, r, "t", inactive_s=0.5)
    await publish(js, subjects, "t", "m1")
    consumer = (await next_msg(sub)).metadata.consumer or ""
    assert await stored(js, r) == 1
    await sub.unsubscribe()  # the node that held it is gone
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            await js.consumer_info(stream_name(r.name), consumer)
        except NotFoundError:
            break
        assert time.monotonic() < deadline, "the ephemeral consumer was not deleted"
        await asyncio.sleep(0.1)
    assert await stored(js, r) == 0


async def test_a_durable_subscriber_gets_what_was_published_while_away_on_another_node(nc: Client) -> None:
    """Offline time uses up no re-sends, and the consumer follows the subscriber to the
    subject of the node it reconnects to."""
    js = jetstream(nc)
    r = record("durable", retry_interval_ms=100)
    subjects = await open_session(js, r)
    name = durable_name("client 1", "t/#")
    on_a = await subscribe(nc, r, "t/#", durable=name)
    await publish(js, subjects, "t/1", "m1")
    await (await next_msg(on_a)).ack_sync()
    await on_a.unsubscribe()  # disconnected
    for i in (2, 3):
        await publish(js, subjects, f"t/{i}", f"m{i}")
    await asyncio.sleep(0.5)  # five retry intervals with nobody listening
    on_b = await subscribe(nc, r, "t/#", durable=name)
    received = [await next_msg(on_b), await next_msg(on_b)]
    assert [subjects.topic_of(m.subject) for m in received] == ["t/2", "t/3"]
    assert [m.metadata.num_delivered for m in received] == [1, 1]
    assert (await js.consumer_info(stream_name(r.name), name)).config.deliver_subject == on_b.subject


@pytest.mark.timeout(120)  # elections and a node's restart on a machine busy with other runs
async def test_three_replicas_lose_no_confirmed_message_when_a_node_is_killed(nats_cluster: NatsCluster) -> None:
    nc = await connect(*nats_cluster.urls)
    try:
        js, impatient = jetstream(nc), jetstream(nc, timeout=1)
        r = record("replicated", retry_interval_ms=1_000, limits=Limits())
        subjects = await open_session(js, r, replicas=3)
        name = durable_name("survivor", "#")
        await js.add_consumer(stream_name(r.name), consumer_config(r, "#", nc.new_inbox(), durable=name))

        async def confirmed(msg_id: str) -> int:
            ack = await until_answered(lambda: publish(impatient, subjects, "k", msg_id))
            return ack.seq

        sent = [await confirmed(f"before {i}") for i in range(20)]
        leader = (await js.stream_info(stream_name(r.name))).cluster
        assert leader is not None and leader.leader is not None
        killed = next(i for i, n in enumerate(nats_cluster.nodes) if n.name == leader.leader)
        nats_cluster.kill(killed)
        try:
            sent += [await confirmed(f"after {i}") for i in range(20)]
            sub = await nc.subscribe(nc.new_inbox())
            config = consumer_config(r, "#", sub.subject, durable=name)
            await until_answered(lambda: impatient.add_consumer(stream_name(r.name), config))
            seqs: set[int] = set()
            while len(seqs) < len(set(sent)):
                msg = await next_msg(sub)
                seqs.add(msg.metadata.sequence.stream)
                await msg.ack()
            assert seqs == set(sent)
        finally:
            nats_cluster.restart(killed)
    finally:
        await nc.close()
