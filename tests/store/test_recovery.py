"""Restarting a broker on its sqlite database: what was stored comes back and the
timers carry on from where they were (in process, with a manual clock)."""

from __future__ import annotations

from fastport.core import Limits
from fastport.core.delivery import ABSENT, Hash

from ..conformance.support import make_session
from .conftest import DEDUP_WINDOW_MS, Node


async def test_sessions_come_back_with_credentials_and_settings(node: Node) -> None:
    assert node.broker is not None
    limits = Limits(max_pending_messages=50, max_pending_bytes=4096, max_in_flight=3)
    secret = await make_session(
        node.broker, "a", retry_interval_ms=250, max_retry_limit=7, message_expiry_ms=9000,
        max_remembered_ids=10, limits=limits, dead_letter_topic="a/dead"
    )
    await make_session(node.broker, "b")
    assert node.broker.get_session("a").limits == limits
    assert node.broker.get_session("b").limits == Limits().resolved()
    await node.broker.set_suspended("b", True)
    before = node.broker.list_sessions()
    broker = await node.restart()
    assert broker.list_sessions() == before
    await broker.check_owner("a", "pw", secret)
    await node.client("a")
    await broker.drop_session("a")
    broker = await node.restart()
    assert [s.name for s in broker.list_sessions()] == ["b"]


async def test_offline_messages_come_back_in_order_without_using_retries(node: Node) -> None:
    sub = await node.persistent_subscriber("t/#", retry_interval_ms=1000, max_retry_limit=2)
    sub.disconnect()
    pub = await node.client()
    for i in range(5):
        assert (await pub.publish("t/x", f"m{i}".encode(), message_id=f"m{i}")).delivered_to == 1
    node.run_timers(10_000)
    await node.restart()
    node.run_timers(10_000)
    back = await node.client(client_id="dev1")
    assert back.peer.ids() == [f"m{i}" for i in range(5)]
    assert [(m.payload, m.retry) for m in back.peer.messages] == [(f"m{i}".encode(), 0) for i in range(5)]
    back.ack_all()
    await node.restart()
    again = await node.client(client_id="dev1")
    assert again.peer.messages == []
    assert (await (await node.client()).publish("t/y", message_id="new")).delivered_to == 1
    assert again.peer.ids() == ["new"]  # the persistent subscription came back too


async def test_attributes_come_back_with_their_message(node: Node) -> None:
    sub = await node.persistent_subscriber("t")
    sub.disconnect()
    pub = await node.client()
    await pub.publish("t", message_id="with", attributes={"k": "v", "trace": "é"})
    await pub.publish("t", message_id="without")
    await node.restart()
    back = await node.client(client_id="dev1")
    assert [(m.message_id, m.attributes) for m in back.peer.messages] == [
        ("with", {"k": "v", "trace": "é"}),
        ("without", {}),
    ]


async def test_hashes_come_back_as_published(node: Node) -> None:
    """No hash, null, "" and a string: four hashes a legacy subscriber tells apart."""
    sub = await node.persistent_subscriber("t")
    sub.disconnect()
    pub = await node.client()
    hashes: list[Hash] = [ABSENT, None, "", "h é"]
    for i, hash in enumerate(hashes):
        await pub.publish("t", message_id=str(i), hash=hash)
    await node.restart()
    back = await node.client(client_id="dev1")
    assert [(m.message_id, m.hash) for m in back.peer.messages] == [(str(i), hash) for i, hash in enumerate(hashes)]


async def test_retry_counts_continue(node: Node) -> None:
    sub = await node.persistent_subscriber(retry_interval_ms=1000, max_retry_limit=10)
    await (await node.client()).publish("t", message_id="m1")
    node.run_timers(1000)
    node.run_timers(1000)
    assert [m.retry for m in sub.peer.messages] == [0, 1, 2]
    await node.restart()
    node.run_timers(5000)  # offline after the restart: no attempts used
    back = await node.client(client_id="dev1")
    node.run_timers(1000)
    assert [m.retry for m in back.peer.messages] == [3, 4]


async def test_retry_limit_reached_after_restart_gives_up(node: Node) -> None:
    sub = await node.persistent_subscriber(retry_interval_ms=1000, max_retry_limit=1)
    await (await node.client()).publish("t", message_id="m1")
    node.run_timers(1000)
    assert [m.retry for m in sub.peer.messages] == [0, 1]  # the last attempt; dropped when due
    broker = await node.restart()
    assert "m1" in broker.engine.sessions["s"].messages
    node.run_timers(1000)
    assert broker.engine.sessions["s"].messages == {}
    assert (await node.client(client_id="dev1")).peer.messages == []
    assert node.rows("SELECT * FROM deliveries") == []


async def test_message_expiry_continues(node: Node) -> None:
    sub = await node.persistent_subscriber(retry_interval_ms=1000, message_expiry_ms=10_000)
    sub.disconnect()
    await (await node.client()).publish("t", message_id="m1")
    node.run_timers(6000)
    broker = await node.restart()
    node.run_timers(3999)
    assert "m1" in broker.engine.sessions["s"].messages
    node.run_timers(1)
    assert broker.engine.sessions["s"].messages == {}
    assert (await node.client(client_id="dev1")).peer.messages == []


