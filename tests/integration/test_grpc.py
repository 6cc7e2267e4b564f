"""The gRPC door against a real grpc.aio server on a free loopback port."""

from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from fastport_proto.v1 import admin_pb2, admin_pb2_grpc, broker_pb2_grpc
from fastport_proto.v1 import broker_pb2 as pb
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from fastport.app import App
from fastport.core import ManualClock
from fastport.rpc.stream import PUBLISH_SLICE, QUIET_STREAMS

from ..support import ADMIN_METADATA, ServerProcess, Stream, create_session

async def test_two_sessions_side_by_side(admin, streams) -> None:
    await create_session(admin, "a")
    await create_session(admin, "b", password="pb")
    sub_a, sub_b, pub_a, pub_b = streams(), streams(), streams(), streams()
    assert not (await sub_a.init("a")).HasField("error")
    assert not (await sub_b.init("b", "pb")).HasField("error")
    await pub_a.init("a")
    await pub_b.init("b", "pb")
    await sub_a.subscribe("news")
    await sub_b.subscribe("news")
    assert (await pub_a.publish("news", b"for a", message_id="m")).delivered_to == 1
    assert (await pub_b.publish("news", b"for b", message_id="m")).delivered_to == 1
    assert [m.payload for m in await sub_a.messages(1)] == [b"for a"]
    assert [m.payload for m in await sub_b.messages(1)] == [b"for b"]


async def test_fan_out_with_acks_reaching_publisher(admin, streams) -> None:
    await create_session(admin, "s")
    subs = [streams() for _ in range(4)]
    for s in subs:
        await s.init("s")
        await s.subscribe("t/+")
    pub = streams()
    await pub.init("s")
    result = await pub.publish("t/1", b"hello", hash="h1", timestamp_ms=42, message_id="m1")
    assert result.delivered_to == 4 and result.message_id == "m1" and not result.duplicate
    for i, s in enumerate(subs):
        (m,) = await s.messages(1)
        assert (m.topic, m.payload, m.hash, m.timestamp_ms, m.retry) == ("t/1", b"hello", "h1", 42, 0)
        await s.send(ack=[pb.Ack(message_id="m1", topic="t/1")])
        (ack,) = await pub.acks_received(1)
        assert (ack.message_id, ack.remaining) == ("m1", 3 - i)


async def test_never_acking_subscriber_retried_exactly_to_limit(app: App, admin, streams, clock: ManualClock) -> None:
    await create_session(admin, "s", retry_interval_ms=1000, max_retry_limit=3)
    silent, acker, pub = streams(), streams(), streams()
    for s in (silent, acker, pub):
        await s.init("s")
    await silent.subscribe("t")
    await acker.subscribe("t")
    await pub.publish("t", message_id="m1")
    await acker.messages(1)
    await acker.send(ack=[pb.Ack(message_id="m1")])
    await pub.acks_received(1)
    retries = [m.retry for m in await silent.messages(1)]
    for _ in range(3):
        clock.advance(1000)
        retries += [m.retry for m in await silent.messages(1)]
    assert retries == [0, 1, 2, 3]
    clock.advance(1000)
    failed = await pub.until(lambda f: len(f.delivery_failures) > 0)
    assert [(d.message_id, d.reason, d.remaining) for d in failed.delivery_failures] == [("m1", "retry_limit", 0)]
    clock.advance(5000)
    await asyncio.sleep(0.05)
    assert not any(f.messages for f in acker.frames + silent.frames)


async def test_batched_frame_of_publishes_and_acks(admin, streams) -> None:
    await create_session(admin, "s")
    sub, pub = streams(), streams()
    await sub.init("s")
    await sub.subscribe("t")
    await pub.init("s")
    await pub.send(publish=[pb.Publish(request_id=i, topic="t", payload=b"%d" % i) for i in range(1, 501)])
    results: list[pb.PublishResult] = []
    while len(results) < 500:
        results += (await pub.until(lambda f: len(f.publish_results) > 0)).publish_results
    assert [r.request_id for r in results] == list(range(1, 501))
    msgs = await sub.messages(500)
    assert [m.payload for m in msgs] == [b"%d" % i for i in range(1, 501)]
    await sub.send(ack=[pb.Ack(message_id=m.message_id) for m in msgs])
    assert len(await pub.acks_received(500)) == 500


