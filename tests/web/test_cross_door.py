"""Both doors are one broker: WebSocket publishers reach gRPC subscribers and the
reverse, byte for byte, with ACKs and ack_received crossing doors."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from fastport_proto.v1 import admin_pb2
from fastport_proto.v1 import broker_pb2 as pb

from ..support import ADMIN_METADATA, create_session
from .wire import compact

Stream = grpc.aio.StreamStreamCall


@pytest.fixture
async def grpc_sub(broker_stub, session) -> AsyncIterator[Callable[..., asyncio.Future]]:
    """Open a gRPC Connect stream into "s1" subscribed to the given topics."""
    streams: list[Stream] = []

    async def open_stream(*topics: str) -> Stream:
        stream = broker_stub.Connect()
        streams.append(stream)
        await stream.write(
            pb.ClientFrame(
                init=pb.Init(request_id=1, session="s1", password="pw"),
                subscribe=[pb.Subscribe(request_id=2 + i, topic=t) for i, t in enumerate(topics)],
            )
        )
        results = 0
        while results < len(topics):
            frame = await read(stream, lambda f: f.HasField("init_result") or f.subscribe_results)
            if frame.HasField("init_result"):
                assert not frame.init_result.HasField("error"), frame
            for r in frame.subscribe_results:
                assert not r.HasField("error"), r
                results += 1
        return stream

    yield open_stream
    for stream in streams:
        stream.cancel()


async def read(stream: Stream, want: Callable[[pb.ServerFrame], object], timeout: float = 5.0) -> pb.ServerFrame:
    """The next server frame for which ``want`` is true (others are skipped)."""
    async def go() -> pb.ServerFrame:
        while True:
            frame = await stream.read()
            assert frame is not grpc.aio.EOF, "stream ended"
            if want(frame):
                return frame

    return await asyncio.wait_for(go(), timeout)


async def test_websocket_publisher_to_grpc_subscriber(grpc_sub, joined) -> None:
    stream = await grpc_sub("sensors/#")
    publisher = await joined()
    data = "oKGio6SlpqeoqaqrrK2urw==:ylP3JhVDetzyV3JeCk7M1g== héllo 👋"
    await publisher.send(
        {"type": "publish", "topic": "sensors/t1", "data": data, "hash": "abc", "timestamp": 42, "messageId": "m1"}
    )
    assert await publisher.recv_text() == '{"type":"publish_response","success":true,"messageId":"m1","deliveredTo":1}'
    frame = await read(stream, lambda f: f.messages)
    [message] = frame.messages
    assert (message.topic, message.message_id, message.hash, message.timestamp_ms) == ("sensors/t1", "m1", "abc", 42)
    assert message.payload == data.encode("utf-8") and not message.json and message.retry == 0
    await stream.write(pb.ClientFrame(ack=[pb.Ack(message_id="m1", topic="sensors/t1")]))
    assert await publisher.recv_text() == '{"type":"ack_received","messageId":"m1","topic":"sensors/t1","remaining":0}'


async def test_grpc_publisher_to_websocket_subscriber(grpc_sub, joined) -> None:
    subscriber = await joined("sensors/+")
    stream = await grpc_sub()
    await stream.write(
        pb.ClientFrame(
            publish=[
                pb.Publish(
                    request_id=9, topic="sensors/t1", payload="héllo 👋".encode(), hash="h", timestamp_ms=7,
                    message_id="g1", attributes={"trace": "abc"},
                )
            ]
        )
    )
    result = (await read(stream, lambda f: f.publish_results)).publish_results[0]
    assert (result.request_id, result.message_id, result.delivered_to) == (9, "g1", 1)
    # The legacy protocol has no place for attributes: the frame is exactly as without.
    assert await subscriber.recv_text() == compact(
        {"type": "message", "topic": "sensors/t1", "data": "héllo 👋", "hash": "h", "timestamp": 7, "messageId": "g1"}
    )
    await subscriber.send({"type": "ack", "topic": "sensors/t1", "messageId": "g1"})
    ack = (await read(stream, lambda f: f.acks_received)).acks_received[0]
    assert (ack.message_id, ack.topic, ack.remaining) == ("g1", "sensors/t1", 0)


async def test_hashes_grpc_cannot_carry_are_empty_there(grpc_sub, joined) -> None:
    """proto3 has no null and no unset string: none, null and "" all reach gRPC as "",
    and a gRPC publish with an empty hash reaches WebSocket with none."""
    subscriber = await joined("g")
    publisher = await joined()
    stream = await grpc_sub("t")
    for message_id, given in [("none", {}), ("null", {"hash": None}), ("empty", {"hash": ""})]:
        await publisher.send({"type": "publish", "topic": "t", "data": "x", **given, "messageId": message_id})
        message = (await read(stream, lambda f: f.messages)).messages[0]
        assert (message.message_id, message.hash) == (message_id, "")
    await stream.write(pb.ClientFrame(publish=[pb.Publish(topic="g", payload=b"x", timestamp_ms=7, message_id="g1")]))
    assert await subscriber.recv_text() == compact(
        {"type": "message", "topic": "g", "data": "x", "timestamp": 7, "messageId": "g1"}
    )


async def test_binary_and_json_payloads_across_doors(grpc_sub, joined) -> None:
    subscriber = await joined("t")
    stream = await grpc_sub("t")
    await stream.write(
        pb.ClientFrame(
            publish=[
                pb.Publish(topic="t", payload=b"\xff\xfe\x00binary", message_id="bin"),
                pb.Publish(topic="t", payload=b'{"value":25.5,"ok":true}', json=True, message_id="obj"),
            ]
        )
    )
    binary = await subscriber.recv()
    assert binary["data"] == base64.b64encode(b"\xff\xfe\x00binary").decode() and binary["encoding"] == "base64"
    assert (await subscriber.recv())["data"] == {"value": 25.5, "ok": True}
    # and a JSON value published over WebSocket reaches gRPC as its JSON text, flagged
    await subscriber.send({"type": "publish", "topic": "t", "data": [1, {"a": None}], "messageId": "arr"})
    message = (await read(stream, lambda f: any(m.message_id == "arr" for m in f.messages))).messages[-1]
    assert message.payload == b'[1,{"a":null}]' and message.json


async def test_unary_grpc_publish_reaches_websocket(broker_stub, joined) -> None:
    subscriber = await joined("t")
    result = await broker_stub.Publish(
        pb.PublishRequest(session="s1", password="pw", publish=pb.Publish(topic="t", payload=b"x", message_id="u1"))
    )
    assert result.delivered_to == 1
    assert (await subscriber.recv())["messageId"] == "u1"


async def test_sessions_are_shared_by_both_admin_apis(admin, ws, rest) -> None:
    await create_session(admin, "from-grpc", "pw1")
    client = await ws()
    await client.init("from-grpc", "pw1")
    status, _ = await rest.create_session("from-rest", "pw2")
    assert status == 200
    info = await admin.GetSession(admin_pb2.GetSessionRequest(name="from-rest"), metadata=ADMIN_METADATA)
    assert info.name == "from-rest"


async def test_publisher_skipped_and_fan_out_counts_both_doors(grpc_sub, joined) -> None:
    ws_sub = await joined("t")
    stream = await grpc_sub("t")
    publisher = await joined("t")
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "messageId": "m"})
    assert (await publisher.recv())["deliveredTo"] == 2
    await ws_sub.recv()
    await read(stream, lambda f: f.messages)
    await ws_sub.send({"type": "ack", "topic": "t", "messageId": "m"})
    assert (await publisher.recv())["remaining"] == 1
    await stream.write(pb.ClientFrame(ack=[pb.Ack(message_id="m")]))
    assert (await publisher.recv())["remaining"] == 0


@pytest.mark.parametrize("timestamp", [2**63, 2**64 - 1])
async def test_a_timestamp_beyond_int64_is_refused_and_re_sends_go_on(grpc_sub, joined, clock, timestamp: int) -> None:
    """A value the gRPC door cannot encode (int64 timestamp_ms) is refused at publish:
    before, it raised while a gRPC subscriber's frame was built, and the session's
    re-sends stopped for good."""
    stream = await grpc_sub("t")
    publisher = await joined()
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "timestamp": timestamp, "messageId": "bad"})
    refused = await publisher.recv()
    assert (refused["success"], refused["code"]) == (False, "invalid_field")
    await publisher.send({"type": "publish", "topic": "t", "data": "x", "timestamp": 2**63 - 1, "messageId": "m1"})
    assert (await publisher.recv())["deliveredTo"] == 1
    first = (await read(stream, lambda f: f.messages)).messages[0]
    assert (first.message_id, first.timestamp_ms, first.retry) == ("m1", 2**63 - 1, 0)
    clock.advance(5000)  # the default retry interval
    again = (await read(stream, lambda f: f.messages)).messages[0]
    assert (again.message_id, again.retry) == ("m1", 1)
