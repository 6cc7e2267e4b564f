"""Dead-letter topics on a real server, across the doors (issue #17): a subscriber that
never ACKs on one door, the dead-letter topic's subscriber on the other, the
publisher told that the message was dead-lettered, and /metrics counting it."""

from __future__ import annotations

from fastport_proto.v1 import broker_pb2 as pb

from fastport.app import App
from fastport.core.deadletter import dead_letter_id

from .wire import make_session, open_joined, scrape, tick

SESSION = {"deadLetterTopic": "dead", "retryInterval": 1000, "maxRetryLimit": 1}


async def test_grpc_subscriber_never_acks_its_dead_letter_reaches_a_websocket(
    app: App, rest, ws, streams, clock
) -> None:
    await make_session(rest, **SESSION)
    dlq = await open_joined(ws, "dead")
    silent, publisher = streams(), streams()
    for stream in (silent, publisher):
        assert not (await stream.init("r", client_id="worker-1" if stream is silent else "")).HasField("error")
    await silent.subscribe("orders/#")
    published = await publisher.publish(
        "orders/new", b"secret", message_id="m1", hash="h1", timestamp_ms=1234, attributes={"trace": "t1"}
    )
    assert published.delivered_to == 1
    assert [m.retry for m in await silent.messages(1)] == [0]
    await tick(clock, 1000)
    assert [m.retry for m in await silent.messages(1)] == [1]
    await tick(clock, 1000)  # never ACKed: given up at the retry limit
    failed = (await publisher.until(lambda f: len(f.delivery_failures) > 0)).delivery_failures
    assert [(f.message_id, f.reason, f.dead_lettered) for f in failed] == [("m1", "retry_limit", True)]
    frame = await dlq.recv()
    dead_id = dead_letter_id("m1", "worker-1")
    assert frame == {
        "type": "message", "topic": "dead", "data": "secret", "hash": "h1", "timestamp": 1234, "messageId": dead_id,
        "deadLetter": {
            "topic": "orders/new", "messageId": "m1", "reason": "retry_limit", "attempts": 2,
            "subscriber": "worker-1", "time": clock.now_ms(),
        },
    }
    await dlq.send({"type": "ack", "topic": "dead", "messageId": dead_id})
    await tick(clock, 5000)
    assert await dlq.silent(0.05)  # ACKed: settled, not re-sent
    metrics = await scrape(app)
    assert metrics[("fastport_dead_letters_total", (("reason", "retry_limit"),))] == 1
    assert metrics[("fastport_pending_messages", ())] == 0


async def test_websocket_subscriber_never_acks_its_dead_letter_reaches_grpc(
    app: App, rest, ws, streams, clock
) -> None:
    await make_session(rest, **SESSION)
    silent = await open_joined(ws, "orders/#")
    dlq = streams()
    await dlq.init("r")
    await dlq.subscribe("dead")
    publisher = await open_joined(ws)
    await publisher.send({"type": "publish", "topic": "orders/new", "data": {"n": 1}, "timestamp": 1234, "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 1
    assert (await silent.recv())["messageId"] == "m1"
    await tick(clock, 1000)
    assert (await silent.recv())["retry"] == 1
    await tick(clock, 1000)
    (dead,) = await dlq.messages(1)
    assert (dead.topic, dead.payload, dead.json, dead.hash, dead.timestamp_ms) == ("dead", b'{"n":1}', True, "", 1234)
    assert dict(dead.attributes) == {
        "fastport-dl-topic": "orders/new",
        "fastport-dl-message-id": "m1",
        "fastport-dl-reason": "retry_limit",
        "fastport-dl-attempts": "2",
        "fastport-dl-subscriber": "",  # a socket without a client id
        "fastport-dl-time-ms": str(clock.now_ms()),
    }
    await dlq.send(ack=[pb.Ack(message_id=dead.message_id, topic="dead")])
    # The legacy protocol has no frame for a given-up delivery: the publisher hears nothing.
    assert await publisher.silent(0.05)
