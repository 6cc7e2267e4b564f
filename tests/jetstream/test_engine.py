"""The jetstream engine behind the Broker API, on a real nats-server: two nodes (two
Brokers, each with its own engine and NATS connection) in one process, clients with
recording peers. Re-sends are JetStream's, in real time: retry intervals here are
short, and every wait is for an event, guarded by WAIT_S."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from fastport.core import Broker, BrokerConfig, Limits, deadletter
from fastport.core.errors import CloseReason, ErrorCode
from fastport.engines.jetstream.engine import JetStreamEngine

from ..conformance.support import Client, make_session, refused
from .support import connect, eventually, jetstream, link_options
from .servers import NatsServer, wait_ready


@pytest.fixture
async def nodes(nats_server: NatsServer) -> AsyncIterator[list[Broker]]:
    """Two fastport nodes on one NATS server."""
    brokers = [Broker(JetStreamEngine(link_options(nats_server.url)), config=BrokerConfig(max_payload_bytes=1024)) for _ in range(2)]
    for broker in brokers:
        await broker.start()
    yield brokers
    for broker in brokers:
        await broker.stop()



async def session_everywhere(nodes: list[Broker], name: str = "s", **settings: object) -> None:
    await make_session(nodes[0], name, **settings)
    await eventually(lambda: all(name in n.sessions for n in nodes))


async def client(broker: Broker, client_id: str | None = None, session: str = "s") -> Client:
    return await Client(broker).init(session, "pw", client_id)


async def subscribed(nodes: list[Broker], c: Client, pattern: str, persistent: bool = False) -> None:
    """Subscribe and wait until every node counts the subscription (a publish on another
    node before that may not reach it: the README's engine table)."""
    c.subscribe(pattern, persistent)
    await eventually(lambda: all(s.consumer is not None for s in c.conn.subscriber.subscriptions.values()))
    mine = c.broker.load("s").subscriptions
    await eventually(lambda: all(n.load("s").subscriptions == mine for n in nodes))


async def subscriber_on_b_publisher_on_a(nodes: list[Broker], **settings: object) -> tuple[Client, Client]:
    """Session s on both nodes; a subscriber of topic t on node B, a publisher on node A."""
    a, b = nodes
    await session_everywhere(nodes, **settings)
    sub = await client(b)
    await subscribed(nodes, sub, "t")
    return sub, await client(a)


async def test_a_message_published_on_one_node_reaches_subscribers_on_both(nodes: list[Broker]) -> None:
    a, b = nodes
    await session_everywhere(nodes)
    on_b, on_a = await client(b), await client(a)
    await subscribed(nodes, on_b, "t/+")
    await subscribed(nodes, on_a, "t/#")
    pub = await client(a)
    outcome = await pub.publish("t/x", b"hello", message_id="m1", hash="h", timestamp_ms=123, attributes={"k": "v"})
    assert outcome.error is None and outcome.delivered_to == 2 and not outcome.duplicate
    for sub in (on_a, on_b):
        await eventually(lambda sub=sub: len(sub.peer.messages) == 1)  # type: ignore[misc]
        got = sub.peer.messages[0]
        assert (got.topic, got.message_id, got.payload, got.retry) == ("t/x", "m1", b"hello", 0)
        assert (got.hash, got.timestamp_ms, got.attributes) == ("h", 123, {"k": "v"})
    assert on_b.ack("m1")
    await eventually(lambda: pub.peer.acks == [("m1", 1)])  # from node B, through NATS
    assert not on_b.ack("m1")
    assert on_a.ack("m1")
    assert pub.peer.acks == [("m1", 1), ("m1", 0)]  # the same node: at once


async def test_the_publisher_itself_is_skipped_and_a_duplicate_gets_the_first_result(nodes: list[Broker]) -> None:
    sub, pub = await subscriber_on_b_publisher_on_a(nodes)
    await subscribed(nodes, pub, "t")
    first = await pub.publish("t", message_id="m1")
    again = await pub.publish("t", message_id="m1")
    assert (first.delivered_to, first.duplicate) == (1, False)
    assert (again.delivered_to, again.duplicate) == (1, True)
    await eventually(lambda: sub.peer.ids() == ["m1"])
    await asyncio.sleep(0.2)
    assert pub.peer.messages == [] and sub.peer.ids() == ["m1"]


async def test_an_unacked_delivery_is_resent_then_given_up_and_the_publisher_told(nodes: list[Broker]) -> None:
    sub, pub = await subscriber_on_b_publisher_on_a(nodes, retry_interval_ms=300, max_retry_limit=1)
    await pub.publish("t", message_id="m1")
    await eventually(lambda: pub.peer.failures == [("m1", "retry_limit", 0)])
    assert [(m.message_id, m.retry) for m in sub.peer.messages] == [("m1", 0), ("m1", 1)]
    assert not sub.ack("m1")  # too late


async def test_a_persistent_subscriber_gets_what_was_published_while_it_was_away(nodes: list[Broker]) -> None:
    a, b = nodes
    await session_everywhere(nodes)
    away = await client(b, client_id="c é")
    await subscribed(nodes, away, "t/#", persistent=True)
    away.disconnect()
    pub = await client(a)
    for i in range(3):
        assert (await pub.publish(f"t/{i}", message_id=f"m{i}")).delivered_to == 1  # counted while away
    back = await client(a, client_id="c é")  # on the other node
    await eventually(lambda: back.peer.ids() == ["m0", "m1", "m2"])
    assert [m.retry for m in back.peer.messages] == [0, 0, 0]
    for i in range(3):
        assert back.ack(f"m{i}")
    assert pub.peer.acks == [("m0", 0), ("m1", 0), ("m2", 0)]


async def test_session_admin_on_one_node_takes_effect_on_the_other(nodes: list[Broker]) -> None:
    a, b = nodes
    await session_everywhere(nodes)
    on_a = await client(a)
    await b.set_suspended("s", True)
    await eventually(lambda: a.sessions["s"].suspended)
    on_a.broker.publish(on_a.conn, "t", b"x", message_id="m1")
    refused = await on_a.peer.result()
    assert refused.error is not None and refused.error.code is ErrorCode.SESSION_SUSPENDED
    await b.set_suspended("s", False)
    await eventually(lambda: not a.sessions["s"].suspended)
    await b.drop_session("s")
    await eventually(lambda: on_a.peer.closed is not None)
    assert on_a.peer.closed is not None and on_a.peer.closed[0] is CloseReason.SESSION_DROPPED
    assert "s" not in a.sessions


async def test_publishes_are_refused_with_unavailable_while_nats_is_down(nodes: list[Broker], nats_server: NatsServer) -> None:
    a, _ = nodes
    await session_everywhere(nodes)
    pub = await client(a)
    nats_server.kill()
    await eventually(lambda: not a.ready())
    outcome = await pub.publish("t", message_id="m1")
    assert outcome.error is not None and outcome.error.code is ErrorCode.UNAVAILABLE


async def test_a_consumer_lost_while_away_from_nats_is_made_again(nodes: list[Broker], nats_server: NatsServer) -> None:
    """A node cut off from NATS for longer than the inactivity threshold finds its
    connection-bound consumers deleted by the servers when it is back: it makes them
    again, so its subscribers go on receiving. (Here the consumer is deleted by hand
    and the node cut off by restarting the server.)"""
    a, b = nodes
    await session_everywhere(nodes)
    sub = await client(b)
    await subscribed(nodes, sub, "t")
    consumer = sub.conn.subscriber.subscriptions["t"].consumer
    nc = await connect(nats_server.url)
    await jetstream(nc).delete_consumer(consumer.stream, consumer.name)
    await nc.close()
    nats_server.kill()
    await eventually(lambda: not b.ready())
    nats_server.start()
    wait_ready([nats_server])
    await eventually(lambda: sub.conn.subscriber.subscriptions["t"].consumer not in (None, consumer))
    await eventually(lambda: a.load("s").subscriptions == 1)
    pub = await client(a)
    assert (await pub.publish("t", message_id="m1")).delivered_to == 1
    await eventually(lambda: sub.peer.ids() == ["m1"])


async def test_nack_resends_at_once_as_a_resend(nodes: list[Broker]) -> None:
    sub, pub = await subscriber_on_b_publisher_on_a(nodes, retry_interval_ms=60_000)
    await pub.publish("t", message_id="m1")
    await eventually(lambda: len(sub.peer.messages) == 1)
    assert sub.nack("m1") and not sub.nack("other")
    await eventually(lambda: [(m.message_id, m.retry) for m in sub.peer.messages] == [("m1", 0), ("m1", 1)])
    assert sub.ack("m1")
    await eventually(lambda: pub.peer.acks == [("m1", 0)])


async def test_one_subscriber_with_overlapping_patterns_gets_one_delivery(nodes: list[Broker]) -> None:
    a, b = nodes
    await session_everywhere(nodes)
    sub = await client(b)
    await subscribed(nodes, sub, "t/#")
    await subscribed(nodes, sub, "t/+")
    pub = await client(a)
    assert (await pub.publish("t/x", message_id="m1")).delivered_to == 1
    await eventually(lambda: sub.peer.ids() == ["m1"])
    assert sub.ack("m1")
    await eventually(lambda: pub.peer.acks == [("m1", 0)])
    await eventually(lambda: a.load("s").pending_messages == 0)  # both JetStream copies acked


async def test_a_subscriber_that_leaves_gives_up_what_it_was_sent(nodes: list[Broker]) -> None:
    sub, pub = await subscriber_on_b_publisher_on_a(nodes, retry_interval_ms=60_000)
    await pub.publish("t", message_id="m1")
    await eventually(lambda: len(sub.peer.messages) == 1)
    sub.disconnect()
    await eventually(lambda: pub.peer.failures == [("m1", "subscriber_gone", 0)])


async def test_a_message_past_its_expiry_is_given_up_by_the_publishers_node(nodes: list[Broker]) -> None:
    sub, pub = await subscriber_on_b_publisher_on_a(nodes, retry_interval_ms=60_000, message_expiry_ms=300)
    await pub.publish("t", message_id="m1")
    await eventually(lambda: pub.peer.failures == [("m1", "expired", 0)])
    assert sub.peer.ids() == ["m1"]


async def test_the_subscription_limit_counts_every_nodes_subscriptions(nodes: list[Broker]) -> None:
    a, b = nodes
    await session_everywhere(nodes, limits=Limits(max_subscriptions=1))
    on_a, on_b = await client(a), await client(b)
    await subscribed(nodes, on_a, "t")
    with refused(ErrorCode.LIMIT_EXCEEDED):
        on_b.subscribe("u")


async def test_a_delivery_given_up_on_one_node_is_dead_lettered_and_the_publisher_told(nodes: list[Broker]) -> None:
    a, _ = nodes
    settings = {"retry_interval_ms": 300, "max_retry_limit": 1, "dead_letter_topic": "dead"}
    sub, pub = await subscriber_on_b_publisher_on_a(nodes, **settings)
    dead = await client(a)
    await subscribed(nodes, dead, "dead")
    await pub.publish("t", b"lost", message_id="m1")
    await eventually(lambda: pub.peer.failures == [("m1", "retry_limit", 0)])
    assert pub.peer.dead_lettered == ["m1"]
    await eventually(lambda: len(dead.peer.messages) == 1)  # published by node B, delivered on node A
    letter = dead.peer.messages[0]
    assert (letter.topic, letter.payload) == ("dead", b"lost")
    assert letter.attributes[deadletter.REASON] == "retry_limit"
