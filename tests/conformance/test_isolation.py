"""One tenant never hurts another (DESIGN.md): a value one session's client sends, or a
delivery that fails, affects that message alone, never another session's publishes,
retries or expiry."""

from __future__ import annotations

import logging

import pytest

from fastport.core import Broker, Message
from fastport.core.errors import ErrorCode
from fastport.core.session import DEFAULT_MAX_REMEMBERED_IDS

from .support import Client, Elapse, Settle, differs, make_session, refused


@pytest.mark.parametrize("timestamp", [2**63, 2**64 - 1, -(2**63) - 1, 1.5, "1"])
async def test_a_timestamp_outside_int64_is_refused_and_hurts_no_neighbour(
    broker: Broker, client, settle: Settle, timestamp: object
) -> None:
    await make_session(broker, "a")
    await make_session(broker, "b")
    sub_a, sub_b = await client("a"), await client("b")
    sub_a.subscribe("t")
    sub_b.subscribe("t")
    pub_a, pub_b = await client("a"), await client("b")
    # One event-loop turn: on the sqlite store, one transaction.
    broker.publish(pub_a.conn, "t", b"x", message_id="good", timestamp_ms=123)
    broker.publish(pub_b.conn, "t", b"x", message_id="bad", timestamp_ms=timestamp)  # type: ignore[arg-type]
    good, bad = await pub_a.peer.result(), await pub_b.peer.result()
    await settle()
    assert good.error is None and good.delivered_to == 1
    assert bad.error is not None and bad.error.code is ErrorCode.INVALID_FIELD
    assert sub_a.peer.ids() == ["good"] and sub_b.peer.ids() == []


@pytest.mark.parametrize("timestamp", [2**63 - 1, -(2**63)])
async def test_int64_timestamps_are_kept(broker: Broker, client, timestamp: int) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    assert (await (await client()).publish("t", timestamp_ms=timestamp)).error is None
    assert [m.timestamp_ms for m in sub.peer.messages] == [timestamp]


class _Exploding(Client):
    """A subscriber whose door fails to encode one message (a bug in a door)."""

    def __init__(self, broker: Broker, bad_id: str) -> None:
        super().__init__(broker)
        deliver = self.peer.deliver

        def exploding(message: Message, retry: int) -> bool:
            if message.id == bad_id:
                raise ValueError("Value out of range")
            return deliver(message, retry)

        self.peer.deliver = exploding  # type: ignore[method-assign]


async def test_a_delivery_that_raises_stops_no_retries_or_expiry(
    broker: Broker, client, caplog: pytest.LogCaptureFixture, elapse: Elapse
) -> None:
    await make_session(broker, "s", retry_interval_ms=300, message_expiry_ms=1500)
    await make_session(broker, "other", retry_interval_ms=300)
    sub = await _Exploding(broker, "bad").init()
    sub.subscribe("t")
    other = await client("other")
    other.subscribe("t")
    pub, other_pub = await client(), await client("other")
    caplog.set_level(logging.ERROR, "fastport")
    bad = await pub.publish("t", message_id="bad")
    assert bad.error is None and bad.delivered_to == 1  # the publisher is answered
    assert (await pub.publish("t", message_id="good")).error is None
    assert (await other_pub.publish("t", message_id="theirs")).error is None
    assert [m.message_id for m in sub.peer.messages] == ["good"]
    failed = [r for r in caplog.records if getattr(r, "session", None) == "s"]
    assert failed and "bad" in failed[0].getMessage() and failed[0].exc_info is not None
    assert broker.stats.delivery_errors == 1
    for _ in range(3):  # re-sends go on, in this session and the other
        await elapse(300)
    assert [(m.message_id, m.retry) for m in sub.peer.messages] == [("good", 0), ("good", 1), ("good", 2), ("good", 3)]
    assert [(m.message_id, m.retry) for m in other.peer.messages][-1] == ("theirs", 3)
    assert broker.stats.delivery_errors == 4  # each failed send counts as an attempt
    # ... and expiry too: both messages of "s" expire at 1500 ms.
    await elapse(600)
    assert sorted(pub.peer.failures) == [("bad", "expired", 0), ("good", "expired", 0)]


async def test_failed_sends_use_up_the_retry_limit(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, retry_interval_ms=300, max_retry_limit=2)
    sub = await _Exploding(broker, "bad").init()
    sub.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="bad")
    for _ in range(3):
        await elapse(300)
    assert pub.peer.failures == [("bad", "retry_limit", 0)] and broker.stats.delivery_errors == 3


@differs("jetstream", "duplicate window", "test_jetstream_remembers_an_id_for_the_window_from_its_publish")
async def test_remembered_ids_are_capped_per_session_oldest_first(broker: Broker, client) -> None:
    await make_session(broker, "capped", max_remembered_ids=3)
    await make_session(broker, "other")
    assert broker.get_session("capped").max_remembered_ids == 3
    assert broker.get_session("other").max_remembered_ids == DEFAULT_MAX_REMEMBERED_IDS
    pub, other = await client("capped"), await client("other")
    for i in range(5):  # no subscriber: each is settled, and remembered, at once
        assert (await pub.publish("t", message_id=f"m{i}")).error is None
        assert (await other.publish("t", message_id=f"m{i}")).error is None
    assert not (await pub.publish("t", message_id="m0")).duplicate  # the oldest were forgotten
    assert not (await pub.publish("t", message_id="m1")).duplicate
    assert (await pub.publish("t", message_id="m4")).duplicate
    assert (await other.publish("t", message_id="m0")).duplicate  # another session keeps its own


async def test_the_cap_is_range_checked(broker: Broker) -> None:
    with refused(ErrorCode.INVALID_FIELD):
        await make_session(broker, max_remembered_ids=-1)
