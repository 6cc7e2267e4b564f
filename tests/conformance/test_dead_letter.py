"""Dead-letter topics (issue #17): a given-up delivery is published to its session's
dead-letter topic, once, with what happened; the setting and the broker's attributes."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fastport.core import Broker, Limits, ManualClock
from fastport.core.deadletter import dead_letter_id
from fastport.core.errors import ErrorCode

from ..support import eventually
from .support import Elapse, Received, Settle, differs, make_session, refused

DEAD = "dead/letters"


async def tick(elapse: Elapse, ms: int, times: int = 1) -> None:
    for _ in range(times):
        await elapse(ms)


def metadata(message: Received) -> dict[str, str]:
    return {k: v for k, v in message.attributes.items() if k.startswith("fastport-dl-")}


async def test_the_setting_is_kept_and_shown(broker: Broker) -> None:
    await make_session(broker, "on", dead_letter_topic="dead/letters")
    await make_session(broker, "off")
    assert broker.get_session("on").dead_letter_topic == "dead/letters"
    assert broker.get_session("off").dead_letter_topic == ""  # empty: off


@pytest.mark.parametrize("topic", ["dead/#", "dead/+/x", "a" * 1025, "a\x00b"])
async def test_a_dead_letter_topic_must_be_a_topic_to_publish_to(broker: Broker, topic: str) -> None:
    with refused(ErrorCode.INVALID_TOPIC):
        await make_session(broker, dead_letter_topic=topic)
    assert broker.list_sessions() == []


async def test_a_dead_letter_topic_must_be_a_string(broker: Broker) -> None:
    with refused(ErrorCode.INVALID_FIELD):
        await make_session(broker, dead_letter_topic=7)


async def test_publishers_cannot_set_the_broker_s_attributes(broker: Broker, client) -> None:
    await make_session(broker, dead_letter_topic="dead")
    pub = await client()
    for key in ("fastport-dl-reason", "fastport-anything"):
        outcome = await pub.publish("t", attributes={key: "retry_limit"})
        assert outcome.error is not None and outcome.error.code is ErrorCode.INVALID_FIELD
    assert (await pub.publish("t", attributes={"x-fastport-dl-reason": "mine"})).error is None


async def test_a_delivery_given_up_at_the_retry_limit_is_dead_lettered(
    broker: Broker, client, clock: ManualClock, elapse: Elapse, settle: Settle
) -> None:
    await make_session(broker, retry_interval_ms=500, max_retry_limit=2, dead_letter_topic=DEAD)
    silent = await client(client_id="worker-1")
    silent.subscribe("orders/#")
    acker, dlq = await client(), await client()
    acker.subscribe("orders/#")
    dlq.subscribe(DEAD)
    pub = await client()
    assert (await pub.publish("orders/new", b"payload", message_id="m1", hash="h1", timestamp_ms=42,
                              attributes={"trace": "t1"})).delivered_to == 2
    acker.ack("m1")
    await tick(elapse, 500, 3)
    await eventually(lambda: dlq.peer.messages)
    assert pub.peer.failures == [("m1", "retry_limit", 0)] and pub.peer.dead_lettered == ["m1"]
    (dead,) = dlq.peer.messages
    assert (dead.topic, dead.payload, dead.hash, dead.retry) == (DEAD, b"payload", "h1", 0)
    assert dead.message_id == dead_letter_id("m1", "worker-1") != "m1"
    assert dead.attributes["trace"] == "t1"  # the original's attributes come along
    assert metadata(dead) == {
        "fastport-dl-topic": "orders/new",
        "fastport-dl-message-id": "m1",
        "fastport-dl-reason": "retry_limit",
        "fastport-dl-attempts": "3",
        "fastport-dl-subscriber": "worker-1",
    } | {"fastport-dl-time-ms": dead.attributes["fastport-dl-time-ms"]}
    assert clock.now_ms() - 500 < int(dead.attributes["fastport-dl-time-ms"]) <= clock.now_ms()  # in the last tick
    assert broker.stats.dead_lettered == {"retry_limit": 1}
    # A dead letter is a message like any other: ACKed by its subscriber, it is settled.
    assert dlq.ack(dead.message_id)
    await settle()
    assert broker.get_session("s").pending_messages == 0


@differs("jetstream", "give-up by expiry", "test_jetstream_gives_up_an_expired_message_by_the_publishers_node")
async def test_an_expired_message_is_dead_lettered_once_per_delivery(
    broker: Broker, client, elapse: Elapse
) -> None:
    await make_session(broker, retry_interval_ms=10_000, message_expiry_ms=3000, dead_letter_topic=DEAD)
    first, second, dlq = await client(), await client(), await client()
    first.subscribe("t")
    second.subscribe("t")
    dlq.subscribe(DEAD)
    pub = await client()
    await pub.publish("t", message_id="m1")
    await tick(elapse, 3000)
    await eventually(lambda: len(dlq.peer.messages) == 2)
    assert sorted(f[:2] for f in pub.peer.failures) == [("m1", "expired"), ("m1", "expired")]
    assert pub.peer.dead_lettered == ["m1", "m1"]
    ids = {m.message_id for m in dlq.peer.messages}
    assert len(ids) == 2  # one per subscriber, told apart by its id
    assert {metadata(m)["fastport-dl-reason"] for m in dlq.peer.messages} == {"expired"}
    assert {metadata(m)["fastport-dl-subscriber"] for m in dlq.peer.messages} == {""}  # no client ids
    assert broker.stats.dead_lettered == {"expired": 2}


async def test_a_removed_subscriber_s_deliveries_are_dead_lettered(
    broker: Broker, client
) -> None:
    await make_session(broker, dead_letter_topic=DEAD)
    gone, dlq = await client(), await client()
    gone.subscribe("t")
    dlq.subscribe(DEAD)
    pub = await client()
    await pub.publish("t", message_id="m1")
    gone.disconnect()
    await eventually(lambda: dlq.peer.messages)
    assert metadata(dlq.peer.messages[0])["fastport-dl-reason"] == "subscriber_gone"
    assert pub.peer.dead_lettered == ["m1"]


async def test_a_dead_letter_given_up_is_dropped_with_a_log_line_not_looped(
    broker: Broker, client, elapse: Elapse, caplog: pytest.LogCaptureFixture
) -> None:
    await make_session(broker, retry_interval_ms=300, max_retry_limit=1, dead_letter_topic=DEAD)
    everything = await client()  # gets the message and its dead letter, ACKs neither
    everything.subscribe("#")
    pub = await client()
    await pub.publish("t", message_id="m1")
    caplog.set_level(logging.INFO, "fastport.broker")
    await tick(elapse, 300, 2)
    await eventually(lambda: len(everything.peer.messages) == 3)  # m1, its re-send, its dead letter
    await tick(elapse, 1000)  # the next give-up log line may come a second after the last
    await tick(elapse, 300, 4)
    assert [m.topic for m in everything.peer.messages] == ["t", "t", DEAD, DEAD]
    assert broker.stats.gave_up == {"retry_limit": 2} and broker.stats.dead_lettered == {"retry_limit": 1}
    assert broker.get_session("s").pending_messages == 0
    lines = [r.getMessage() for r in caplog.records if "given up" in r.getMessage()]
    assert lines == [
        f"delivery of 'm1' on 't' given up (retry_limit), dead-lettered to {DEAD!r}",
        f"delivery of {everything.peer.messages[2].message_id!r} on {DEAD!r} given up (retry_limit),"
        " a dead letter: dropped",
    ]


async def test_without_a_dead_letter_topic_a_give_up_is_only_reported(
    broker: Broker, client, elapse: Elapse
) -> None:
    await make_session(broker, retry_interval_ms=300, max_retry_limit=1)
    sub, everything = await client(), await client()
    sub.subscribe("t")
    everything.subscribe("#")
    pub = await client()
    await pub.publish("t", message_id="m1")
    everything.ack("m1")
    await tick(elapse, 300, 3)
    await asyncio.sleep(0.01)
    assert pub.peer.failures == [("m1", "retry_limit", 0)] and pub.peer.dead_lettered == []
    assert everything.peer.ids() == ["m1"] and broker.get_session("s").pending_messages == 0


async def test_a_suspended_session_still_dead_letters(
    broker: Broker, client, elapse: Elapse
) -> None:
    await make_session(broker, retry_interval_ms=300, max_retry_limit=1, dead_letter_topic=DEAD)
    sub, dlq = await client(), await client()
    sub.subscribe("t")
    dlq.subscribe(DEAD)
    pub = await client()
    await pub.publish("t", message_id="m1")
    await broker.set_suspended("s", True)  # the delivery was made before: it is reported
    await tick(elapse, 300, 2)
    await eventually(lambda: dlq.peer.messages)
    assert metadata(dlq.peer.messages[0])["fastport-dl-message-id"] == "m1"
    assert pub.peer.dead_lettered == ["m1"]


@differs("jetstream", "a dead letter to a full session", "test_jetstream_reports_a_dead_letter_a_full_session_refuses_as_sent")
async def test_a_full_session_drops_the_dead_letter_with_a_log_line(
    broker: Broker, client, elapse: Elapse, caplog: pytest.LogCaptureFixture
) -> None:
    await make_session(broker, retry_interval_ms=500, max_retry_limit=1, dead_letter_topic=DEAD,
                       limits=Limits(max_pending_messages=1))
    sub, dlq = await client(), await client()
    sub.subscribe("t")
    dlq.subscribe(DEAD)
    pub = await client()
    broker.publish(pub.conn, "t", b"p", message_id="m1")  # the session is full with it
    await eventually(lambda: sub.peer.messages)
    await tick(elapse, 500, 2)
    await asyncio.sleep(0.01)
    assert pub.peer.failures == [("m1", "retry_limit", 0)] and pub.peer.dead_lettered == []
    assert dlq.peer.messages == [] and broker.stats.dead_lettered == {}
    assert "dead letter of 'm1' on 't' dropped: Session holds its maximum" in caplog.text


async def test_a_session_dropped_or_expired_after_dead_lettering_starts_afresh(
    broker: Broker, client, elapse: Elapse
) -> None:
    """The node's own publisher of a session's dead letters goes with the session; a
    session made again under the same name dead-letters through a new one."""
    for ending in ("dropped", "expired"):
        await make_session(broker, retry_interval_ms=300, max_retry_limit=1, dead_letter_topic=DEAD,
                           session_expiry_ms=2000)
        sub, dlq = await client(), await client()
        sub.subscribe("t")
        dlq.subscribe(DEAD)
        pub = await client()
        await pub.publish("t", message_id=ending)
        await tick(elapse, 300, 2)
        await eventually(lambda: dlq.peer.messages)
        assert metadata(dlq.peer.messages[0])["fastport-dl-message-id"] == ending
        if ending == "dropped":
            await broker.drop_session("s")
        else:
            await tick(elapse, 1400)
        assert broker.list_sessions() == [] and dlq.peer.closed is not None
    assert broker.stats.dead_lettered == {"retry_limit": 2}
