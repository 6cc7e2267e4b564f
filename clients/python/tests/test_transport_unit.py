"""Transport details that need no server: how the gRPC transport packs frames, and how
the WebSocket transport reads the legacy protocol's frames (old servers included)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import pytest
from fastport_proto.v1 import broker_pb2 as pb
from fpc_support import settle

from fastport_client.errors import BrokerError, ConnectError
from fastport_client.transport import parse_url
from fastport_client.transport.base import AckReceived, Delivery, DeliveryFailed, OutgoingPublish, PublishResult
from fastport_client.transport.grpc import FRAME_BYTES, GrpcTransport
from fastport_client.transport.ws import WebSocketTransport


@dataclass
class Recording:
    deliveries: list[Delivery] = field(default_factory=list)
    results: list[PublishResult] = field(default_factory=list)
    acks: list[AckReceived] = field(default_factory=list)
    failures: list[DeliveryFailed] = field(default_factory=list)
    errors: list[BrokerError] = field(default_factory=list)
    closed: list[ConnectError] = field(default_factory=list)

    def on_delivery(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)

    def on_publish_result(self, result: PublishResult) -> None:
        self.results.append(result)

    def on_ack_received(self, ack: AckReceived) -> None:
        self.acks.append(ack)

    def on_delivery_failed(self, failure: DeliveryFailed) -> None:
        self.failures.append(failure)

    def on_server_error(self, error: BrokerError) -> None:
        self.errors.append(error)

    def on_closed(self, error: ConnectError) -> None:
        self.closed.append(error)


def item(n: int, size: int = 10) -> OutgoingPublish:
    return OutgoingPublish("t", f"m{n}", "x" * size, "h", 1)


def frames_of(transport: GrpcTransport) -> list[pb.ClientFrame]:
    return transport._outbox


# ---------------------------------------------------------------- gRPC frame packing


def test_publishes_and_acks_of_one_turn_share_a_frame() -> None:
    t = GrpcTransport(parse_url("grpc://h:1"), Recording())
    for n in range(3):
        t.publish(item(n))
    t.ack("t", "a1")
    t.ack("t", "a2")
    [frame] = frames_of(t)
    assert [p.message_id for p in frame.publish] == ["m0", "m1", "m2"]
    assert [a.message_id for a in frame.ack] == ["a1", "a2"]


def test_an_item_that_would_jump_the_queue_starts_a_new_frame() -> None:
    """The server handles a frame's items in field order; the client's order wins."""
    t = GrpcTransport(parse_url("grpc://h:1"), Recording())
    t.ack("t", "a1")
    t.publish(item(1))  # must not be handled before the ACK sent first
    t.ack("t", "a2")
    assert [(len(f.publish), len(f.ack)) for f in frames_of(t)] == [(0, 1), (1, 1)]


async def test_unsubscribe_then_subscribe_keeps_its_order() -> None:
    t = GrpcTransport(parse_url("grpc://h:1"), Recording())
    pending = [asyncio.ensure_future(t.unsubscribe("a")), asyncio.ensure_future(t.subscribe("a", False))]
    await settle()
    frames = frames_of(t)
    assert [(len(f.unsubscribe), len(f.subscribe)) for f in frames] == [(1, 0), (0, 1)]
    await t.close()
    for p in pending:
        with pytest.raises(ConnectError):
            await p


async def test_each_init_gets_its_own_frame_and_subscribes_follow_it() -> None:
    t = GrpcTransport(parse_url("grpc://h:1"), Recording())
    pending = [
        asyncio.ensure_future(t.init("s", "pw", None)),
        asyncio.ensure_future(t.subscribe("a", True)),
        asyncio.ensure_future(t.subscribe("b", True)),
        asyncio.ensure_future(t.init("s2", "pw", "c1")),
    ]
    await settle()
    frames = frames_of(t)
    assert [(f.HasField("init"), len(f.subscribe)) for f in frames] == [(True, 2), (True, 0)]
    assert frames[1].init.client_id == "c1"
    await t.close()
    await asyncio.gather(*pending, return_exceptions=True)


def test_frames_stay_under_the_size_limit() -> None:
    t = GrpcTransport(parse_url("grpc://h:1"), Recording())
    for n in range(5):
        t.publish(item(n, size=FRAME_BYTES // 3))
    assert [len(f.publish) for f in frames_of(t)] == [2, 2, 1]


# ---------------------------------------------------------------- legacy JSON frames


def ws_transport() -> tuple[WebSocketTransport, Recording]:
    listener = Recording()
    return WebSocketTransport(parse_url("ws://h:1"), listener), listener


def test_legacy_message_frames() -> None:
    t, rec = ws_transport()
    t._dispatch('{"type":"message","topic":"a","data":"d:e","hash":"h","timestamp":5,"messageId":"m1"}')
    t._dispatch('{"type":"message","topic":"a","data":{"plain":1},"hash":"","timestamp":6,"messageId":"m2","retry":2}')
    assert rec.deliveries == [
        Delivery("a", "m1", "d:e", "h", 5, 0, False),
        Delivery("a", "m2", '{"plain":1}', "", 6, 2, True),
    ]


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"error": "Not initialized"}, "not_initialized"),
        ({"error": "Unknown message type"}, "invalid_frame"),
        ({"error": "Invalid frame", "code": "invalid_frame"}, "invalid_frame"),
        ({"error": "Something new"}, "internal"),
    ],
)
def test_untyped_error_frames_from_old_and_new_servers(frame: dict[str, str], code: str) -> None:
    t, rec = ws_transport()
    t._dispatch(json.dumps(frame))
    assert [e.code for e in rec.errors] == [code]


def test_publish_responses_and_ack_received() -> None:
    t, rec = ws_transport()
    t._dispatch('{"type":"publish_response","success":true,"messageId":"m1","deliveredTo":2}')
    t._dispatch('{"type":"publish_response","success":false,"error":"Session suspended or invalid","messageId":"m2"}')
    t._dispatch('{"type":"ack_received","messageId":"m1","topic":"t","remaining":1}')
    assert rec.results[0] == PublishResult("m1", 2, False, None)
    assert rec.results[1].error is not None and rec.results[1].error.code == "session_suspended"
    assert rec.acks == [AckReceived("m1", "t", 1)]


async def test_legacy_init_refusal_codes() -> None:
    t, _ = ws_transport()
    init = asyncio.ensure_future(t.init("s", "pw", None))
    await settle()
    t._dispatch('{"type":"init_response","success":false,"error":"Invalid password"}')
    with pytest.raises(BrokerError) as err:
        await init
    assert err.value.code == "invalid_password"


async def test_subscribe_responses_are_matched_by_topic() -> None:
    t, _ = ws_transport()
    a = asyncio.ensure_future(t.subscribe("a", False))
    b = asyncio.ensure_future(t.subscribe("b/#", False))
    await settle()
    t._dispatch('{"type":"subscribe_response","success":false,"topic":"b/#","error":"Bad topic","code":"invalid_topic"}')
    t._dispatch('{"type":"subscribe_response","success":true,"topic":"a"}')
    await a
    with pytest.raises(BrokerError) as err:
        await b
    assert err.value.code == "invalid_topic"
