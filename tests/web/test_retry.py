"""Re-sends over the WebSocket door, driven by the manual clock: ``"retry":K`` on each
re-send, the publisher's timestamp kept, only unACKed subscribers re-sent to, the retry
limit and message expiry enforced on time (legacy-json.md §3–§4)."""

from __future__ import annotations

from fastport.app import App

from .wire import compact, make_session, open_joined, tick


def message(retry: int = 0, mid: str = "m1") -> str:
    frame = {"type": "message", "topic": "t", "data": "x", "hash": "h", "timestamp": 1234, "messageId": mid}
    if retry:
        frame["retry"] = retry
    return compact(frame)


async def test_resend_until_acked(ws, rest, clock) -> None:
    await make_session(rest, retryInterval=1000)
    acker = await open_joined(ws, "t")
    silent = await open_joined(ws, "t")
    publisher = await open_joined(ws, "t")
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "hash": "h", "timestamp": 1234, "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 2
    assert await acker.recv_text() == message()
    assert await silent.recv_text() == message()
    await acker.send({"type": "ack", "topic": "t", "messageId": "m1"})
    assert (await publisher.recv())["remaining"] == 1
    await tick(clock, 999)
    assert await silent.silent(0.05)
    for k in (1, 2, 3):
        await tick(clock, 1000 if k > 1 else 1)
        assert await silent.recv_text() == message(k)  # same timestamp, retry counter
    assert await acker.silent(0.05)  # ACKed: not re-sent
    assert await publisher.silent(0.05)  # the publisher is never re-sent its own message
    await silent.send({"type": "ack", "topic": "t", "messageId": "m1"})
    assert await publisher.recv_text() == '{"type":"ack_received","messageId":"m1","topic":"t","remaining":0}'
    await tick(clock, 5000)
    assert await silent.silent(0.05)


async def test_default_retry_interval_is_5000(ws, rest, clock) -> None:
    await make_session(rest)
    sub = await open_joined(ws, "t")
    publisher = await open_joined(ws)
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "hash": "h", "timestamp": 1234, "messageId": "m1"})
    await sub.recv()
    await tick(clock, 4999)
    assert await sub.silent(0.05)
    await tick(clock, 1)
    assert await sub.recv_text() == message(1)


async def test_retry_limit(app: App, ws, rest, clock) -> None:
    await make_session(rest, retryInterval=100, maxRetryLimit=2)
    sub = await open_joined(ws, "t")
    publisher = await open_joined(ws)
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "hash": "h", "timestamp": 1234, "messageId": "m1"})
    await sub.recv()
    for k in (1, 2):
        await tick(clock, 100)
        assert await sub.recv_text() == message(k)
    await tick(clock, 100)
    assert await sub.silent(0.05)
    assert app.broker.get_session("r").pending_messages == 0


async def test_message_expiry_is_enforced_on_time(app: App, ws, rest, clock) -> None:
    await make_session(rest, retryInterval=1000, messageExpiryTime=1500)
    sub = await open_joined(ws, "t")
    publisher = await open_joined(ws)
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "hash": "h", "timestamp": 1234, "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 1
    await sub.recv()
    await tick(clock, 1000)
    assert await sub.recv_text() == message(1)
    await tick(clock, 500)
    assert app.broker.get_session("r").pending_messages == 0  # expired at 1500, before the next retry
    await tick(clock, 1000)
    assert await sub.silent(0.05)
    # a late ACK is ignored
    await sub.send({"type": "ack", "topic": "t", "messageId": "m1"})
    assert await publisher.silent(0.05)


async def test_a_retry_is_encoded_per_subscriber(ws, rest, clock) -> None:
    """One subscriber ACKs the first send, the other the first re-send: each sees its own
    counter, and a new subscriber is not sent old messages."""
    await make_session(rest, retryInterval=100)
    a = await open_joined(ws, "t")
    b = await open_joined(ws, "t")
    publisher = await open_joined(ws)
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "hash": "h", "timestamp": 1234, "messageId": "m1"})
    await a.recv()
    await b.recv()
    await tick(clock, 100)
    assert await a.recv_text() == message(1)
    assert await b.recv_text() == message(1)
    await a.send({"type": "ack", "topic": "t", "messageId": "m1"})
    await publisher.recv()
    late = await open_joined(ws, "t")
    await tick(clock, 100)
    assert await b.recv_text() == message(2)
    assert await a.silent(0.05)
    assert await late.silent(0.05)
