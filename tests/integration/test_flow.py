"""Flow control and slow consumers on real servers, both doors (issue 10, items 7 and 9).

Whether the server kept a delivery back is told from the order of what a client
receives, never from timing: a reply to a request made after the deliveries arrives
before any delivery the window kept back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb

from fastport.app import App
from fastport.core import ManualClock
from fastport.rpc.errors import ERROR_CODE_KEY

from ..support import Stream, create_session, eventually, make_settings
from ..web.wire import WsClient, joined

BIG = b"x" * (1024 * 1024)


async def ws_publish(client: WsClient, mids: list[str], data: str = "x") -> None:
    for mid in mids:
        await client.send({"type": "publish", "topic": "t", "data": data, "messageId": mid})
    answered = 0
    while answered < len(mids):
        reply = await client.recv()
        if reply["type"] == "publish_response":  # not the ack_received of earlier ones
            assert reply["success"] is True, reply
            answered += 1


async def test_ws_subscriber_gets_at_most_max_in_flight(app: App, admin) -> None:
    await create_session(admin, "s1", limits=admin_pb2.Limits(max_in_flight=2))
    sub = await joined(app, "t")
    pub = await joined(app)
    await ws_publish(pub, [f"m{i}" for i in range(5)])
    assert [(await sub.recv())["messageId"] for _ in range(2)] == ["m0", "m1"]
    await sub.send({"type": "subscribe", "topic": "u"})
    assert (await sub.recv())["type"] == "subscribe_response"  # m2..m4 were kept back
    await sub.send({"type": "ack", "topic": "t", "messageId": "m0"})
    m2 = await sub.recv()
    assert (m2["messageId"], m2.get("retry")) == ("m2", None)
    for mid in ("m1", "m2"):
        await sub.send({"type": "ack", "topic": "t", "messageId": mid})
    assert [(await sub.recv())["messageId"] for _ in range(2)] == ["m3", "m4"]


async def test_grpc_subscriber_gets_at_most_max_in_flight(admin, streams) -> None:
    await create_session(admin, "s", limits=admin_pb2.Limits(max_in_flight=2))
    sub, pub = streams(), streams()
    for s in (sub, pub):
        await s.init("s")
    await sub.subscribe("t")
    for i in range(5):
        assert (await pub.publish("t", message_id=f"m{i}")).delivered_to == 1
    assert [m.message_id for m in await sub.messages(2)] == ["m0", "m1"]
    await sub.subscribe("u")
    assert not any(f.messages for f in sub.frames)  # m2..m4 were kept back
    await sub.send(ack=[pb.Ack(topic="t", message_id="m0")])
    (m2,) = await sub.messages(1)
    assert (m2.message_id, m2.retry) == ("m2", 0)


async def test_grpc_publish_past_the_hard_limit_is_refused_with_overloaded(admin, streams) -> None:
    await create_session(admin, "s", limits=admin_pb2.Limits(max_pending_messages=2))
    sub, pub = streams(), streams()
    for s in (sub, pub):
        await s.init("s")
    await sub.subscribe("t")
    assert (await pub.publish("t", message_id="p1")).error.code == ""
    await pub.send(publish=[pb.Publish(request_id=2, topic="t", message_id="p2"), pb.Publish(request_id=3, topic="t", message_id="p3")])
    refused = (await pub.until(lambda f: any(r.request_id == 3 for r in f.publish_results))).publish_results
    assert [(r.request_id, r.message_id, r.error.code, r.error.temporary) for r in refused] == [
        (3, "p3", "overloaded", True)  # p2's waits
    ]
    await sub.messages(2)
    await sub.send(ack=[pb.Ack(topic="t", message_id="p1")])
    kept = (await pub.until(lambda f: len(f.publish_results) > 0)).publish_results
    assert [(r.request_id, r.message_id, r.error.code) for r in kept] == [(2, "p2", "")]


# ---------------------------------------------------------------------- slow consumers

TIMEOUT_S = 30


@pytest.fixture
async def slow_app(tmp_path: Path, clock: ManualClock) -> AsyncIterator[App]:
    server = App(make_settings(tmp_path, slow_consumer_timeout=TIMEOUT_S), clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def blocked(app: App, session: str) -> int:
    assert app.broker is not None
    return len(app.broker.engine.sessions[session].blocked)


async def flood_until_blocked(app: App, session: str, publish) -> None:  # type: ignore[no-untyped-def]
    """Publish 1 MiB messages until the never-reading subscriber's door refuses one."""
    for i in range(200):
        await publish(f"big{i}")
        if blocked(app, session):
            return
    raise AssertionError("the door never ran out of room")


async def test_ws_subscriber_that_does_not_read_is_disconnected(slow_app: App, clock: ManualClock) -> None:
    app = slow_app
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        await create_session(admin_pb2_grpc.AdminStub(channel), "s1")
    slow = await joined(app, "t")
    slow.conn.transport.pause_reading()  # type: ignore[attr-defined]
    healthy = await joined(app, "t")
    pub = await joined(app)

    async def publish(mid: str) -> None:
        await ws_publish(pub, [mid], BIG.decode())
        assert (await healthy.recv())["messageId"] == mid
        await healthy.send({"type": "ack", "topic": "t", "messageId": mid})

    await flood_until_blocked(app, "s1", publish)
    clock.advance(TIMEOUT_S * 1000)
    await eventually(lambda: blocked(app, "s1") == 0 and len(app.broker.sessions["s1"].connections) == 2)
    slow.conn.transport.resume_reading()  # type: ignore[attr-defined]
    code, reason = await slow.closed(timeout=30)
    assert code == 4002 and "Slow consumer" in reason
    await publish("after")  # the others go on


async def test_grpc_stream_that_does_not_read_is_disconnected(slow_app: App, clock: ManualClock) -> None:
    app = slow_app
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        await create_session(admin_pb2_grpc.AdminStub(channel), "s")
        stub = broker_pb2_grpc.BrokerStub(channel)
        slow, pub = Stream(stub), Stream(stub)
        await slow.init("s", client_id="dev1")
        await slow.send(subscribe=[pb.Subscribe(request_id=1, topic="t", persistent=True)])
        await slow.until(lambda f: len(f.subscribe_results) > 0)
        await pub.init("s")
        try:
            await flood_until_blocked(app, "s", lambda mid: pub.publish("t", BIG, message_id=mid))
            clock.advance(TIMEOUT_S * 1000)
            with pytest.raises(grpc.aio.AioRpcError) as ended:
                while True:  # reads what was sent before the stream was ended
                    assert await slow.call.read() is not grpc.aio.EOF
            assert ended.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert (ERROR_CODE_KEY, "slow_consumer") in tuple(ended.value.trailing_metadata() or ())
            # A persistent subscriber keeps its deliveries: they come when it is back.
            back = Stream(stub)
            await back.init("s", client_id="dev1")
            assert (await back.messages(1))[0].message_id == "big0"
            back.close()
        finally:
            slow.close()
            pub.close()