async def test_large_frame_answered_in_slices(admin, streams) -> None:
    """The first slice's results are written before the rest of the frame is handled,
    so a publisher can refill its window half-way (see PUBLISH_SLICE)."""
    await create_session(admin, "s")
    sub, pub = streams(), streams()
    await sub.init("s")
    await sub.subscribe("t")
    await pub.init("s")
    n = 3 * PUBLISH_SLICE + 1
    await pub.send(publish=[pb.Publish(request_id=i, topic="t", payload=b"%d" % i) for i in range(1, n + 1)])
    frames = [await pub.until(lambda f: len(f.publish_results) > 0)]
    while sum(len(f.publish_results) for f in frames) < n:
        frames.append(await pub.until(lambda f: len(f.publish_results) > 0))
    assert len(frames[0].publish_results) == PUBLISH_SLICE
    assert [r.request_id for f in frames for r in f.publish_results] == list(range(1, n + 1))
    assert [m.payload for m in await sub.messages(n)] == [b"%d" % i for i in range(1, n + 1)]


async def test_busy_server_answers_a_frame_at_once(admin, streams) -> None:
    """With frames coming from more than QUIET_STREAMS streams, a frame is not sliced:
    slicing would only multiply the stream messages of a server that is busy anyway."""
    await create_session(admin, "s")
    subs = [streams() for _ in range(QUIET_STREAMS)]
    for s in subs:
        await s.init("s")
        await s.subscribe("t")
    pub = streams()
    await pub.init("s")
    n = 3 * PUBLISH_SLICE + 1
    await pub.send(publish=[pb.Publish(request_id=i, topic="t") for i in range(1, n + 1)])
    frame = await pub.until(lambda f: len(f.publish_results) > 0)
    assert [r.request_id for r in frame.publish_results] == list(range(1, n + 1))


@pytest.mark.parametrize("fsync, sliced", [("full", False), ("normal", True)])
async def test_sqlite_slices_only_when_it_commits_on_the_loop(tmp_path, monkeypatch, fsync: str, sliced: bool) -> None:
    """With fsync=full the sqlite store answers from its writer thread: no result is
    ready after a slice, and pausing would only split its batch, so the frame is handled
    at once (results in one frame). With fsync=normal it commits on the loop when asked
    (Broker.commit), and the frame is sliced as with the memory store."""
    from ..support import make_settings

    server = App(make_settings(tmp_path, store="sqlite", fsync=fsync))
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            await create_session(admin_pb2_grpc.AdminStub(channel), "s")
            pub = Stream(broker_pb2_grpc.BrokerStub(channel))
            await pub.init("s")
            n = 3 * PUBLISH_SLICE + 1
            await pub.send(publish=[pb.Publish(request_id=i, topic="t") for i in range(1, n + 1)])
            frame = await pub.until(lambda f: len(f.publish_results) > 0)
            assert len(frame.publish_results) == (PUBLISH_SLICE if sliced else n)
            pub.close()
    finally:
        await server.stop()


async def test_duplicate_message_id_returns_original_result(admin, streams) -> None:
    await create_session(admin, "s")
    sub, pub = streams(), streams()
    await sub.init("s")
    await sub.subscribe("t")
    await pub.init("s")
    first = await pub.publish("t", message_id="dup")
    again = await pub.publish("t", message_id="dup")
    assert again.duplicate and again.delivered_to == first.delivered_to == 1
    assert len(await sub.messages(1)) == 1
    await asyncio.sleep(0.05)
    assert not any(f.messages for f in sub.frames)


async def test_errors_have_stable_codes(admin, streams) -> None:
    await create_session(admin, "s")
    s = streams()
    pre = await s.publish("t")
    assert pre.error.code == "not_initialized"
    (sub_result,) = await s.subscribe("t")
    assert sub_result.error.code == "not_initialized"
    assert (await s.init("nope")).error.code == "session_not_found"
    assert (await s.init("s", "wrong")).error.code == "invalid_password"
    assert not (await s.init("s")).HasField("error")  # the stream stayed usable
    (bad,) = await s.subscribe("a/#/b")
    assert bad.error.code == "invalid_topic"
    assert (await s.publish("a/+")).error.code == "invalid_topic"
    big = await s.publish("t", b"x" * (10 * 1024 * 1024 + 1))
    assert big.error.code == "payload_too_large"


