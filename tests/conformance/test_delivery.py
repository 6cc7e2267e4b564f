"""Delivery semantics of DESIGN.md, driven through the Broker API on every engine, time
passing with ``elapse`` (conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastport.core import Broker, Limits, ManualClock
from fastport.core.errors import ErrorCode

from .support import Client, Elapse, EngineFactory, Settle, differs, make_session, refused


async def test_fan_out_skips_publisher_and_counts_deliveries(broker: Broker, client) -> None:
    await make_session(broker)
    subs = [await client() for _ in range(3)]
    for s in subs:
        s.subscribe("t")
    pub = await client()
    pub.subscribe("t")  # the publishing connection itself is skipped
    outcome = await pub.publish("t", b"hello", message_id="m1", hash="h", timestamp_ms=123)
    assert outcome.error is None and outcome.delivered_to == 3 and outcome.message_id == "m1"
    for s in subs:
        assert [(m.message_id, m.payload, m.retry) for m in s.peer.messages] == [("m1", b"hello", 0)]
    assert pub.peer.messages == []


async def test_server_makes_message_id_when_missing(broker: Broker, client) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    outcome = await (await client()).publish("t")
    assert len(outcome.message_id) == 32
    assert sub.peer.ids() == [outcome.message_id]


async def test_ack_settles_only_that_subscriber_and_tells_publisher(broker: Broker, client, elapse: Elapse, settle: Settle) -> None:
    await make_session(broker, retry_interval_ms=1000)
    a, b = await client(), await client()
    a.subscribe("t")
    b.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m1")
    assert a.ack("m1")
    assert pub.peer.acks == [("m1", 1)]
    assert not a.ack("m1")  # a second ACK is ignored (and said to be unknown)
    assert pub.peer.acks == [("m1", 1)]
    await elapse(1000)
    assert [m.retry for m in a.peer.messages] == [0]
    assert [m.retry for m in b.peer.messages] == [0, 1]
    b.ack("m1")
    assert pub.peer.acks == [("m1", 1), ("m1", 0)]
    await settle()
    assert broker.get_session("s").pending_messages == 0


@differs("jetstream", "re-send timing", "test_jetstream_resends_a_retry_interval_after_each_send")
async def test_nack_makes_the_delivery_due_now(broker: Broker, client, elapse: Elapse, settle: Settle) -> None:
    await make_session(broker, retry_interval_ms=1000, max_retry_limit=2)
    a, b = await client(), await client()
    a.subscribe("t")
    b.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m1")
    await pub.publish("t", message_id="m2")
    await elapse(400)
    assert b.nack("m2")
    assert [m.retry for m in b.peer.messages] == [0, 0]  # not sent from inside nack()
    await settle()  # the timers' next run, with no time passing
    assert [(m.message_id, m.retry) for m in b.peer.messages] == [("m1", 0), ("m2", 0), ("m2", 1)]
    assert len(a.peer.messages) == 2  # only that subscriber's delivery, only that message
    # The re-send counts: its next one is an interval after the NACK, behind m1's.
    await elapse(600)
    assert [(m.message_id, m.retry) for m in b.peer.messages][3:] == [("m1", 1)]
    await elapse(400)
    assert [(m.message_id, m.retry) for m in b.peer.messages][4:] == [("m2", 2)]
    # The retry limit applies to NACKed deliveries as to any other.
    assert b.nack("m2")
    await settle()
    assert pub.peer.failures == [("m2", "retry_limit", 1)]
    assert not b.nack("m2") and not b.nack("nope") and not b.ack("m2")
    assert a.ack("m2") and b.ack("m1") and a.ack("m1")
    await settle()
    assert broker.get_session("s").pending_messages == 0


@differs("jetstream", "re-send timing", "test_jetstream_resends_a_retry_interval_after_each_send")
async def test_nack_of_a_message_the_timer_run_sends_anyway(
    broker: Broker, client, clock: ManualClock, settle: Settle
) -> None:
    """A NACK for a delivery that is due in the same run is sent once, not twice."""
    await make_session(broker, retry_interval_ms=1000)
    sub = await client()
    sub.subscribe("t")
    await (await client()).publish("t", message_id="m1")
    clock.advance(1000)
    assert sub.nack("m1")
    await settle()
    assert [m.retry for m in sub.peer.messages] == [0, 1]


async def test_attributes_are_delivered_and_count_towards_the_limit(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, retry_interval_ms=1000)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    attributes = {"k": "v", "trace": "é"}
    assert (await pub.publish("t", attributes=attributes)).error is None
    await elapse(1000)
    assert [m.attributes for m in sub.peer.messages] == [attributes, attributes]
    assert (await pub.publish("t", b"x" * 1020, attributes={"ab": "cd"})).error is None  # 1024 bytes
    assert (await pub.publish("t", b"x" * 1021, attributes={"ab": "cd"})).error.code is ErrorCode.PAYLOAD_TOO_LARGE
    for bad in ({"": "v"}, {"k": 1}, {2: "v"}):
        assert (await pub.publish("t", attributes=bad)).error.code is ErrorCode.INVALID_FIELD


async def test_retries_exactly_up_to_limit_then_gives_up(broker: Broker, client, elapse: Elapse, settle: Settle) -> None:
    await make_session(broker, retry_interval_ms=300, max_retry_limit=3)
    silent, acker = await client(), await client()
    silent.subscribe("t")
    acker.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m1")
    acker.ack("m1")
    for _ in range(10):
        await elapse(300)
    assert [m.retry for m in silent.peer.messages] == [0, 1, 2, 3]
    assert [m.retry for m in acker.peer.messages] == [0]
    assert pub.peer.failures == [("m1", "retry_limit", 0)]
    await settle()
    assert broker.get_session("s").pending_messages == 0


@differs("jetstream", "re-send timing", "test_jetstream_resends_a_retry_interval_after_each_send")
async def test_retry_not_before_interval(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, retry_interval_ms=1000)
    sub = await client()
    sub.subscribe("t")
    await (await client()).publish("t")
    await elapse(999)
    assert len(sub.peer.messages) == 1
    await elapse(1)
    assert len(sub.peer.messages) == 2


async def test_message_expiry_drops_on_time(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, retry_interval_ms=600, message_expiry_ms=300)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m1")
    await elapse(300)  # before the first retry is due
    assert pub.peer.failures == [("m1", "expired", 0)]
    await elapse(600)
    assert len(sub.peer.messages) == 1
    sub.ack("m1")  # a late ACK of a dropped delivery is ignored
    assert pub.peer.acks == []


@differs("jetstream", "duplicate window", "test_jetstream_remembers_an_id_for_the_window_from_its_publish")
async def test_duplicate_id_is_not_delivered_twice(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    first = await pub.publish("t", message_id="m1")
    again = await pub.publish("t", b"other", message_id="m1")
    assert again.duplicate and again.delivered_to == first.delivered_to == 1 and again.error is None
    assert sub.peer.ids() == ["m1"]
    sub.ack("m1")  # settled: still remembered for the window (60 s in these tests)
    after = await pub.publish("t", message_id="m1")
    assert after.duplicate and sub.peer.ids() == ["m1"]
    await elapse(60_000)
    fresh = await pub.publish("t", message_id="m1")
    assert not fresh.duplicate and sub.peer.ids() == ["m1", "m1"]


async def test_republish_from_new_connection_redirects_acks(broker: Broker, client) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    old = await client()
    await old.publish("t", message_id="m1")
    old.disconnect()
    new = await client()
    assert (await new.publish("t", message_id="m1")).duplicate
    sub.ack("m1")
    assert new.peer.acks == [("m1", 0)]


async def test_wildcard_subscribers_receive(broker: Broker, client) -> None:
    await make_session(broker)
    plus, hash_, other = await client(), await client(), await client()
    plus.subscribe("home/+/temp")
    hash_.subscribe("home/#")
    other.subscribe("office/#")
    outcome = await (await client()).publish("home/kitchen/temp")
    assert outcome.delivered_to == 2
    assert len(plus.peer.messages) == len(hash_.peer.messages) == 1
    assert other.peer.messages == []


async def test_sessions_are_isolated(broker: Broker, client, settle: Settle) -> None:
    await make_session(broker, "a")
    await make_session(broker, "b")
    in_a = await client("a")
    in_b = await client("b")
    in_a.subscribe("#")
    in_b.subscribe("#")
    await (await client("a")).publish("t", message_id="same")
    await (await client("b")).publish("t", b"B", message_id="same")
    assert [m.payload for m in in_a.peer.messages] == [b"p"]
    assert [m.payload for m in in_b.peer.messages] == [b"B"]
    in_b.ack("same")
    await settle()
    assert broker.get_session("a").pending_messages == 1 and broker.get_session("b").pending_messages == 0


async def test_suspend_refuses_publish_and_subscribe_until_resume(broker: Broker, client) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    info = await broker.set_suspended("s", True)
    assert info.suspended
    denied = await pub.publish("t", message_id="m1")
    assert denied.error is not None and denied.error.code is ErrorCode.SESSION_SUSPENDED
    assert denied.message_id == "m1"
    with refused(ErrorCode.SESSION_SUSPENDED):
        sub.subscribe("u")
    with refused(ErrorCode.SESSION_SUSPENDED):
        await client()
    await broker.set_suspended("s", False)
    assert (await pub.publish("t")).delivered_to == 1


async def test_drop_closes_connections_with_reason(broker: Broker, client) -> None:
    await make_session(broker)
    a = await client()
    a.subscribe("t")
    await broker.drop_session("s")
    assert a.peer.closed == ("session_dropped", "Session dropped")
    assert "s" not in broker.sessions
    outcome = await a.publish("t")
    assert outcome.error is not None and outcome.error.code is ErrorCode.NOT_INITIALIZED
    with refused(ErrorCode.SESSION_NOT_FOUND):
        await client()


async def test_session_expiry_drops_it_on_time(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, session_expiry_ms=1000)
    a = await client()
    await elapse(500)
    assert "s" in broker.sessions
    await elapse(500)
    assert "s" not in broker.sessions
    assert a.peer.closed == ("session_expired", "Session expired")


async def test_init_errors(broker: Broker, client) -> None:
    await make_session(broker)
    for session, password, code in (
        ("nope", "pw", ErrorCode.SESSION_NOT_FOUND),
        ("s", "wrong", ErrorCode.INVALID_PASSWORD),
        ("s", "", ErrorCode.INVALID_PASSWORD),
    ):
        with refused(code):
            await client(session, password)


async def test_before_init(broker: Broker) -> None:
    from .support import Client

    await make_session(broker)
    c = Client(broker)
    outcome = await c.publish("t")
    assert outcome.error is not None and outcome.error.code is ErrorCode.NOT_INITIALIZED
    with refused(ErrorCode.NOT_INITIALIZED):
        c.subscribe("t")
    c.ack("whatever")  # ignored


async def test_bad_publishes_get_stable_codes(broker: Broker, client) -> None:
    await make_session(broker, limits=Limits(max_payload_bytes=10))
    pub = await client()
    cases = [
        (("a/+",), {}, ErrorCode.INVALID_TOPIC),
        (("",), {}, ErrorCode.INVALID_TOPIC),
        (("t", b"x" * 11), {}, ErrorCode.PAYLOAD_TOO_LARGE),
        (("t",), {"message_id": "x" * 257}, ErrorCode.INVALID_FIELD),
    ]
    for args, kw, code in cases:
        outcome = await pub.publish(*args, **kw)
        assert outcome.error is not None and outcome.error.code is code, (args, outcome)
    assert (await pub.publish("t", b"x" * 10)).error is None


async def test_server_wide_payload_limit(broker: Broker, client) -> None:
    await make_session(broker)
    pub = await client()
    outcome = await pub.publish("t", b"x" * 1025)
    assert outcome.error is not None and outcome.error.code is ErrorCode.PAYLOAD_TOO_LARGE


async def committed(check: Callable[[], object]) -> None:
    """Wait (bounded) for a publish not awaited to be committed: the sqlite store
    commits on its writer thread."""
    async with asyncio.timeout(5):
        while not check():
            await asyncio.sleep(0.01)


@differs("jetstream", "limits", "test_jetstream_refuses_publishes_at_the_pending_limit_only")
async def test_limits(broker: Broker, client) -> None:
    await make_session(broker, limits=Limits(max_connections=2, max_subscriptions=2, max_pending_messages=2))
    a = await client()
    b = await client()
    with refused(ErrorCode.LIMIT_EXCEEDED):
        await client()
    a.subscribe("x")
    a.subscribe("y")
    a.subscribe("y")  # already there: not counted again
    with refused(ErrorCode.LIMIT_EXCEEDED):
        b.subscribe("z")
    assert (await b.publish("x")).error is None
    b.broker.publish(b.conn, "x", b"p")  # stored, its result kept back: the session is congested
    denied = await b.publish("x")
    assert denied.error is not None and denied.error.code is ErrorCode.OVERLOADED
    await committed(lambda: len(a.peer.messages) == 2)
    assert b.peer.results == []
    a.ack_all()
    assert (await b.peer.result()).error is None  # the result kept back
    assert (await b.publish("x")).error is None


async def test_subscriber_leaving_gives_up_its_deliveries(broker: Broker, client, settle: Settle) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m1")
    sub.disconnect()
    assert pub.peer.failures == [("m1", "subscriber_gone", 0)]
    await settle()
    assert broker.get_session("s").pending_messages == 0
    assert broker.get_session("s").subscriptions == 0


async def test_unsubscribe_stops_new_deliveries(broker: Broker, client) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    await pub.publish("t")
    broker.unsubscribe(sub.conn, "t")
    broker.unsubscribe(sub.conn, "never-subscribed")
    assert (await pub.publish("t")).delivered_to == 0
    assert len(sub.peer.messages) == 1


async def test_reinit_into_another_session_drops_old_subscriptions(broker: Broker, client) -> None:
    await make_session(broker, "a")
    await make_session(broker, "b")
    c = await client("a")
    c.subscribe("t")
    await broker.init(c.conn, "b", "pw")
    assert broker.get_session("a").subscriptions == 0
    assert (await (await client("a")).publish("t")).delivered_to == 0


async def test_persistent_subscriber_gets_offline_messages_in_order(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, retry_interval_ms=300, max_retry_limit=2)
    sub = await client(client_id="dev1")
    sub.subscribe("t", persistent=True)
    sub.subscribe("volatile")
    pub = await client()
    await pub.publish("t", message_id="m0")
    sub.disconnect()
    for i in range(1, 4):
        out = await pub.publish("t", message_id=f"m{i}")
        assert out.delivered_to == 1  # stored for the absent subscriber
    assert (await pub.publish("volatile")).delivered_to == 0
    for _ in range(5):  # offline time does not use up retries
        await elapse(300)
    assert pub.peer.failures == []
    back = await client(client_id="dev1")
    assert back.peer.ids() == ["m0", "m1", "m2", "m3"]
    assert [m.retry for m in back.peer.messages] == [1, 0, 0, 0]
    back.ack_all()
    assert sorted(a[0] for a in pub.peer.acks) == ["m0", "m1", "m2", "m3"]


async def test_client_id_takeover_closes_old_connection(broker: Broker, client) -> None:
    await make_session(broker)
    first = await client(client_id="dev1")
    first.subscribe("t", persistent=True)
    second = await client(client_id="dev1")
    assert first.peer.closed is not None and first.peer.closed[0] == "replaced"
    assert (await (await client()).publish("t")).delivered_to == 1
    assert len(second.peer.messages) == 1


async def test_persistent_needs_client_id(broker: Broker, client) -> None:
    await make_session(broker)
    c = await client()
    with refused(ErrorCode.INVALID_FIELD):
        c.subscribe("t", persistent=True)


async def test_admin_operations(broker: Broker) -> None:
    secret = await make_session(broker, "a", retry_interval_ms=250)
    assert len(secret) == 64 and int(secret, 16) >= 0
    with refused(ErrorCode.SESSION_EXISTS):
        await make_session(broker, "a")
    info = broker.get_session("a")
    assert info.retry_interval_ms == 250 and info.max_retry_limit == 100 and not info.suspended
    assert [i.name for i in broker.list_sessions()] == ["a"]
    await broker.check_owner("a", "pw", secret)
    for pw, key in (("pw", "0" * 64), ("bad", secret)):
        with refused(ErrorCode.INVALID_CREDENTIALS):
            await broker.check_owner("a", pw, key)
    for bad in (dict(name=""), dict(password=""), dict(retry_interval_ms=-1), dict(max_retry_limit=True)):
        spec = dict(name="n", password="pw") | bad
        with refused(ErrorCode.INVALID_FIELD):
            await make_session(broker, **spec)


async def test_relay_peers_are_other_connected_subscribers(broker: Broker, client) -> None:
    await make_session(broker)
    sender, other, away = await client(), await client(), await client(client_id="away")
    for c in (sender, other, away):
        c.subscribe("files/#", persistent=c is away)
    away.disconnect()
    assert broker.relay_peers(sender.conn, "files/x") == [other.peer]
    assert broker.relay_peers(sender.conn, "elsewhere") == []


async def test_can_relay_says_why_not(broker: Broker, client) -> None:
    """Initialized into a running session, to a valid topic: the legacy file relay's
    refusals otherwise, each with its code."""
    await make_session(broker)
    sender = await client()
    assert broker.can_relay(sender.conn, "files/x") is None
    assert broker.can_relay(sender.conn, "files/+").code is ErrorCode.INVALID_TOPIC
    assert broker.can_relay(Client(broker).conn, "files/x").code is ErrorCode.NOT_INITIALIZED
    await broker.set_suspended("s", True)
    err = broker.can_relay(sender.conn, "files/x")
    assert (err.code, err.message) == (ErrorCode.SESSION_SUSPENDED, "Session Invalid or Suspended")
    session = sender.conn.session
    await broker.drop_session("s")
    sender.conn.session = session  # a connection still on its way out: its session is gone
    err = broker.can_relay(sender.conn, "files/x")
    assert (err.code, err.message) == (ErrorCode.SESSION_NOT_FOUND, "Session Error")


@differs("jetstream", "a send refused by a full socket", "test_jetstream_sends_what_a_full_socket_refused_again_after_the_retry_interval")
async def test_send_refused_by_slow_reader_waits_for_room_without_using_an_attempt(
    broker: Broker, client, clock: ManualClock, elapse: Elapse
) -> None:
    await make_session(broker, retry_interval_ms=1000, max_retry_limit=1)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    sub.peer.full = True
    assert (await pub.publish("t", message_id="m1")).delivered_to == 1
    for _ in range(5):  # far past the retry limit, but nothing was ever sent
        await elapse(1000)
    assert sub.peer.messages == [] and pub.peer.failures == []
    sub.peer.full = False
    clock.advance(300)
    broker.room(sub.conn)  # the door drained: what it refused goes at once
    assert [m.retry for m in sub.peer.messages] == [0]
    await elapse(999)  # the re-send is due one interval after the door took the send
    assert [m.retry for m in sub.peer.messages] == [0]
    await elapse(1)
    assert [m.retry for m in sub.peer.messages] == [0, 1]
    await elapse(1000)
    assert pub.peer.failures == [("m1", "retry_limit", 0)]


async def test_concurrent_inits_share_one_password_check(broker: Broker, client, monkeypatch) -> None:
    from fastport.core import credentials

    await make_session(broker)
    calls = []
    real = credentials.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(password)
        return real(stored, password)

    monkeypatch.setattr("fastport.core.session.verify_password", counting)
    clients = await asyncio.gather(*(client() for _ in range(8)))
    assert len(clients) == 8 and calls == ["pw"]
    with refused(ErrorCode.INVALID_PASSWORD):
        await asyncio.gather(*(client(password="bad") for _ in range(4)))
    assert calls == ["pw", "bad"]
    assert broker.sessions["s"].checks == {}


# ---------------------------------------------------------------------- flow control


async def test_at_most_max_in_flight_outstanding_the_rest_in_order(broker: Broker, client, elapse: Elapse, settle: Settle) -> None:
    await make_session(broker, retry_interval_ms=500, limits=Limits(max_in_flight=3))
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    for i in range(6):
        assert (await pub.publish("t", message_id=f"m{i}")).delivered_to == 1
    assert sub.peer.ids() == ["m0", "m1", "m2"]
    await elapse(500)  # only what is in flight is re-sent
    assert sub.peer.ids() == ["m0", "m1", "m2", "m0", "m1", "m2"]
    sub.ack("m1")
    await settle()
    assert sub.peer.ids()[6:] == ["m3"]
    sub.ack("m0")
    sub.ack("m2")
    await settle()
    assert sub.peer.ids()[6:] == ["m3", "m4", "m5"]
    assert [m.retry for m in sub.peer.messages[6:]] == [0, 0, 0]


@differs("jetstream", "a send refused by a full socket", "test_jetstream_sends_what_a_full_socket_refused_again_after_the_retry_interval")
async def test_refused_sends_keep_their_order_and_block_until_room(broker: Broker, client) -> None:
    await make_session(broker, limits=Limits(max_in_flight=10))
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m0")
    sub.peer.full = True
    for i in range(1, 4):
        await pub.publish("t", message_id=f"m{i}")
    sub.peer.full = False
    await pub.publish("t", message_id="m4")  # the door has room, but m1..m3 go first
    assert sub.peer.ids() == ["m0"]
    broker.room(sub.conn)
    assert sub.peer.ids() == ["m0", "m1", "m2", "m3", "m4"]


async def test_a_waiting_delivery_that_expires_is_given_up_and_skipped(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, retry_interval_ms=2000, message_expiry_ms=1000, limits=Limits(max_in_flight=1))
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m0")
    await elapse(600)
    await pub.publish("t", message_id="m1")
    await elapse(400)  # m0 expires (in flight), m1 is admitted in its place
    assert sub.peer.ids() == ["m0", "m1"]
    await pub.publish("t", message_id="m2")
    await elapse(600)  # m1 expires, then m2 goes
    assert [f[:2] for f in pub.peer.failures] == [("m0", "expired"), ("m1", "expired")]
    assert sub.peer.ids() == ["m0", "m1", "m2"]


async def test_a_persistent_subscriber_resumes_through_its_window(broker: Broker, client, settle: Settle) -> None:
    await make_session(broker, limits=Limits(max_in_flight=2))
    sub = await client(client_id="dev1")
    sub.subscribe("t", persistent=True)
    sub.disconnect()
    pub = await client()
    for i in range(4):
        await pub.publish("t", message_id=f"m{i}")
    back = await client(client_id="dev1")
    assert back.peer.ids() == ["m0", "m1"]
    back.ack_all()
    await settle()
    assert back.peer.ids() == ["m0", "m1", "m2", "m3"]


@differs("jetstream", "a send refused by a full socket", "test_jetstream_sends_what_a_full_socket_refused_again_after_the_retry_interval")
async def test_a_subscriber_blocked_past_the_timeout_is_disconnected_and_keeps_its_deliveries(
    engine_factory: EngineFactory, clock: ManualClock
) -> None:
    broker = Broker(engine_factory(clock, slow_consumer_timeout_ms=5000), clock)
    await broker.start()
    try:
        await make_session(broker, retry_interval_ms=1000)
        slow = await Client(broker).init("s", "pw", "dev1")
        slow.subscribe("t", persistent=True)
        healthy = await Client(broker).init()
        healthy.subscribe("t")
        pub = await Client(broker).init()
        slow.peer.full = True
        await pub.publish("t", message_id="m0")
        healthy.ack_all()
        clock.advance(4999)
        await engine_factory.settle(broker.engine)
        assert slow.peer.closed is None
        clock.advance(1)
        await engine_factory.settle(broker.engine)
        assert slow.peer.closed is not None and slow.peer.closed[0] == "slow_consumer"
        assert healthy.peer.closed is None and healthy.peer.ids() == ["m0"]
        back = await Client(broker).init("s", "pw", "dev1")
        assert back.peer.ids() == ["m0"] and pub.peer.failures == []
    finally:
        await broker.stop()


@differs("jetstream", "a send refused by a full socket", "test_jetstream_sends_what_a_full_socket_refused_again_after_the_retry_interval")
async def test_room_after_the_timeout_is_not_a_disconnect(
    broker: Broker, client, clock: ManualClock, elapse: Elapse
) -> None:
    await make_session(broker)
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    sub.peer.full = True
    await pub.publish("t", message_id="m0")
    clock.advance(20_000)
    sub.peer.full = False
    broker.room(sub.conn)
    sub.ack_all()
    await elapse(20_000)
    assert sub.peer.closed is None and sub.peer.ids() == ["m0"]


# ---------------------------------------------------------------------- bounded memory per session


@differs("jetstream", "limits", "test_jetstream_refuses_publishes_at_the_pending_limit_only")
async def test_results_wait_past_the_soft_limit_and_publishes_fail_at_the_hard_one(
    broker: Broker, client, clock: ManualClock
) -> None:
    await make_session(broker, limits=Limits(max_pending_bytes=1000))
    sub = await client()
    sub.subscribe("t")
    pub = await client()
    assert (await pub.publish("t", b"a" * 500, message_id="m0")).error is None  # at half: not past it
    broker.publish(pub.conn, "t", b"b" * 400, message_id="m1")
    await committed(lambda: sub.peer.ids() == ["m0", "m1"])
    assert pub.peer.results == []  # delivered, its result kept back
    denied = await pub.publish("t", b"c" * 101, message_id="m2")
    assert (denied.message_id, denied.error.code if denied.error else None) == ("m2", ErrorCode.OVERLOADED)
    assert broker.get_session("s").pending_messages == 2
    sub.ack("m0")  # back under half: the result kept back is answered
    assert [(r.message_id, r.error) for r in pub.peer.results] == [("m1", None)]


@differs("jetstream", "limits", "test_jetstream_refuses_publishes_at_the_pending_limit_only")
async def test_a_result_is_kept_back_at_most_a_second(broker: Broker, client, elapse: Elapse) -> None:
    await make_session(broker, limits=Limits(max_pending_messages=2))
    sub = await client(client_id="dev1")
    sub.subscribe("t", persistent=True)
    sub.disconnect()  # an offline persistent subscriber keeps the session congested
    watcher = await client()
    watcher.subscribe("t")
    pub = await client()
    await pub.publish("t", message_id="m0")
    broker.publish(pub.conn, "t", b"p", message_id="m1")
    await committed(lambda: watcher.peer.ids() == ["m0", "m1"])  # stored and sent, its result kept back
    await elapse(999)
    assert pub.peer.results == []
    await elapse(1)
    assert (await pub.peer.result()).message_id == "m1"
    assert (await pub.publish("t", message_id="m2")).error.code is ErrorCode.OVERLOADED  # type: ignore[union-attr]