async def test_message_ids_stay_remembered_for_the_window(node: Node) -> None:
    sub = await node.persistent_subscriber()
    pub = await node.client()
    await pub.publish("t", message_id="settled")
    sub.ack("settled")
    sub.disconnect()
    await pub.publish("t", message_id="pending")
    await node.restart()
    pub = await node.client()
    for message_id in ("settled", "pending"):
        again = await pub.publish("t", message_id=message_id)
        assert again.duplicate and again.delivered_to == 1
    node.run_timers(DEDUP_WINDOW_MS)
    broker = await node.restart()
    assert len(broker.engine.sessions["s"].recent) == 0
    pub = await node.client()
    assert not (await pub.publish("t", message_id="settled")).duplicate
    node.run_timers()
    # The forgotten row is pruned by a later write; the new one is pending.
    assert node.rows("SELECT id, payload IS NULL FROM messages WHERE forget_at_ms = 0") == [
        ("pending", False),
        ("settled", False),
    ]
    assert node.rows("SELECT count(*) FROM messages") == [(2,)]


async def test_messages_to_connection_bound_subscribers_leave_only_their_ids(node: Node) -> None:
    assert node.broker is not None
    await make_session(node.broker)
    sub = await node.client()
    sub.subscribe("t")
    pub = await node.client()
    node.run_timers(1000)
    await pub.publish("t", message_id="m1")
    published_at = node.clock.now_ms()
    assert node.rows("SELECT count(*) FROM messages") == [(0,)]
    assert node.rows("SELECT forget_at_ms, session, ids FROM remembered_ids") == [
        (published_at + DEDUP_WINDOW_MS, "s", b'["m1",1]')
    ]
    sub.ack("m1")  # settling and forgetting it write nothing more
    await pub.publish("other", message_id="m2")  # a later transaction, to nobody
    assert node.rows("SELECT id FROM messages") == [("m2",)]
    assert node.rows("SELECT count(*) FROM remembered_ids") == [(1,)]

    broker = await node.restart()
    # The window runs from the publish: after a restart the deliveries are gone anyway.
    recent = broker.engine.sessions["s"].recent
    assert recent.get("m1") == 1 and recent.oldest() == published_at + DEDUP_WINDOW_MS
    pub = await node.client()
    again = await pub.publish("t", message_id="m1")
    assert again.duplicate and again.delivered_to == 1
    node.run_timers(DEDUP_WINDOW_MS)
    broker = await node.restart()
    assert "m1" not in broker.engine.sessions["s"].recent
    pub = await node.client()
    assert not (await pub.publish("x", message_id="m3")).duplicate
    assert node.rows("SELECT count(*) FROM remembered_ids") == [(0,)]  # pruned by that write


async def test_ids_of_one_transaction_are_kept_per_session(node: Node) -> None:
    assert node.broker is not None
    clients = {}
    for name in ("a", "b"):
        await make_session(node.broker, name)
        sub = await node.client(name)
        sub.subscribe("t")
        clients[name] = await node.client(name)
    for message_id, name in (("a1", "a"), ("b1", "b"), ("a2", "a")):  # one loop turn: one transaction
        node.broker.publish(clients[name].conn, "t", b"p", message_id=message_id)
    for name, count in (("a", 2), ("b", 1)):
        for _ in range(count):
            await clients[name].peer.result()
    assert sorted(node.rows("SELECT session, ids FROM remembered_ids")) == [("a", b'["a1",1,"a2",1]'), ("b", b'["b1",1]')]
    broker = await node.restart()
    a, b = broker.engine.sessions["a"].recent, broker.engine.sessions["b"].recent
    assert (len(a), len(b)) == (2, 1) and "a1" in a and "a2" in a and "b1" in b
    await broker.drop_session("a")  # a session of that name made again starts with no ids
    assert node.rows("SELECT session FROM remembered_ids") == [("b",)]


async def test_connection_bound_deliveries_end_with_the_process(node: Node) -> None:
    assert node.broker is not None
    await make_session(node.broker)
    plain = await node.client()
    plain.subscribe("t")
    named = await node.client(client_id="dev1")
    named.subscribe("t")  # named, but nothing persistent: it cannot outlive its connection
    await (await node.client()).publish("t", message_id="m1")
    assert node.rows("SELECT payload IS NULL, delivered_to FROM messages") == [(False, 2)]
    broker = await node.restart()
    session = broker.engine.sessions["s"]
    assert session.messages == {} and session.named == {}
    assert (await (await node.client()).publish("t", message_id="m1")).duplicate
    node.run_timers()
    assert node.rows("SELECT * FROM deliveries") == []


async def test_subscription_changes_are_kept(node: Node) -> None:
    sub = await node.persistent_subscriber("a")
    sub.subscribe("b", persistent=True)
    sub.subscribe("c")
    sub.subscribe("c", persistent=True)  # made persistent later
    sub.subscribe("b")  # no longer persistent
    sub.broker.unsubscribe(sub.conn, "a")
    broker = await node.restart()
    assert broker.engine.sessions["s"].named["dev1"].patterns == {"c": True}
    assert node.rows("SELECT pattern FROM subscriptions") == [("c",)]