async def test_errors_echo_the_request_id(admin, streams) -> None:
    await create_session(admin, "s")
    s = streams()
    assert (await s.init("s", "wrong")).error.request_id > 0
    await s.init("s")
    (bad,) = await s.subscribe("a/#/b")
    assert bad.error.request_id == bad.request_id > 0
    await s.send(unsubscribe=[pb.Unsubscribe(request_id=77, topic="a/#/b")])
    (unsub,) = (await s.until(lambda f: len(f.unsubscribe_results) > 0)).unsubscribe_results
    assert (unsub.request_id, unsub.error.request_id, unsub.error.code) == (77, 77, "invalid_topic")
    refused = await s.publish("a/+")
    assert refused.error.request_id == refused.request_id > 0


async def test_ack_and_nack_answer_when_asked(app: App, admin, streams, clock: ManualClock) -> None:
    await create_session(admin, "s", retry_interval_ms=60_000)
    pub, sub = streams(), streams()
    await pub.init("s")
    await sub.init("s")
    await sub.subscribe("t")
    await pub.publish("t", b"one", message_id="m1")
    (first,) = await sub.messages(1)
    start = clock.now_ms()
    # A NACK makes the delivery due now: re-sent long before its 60 s retry interval,
    # counted as a re-send.
    await sub.send(nack=[pb.Nack(message_id="m1", topic="t", request_id=5)])
    (nacked,) = (await sub.until(lambda f: len(f.ack_results) > 0)).ack_results
    assert (nacked.request_id, nacked.message_id, nacked.HasField("error")) == (5, "m1", False)
    (again,) = await sub.messages(1)
    assert (first.retry, again.message_id, again.retry, again.payload) == (0, "m1", 1, b"one")
    assert clock.now_ms() == start  # the manual clock did not move
    # ACKs in one frame: an answer for each that asked, a coded error for an id this
    # stream has no unsettled delivery of, nothing for the one that did not ask.
    await sub.send(
        ack=[
            pb.Ack(message_id="m1", topic="t", request_id=6),
            pb.Ack(message_id="m1", topic="t", request_id=7),
            pb.Ack(message_id="m1", topic="t"),
            pb.Ack(message_id="nope", topic="t", request_id=8),
        ],
        nack=[pb.Nack(message_id="m1", topic="t", request_id=9)],
    )
    results: list[pb.AckResult] = []
    while len(results) < 4:
        results += (await sub.until(lambda f: len(f.ack_results) > 0)).ack_results
    assert [(r.request_id, r.error.code, r.error.request_id) for r in results] == [
        (6, "", 0),
        (7, "unknown_message", 7),
        (8, "unknown_message", 8),
        (9, "unknown_message", 9),
    ]
    assert (await pub.acks_received(1))[0].remaining == 0
    assert app.broker.get_session("s").pending_messages == 0


async def test_attributes_travel_with_the_message(app: App, admin, streams, clock: ManualClock) -> None:
    await create_session(admin, "s", retry_interval_ms=1000)
    pub, sub = streams(), streams()
    await pub.init("s")
    await sub.init("s")
    await sub.subscribe("t")
    attributes = {"content-type": "application/json", "trace": "é👋", "empty": ""}
    assert not (await pub.publish("t", b"{}", attributes=attributes)).HasField("error")
    (first,) = await sub.messages(1)
    assert dict(first.attributes) == attributes
    clock.advance(1000)  # a re-send is encoded anew: the attributes are still there
    (again,) = await sub.messages(1)
    assert (again.retry, dict(again.attributes)) == (1, attributes)
    plain = await pub.publish("t", b"x")
    (bare,) = await sub.messages(1)
    assert bare.message_id == plain.message_id and not bare.attributes
    assert (await pub.publish("t", b"x", attributes={"": "v"})).error.code == "invalid_field"
    # Keys and values count towards the payload limit.
    too_big = await pub.publish("t", b"x" * (10 * 1024 * 1024 - 3), attributes={"ab": "cd"})
    assert too_big.error.code == "payload_too_large"


