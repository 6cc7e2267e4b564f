"""What an engine does where it differs from the contract, as the README's engine
table says: each test here is the ``instead`` of the tests marked ``@differs`` for
its engine, and runs on that engine alone (``@only``)."""

from __future__ import annotations

import pytest

from fastport.core import Broker, Limits, ManualClock, deadletter
from fastport.core.errors import ErrorCode

from .support import Client, Elapse, EngineFactory, Settle, make_session, only


@only("jetstream")
async def test_jetstream_resends_a_retry_interval_after_each_send(
    broker: Broker, client, elapse: Elapse, settle: Settle
) -> None:
    """Re-send timing: JetStream's AckWait runs from each send; a NACK re-sends at once,
    counted; a NACK of the last attempt gives it up at once."""
    await make_session(broker, retry_interval_ms=500, max_retry_limit=2)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m1")
    assert [m.retry for m in sub.peer.messages] == [0]
    await elapse(500)
    assert [m.retry for m in sub.peer.messages] == [0, 1]
    assert sub.nack("m1")
    await settle()
    assert [m.retry for m in sub.peer.messages] == [0, 1, 2]
    assert pub.peer.failures == []
    assert sub.nack("m1")
    await settle()
    assert pub.peer.failures == [("m1", "retry_limit", 0)]
    assert not sub.ack("m1")


@only("jetstream")
async def test_jetstream_remembers_an_id_for_the_window_from_its_publish(
    engine_factory: EngineFactory, clock: ManualClock
) -> None:
    """Duplicate window: an id is known while its message is pending on the
    publisher's node, and for the window from its publish (not from its last ACK);
    ``maxRememberedIds`` does not apply."""
    broker = Broker(engine_factory(clock, dedup_window_ms=1000), clock)
    await broker.start()
    try:
        await make_session(broker, max_remembered_ids=1, retry_interval_ms=60_000)

        async def client() -> Client:
            return await Client(broker, lambda: engine_factory.settle(broker.engine)).init()

        sub, pub = await client(), await client()
        sub.subscribe("t")
        for i in range(3):
            await pub.publish("t", message_id=f"m{i}")
        assert (await pub.publish("t", message_id="m0")).duplicate  # pending
        await engine_factory.elapse(broker.engine, clock, 700)
        sub.ack_all()
        assert (await pub.publish("t", message_id="m1")).duplicate  # settled: more ids than remembered, still known
        await engine_factory.elapse(broker.engine, clock, 700)  # 1.4 s from the publish, 0.7 s from the ACK
        again = await pub.publish("t", b"again", message_id="m0")
        assert not again.duplicate and again.delivered_to == 1
        assert [(m.message_id, m.payload) for m in sub.peer.messages][3:] == [("m0", b"again")]
    finally:
        await broker.stop()


@only("jetstream")
async def test_jetstream_sends_what_a_full_socket_refused_again_after_the_retry_interval(
    broker: Broker, client, elapse: Elapse, settle: Settle
) -> None:
    """A send refused by a full socket is not kept back for ``room``: JetStream sends it
    again after the retry interval, counted as a re-send."""
    await make_session(broker, retry_interval_ms=1000)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    sub.peer.full = True
    assert (await pub.publish("t", message_id="m1")).delivered_to == 1
    sub.peer.full = False
    broker.room(sub.conn)
    await settle()
    assert sub.peer.messages == []
    await elapse(1000)
    assert [(m.message_id, m.retry) for m in sub.peer.messages] == [("m1", 1)]
    assert sub.ack("m1")
    assert pub.peer.acks == [("m1", 0)]


@only("jetstream")
async def test_jetstream_refuses_publishes_at_the_pending_limit_only(broker: Broker, client) -> None:
    """Limits: the pending limit refuses at the limit; results are never kept back."""
    await make_session(broker, limits=Limits(max_pending_messages=2))
    away = await client(client_id="dev1")
    away.subscribe("t", persistent=True)
    away.disconnect()  # its durable consumer keeps the messages pending
    pub = await client()
    for i in range(2):
        outcome = await pub.publish("t", message_id=f"m{i}")
        assert outcome.error is None and outcome.delivered_to == 1
    denied = await pub.publish("t", message_id="m2")
    assert denied.error is not None and denied.error.code is ErrorCode.OVERLOADED


@only("jetstream")
async def test_jetstream_gives_up_an_expired_message_by_the_publishers_node(
    broker: Broker, client, elapse: Elapse
) -> None:
    """Give-up by expiry: the publisher's node gives up each unsettled delivery when the
    message expires, naming no subscriber — so their dead letters share one id and one
    is stored; a subscriber's late ACK changes nothing."""
    await make_session(broker, retry_interval_ms=60_000, message_expiry_ms=300, dead_letter_topic="dead")
    first, second, third, dlq = await client(), await client(), await client(), await client()
    for sub in (first, second, third):
        sub.subscribe("t")
    dlq.subscribe("dead")
    pub = await client()
    await pub.publish("t", message_id="m0")
    third.ack("m0")
    await elapse(300)
    assert pub.peer.failures == [("m0", "expired", 1), ("m0", "expired", 0)]
    assert pub.peer.dead_lettered == ["m0", "m0"] and broker.stats.gave_up == {"expired": 2}
    assert broker.stats.dead_lettered == {"expired": 1}
    ((letter),) = dlq.peer.messages
    assert letter.attributes[deadletter.SUBSCRIBER] == ""
    first.ack("m0")
    assert pub.peer.acks == [("m0", 2)]


@only("jetstream")
async def test_jetstream_reports_a_dead_letter_a_full_session_refuses_as_sent(
    broker: Broker, client, elapse: Elapse, caplog: pytest.LogCaptureFixture
) -> None:
    """A dead letter to a full session: JetStream refuses it after the give-up was
    reported dead-lettered; the refusal is logged, the dead letter lost."""
    await make_session(
        broker, retry_interval_ms=300, max_retry_limit=1, dead_letter_topic="dead", limits=Limits(max_pending_messages=1)
    )
    sub, dlq = await client(), await client()
    sub.subscribe("t")
    dlq.subscribe("dead")
    pub = await client()
    await pub.publish("t", message_id="m1")  # the session is full with it
    for _ in range(2):
        await elapse(300)
    assert pub.peer.failures == [("m1", "retry_limit", 0)] and pub.peer.dead_lettered == ["m1"]
    assert dlq.peer.messages == []
    assert "could not be stored: Session holds its maximum" in caplog.text
