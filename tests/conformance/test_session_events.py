"""What the core counts and logs about a session: the counters the admin portal samples,
and the log lines (with ``session`` and ``peer`` attributes) the ``sys/logs`` stream
routes."""

from __future__ import annotations

import logging

import pytest

from fastport.core import Broker, Connection, Limits, ManualClock
from fastport.core.errors import ErrorCode

from .support import Elapse, RecordingPeer, make_session, refused


def _lines(caplog: pytest.LogCaptureFixture, session: str) -> list[tuple[str, str, str]]:
    """(level, message, peer) of the captured lines about ``session``."""
    return [
        (r.levelname, r.getMessage(), r.peer)  # type: ignore[attr-defined]
        for r in caplog.records
        if getattr(r, "session", None) == session
    ]


async def test_counters_per_session_and_in_total(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, "a", retry_interval_ms=300, max_retry_limit=1)
    await make_session(broker, "b")
    sub = await client("a")
    sub.subscribe("t")
    pub = await client("a")
    await pub.publish("t", message_id="m1")
    await pub.publish("t", message_id="m1")  # a duplicate is not counted again
    await pub.publish("t", message_id="m2")
    sub.ack("m1")
    await elapse(300)  # m2 re-sent
    await elapse(300)  # m2 given up
    counters = broker.get_session("a").counters
    assert (counters.published, counters.delivered, counters.acked, counters.given_up) == (2, 3, 1, 1)
    other = await client("b")
    await other.publish("x")
    assert broker.get_session("b").counters.published == 1
    assert broker.get_session("a").counters.published == 2
    await broker.drop_session("b")
    total = broker.totals()
    assert (total.published, total.delivered, total.acked, total.given_up) == (3, 3, 1, 1)


async def test_a_full_subscriber_is_not_counted_as_delivered(broker: Broker, client) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    sub.peer.full = True
    await (await client()).publish("t")
    assert broker.get_session("s").counters.delivered == 0


async def test_session_lines_carry_session_and_peer(
    broker: Broker, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fastport")
    await make_session(broker, "s", limits=Limits(max_subscriptions=1))
    conn = broker.connect(RecordingPeer(), "10.0.0.7:5555")
    with refused(ErrorCode.INVALID_PASSWORD):
        await broker.init(conn, "s", "wrong")
    await broker.init(conn, "s", "pw")
    broker.subscribe(conn, "a")
    with refused(ErrorCode.LIMIT_EXCEEDED):
        broker.subscribe(conn, "b")
    await broker.set_suspended("s", True)
    clock.advance(1000)
    broker.publish(conn, "a", b"x")
    broker.disconnect(conn)
    lines = _lines(caplog, "s")
    peer = "10.0.0.7:5555"
    assert ("WARNING", "authentication failed: Invalid password", peer) in lines
    assert ("INFO", "connected", peer) in lines
    assert ("INFO", "subscribe to 'b' refused: Session has its maximum of 1 subscriptions", peer) in lines
    assert ("INFO", "publish to 'a' refused: Session suspended or invalid", peer) in lines
    assert lines[-1] == ("INFO", "disconnected", peer)


async def test_give_ups_and_take_overs_are_logged(broker: Broker, client, elapse: Elapse, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fastport")
    await make_session(broker, retry_interval_ms=300, max_retry_limit=1)
    sub = Connection(RecordingPeer(), "10.0.0.8:1")
    await broker.init(sub, "s", "pw", client_id="c1")
    broker.subscribe(sub, "t")
    await (await client()).publish("t", message_id="m1")
    for _ in range(2):  # re-sent once, then given up
        await elapse(300)
    again = broker.connect(RecordingPeer(), "10.0.0.8:2")
    await broker.init(again, "s", "pw", client_id="c1")
    lines = _lines(caplog, "s")
    assert ("INFO", "delivery of 'm1' on 't' given up (retry_limit)", "10.0.0.8:1") in lines
    assert ("INFO", "client id 'c1' taken over, the older connection closed", "10.0.0.8:1") in lines
    assert ("INFO", "connected as client id 'c1'", "10.0.0.8:2") in lines


async def test_refusals_are_logged_once_a_second_per_session(broker: Broker, client, clock, caplog) -> None:
    caplog.set_level(logging.INFO, logger="fastport")
    await make_session(broker)
    pub = await client()
    await broker.set_suspended("s", True)
    for _ in range(3):
        await pub.publish("t")
    clock.advance(999)
    await pub.publish("t")
    clock.advance(1)
    await pub.publish("t")
    refusals = [message for _, message, _ in _lines(caplog, "s") if "refused" in message]
    assert refusals == [
        "publish to 't' refused: Session suspended or invalid",
        "publish to 't' refused: Session suspended or invalid (and 3 more refusals not logged)",
    ]


async def test_give_ups_are_logged_once_a_second_per_session(broker: Broker, client, clock, caplog) -> None:
    """A subscriber that leaves with many deliveries pending has each given up: one
    line, and the next line says how many were not logged."""
    caplog.set_level(logging.INFO, logger="fastport")
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    for i in range(4):
        await pub.publish("t", message_id=f"m{i}")
    sub.disconnect()  # four deliveries given up at once
    clock.advance(1000)
    late = await client()
    late.subscribe("t")
    await pub.publish("t", message_id="m4")
    late.disconnect()
    give_ups = [message for _, message, _ in _lines(caplog, "s") if "given up" in message]
    assert give_ups == [
        "delivery of 'm0' on 't' given up (subscriber_gone)",
        "delivery of 'm4' on 't' given up (subscriber_gone) (and 3 more give-ups not logged)",
    ]
    assert broker.get_session("s").counters.given_up == 5