async def test_undecodable_frame_gets_invalid_frame(app: App) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        raw = channel.stream_stream("/fastport.v1.Broker/Connect")
        call = raw()
        await call.write(b"\xff\xff\xff")
        reply = pb.ServerFrame.FromString(await call.read())
        assert [e.code for e in reply.errors] == ["invalid_frame"]
        # ...and the stream still works afterwards
        await call.write(pb.ClientFrame(publish=[pb.Publish(request_id=7, topic="t")]).SerializeToString())
        reply = pb.ServerFrame.FromString(await call.read())
        assert reply.publish_results[0].error.code == "not_initialized"
        call.cancel()


async def test_drop_session_closes_streams_with_reason(admin, streams) -> None:
    created = await create_session(admin, "s")
    s = streams()
    await s.init("s")
    await admin.DropSession(
        admin_pb2.SessionCredentials(name="s", password="pw", secret_key=created.secret_key)
    )
    frame = await s.until(lambda f: f.HasField("closing"))
    assert frame.closing.code == "session_dropped"
    assert await s.call.read() is grpc.aio.EOF


async def test_admin_requires_token_or_session_secret(admin) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await admin.CreateSession(admin_pb2.CreateSessionRequest(name="x", password="pw"))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    metadata = dict(info.value.trailing_metadata())
    assert (metadata["fastport-error-code"], metadata["fastport-error-temporary"]) == ("unauthenticated", "false")
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await admin.ListSessions(admin_pb2.ListSessionsRequest(), metadata=(("authorization", "Bearer nope"),))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
    created = await create_session(admin, "s")
    creds = admin_pb2.SessionCredentials(name="s", password="pw", secret_key=created.secret_key)
    assert (await admin.SuspendSession(creds)).suspended
    assert not (await admin.ResumeSession(creds)).suspended
    wrong = admin_pb2.SessionCredentials(name="s", password="pw", secret_key="0" * 64)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await admin.DropSession(wrong)
    assert dict(info.value.trailing_metadata())["fastport-error-code"] == "invalid_credentials"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await create_session(admin, "s")
    assert info.value.code() == grpc.StatusCode.ALREADY_EXISTS
    info_reply = await admin.GetSession(admin_pb2.GetSessionRequest(name="s"), metadata=ADMIN_METADATA)
    assert info_reply.name == "s" and info_reply.retry_interval_ms == 5000
    listed = await admin.ListSessions(admin_pb2.ListSessionsRequest(), metadata=ADMIN_METADATA)
    assert [s.name for s in listed.sessions] == ["s"]
    await admin.DropSession(admin_pb2.SessionCredentials(name="s"), metadata=ADMIN_METADATA)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await admin.GetSession(admin_pb2.GetSessionRequest(name="s"), metadata=ADMIN_METADATA)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


async def test_admin_sets_and_shows_a_dead_letter_topic(admin) -> None:
    created = await create_session(admin, "s", dead_letter_topic="dead/letters")
    assert created.session.dead_letter_topic == "dead/letters"
    got = await admin.GetSession(admin_pb2.GetSessionRequest(name="s"), metadata=ADMIN_METADATA)
    assert got.dead_letter_topic == "dead/letters"
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await create_session(admin, "wild", dead_letter_topic="dead/+")
    assert dict(info.value.trailing_metadata())["fastport-error-code"] == "invalid_topic"


async def test_suspended_session_refuses_publish(admin, streams) -> None:
    await create_session(admin, "s")
    pub = streams()
    await pub.init("s")
    await admin.SuspendSession(admin_pb2.SessionCredentials(name="s"), metadata=ADMIN_METADATA)
    assert (await pub.publish("t")).error.code == "session_suspended"
    await admin.ResumeSession(admin_pb2.SessionCredentials(name="s"), metadata=ADMIN_METADATA)
    assert not (await pub.publish("t")).HasField("error")


async def test_unary_publish(admin, broker_stub, streams) -> None:
    await create_session(admin, "s")
    sub = streams()
    await sub.init("s")
    await sub.subscribe("t")
    result = await broker_stub.Publish(
        pb.PublishRequest(session="s", password="pw", publish=pb.Publish(topic="t", payload=b"one"))
    )
    assert result.delivered_to == 1
    assert [m.payload for m in await sub.messages(1)] == [b"one"]
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await broker_stub.Publish(pb.PublishRequest(session="s", password="bad", publish=pb.Publish(topic="t")))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_health_and_reflection(channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "fastport.v1.Broker", "fastport.v1.Admin"):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    # grpcurl and other tools ask v1 first, older ones v1alpha: both are served, with
    # the same messages (v1 is v1alpha renamed), so v1alpha's classes speak both.
    for version in ("v1alpha", "v1"):
        call = channel.stream_stream(
            f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )(
            iter(
                [
                    reflection_pb2.ServerReflectionRequest(list_services=""),
                    reflection_pb2.ServerReflectionRequest(file_containing_symbol="fastport.v1.Broker"),
                ]
            )
        )
        names = {s.name for s in (await call.read()).list_services_response.service}
        assert {"fastport.v1.Admin", "fastport.v1.Broker", "grpc.health.v1.Health"} <= names
        assert f"grpc.reflection.{version}.ServerReflection" in names
        files = (await call.read()).file_descriptor_response.file_descriptor_proto
        assert any(b"fastport.v1" in f and b"ClientFrame" in f for f in files)


async def test_shutdown_tells_connected_streams(tmp_path) -> None:
    from ..support import make_settings

    server = App(make_settings(tmp_path))
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        await create_session(admin_pb2_grpc.AdminStub(channel), "s")
        s = Stream(broker_pb2_grpc.BrokerStub(channel))
        await s.init("s")
        stopping = asyncio.create_task(server.stop())
        frame = await s.until(lambda f: f.HasField("closing"))
        assert frame.closing.code == "shutting_down"
        assert await s.call.read() is grpc.aio.EOF
        await stopping



async def test_tls_when_a_certificate_is_configured(tmp_path) -> None:
    from ..support import make_settings, self_signed_certificate

    cert, key = self_signed_certificate(tmp_path)
    server = App(make_settings(tmp_path, tls_cert=cert, tls_key=key))
    await server.start()
    try:
        creds = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with grpc.aio.secure_channel(f"127.0.0.1:{server.grpc_port}", creds) as channel:
            reply = await create_session(admin_pb2_grpc.AdminStub(channel), "s")
            assert reply.session.name == "s"
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError):
                await create_session(admin_pb2_grpc.AdminStub(plain), "t")
    finally:
        await server.stop()


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_undecodable_unary_publish_is_invalid_frame_without_a_traceback(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.grpc_port}") as channel:
        publish = channel.unary_unary("/fastport.v1.Broker/Publish")
        for garbage in (b"\xff\xff\xff", b"\x0a\x05ab"):
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await publish(garbage)
            assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert dict(info.value.trailing_metadata() or ())["fastport-error-code"] == "invalid_frame"
            assert "DecodeError" not in (info.value.details() or "")
    assert errors_logged(caplog) == []


async def test_a_client_cancelling_connect_while_written_to_is_no_error(tmp_path) -> None:
    """A server process (in one process with its client, a cancel never meets a write
    in flight): the failed write is a normal end of the stream, logged at debug only."""
    server = ServerProcess(tmp_path, args=["--store", "memory"]).start()
    try:
        async with grpc.aio.insecure_channel(server.grpc_address) as channel:
            await create_session(admin_pb2_grpc.AdminStub(channel), "s")
            stub = broker_pb2_grpc.BrokerStub(channel)
            for _ in range(10):
                server.read_log()  # drained, or the server blocks on a full stderr pipe
                sub, pub = Stream(stub), Stream(stub)
                await sub.init("s")
                await sub.subscribe("t")
                await pub.init("s")
                for _ in range(3):
                    await pub.send(publish=[pb.Publish(topic="t", payload=b"x" * 100_000) for _ in range(20)])
                await sub.until(lambda f: len(f.messages) > 0)
                sub.close()  # while the server still has megabytes to write to it
                pub.close()
                await asyncio.sleep(0.1)
    finally:
        assert server.stop() == 0
    log = server.read_log()
    assert "ERROR" not in log and "Traceback" not in log, log
